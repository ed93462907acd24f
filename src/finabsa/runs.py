"""Run folders: the unit of reproducibility.

Layout (files are written into ``<name>.partial`` and the folder is renamed into place once complete)::

    config.yaml          resolved configuration
    run.json             seed, argv, package versions, git commit, timings, base model, status
    labels.json          ordered label list of the head
    metrics.jsonl        training and validation logs, one JSON object per line
    report.json/.md      evaluation before and after fine-tuning
    predictions.jsonl    test-set predictions of the fine-tuned model
    *.png                confusion matrices, learning curve
    model/               LoRA adapter with head | full model | head.safetensors; tokenizer
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .errors import RunFolderError

__all__ = ["REQUIRED_FILES", "RunFolder", "check_complete", "load_run", "package_versions", "git_commit",
           "refuse_pickles"]

REQUIRED_FILES = ("config.yaml", "run.json", "labels.json", "report.json", "model")
PARTIAL_SUFFIX = ".partial"
_PACKAGES = ("finabsa", "torch", "transformers", "peft", "accelerate", "tokenizers", "numpy", "scikit-learn",
             "ftfy", "datasets")


def package_versions() -> dict[str, str | None]:
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
            if path.is_dir() and (path / "run.json").is_file():
                raise RunFolderError(f"run '{path}' already finished; there is nothing to resume.")
            raise RunFolderError(f"no interrupted run at '{path}': '{folder.path}' does not exist. Give the "
                                 "run folder (or its .partial folder) of a run that was stopped.")
        if not (folder.path / "config.yaml").is_file():
            raise RunFolderError(f"'{folder.path}' has no config.yaml; it stopped before training began, so train "
                                 "it again instead of resuming.")
        return folder

    def latest_checkpoint(self) -> Path | None:
        """The newest ``checkpoints/checkpoint-STEP`` folder that holds a complete trainer state."""
        found = []
        for candidate in (self.path / "checkpoints").glob("checkpoint-*"):
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


#: Pickle-based weight files: loading one can run arbitrary code, so finabsa never loads them from a run folder.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def refuse_pickles(folder: Path) -> None:
    """Raise ``RunFolderError`` when a model folder holds pickle-bearing files (finabsa writes only safetensors)."""
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file())
    if found:
        names = ", ".join(str(p.relative_to(folder)) for p in found[:5])
        raise RunFolderError(
            f"'{folder}' holds pickle-based file(s) ({names}); loading them could run arbitrary code, so finabsa "
            "refuses. finabsa writes weights as safetensors only: remove these files if the folder is yours, or get "
            "the run from its author again."
        )


def check_complete(run_dir: Path) -> dict[str, Any]:
    """Raise ``RunFolderError`` naming what is missing; return the parsed ``run.json`` of a complete run folder."""
    if not run_dir.exists():
        partial = run_dir.with_name(run_dir.name + ".partial")
        hint = f" An unfinished run is at '{partial}'." if partial.exists() else ""
        raise RunFolderError(f"run folder '{run_dir}' does not exist.{hint} Give the folder a training run wrote.")
    if not run_dir.is_dir():
        raise RunFolderError(f"'{run_dir}' is a file; expected a run folder written by 'finabsa train'.")
    missing = [name for name in REQUIRED_FILES if not (run_dir / name).exists()]
    if missing:
        raise RunFolderError(
            f"run folder '{run_dir}' is incomplete: missing {', '.join(missing)}. It may come from a run that "
            "was interrupted; train again or point at a complete run folder."
        )
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    refuse_pickles(run_dir)
    if info.get("status") != "complete":
        raise RunFolderError(f"run folder '{run_dir}' is incomplete: run.json has status '{info.get('status')}'.")
    return info


def load_run(run_dir: Path, batch_size: int | None = None):
    """Rebuild the ``Predictor`` of a complete run folder."""
    from .config import load_config
    from .models import load_tokenizer, load_trained, resolve_model
    from .predict import Predictor
    from .tasks import build_task

    info = check_complete(run_dir)
    config = load_config(run_dir / "config.yaml")
    task = build_task(config.task.name, config.task.options)
    labels = json.loads((run_dir / "labels.json").read_text(encoding="utf-8"))
    base = resolve_model(info["base_model"])
    model_dir = run_dir / "model"
    from .models import ResolvedModel

    tokenizer = load_tokenizer(ResolvedModel(name=base.name, location=str(model_dir), alias=False))
    model = load_trained(model_dir, base, task, labels, config.adapter.method)
    return Predictor(
        model,
        tokenizer,
        task,
        labels,
        max_length=config.model.max_length,
        batch_size=batch_size or config.training.eval_batch_size,
        run_dir=run_dir,
        info={**info, "config": config},
    )


def argv() -> list[str]:
    return list(sys.argv)
