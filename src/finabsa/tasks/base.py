"""The task plug-in contract and its registry.

A task is a small plug-in that the one training loop (``finabsa.training``) and the ``Predictor``
(``finabsa.models``) drive. The core ``Task`` interface is what every task needs to train and predict: its options,
which examples it can use and their gold answers, the label list and the model head it declares (``HeadSpec``),
how inputs are encoded and outputs decoded, and how predictions are scored. Tasks that run inside a pipeline, or
that a study compares with floors and seed ensembles, also implement the optional hooks in
``finabsa.tasks.hooks``. A complete task, registered under a name::

    @dataclass
    class LengthOptions:
        cut: int = field(default=8, metadata={"help": "Sentences with more words than this are 'long'."})

    @register_task
    class LengthTask(Task):
        # Is the sentence long? A toy task: two classes from the word count.

        name = "length"
        Options = LengthOptions
        answer_key = "label"

        def label_of(self, example):
            return "long" if len(example.sentence.split()) > self.options.cut else "short"

        def usable(self, example): return True
        def gold(self, example): return self.label_of(example)
        def build_labels(self, train): return ["long", "short"]
        def head(self, labels): return HeadSpec("sequence-classification", size=len(labels))

        def encode(self, examples, tokenizer, labels, max_length, with_labels):
            encoded = tokenizer([e.sentence for e in examples], truncation=True, max_length=max_length)
            rows = [{k: encoded[k][i] for k in encoded.keys()} for i in range(len(examples))]
            if with_labels:
                for row, example in zip(rows, examples):
                    row["labels"] = labels.index(self.label_of(example))
            return rows

        def decode(self, outputs, features, examples, labels, tokenizer):
            return [{"label": labels[int(i)]} for i in outputs.argmax(-1)]

        def score(self, examples, predictions, labels, evaluation):
            gold = [self.label_of(e) for e in examples]
            return classification_metrics(gold, [p["label"] for p in predictions], labels, bootstrap_samples=0)

``SequenceClassificationTask`` (``finabsa.tasks.classification``) already implements encoding, decoding and
scoring for one class label per sentence: a sentence-level task built on it only says ``label_of``.
"""

from __future__ import annotations

# Tasks import torch only where they compute with it, so that listing tasks (``finabsa tasks``) stays fast.
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import numpy as np

from ..data.records import Example
from ..data.spans import mark_target
from ..errors import DataError, UnknownNameError

