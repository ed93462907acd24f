"""Model heads as registered plug-ins: how the model for a task's ``HeadSpec`` is built, trained and exported.

A task declares *what* head it needs (``finabsa.tasks.HeadSpec``: a kind, a size and settings); a head plug-in,
registered once under that kind (as peft registers its tuners), says *how*: which model class it loads, how LoRA
wraps it (PEFT task type, ``modules_to_save``), what the ONNX graph outputs, the default collator and loss for
training. ``finabsa.models.build``, ``finabsa.inference.export`` and the ONNX runtime ask the registry and know no
head by name. A new head is one module here that subclasses ``Head`` and calls ``register_head``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ...errors import UnknownNameError
from ...tasks.base import HeadSpec

__all__ = ["Distillation", "Head", "register_head", "head_for", "head_kinds", "LossFunction"]

#: What the Trainer calls as ``compute_loss_func``: ``(outputs, labels, num_items_in_batch) -> loss``.
LossFunction = Callable[..., Any]

_REGISTRY: dict[str, type[Head]] = {}


@dataclass(frozen=True)
class Distillation:
    """How much a student learns from its teacher's soft targets (``training.distill_*``)."""

    weight: float
    temperature: float


class Head:
    """Base class of head plug-ins; subclasses set ``kind`` and override what differs."""

    #: The ``HeadSpec.kind`` this plug-in builds.
    kind: ClassVar[str]
    #: PEFT task type of the LoRA wrapper (None: PEFT wraps the model as a custom model).
    peft_task_type: ClassVar[str | None] = None
    #: Whether the model writes text (no classification head: the frozen method and ONNX export do not apply).
    generates: ClassVar[bool] = False
    #: The Hub's pipeline tag of a model with this head (its model card's ``pipeline_tag``).
    pipeline_tag: ClassVar[str] = "text-classification"

    def __init__(self, spec: HeadSpec):
        self.spec = spec

    def load(self, location: str, labels: list[str]) -> Any:
        """The checkpoint at ``location`` with this head (new, or the saved one when ``location`` holds it)."""
        raise NotImplementedError

    def lora_settings(self, model: Any) -> dict[str, Any]:
        """Extra ``LoraConfig`` arguments for ``model`` (``modules_to_save``, ``exclude_modules``)."""
        return {}

    def output_axes(self) -> dict[str, dict[int, str]]:
        """The graph's outputs in order, with their dynamic axes (what ONNX export declares)."""
        return {"logits": {0: "batch"}}

    def collator(self, tokenizer: Any) -> Any:
        """The data collator that pads a list of feature dicts into a batch."""
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)

    def calibrated_outputs(self) -> dict[str, list[tuple[str, int | None, int | None]]]:
        """Each classification head by name, with the outputs (and column range; None: all) that hold its logits,
        which a calibration temperature divides; ``{}`` for a model that writes text or regresses a score."""
        return {}

    def calibration_pairs(self, outputs: Any, labels: Any) -> dict[str, tuple[Any, Any]]:
        """Each classification head's ``(logits: rows x classes, gold: rows)`` tensors for one batch, from the
        model's outputs and the collated labels (rows without a gold label left out)."""
        return {}

    def loss(self, train_features: list[dict[str, Any]], labels: list[str], class_weighting: bool,
             distillation: Distillation | None = None) -> LossFunction | None:
        """The Trainer's ``compute_loss_func`` for this head (with the distillation terms when asked, for heads that
        support a teacher); None uses the model's own loss."""
        return None


def register_head(cls: type[Head]) -> type[Head]:
    """Class decorator: make a head plug-in available under ``cls.kind``."""
    _REGISTRY[cls.kind] = cls
    return cls


def head_kinds() -> list[str]:
    """The registered head kinds, sorted."""
    return sorted(_REGISTRY)


def head_for(spec: HeadSpec) -> Head:
    """The plug-in that builds the head ``spec`` declares; an unknown kind lists the registered ones."""
    if spec.kind not in _REGISTRY:
        raise UnknownNameError("head kind", spec.kind, head_kinds())
    return _REGISTRY[spec.kind](spec)


# Registration side effect: the built-in heads.
from . import joint, transformers_heads  # noqa: E402,F401
