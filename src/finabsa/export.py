"""Exported models for fast inference: LoRA merged into the base weights, and ONNX (fp32 and int8).

``finabsa export RUN_DIR --output DIR [--onnx] [--int8]`` writes an export folder::

    config.json, model.safetensors, tokenizer files   the merged model: loads with plain transformers
    finabsa.json                                      task, options, labels, base model, source run, files
    model.onnx                                        with --onnx: ONNX Runtime, fp32
    model.int8.onnx                                   with --int8: dynamic int8 quantisation of model.onnx

``finabsa.load(DIR, runtime=...)``, ``finabsa predict`` and ``Pipeline`` take export folders like run folders;
``runtime`` picks PyTorch (``torch``), ``onnx`` or ``onnx-int8``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from .errors import FinabsaError, RunFolderError

__all__ = ["RUNTIMES", "EXPORT_FILE", "export_run", "load_export", "merged_model", "OnnxModel"]

logger = logging.getLogger(__name__)

RUNTIMES = ("torch", "onnx", "onnx-int8")
EXPORT_FILE = "finabsa.json"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}


def merged_model(model: Any) -> Any:
    """The model with LoRA folded into its weights (a plain transformers model); other models are returned as is."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    return model.eval()


def export_run(run_dir: str | Path, output: str | Path, onnx: bool = False, int8: bool = False,
               overwrite: bool = False) -> Path:
    """Write the export folder of a complete run folder; returns its path (written atomically)."""
    from .predict import load
    from .runs import RunFolder

    run_dir = Path(run_dir)
    predictor = load(run_dir)
    task = predictor.task
    if (onnx or int8) and task.model_kind in ("seq2seq", "causal-lm"):
        raise FinabsaError(
            f"ONNX export covers encoder tasks (classification and span targets); '{task.describe()}' generates "
            "text. Export it without --onnx (merged PyTorch model) instead."
        )
    folder = RunFolder(output, overwrite=overwrite)
    model = merged_model(predictor.model)
    model.save_pretrained(str(folder.path))
    predictor.tokenizer.save_pretrained(str(folder.path))
    files = ["model.safetensors"]
    if onnx or int8:
        _export_onnx(model, predictor, folder.path / ONNX_FILES["onnx"])
        files.append(ONNX_FILES["onnx"])
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel scales with a reduced range: on FiQA targets per-tensor int8 lost 2.7 points of exact match,
        # this setting 0 to 2 (benchmarks/infer_speed.py measures it beside fp32).
        quantize_dynamic(str(folder.path / ONNX_FILES["onnx"]), str(folder.path / ONNX_FILES["onnx-int8"]),
                         weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        files.append(ONNX_FILES["onnx-int8"])
    config = predictor.info["config"]
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


def _export_onnx(model: Any, predictor: Any, path: Path) -> None:
    import warnings

    sample = predictor.tokenizer(["Tesco shares surge after strong results", "BP fined"], padding=True,
                                 return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    output_axes = {0: "batch", 1: "sequence"} if predictor.task.model_kind == "token-classification" else {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter needs no extra packages and handles BERT-style encoders in seconds.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (), str(path), kwargs={n: sample[n] for n in names}, input_names=names,
                          output_names=["logits"], dynamic_axes={**axes, "logits": output_axes}, opset_version=17,
                          dynamo=False)


class OnnxModel:
    """An ONNX Runtime session behind the small part of the PyTorch model interface the predictor uses."""

    training = False

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Idle worker threads would spin; with one session per task in a pipeline they steal each other's cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.path = path

    def __call__(self, **batch: torch.Tensor) -> Any:
        feeds = {}
        for name in self.input_names:
            value = batch.get(name)
            if value is None:  # e.g. token_type_ids the collator did not produce: all zeros, as the model assumes
                value = torch.zeros_like(batch["input_ids"])
            feeds[name] = value.cpu().numpy().astype("int64")
        (logits,) = self.session.run(["logits"], feeds)
        return SimpleNamespace(logits=torch.from_numpy(logits))

    def parameters(self):
        yield torch.empty(0)

    def eval(self) -> OnnxModel:
        return self

    def train(self, mode: bool = True) -> OnnxModel:
        return self


def load_export(folder: Path, runtime: str = "torch", batch_size: int | None = None) -> Any:
    """The ``Predictor`` of an export folder, running on ``runtime``."""
    from .models import ResolvedModel, _load_base, load_tokenizer
    from .predict import Predictor
    from .tasks import build_task

    info = json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))
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
    if runtime == "torch":
        model = _load_base(local, task, labels).eval()
    else:
        model = OnnxModel(folder / ONNX_FILES[runtime])
    method = f"{info['source_method']}, merged" if runtime == "torch" else f"{info['source_method']}, {runtime}"
    return Predictor(model, tokenizer, task, labels, max_length=info["max_length"], batch_size=batch_size or 64,
                     run_dir=folder, info={**info, "method": method, "runtime": runtime})
