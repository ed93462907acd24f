"""Loading a trained model for prediction: run folders, export folders, and the runtime they run on.

The one place that reads what ``finabsa train`` and ``finabsa export`` wrote: completeness and pickle checks, the
configuration, labels and weights, and the choice between PyTorch and ONNX Runtime. ``finabsa.load`` is ``load``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import FinabsaError, RunFolderError
from ..models.predictor import Predictor
from ..models.saved_runs import check_complete, load_run, refuse_pickles, saved_calibration
from ..run_layout import EXPORT_FILE, ONNX_FILES, is_export, read_json_file

__all__ = ["check_complete", "load", "load_export", "load_run", "refuse_pickles"]


def load(run_dir: str | Path, batch_size: int | None = None, runtime: str = "torch", merge: bool = False) -> Predictor:
    """Load a finished run folder (or an export folder from ``finabsa export``) for prediction.

    ``run_dir`` may also be the Hub id (``ORG/NAME``) of a folder pushed with ``finabsa push``. A run folder gives
    the same model, head and labels the run evaluated; ``merge=True`` folds LoRA into the base
    weights first (faster; the same labels, probabilities equal to about 1e-6). ``runtime`` (``torch``, ``onnx``,
    ``onnx-int8``) picks the runtime; a run folder on an ONNX runtime is exported once into the export cache
    (``finabsa.inference.export.cached_export``) and loaded from there.
    """
    from ..constants import RUNTIMES
    from ..errors import DataError
    from ..models.build import merged_model
    from .share import resolve_folder

    run_dir = resolve_folder(run_dir)
    if runtime not in RUNTIMES:
        raise DataError(f"unknown runtime '{runtime}'; expected one of {', '.join(RUNTIMES)}.")
    if is_export(run_dir):
        return load_export(run_dir, runtime=runtime, batch_size=batch_size)
    if runtime != "torch":  # a run folder on ONNX Runtime: exported once into the export cache
        from .export import cached_export

        return load_export(cached_export(run_dir, runtime), runtime=runtime, batch_size=batch_size)
    predictor = load_run(run_dir, batch_size=batch_size)
    if merge:
        predictor.model = merged_model(predictor.model)
    return predictor


def load_export(folder: Path, runtime: str = "torch", batch_size: int | None = None) -> Predictor:
    """The ``Predictor`` of an export folder, running on ``runtime``."""
    from ..models.build import load_base_model
    from ..models.hub import ResolvedModel, load_tokenizer
    from ..tasks import build_task

    info = read_json_file(folder / EXPORT_FILE, "export folder")
    if info.get("status") != "complete":
        raise RunFolderError(f"export folder '{folder}' is incomplete; export it again.")
    if runtime not in info["runtimes"]:
        raise FinabsaError(
            f"export folder '{folder}' has no {runtime} model (it has: {', '.join(info['runtimes'])}); export with "
            f"{'--int8' if runtime == 'onnx-int8' else '--onnx'}, or pick --runtime among those."
        )
    task = build_task(info["task"], info["task_options"])
    labels = info["labels"]
    local = ResolvedModel(name=str(folder), location=str(folder), alias=False)
    tokenizer = load_tokenizer(local)
    model: Any
    if runtime == "torch":
        model = load_base_model(local, task.head(labels), labels).eval()
    else:
        from .onnx_runtime import OnnxModel

        model = OnnxModel(folder / ONNX_FILES[runtime])
    method = f"{info['source_method']}, merged" if runtime == "torch" else f"{info['source_method']}, {runtime}"
    return Predictor(model, tokenizer, task, labels, max_length=info["max_length"], batch_size=batch_size or 64,
                     run_dir=folder, info={**info, "method": method, "runtime": runtime},
                     calibration=saved_calibration(folder))