__all__ = [
    "Evaluation", "HeadSpec", "Task", "choice_problems", "register_task", "template_fields", "template_values",
    "get_task", "task_names", "render_template", "TEMPLATE_FIELDS",
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
    """The registered task names, sorted."""
    return sorted(_REGISTRY)


#: Fields an input template may use, e.g. ``"{sentence}"`` or ``"{target}; {aspects}"``; ``marked_sentence`` is the
#: sentence with its target between ``<t>`` and ``</t>`` (target-aware input for several targets per sentence).
TEMPLATE_FIELDS = ("sentence", "target", "marked_sentence", "aspects", "aspect_l1", "aspect_l2", "dataset")


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


def template_values(example: Example) -> dict[str, str | None]:
    """The value of every template field for an example (None where the example lacks it)."""
    return {
        "sentence": example.sentence,
        "dataset": example.dataset,
        "target": example.target,
        "marked_sentence": mark_target(example.sentence, example.target),
        "aspects": "; ".join(example.aspects) if example.aspects else None,
        "aspect_l1": "; ".join(dict.fromkeys(a.split("/")[0] for a in example.aspects)) if example.aspects else None,
        "aspect_l2": "; ".join(dict.fromkeys("/".join(a.split("/")[:2]) for a in example.aspects))
        if example.aspects
        else None,
    }


def render_template(template: str, example: Example) -> str:
    """Fill an input template from an example; a field the example lacks raises ``DataError``."""
    values = template_values(example)
    needed = [name for name in TEMPLATE_FIELDS if "{" + name + "}" in template]
    missing = [name for name in needed if not values[name]]
    if missing:
        raise DataError(
            f"the input template {template!r} needs {', '.join(missing)}, but the input "
            f"{example.sentence[:60]!r} has none; give it (JSON input with a '{missing[0]}' field) or use a "
            "template without it."
        )
    return template.format(**{k: v or "" for k, v in values.items()})


@dataclasses.dataclass(frozen=True)
class HeadSpec:
    """The model head a task needs, declared by the task and built by its head plug-in (``finabsa.models.heads``,
    registered by ``kind``: ``sequence-classification``, ``token-classification``, ``seq2seq``, ``causal-lm``,
    ``joint``; only the plug-in knows what a kind means).

    ``size`` is the number of outputs per sentence (or per token): the label count for classification, 1 for a
    regressed score, 0 for generation. ``problem_type`` is passed to transformers (``regression``,
    ``single_label_classification``) where the head size alone does not say it. ``settings`` are the task's
    options that the head's model or loss reads (e.g. the joint head's tag count and score weight).
    """

    kind: str
    size: int = 0
    problem_type: str | None = None
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Evaluation(Protocol):
    """What scoring reads of the evaluation settings (``finabsa.config.EvaluationConfig`` has these fields)."""

    bootstrap_samples: int
    confidence: float


class Task(ABC):
    """Base class of task plug-ins: the core every task implements to train and predict."""

    #: Registry name (``--task NAME``).
    name: ClassVar[str]
    #: Dataclass of this task's options; its field metadata ``help`` is shown by ``finabsa tasks``.
    Options: ClassVar[type]
    #: The prediction field that holds the task's answer (what reload-identity tests compare).
    answer_key: ClassVar[str] = "label"
    #: What a row must carry for this task, in the words of the data flags (for messages about unusable data).
    data_needs: ClassVar[str] = ""
    #: Why rows fail ``usable_for_training``, for the report.
    training_exclusion_reason: ClassVar[str] = ""
    #: Metric the best epoch is selected by: ``loss`` (validation loss), or a key of ``score``'s result, computed on
    #: the validation split through the same prediction and decoding path as the test (so selection and test
    #: measure the same thing). A task may let an option choose it (the joint task's ``selection``).
    selection_metric: str = "loss"
    selection_greater_is_better: ClassVar[bool] = False
    #: Headline metrics for the before/after table, in order.
    headline_metrics: ClassVar[tuple[str, ...]] = ("accuracy", "macro_f1")

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

    def check_examples(self, examples: list[Example]) -> None:  # noqa: B027 - optional hook
        """Raise ``DataError`` for values this task cannot use (e.g. an unknown label); default: accept all."""

    def stratify_key(self, example: Example) -> str:
        """Key used to stratify carved splits; defaults to the gold answer."""
        return str(self.gold(example))

    def closed_label_set(self, labels: list[str]) -> bool:
        """Whether predictions are one of ``labels`` (so gold labels outside them can never be right)."""
        return False

    def training_notes(self, train: list[Example]) -> list[str]:
        """Lines for the report and the log about the training rows (e.g. how many rows train each head)."""
        return []

    def augment(self, train: list[Example], seed: int) -> list[Example]:
        """Made training rows to add to ``train`` (the final training rows, after validation was carved, so a
        made row never holds a validation sentence); none by default. The joint task joins sentences of opposite
        sentiment into contrast sentences (``task.contrast_share``), writes sentences one after another as
        paragraphs (``task.paragraph_share``) and renames targets (``task.swap_share``)."""
        return []

    def group_rows(self, splits: dict[str, list[Example]], extra: list[Example]) -> tuple[dict, list[Example]]:
        """The loaded splits and extra training rows as this task trains on them; the default keeps one row per
        (sentence, target). The joint task groups them per sentence (``finabsa.data.grouping``)."""
        return splits, extra

    @abstractmethod
    def build_labels(self, train: list[Example]) -> list[str]:
        """The ordered label list the head predicts (empty for regression and generation)."""

    @abstractmethod
    def head(self, labels: list[str]) -> HeadSpec:
        """The model head this task needs for ``labels``."""

    # -- encoding and decoding -------------------------------------------------------------------------------
    @abstractmethod
    def encode(
        self, examples: list[Example], tokenizer: Any, labels: list[str], max_length: int, with_labels: bool
    ) -> list[dict[str, Any]]:
        """Tokenise examples into feature dicts.

        Keys starting with ``_`` are kept for decoding and never fed to the model.
        """

    def collator(self, tokenizer: Any) -> Any:
        """A data collator of this task's own; None (the default) uses the head's (``finabsa.models.heads``)."""
        return None

    def forward(self, model: Any, batch: dict[str, Any], tokenizer: Any) -> Any:
        """Run the model on a batch for prediction; the default returns the logits."""
        return model(**batch).logits

    @abstractmethod
    def decode(
        self, outputs: Any, features: list[dict[str, Any]], examples: list[Example], labels: list[str], tokenizer: Any
    ) -> list[dict[str, Any]]:
        """Turn one batch of model outputs into one prediction dict per example."""

    def decode_calibrated(
        self, outputs: Any, calibrated: Any, features: list[dict[str, Any]], examples: list[Example],
        labels: list[str], tokenizer: Any,
    ) -> list[dict[str, Any]]:
        """Like ``decode``, for a calibrated run: the answers as the model's own ``outputs`` decode them, their
        probabilities from ``calibrated`` (the same outputs, each head's logits divided by its temperature), so that
        calibration never changes an answer. A temperature keeps the ranking of one head's classes, so a task whose
        every answer is one head's argmax decodes ``calibrated`` (this default); a task that compares probabilities
        otherwise (summed over the aspect tree, multiplied along a span) overrides it."""
        return self.decode(calibrated, features, examples, labels, tokenizer)

    # -- scoring ---------------------------------------------------------------------------------------------
    @abstractmethod
    def score(
        self, examples: list[Example], predictions: list[dict[str, Any]], labels: list[str], evaluation: Evaluation
    ) -> dict[str, Any]:
        """Metrics of predictions against the examples' gold answers (see ``finabsa.tasks.metrics``)."""

    def render_answer(self, prediction: dict[str, Any]) -> str:
        """A prediction's answer as one line of text: what reports and examples show, and what a reloaded model
        must reproduce. The default reads the ``answer_key`` field."""
        return str(prediction.get(self.answer_key))

    def is_correct(self, gold: Any, prediction: dict[str, Any]) -> bool:
        """Whether a prediction's answer is the gold answer ``gold(example)`` (the right/wrong mark of examples)."""
        return str(gold) == self.render_answer(prediction)

    def loss_function(self, train_features: list[dict[str, Any]], labels: list[str], class_weighting: bool) -> Any:
        """A ``compute_loss_func`` of this task's own (e.g. the aspect tree's); None (the default) uses the head's."""
        return None


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
