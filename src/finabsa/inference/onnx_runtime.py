"""ONNX Runtime behind the small part of the PyTorch model interface that the ``Predictor`` uses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

__all__ = ["OnnxModel"]


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
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.path = path

    def __call__(self, **batch: torch.Tensor) -> Any:
        feeds = {}
        for name in self.input_names:
            value = batch.get(name)
            if value is None:  # e.g. token_type_ids the collator did not produce: all zeros, as the model assumes
                value = torch.zeros_like(batch["input_ids"])
            feeds[name] = value.cpu().numpy().astype("int64")
        outputs = self.session.run(self.output_names, feeds)
        # The same attribute names as the PyTorch model's output (``logits``, or the joint model's four outputs).
        return SimpleNamespace(**{name: torch.from_numpy(value) for name, value in zip(self.output_names, outputs)})

    def parameters(self):
        yield torch.empty(0)

    def eval(self) -> OnnxModel:
        return self

    def train(self, mode: bool = True) -> OnnxModel:
        return self
