"""What a run folder and an export folder hold: the file names, and the readers every later stage uses.

``finabsa train`` writes a run folder (``finabsa.training.run_folder``), ``finabsa export`` an export folder; the
loader, the reports, the runs listing and the study read them back through the functions here, so that a file
name is written once and a damaged file is always answered with the same message::

    config.yaml          resolved configuration          report.json / report.md  before/after evaluation
    run.json             seed, argv, versions, git        predictions.jsonl        test predictions
    labels.json          label order of the head          *.png                    confusion matrices, curves
    metrics.jsonl        training + validation logs       model/                   adapter with head, tokenizer
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import RunFolderError

__all__ = [
    "CONFIG_FILE", "RUN_FILE", "LABELS_FILE", "METRICS_FILE", "REPORT_FILE", "PREDICTIONS_FILE", "MODEL_DIR",
    "CALIBRATION_FILE", "CARD_FILE", "read_calibration", "AVERAGE_FILE",
    "CHECKPOINTS_DIR", "EXPORT_FILE", "ONNX_FILES", "REQUIRED_FILES", "PARTIAL_SUFFIX", "read_json_file",
    "read_run_info", "read_report", "read_labels", "read_predictions", "is_finished", "is_run_folder", "is_export",
    "adapter_hash",
]

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.jsonl"
REPORT_FILE = "report.json"
PREDICTIONS_FILE = "predictions.jsonl"
#: The temperatures fitted on the validation split (``finabsa.models.calibration``); absent: uncalibrated.
CALIBRATION_FILE = "calibration.json"
#: The model card (the Hub's ``README.md`` format, ``finabsa.reports.model_card``) of a run or export folder.
CARD_FILE = "README.md"
MODEL_DIR = "model"
CHECKPOINTS_DIR = "checkpoints"
#: A weight-averaged run's average, kept in each Trainer checkpoint beside the training weights.
AVERAGE_FILE = "weight_average.safetensors"
#: A run folder is written under ``NAME.partial`` and renamed when complete.
PARTIAL_SUFFIX = ".partial"
#: What a complete run folder holds.
REQUIRED_FILES = (CONFIG_FILE, RUN_FILE, LABELS_FILE, REPORT_FILE, MODEL_DIR)
#: The description file of an export folder, and the ONNX model file of each ONNX runtime.
EXPORT_FILE = "finabsa.json"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}


def read_json_file(path: Path, what: str = "run folder") -> Any:
    """A JSON file of a run or export folder; ``RunFolderError`` naming the file when it is missing or damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise RunFolderError(f"'{path}' is not readable JSON ({exc}); the {what} is damaged: train the run again "
                             "or restore the folder from a copy.") from None


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """The parsed ``run.json`` of a run folder."""
    info = read_json_file(Path(run_dir) / RUN_FILE)
    if not isinstance(info, dict):
        raise RunFolderError(f"'{Path(run_dir) / RUN_FILE}' holds {type(info).__name__}, not a JSON object; the run "
                             "folder is damaged: train the run again or restore the folder from a copy.")
    return info


def read_report(run_dir: Path) -> dict[str, Any]:
    """The parsed ``report.json`` of a run folder (the before/after evaluation)."""
    return read_json_file(Path(run_dir) / REPORT_FILE)


def read_labels(run_dir: Path) -> list[str]:
    """The ordered label list of a run's head (``labels.json``)."""
    return list(read_json_file(Path(run_dir) / LABELS_FILE))


def read_calibration(folder: Path) -> dict[str, Any] | None:
    """The calibration a run or export folder saved (``calibration.json``), or None when it has none."""
    file = Path(folder) / CALIBRATION_FILE
    return read_json_file(file) if file.is_file() else None


def read_predictions(run_dir: Path) -> list[dict[str, Any]]:
    """The saved test predictions of a run (``predictions.jsonl``), one dict per test row; ``[]`` when absent."""
    file = Path(run_dir) / PREDICTIONS_FILE
    if not file.is_file():
        return []
    try:
        return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    except ValueError as exc:
        raise RunFolderError(f"'{file}' has a line that is not JSON ({exc}); the run folder is damaged: train the "
                             "run again or restore the folder from a copy.") from None


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a run (finished or not): it has a ``run.json``."""
    return (Path(folder) / RUN_FILE).is_file()


def is_finished(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run that finished (``run.json`` readable, status ``complete``)."""
    try:
        return read_run_info(run_dir).get("status") == "complete"
    except RunFolderError:
        return False


def is_export(folder: str | Path) -> bool:
    """Whether ``folder`` is an export folder (``finabsa export``) rather than a run folder."""
    return (Path(folder) / EXPORT_FILE).is_file()


def adapter_hash(model_dir: Path) -> str:
    """Short SHA-256 over the weight files of a run's ``model/`` folder (what ``/v1/models`` reports)."""
    digest = hashlib.sha256()
    for file in sorted(model_dir.rglob("*.safetensors")):
        digest.update(file.relative_to(model_dir).as_posix().encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
