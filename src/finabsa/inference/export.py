"""Exported models for fast inference: LoRA merged into the base weights, and ONNX (fp32 and int8).

``finabsa export RUN_DIR --output DIR [--onnx] [--int8]`` writes an export folder::

    config.json, model.safetensors, tokenizer files   the merged model: loads with plain transformers
    finabsa.json                                      task, options, labels, base model, source run, files
    model.onnx                                        with --onnx: ONNX Runtime, fp32
    model.int8.onnx                                   with --int8: dynamic int8 quantisation of model.onnx

``finabsa.load(DIR, runtime=...)``, ``finabsa predict`` and ``Pipeline`` take export folders like run folders;
``runtime`` picks PyTorch (``torch``), ``onnx`` or ``onnx-int8``. Given a *run* folder, an ONNX runtime needs no
separate step: ``cached_export`` exports it once into the export cache (``$FINABSA_CACHE/exports``, default
``~/.cache/finabsa/exports``), in a folder keyed by the run's adapter hash, so that a retrained run is exported
again and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import FinabsaError
from ..models.build import merged_model, output_axes
from ..models.heads import head_for
from ..models.predictor import Predictor
from ..models.saved_runs import load_run
from ..reports.model_card import model_card
from ..run_layout import (
    CALIBRATION_FILE,
    CARD_FILE,
    EXPORT_FILE,
    MODEL_DIR,
    ONNX_FILES,
    adapter_hash,
    is_export,
    read_json_file,
    read_report,
)
from ..training.run_folder import RunFolder

__all__ = ["export_run", "cached_export", "export_cache", "CACHE_ENV"]

logger = logging.getLogger(__name__)

#: Environment variable naming the cache folder (default ``~/.cache/finabsa``); exports go to its ``exports/``.
CACHE_ENV = "FINABSA_CACHE"


def export_cache() -> Path:
    """The folder holding the cached exports of run folders."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "finabsa") / "exports"


def cached_export(run_dir: str | Path, runtime: str) -> Path:
    """The export folder of ``run_dir`` with ``runtime``'s model, from the cache; exported (ONNX fp32 and int8) on
    first use. Keyed by the run's adapter hash; a lock file keeps concurrent workers from exporting it twice."""
    import fcntl

    run_dir = Path(run_dir)
    key = adapter_hash(run_dir / MODEL_DIR)
    calibration = run_dir / CALIBRATION_FILE
    if calibration.is_file():  # a recalibrated run has other temperatures: another export
        key = hashlib.sha256((key + calibration.read_text(encoding="utf-8")).encode()).hexdigest()[:16]
    folder = export_cache() / f"{run_dir.resolve().name}-{key}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_export(folder) and runtime in read_json_file(folder / EXPORT_FILE, "export folder")["runtimes"]:
            return folder
        logger.info("exporting %s for the %s runtime into %s (once: later loads of this adapter reuse it)",
                    run_dir, runtime, folder)
        return export_run(run_dir, folder, onnx=True, int8=True, overwrite=True)


def export_run(run_dir: str | Path, output: str | Path, onnx: bool = False, int8: bool = False,
               overwrite: bool = False) -> Path:
    """Write the export folder of a complete run folder; returns its path (written atomically)."""
    run_dir = Path(run_dir)
    if is_export(run_dir):
        source = read_json_file(run_dir / EXPORT_FILE, "export folder").get("source_run", "its run folder")
        raise FinabsaError(f"'{run_dir}' is an export folder already (written by 'finabsa export'); export from the "
                           f"run folder it came from: '{source}'.")
    predictor = load_run(run_dir)
    task = predictor.task
    if (onnx or int8) and head_for(task.head(predictor.labels)).generates:
        raise FinabsaError(
            f"ONNX export covers encoder tasks (classification and span targets); '{task.describe()}' generates "
            "text. Export it without --onnx (merged PyTorch model) instead."
        )
    folder = RunFolder(output, overwrite=overwrite)
    model = merged_model(predictor.model)
    model.save_pretrained(str(folder.path))
    predictor.tokenizer.save_pretrained(str(folder.path))
    files = sorted(p.name for p in folder.path.glob("*.safetensors"))
    if onnx or int8:
        _export_onnx(model, predictor, folder.path / ONNX_FILES["onnx"])
        files.append(ONNX_FILES["onnx"])
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel scales with a reduced range: on FiQA targets per-tensor int8 lost 2.7 points of exact match,
        # this setting 0 to 2 (benchmarks/infer_speed.py measures it beside fp32).
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.WARNING))  # onnxruntime logs one INFO line per quantised tensor on root
        try:
            quantize_dynamic(str(folder.path / ONNX_FILES["onnx"]), str(folder.path / ONNX_FILES["onnx-int8"]),
                             weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        finally:
            root.setLevel(level)
        files.append(ONNX_FILES["onnx-int8"])
    config = predictor.info["config"]
    if predictor.calibration is not None:  # every runtime of the export applies the run's temperatures
        folder.write_json(CALIBRATION_FILE, predictor.calibration.to_dict())
    info = {k: v for k, v in predictor.info.items() if k != "config"}
    folder.write_text(CARD_FILE, model_card(info, config.resolved().to_dict(), read_report(run_dir), predictor.labels,
                                            folder.final.name, head_for(task.head(predictor.labels)).pipeline_tag))
    folder.write_json(EXPORT_FILE, {
        "status": "complete",
        "task": task.name,
        "task_options": task.resolved_options(),
        "labels": predictor.labels,
        "base_model": predictor.info.get("base_model"),
        "max_length": predictor.max_length,
        "source_run": str(run_dir.resolve()),
        "source_method": config.adapter.method,
        "files": files,
        "runtimes": ["torch"] + [r for r, name in ONNX_FILES.items() if name in files],
    })
    return folder.finish()


def _export_onnx(model: Any, predictor: Predictor, path: Path) -> None:
    import warnings

    sample = predictor.tokenizer(["Tesco shares surge after strong results", "BP fined"], padding=True,
                                 return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    outputs = output_axes(predictor.task.head(predictor.labels))
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter needs no extra packages and handles BERT-style encoders in seconds.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (), str(path), kwargs={n: sample[n] for n in names}, input_names=names,
                          output_names=list(outputs), dynamic_axes={**axes, **outputs}, opset_version=17,
                          dynamo=False)
