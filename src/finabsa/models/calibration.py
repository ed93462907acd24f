"""Calibrated probabilities: one temperature per classification head, fitted on the validation split after training.

A fine-tuned classifier is over-confident (its softmax says 0.85 where it is right 62 % of the time). Temperature
scaling (Guo et al., 2017) divides a head's logits by one number ``T`` fitted to minimise the negative
log-likelihood of the validation split's gold labels: the ranking of one head's classes stays the same, and the
probabilities match how often the model is right. Each head plug-in names its classification heads and the outputs
(with their columns) that hold their logits (``Head.calibrated_outputs``), and gives validation ``(logits, gold)``
pairs (``Head.calibration_pairs``). The fitted ``Calibration`` divides a copy of those outputs, so that PyTorch and
ONNX runtimes apply it the same way, and the task decodes both (``Task.decode_calibrated``): a temperature does
change comparisons that are not one head's argmax (probabilities summed over the aspect tree, multiplied along a
span), so answers come from the model's own outputs and only their probabilities from the calibrated copy:
calibration never changes an answer. The test split is never used to fit it.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..tasks.base import HeadSpec, softmax
from ..tasks.metrics import calibration_metrics, coverage_curve, reliability_bins
from .heads import head_for

__all__ = ["Calibration", "fit_temperature", "collect_pairs", "fit_calibration", "calibration_report"]

logger = logging.getLogger(__name__)

#: Bounds of the fitted temperature: beyond them the validation split says more about itself than about the model.
TEMPERATURE_RANGE = (0.05, 20.0)


@dataclass
class Calibration:
    """Temperatures per head and where each head's logits are: applied to a model's outputs before decoding."""

    method: str = "temperature"
    temperatures: dict[str, float] = field(default_factory=dict)
    #: Head name -> the outputs ``[name, first column, end column]`` (columns None: all) its temperature divides.
    outputs: dict[str, list[list[Any]]] = field(default_factory=dict)
    #: Head name -> why it was left uncalibrated (too few rows, one class).
    skipped: dict[str, str] = field(default_factory=dict)

    def apply(self, outputs: Any) -> Any:
        """A copy of ``outputs`` with every calibrated head's logits divided by its temperature (a tensor, a model
        output or the ONNX runtime's namespace); ``outputs`` itself is left as it was, for the answers."""
        if not isinstance(outputs, torch.Tensor):
            outputs = copy.copy(outputs)
        for head, temperature in self.temperatures.items():
            for name, start, end in self.outputs.get(head, []):
                if isinstance(outputs, torch.Tensor):
                    outputs = _divided(outputs, start, end, temperature) if name == "logits" else outputs
                elif isinstance(outputs, dict) and not hasattr(outputs, "to_tuple"):
                    outputs[name] = _divided(outputs[name], start, end, temperature)
                elif getattr(outputs, name, None) is not None:
                    setattr(outputs, name, _divided(getattr(outputs, name), start, end, temperature))
        return outputs

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "temperatures": self.temperatures, "outputs": self.outputs,
                "skipped": self.skipped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(method=data.get("method", "temperature"), temperatures=dict(data.get("temperatures") or {}),
                   outputs=dict(data.get("outputs") or {}), skipped=dict(data.get("skipped") or {}))


def _divided(value: torch.Tensor, start: int | None, end: int | None, temperature: float) -> torch.Tensor:
    if start is None:
        return value / temperature
    scaled = value.clone()
    scaled[..., start:end] = value[..., start:end] / temperature
    return scaled


def _nll(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    probabilities = softmax(logits / temperature)
    return float(-np.log(np.clip(probabilities[np.arange(len(targets)), targets], 1e-12, 1.0)).mean())


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises the NLL of ``targets`` under ``softmax(logits / T)`` (golden-section search
    on log T; the NLL is unimodal in it)."""
    low, high = (math.log(t) for t in TEMPERATURE_RANGE)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    for _ in range(60):
        if _nll(logits, targets, math.exp(a)) < _nll(logits, targets, math.exp(b)):
            high, b = b, a
            a = high - ratio * (high - low)
        else:
            low, a = a, b
            b = low + ratio * (high - low)
    return float(math.exp((low + high) / 2))


@torch.no_grad()
def collect_pairs(model: Any, spec: HeadSpec, features: list[dict[str, Any]], collator: Any,
                  batch_size: int = 64) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every classification head's ``(logits, gold)`` over encoded ``features`` (with labels), as the head
    plug-in reads them."""
    head = head_for(spec)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    collected: dict[str, tuple[list, list]] = {}
    for start in range(0, len(features), batch_size):
        rows = features[start:start + batch_size]
        batch = collator([{k: v for k, v in f.items() if not k.startswith("_")} for f in rows])
        labels = _to(batch.pop("labels"), device)
        outputs = model(**{k: v.to(device) for k, v in batch.items()})
        for name, (logits, gold) in head.calibration_pairs(outputs, labels).items():
            parts = collected.setdefault(name, ([], []))
            parts[0].append(logits.detach().float().cpu().numpy())
            parts[1].append(gold.detach().cpu().numpy())
    if was_training:
        model.train()
    return {name: (np.concatenate(logits), np.concatenate(gold)) for name, (logits, gold) in collected.items()}


def _to(value: Any, device: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value.to(device)


def fit_calibration(pairs: dict[str, tuple[np.ndarray, np.ndarray]], spec: HeadSpec, min_rows: int) -> Calibration:
    """One temperature per head from its validation pairs; a head with fewer than ``min_rows`` rows or a single
    gold class stays uncalibrated, and the warning says why."""
    calibration = Calibration(outputs={name: [list(o) for o in where]
                                       for name, where in head_for(spec).calibrated_outputs().items()})
    for name, (logits, gold) in pairs.items():
        reason = None
        if len(gold) < min_rows:
            reason = f"{len(gold)} validation rows, fewer than calibration.min_rows ({min_rows})"
        elif len(set(gold.tolist())) < 2:
            reason = "its validation rows all have one class, so no temperature can be fitted"
        if reason:
            calibration.skipped[name] = reason
            logger.warning("calibration of head '%s' left out: %s; its probabilities are the model's own", name,
                           reason)
            continue
        calibration.temperatures[name] = round(fit_temperature(logits, gold), 4)
    return calibration


def calibration_report(pairs: dict[str, tuple[np.ndarray, np.ndarray]], calibration: Calibration,
                       bins: int) -> dict[str, Any]:
    """Per head: ECE, Brier and NLL before and after calibration, the reliability bins, and the accuracy /
    coverage curve of the calibrated probabilities (what ``--min-probability`` withholds)."""
    report = {}
    for name, (logits, gold) in pairs.items():
        temperature = calibration.temperatures.get(name, 1.0)
        before, after = softmax(logits), softmax(logits / temperature)
        report[name] = {"temperature": temperature, "before": calibration_metrics(before, gold, bins),
                        "after": calibration_metrics(after, gold, bins),
                        "reliability_before": reliability_bins(before, gold, bins),
                        "reliability_after": reliability_bins(after, gold, bins),
                        "coverage": coverage_curve(after, gold)}
    return report
