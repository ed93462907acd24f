"""The task plug-in contract and its registry.

A task says which examples it can use, how labels are built, how inputs are encoded, how model outputs are decoded
into predictions, and how predictions are scored. The training loop (``finabsa.training``) and the predictor
(``finabsa.predict``) only ever talk to this interface, so adding a task means adding one module that calls
``register_task`` and nothing else.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch

from ..data.records import Example
from ..errors import DataError, UnknownNameError

__all__ = [
    "Task", "choice_problems", "register_task", "template_fields", "get_task", "task_names", "render_template",
    "TEMPLATE_FIELDS",
]

_REGISTRY: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def get_task(name: str) -> type[Task]:
    """The task class registered under ``name``; unknown names raise a message listing the known ones."""
    if name not in _REGISTRY:
        raise UnknownNameError("task", name, list(_REGISTRY))
    return _REGISTRY[name]


def task_names() -> list[str]:
    return sorted(_REGISTRY)


#: Fields an input template may use, e.g. ``"{sentence}"`` or ``"{target}; {aspects}"``.
TEMPLATE_FIELDS = ("sentence", "target", "aspects", "aspect_l1", "aspect_l2", "dataset")


def choice_problems(task: str, option: str, value: object, choices: tuple[str, ...]) -> list[str]:
    """``["task 'aspect' level must be one of 1, 2, full; found '3'"]``, or ``[]`` when the value is allowed."""
    if value in choices:
        return []
    return [f"task '{task}' {option} must be one of {', '.join(choices)}; found '{value}'"]


def template_fields(*templates: str) -> list[str]:
    """The ``{field}`` names used by templates, in order of first use."""
    import string

    fields: dict[str, None] = {}
    for template in templates:
        if template:
            fields.update((f, None) for _, f, _, _ in string.Formatter().parse(template) if f)
    return list(fields)


def render_template(template: str, example: Example) -> str:
    """Fill an input template from an example; a field the example lacks raises ``DataError``."""
    values = {
        "sentence": example.sentence,
        "dataset": example.dataset,
        "target": example.target,
        "aspects": "; ".join(example.aspects) if example.aspects else None,
        "aspect_l1": "; ".join(dict.fromkeys(a.split("/")[0] for a in example.aspects)) if example.aspects else None,
        "aspect_l2": "; ".join(dict.fromkeys("/".join(a.split("/")[:2]) for a in example.aspects))
        if example.aspects
        else None,
    }
    needed = [name for name in TEMPLATE_FIELDS if "{" + name + "}" in template]
    missing = [name for name in needed if not values[name]]
    if missing:
        raise DataError(
            f"the input template {template!r} needs {', '.join(missing)}, but the input "
            f"{example.sentence[:60]!r} has none; give it (JSON input with a '{missing[0]}' field) or use a "
            "template without it."
        )
    return template.format(**{k: v or "" for k, v in values.items()})


class Task(ABC):
    """Base class of task plug-ins. Subclasses set the class attributes and implement the abstract hooks."""

    #: Registry name (``--task NAME``).
    name: ClassVar[str]
    #: Dataclass of this task's options; its field metadata ``help`` is shown by ``finabsa tasks``.
    Options: ClassVar[type]
    #: Which model head the task needs: ``sequence-classification``, ``token-classification`` or ``seq2seq``.
    model_kind: ClassVar[str]
    #: Whether ``adapter.method: frozen`` (train only a head) makes sense for this task.
    supports_frozen: ClassVar[bool] = True

    def __init__(self, options: Any | None = None):
        self.options = options if options is not None else self.Options()

    # -- options ----------------------------------------------------------------------------------------------
    @classmethod
    def options_problems(cls, raw: dict[str, Any]) -> list[str]:
        """Every problem with a raw options mapping (unknown keys, wrong values), as messages."""
        known = {f.name for f in dataclasses.fields(cls.Options)}
        problems = [
            f"task '{cls.name}' has no option '{key}'; its options are: {', '.join(sorted(known))}"
            for key in raw
            if key not in known
        ]
        if not problems:
            try:
                options = cls.Options(**raw)
            except TypeError as exc:
                return [f"task '{cls.name}' options: {exc}"]
            problems.extend(cls.check_options(options))
        return problems

    @classmethod
    def check_options(cls, options: Any) -> list[str]:
        """Task-specific value checks; override to add some."""
        return []

    @classmethod
    def from_options(cls, raw: dict[str, Any] | None = None) -> Task:
        """Build the task from a raw options mapping (assumed validated by ``RunConfig.validate``)."""
        return cls(cls.Options(**(raw or {})))

    def resolved_options(self) -> dict[str, Any]:
        return dataclasses.asdict(self.options)

    def describe(self) -> str:
        """Short human name of this variant, e.g. ``aspect (level 2)``."""
        return self.name

    # -- data ------------------------------------------------------------------------------------------------
    @abstractmethod
    def usable(self, example: Example) -> bool:
        """Whether the example has what this task trains and scores on."""

    @abstractmethod
    def gold(self, example: Example) -> Any:
        """The gold answer of an example (label string, score or target text)."""

    def usable_for_training(self, example: Example) -> bool:
        """Whether a usable example can also be trained on (e.g. its target is found in the sentence)."""
        return True

    #: Why rows fail ``usable_for_training``, for the report.
    training_exclusion_reason: ClassVar[str] = ""

    def closed_label_set(self, labels: list[str]) -> bool:
        """Whether predictions are one of ``labels`` (so gold labels outside them can never be right)."""
        return False

    def baselines(self, train: list[Example], test: list[Example], labels: list[str]) -> dict[str, list[dict]]:
        """Predictions of simple floors (name -> one prediction dict per test example), scored like the model's."""
        return {}

    def check_examples(self, examples: list[Example]) -> None:  # noqa: B027 - optional hook
        """Raise ``DataError`` for values this task cannot use (e.g. an unknown label); default: accept all."""

    def stratify_key(self, example: Example) -> str:
        """Key used to stratify carved splits; defaults to the gold answer."""
        return str(self.gold(example))

    @abstractmethod
    def build_labels(self, train: list[Example]) -> list[str]:
        """The ordered label list the head predicts (empty for regression and generation)."""

    # -- encoding --------------------------------------------------------------------------------------------
    @abstractmethod
    def encode(
        self, examples: list[Example], tokenizer: Any, labels: list[str], max_length: int, with_labels: bool
    ) -> list[dict[str, Any]]:
        """Tokenise examples into feature dicts.

        Keys starting with ``_`` are kept for decoding and never fed to the model.
        """

    @abstractmethod
    def collator(self, tokenizer: Any) -> Any:
        """The data collator that pads a list of feature dicts into a batch."""

    # -- model outputs ---------------------------------------------------------------------------------------
    def forward(self, model: Any, batch: dict[str, torch.Tensor], tokenizer: Any) -> Any:
        """Run the model on a batch for prediction; the default returns the logits."""
        return model(**batch).logits

    @abstractmethod
    def decode(
        self, outputs: Any, features: list[dict[str, Any]], examples: list[Example], labels: list[str], tokenizer: Any
    ) -> list[dict[str, Any]]:
        """Turn one batch of model outputs into one prediction dict per example."""

    # -- scoring ---------------------------------------------------------------------------------------------
    @abstractmethod
    def score(
        self, examples: list[Example], predictions: list[dict[str, Any]], labels: list[str], evaluation: Any
    ) -> dict[str, Any]:
        """Metrics of predictions against the examples' gold answers (see ``finabsa.evaluation``)."""

    #: Metric the Trainer selects the best checkpoint by, and whether larger is better.
    selection_metric: ClassVar[str] = "macro_f1"
    selection_greater_is_better: ClassVar[bool] = True

    def trainer_metrics(self, eval_prediction: Any, labels: list[str]) -> dict[str, float]:
        """Cheap validation metrics for the Trainer (must include ``selection_metric`` unless it is ``loss``)."""
        return {}

    def loss_function(self, train_features: list[dict[str, Any]], labels: list[str], class_weighting: bool) -> Any:
        """An optional ``compute_loss_func`` for the Trainer (e.g. class-weighted); None uses the model's loss."""
        return None

    #: Headline metrics for the before/after table, in order.
    headline_metrics: ClassVar[tuple[str, ...]] = ("accuracy", "macro_f1")

    def ensemble(self, predictions: list[list[dict[str, Any]]]) -> list[dict[str, Any]] | None:
        """Combine several models' predictions for the same examples (e.g. seeds); None when not supported."""
        return None

    # -- pipeline (several tasks on the same sentences) -----------------------------------------------------
    #: Key of this task's answer in a pipeline record (None: ``record`` returns several keys to merge).
    @property
    def record_key(self) -> str | None:
        return self.name

    def input_templates(self) -> tuple[str, ...]:
        """The input templates this task renders (their fields are what it needs besides the sentence)."""
        return ()

    def needs(self) -> set[str]:
        """Template fields the input uses that a plain sentence lacks (e.g. ``target``)."""
        return {f for f in template_fields(*self.input_templates()) if f not in ("sentence", "dataset")}

    def provides(self) -> tuple[str, ...]:
        """Template fields this task's prediction can fill for the tasks after it in a pipeline."""
        return ()

    def fill(self, example: Example, prediction: dict[str, Any]) -> Example:
        """The example with the fields of ``provides`` filled from ``prediction`` (kept when already given)."""
        return example

    def record(self, prediction: dict[str, Any]) -> Any:
        """This task's part of a pipeline record."""
        return prediction


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
