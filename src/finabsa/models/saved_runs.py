"""Reading a finished run folder back as the model it trained: completeness and pickle checks, configuration,
labels and weights. Below training, so that a run can start from another run (a distillation teacher); the
runtimes and export folders are ``finabsa.inference.loading``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import FinabsaError, RunFolderError
from ..run_layout import (
    CONFIG_FILE,
    MODEL_DIR,
    PARTIAL_SUFFIX,
    REQUIRED_FILES,
    read_calibration,
    read_labels,
    read_run_info,
)
from .calibration import Calibration
from .predictor import Predictor

__all__ = ["PICKLE_SUFFIXES", "check_complete", "load_run", "refuse_pickles", "saved_calibration"]


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
        partial = run_dir.with_name(run_dir.name + PARTIAL_SUFFIX)
        hint = (f" An unfinished run is at '{partial}': continue it with 'finabsa train --resume {run_dir}'."
                if partial.exists() else "")
        raise RunFolderError(f"run folder '{run_dir}' does not exist.{hint} Give the folder a training run wrote.")
    if not run_dir.is_dir():
        raise RunFolderError(f"'{run_dir}' is a file; expected a run folder written by 'finabsa train'.")
    missing = [name for name in REQUIRED_FILES if not (run_dir / name).exists()]
    if missing:
        raise RunFolderError(
            f"run folder '{run_dir}' is incomplete: missing {', '.join(missing)}. It may come from a run that "
            f"was interrupted: continue it with 'finabsa train --resume {run_dir}', or point at a complete run folder."
        )
    info = read_run_info(run_dir)
    refuse_pickles(run_dir)
    if info.get("status") != "complete":
        raise RunFolderError(f"run folder '{run_dir}' is incomplete: run.json has status '{info.get('status')}'; "
                             f"continue it with 'finabsa train --resume {run_dir}'.")
    lost = [name for name in info.get("model_files", [])
            if name != "README.md" and not (run_dir / MODEL_DIR / name).exists()]
    if lost:
        raise RunFolderError(f"run folder '{run_dir}' is damaged: model/ lacks {', '.join(lost)}, which the run "
                             "wrote. Restore the folder from a copy, or train the run again.")
    return info


def load_run(run_dir: Path, batch_size: int | None = None) -> Predictor:
    """Rebuild the ``Predictor`` of a complete run folder."""
    from ..config import load_config
    from ..tasks import build_task
    from .build import load_trained
    from .hub import ResolvedModel, load_tokenizer, resolve_model

    info = check_complete(run_dir)
    config = load_config(run_dir / CONFIG_FILE)
    task = build_task(config.task.name, config.task.options)
    labels = read_labels(run_dir)
    base = resolve_model(info["base_model"])
    model_dir = run_dir / MODEL_DIR
    try:
        tokenizer = load_tokenizer(ResolvedModel(name=base.name, location=str(model_dir), alias=False))
        model = load_trained(model_dir, base, task.head(labels), labels, config.adapter.method)
    except FinabsaError:
        raise
    except Exception as exc:  # a truncated or foreign weight file: say which folder, not a library traceback
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise RunFolderError(f"the model in '{model_dir}' could not be read ({type(exc).__name__}: {first}); the run "
                             "folder is damaged: restore it from a copy, or train the run again.") from None
    return Predictor(
        model,
        tokenizer,
        task,
        labels,
        max_length=config.model.max_length,
        batch_size=batch_size or config.training.eval_batch_size,
        run_dir=run_dir,
        info={**info, "config": config},
        calibration=saved_calibration(run_dir),
    )


def saved_calibration(folder: Path) -> Calibration | None:
    """The calibration a run or export folder saved; None when it has none (uncalibrated, or method none)."""
    saved = read_calibration(folder)
    return Calibration.from_dict(saved) if saved and saved.get("temperatures") else None
