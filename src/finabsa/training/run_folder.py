"""Run folders being written: the unit of reproducibility.

Files are written into ``<name>.partial`` and the folder is renamed into place once complete; what it holds and
how it is read back is in ``finabsa.run_layout``.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ..errors import RunFolderError
from ..run_layout import CHECKPOINTS_DIR, CONFIG_FILE, PARTIAL_SUFFIX, RUN_FILE, is_finished, read_run_info

__all__ = ["RunFolder", "package_versions", "git_commit", "now", "PARTIAL_SUFFIX", "read_run_info", "is_finished"]

_PACKAGES = ("finabsa", "torch", "transformers", "peft", "accelerate", "tokenizers", "numpy", "scikit-learn",
             "ftfy", "datasets")


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the packages a run depends on (None where one is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    """Commit of the finabsa checkout this code runs from (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunFolder:
    """A run folder being written: everything goes to a staging folder, renamed into place by ``finish``.

    Under several processes (``accelerate launch``) every process gets the same paths, but only the main one
    creates, writes and renames; the others read checkpoints from the shared staging folder.
    """

    def __init__(self, path: str | Path, overwrite: bool = False, main: bool = True, resume: bool = False):
        self.final = Path(path)
        self.overwrite = overwrite
        self.main = main
        self.path = self.final.with_name(self.final.name + PARTIAL_SUFFIX)
        if resume:
            return
        occupied = self.final.is_file() or (self.final.is_dir() and any(self.final.iterdir()))
        if occupied and not overwrite:
            raise RunFolderError(
                f"run folder '{self.final}' already exists; choose another --output, or pass --overwrite "
                "to replace it."
            )
        if main:
            if self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True)

    @classmethod
    def for_resume(cls, path: str | Path, main: bool = True) -> RunFolder:
        """The staging folder of an interrupted run (``path`` may name the run or its ``.partial`` folder)."""
        path = Path(path)
        if path.name.endswith(PARTIAL_SUFFIX):
            path = path.with_name(path.name[: -len(PARTIAL_SUFFIX)])
        folder = cls(path, main=main, resume=True)
        if not folder.path.is_dir():
            if path.is_dir() and (path / RUN_FILE).is_file():
                raise RunFolderError(f"run '{path}' already finished; there is nothing to resume.")
            raise RunFolderError(f"no interrupted run at '{path}': '{folder.path}' does not exist. Give the "
                                 "run folder (or its .partial folder) of a run that was stopped.")
        if not (folder.path / CONFIG_FILE).is_file():
            raise RunFolderError(f"'{folder.path}' has no config.yaml; it stopped before training began, so train "
                                 "it again instead of resuming.")
        return folder

    def latest_checkpoint(self) -> Path | None:
        """The newest ``checkpoints/checkpoint-STEP`` folder that holds a complete trainer state."""
        found = []
        for candidate in (self.path / CHECKPOINTS_DIR).glob("checkpoint-*"):
            step = candidate.name.rsplit("-", 1)[-1]
            if step.isdigit() and (candidate / "trainer_state.json").is_file():
                found.append((int(step), candidate))
        return max(found)[1] if found else None

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")

    def write_text(self, name: str, text: str) -> Path:
        target = self.path / name
        if self.main:
            # Write beside and rename, so that a crash mid-write never leaves a truncated file under the real name.
            staging = target.with_name(target.name + ".tmp")
            staging.write_text(text, encoding="utf-8")
            staging.replace(target)
        return target

    def write_jsonl(self, name: str, rows: list[dict[str, Any]]) -> Path:
        return self.write_text(name, "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows))

    def finish(self) -> Path:
        """Rename the completed staging folder to its final name (replacing an old run only when allowed)."""
        if not self.main:
            return self.final
        if self.final.exists():
            if not self.overwrite:
                raise RunFolderError(f"run folder '{self.final}' appeared while this run was training; the "
                                     f"finished run is kept at '{self.path}'.")
            shutil.rmtree(self.final)
        self.path.rename(self.final)
        return self.final
