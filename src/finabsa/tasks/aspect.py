"""Aspect category: the hierarchical aspect path, truncated to level 1, level 2 or kept in full.

Two heads behind one task name: ``flat`` classifies the path truncated to the configured level (one class per
distinct label), ``hierarchical`` classifies full paths with a loss at every level and decodes the tree top-down
(``finabsa.tasks.aspect_tree``), so one run answers and reports level 1, level 2 and the full path together.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..data.labels import ASPECT_LEVELS
from ..data.records import Example, truncate_aspect
from .aspect_tree import LEVEL_DEPTHS, AspectTree, hierarchical_loss
from .base import choice_problems, register_task, softmax
from .classification import SequenceClassificationTask, template_problems
from .metrics import classification_metrics

__all__ = ["AspectTask", "AspectOptions", "HEADS"]

HEADS = ("flat", "hierarchical")

@dataclass
class AspectOptions:
    level: str = field(default="2", metadata={"help": "Aspect depth to classify: 1 (e.g. Stock), 2 (Stock/Price "
                                                      "Action) or full (the whole path)."})
    text_template: str = field(default="{sentence}", metadata={"help": "First input segment; fields: sentence, "
                                                                       "target."})
    pair_template: str = field(default="", metadata={"help": "Optional second segment, e.g. '{target}'."})
    head: str = field(default="flat", metadata={"help": "flat (one class per label at the level) or hierarchical "
                                                        "(full paths, a loss at every level, tree-consistent "
                                                        "decoding; reports levels 1, 2 and full)."})

    def __post_init__(self) -> None:
        self.level = str(self.level)  # YAML and flags give 1 and 2 as integers


@register_task
class AspectTask(SequenceClassificationTask):
    """Classify the sentence's (first) aspect path at the configured level."""

    name = "aspect"
    Options = AspectOptions
    data_needs = "aspect paths such as Stock/Price Action (--aspect-column)"

    @classmethod
    def check_options(cls, options: AspectOptions) -> list[str]:
        problems = template_problems(cls.name, options.text_template, options.pair_template)
        problems += choice_problems(cls.name, "level", options.level, ASPECT_LEVELS)
        problems += choice_problems(cls.name, "head", options.head, HEADS)
        for template in (options.text_template, options.pair_template):
            if "aspect" in template:
                problems.append("task 'aspect' templates must not include the aspects they are asked to predict")
        return problems

    @property
    def depth(self) -> int | None:
        return None if self.options.level == "full" else int(self.options.level)

    @property
    def hierarchical(self) -> bool:
        return self.options.head == "hierarchical"

    def describe(self) -> str:
        return f"aspect (hierarchical, level {self.options.level})" if self.hierarchical else \
            f"aspect (level {self.options.level})"

    def label_of(self, example: Example, depth: int | None | str = "configured") -> str | None:
        """The example's (first) aspect path at ``depth`` (default: the configured level; None: the full path)."""
        # FiQA rows carry one aspect path; with several, the first is the one a single-label head predicts.
        depth = self.depth if depth == "configured" else depth
        return truncate_aspect(example.aspects[0], depth) if example.aspects else None

    def gold(self, example: Example) -> Any:
        # The hierarchical head is trained on full paths whatever level it reports.
        return self.label_of(example, None) if self.hierarchical else self.label_of(example)

    def build_labels(self, train: list[Example]) -> list[str]:
        return sorted({self.gold(e) for e in train})

    def encode_label(self, example: Example, index: dict[str, int]) -> Any:
        return index[self.gold(example)]

    @property
    def headline_metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        if not self.hierarchical:
            return ("accuracy", "macro_f1")
        return ("accuracy", "macro_f1", *(f"level{lv}_{m}" if lv != "full" else f"full_{m}"
                                          for lv in LEVEL_DEPTHS for m in ("accuracy", "macro_f1")))

    def provides(self) -> tuple[str, ...]:
        # A level-2 label fills the level-1 and level-2 fields exactly; only a full path can stand for `aspects`.
        if self.hierarchical:
            return ("aspects", "aspect_l1", "aspect_l2")
        return {"1": ("aspect_l1",), "2": ("aspect_l1", "aspect_l2")}.get(
            self.options.level, ("aspects", "aspect_l1", "aspect_l2")
        )

    def fill(self, example: Example, prediction: dict[str, Any]) -> Example:
        path = prediction["levels"][-1] if "levels" in prediction else prediction["label"]
        return example if example.aspects else replace(example, aspects=(path,))

    def record(self, prediction: dict[str, Any]) -> dict[str, Any]:
        record = {"label": prediction["label"], "level": self.options.level, "probability": prediction["probability"]}
        for key in ("levels", "reasons"):
            if key in prediction:
                record[key] = prediction[key]
        return {self.name: record}

    def is_correct(self, gold: Any, prediction: dict[str, Any]) -> bool:
        """The label at the configured level; a hierarchical head read above the full path is compared with the
        gold path cut to the same depth."""
        answer = self.render_answer(prediction)
        if "levels" in prediction and answer != prediction["levels"][-1]:
            return "/".join(str(gold).split("/")[: len(answer.split("/"))]) == answer
        return str(gold) == answer

    # -- the hierarchical head ------------------------------------------------------------------------------
    def decode(self, outputs, features, examples, labels, tokenizer):
        if not self.hierarchical:
            return super().decode(outputs, features, examples, labels, tokenizer)
        return self._tree_answers(softmax(outputs.float().cpu().numpy()), labels)

    def decode_calibrated(self, outputs, calibrated, features, examples, labels, tokenizer):
        if not self.hierarchical:
            return super().decode_calibrated(outputs, calibrated, features, examples, labels, tokenizer)
        # The tree sums leaf probabilities per category, and a temperature changes which sum is largest: the path
        # comes from the model's own probabilities, its probability from the calibrated ones.
        return self._tree_answers(softmax(outputs.float().cpu().numpy()), labels,
                                  reported=softmax(calibrated.float().cpu().numpy()))

    def _tree_answers(self, leaf_probabilities: Any, labels: list[str], reported: Any = None) -> list[dict[str, Any]]:
        """Tree-consistent answers read from ``leaf_probabilities``; their probability from ``reported`` (the
        calibrated leaf probabilities) when given."""
        tree = AspectTree(labels)
        predictions = []
        for i, row in enumerate(leaf_probabilities):
            label, probability, levels = tree.read(row, self.options.level)
            if reported is not None:
                probability = tree.probability(reported[i], self.options.level, label)
            predictions.append({"label": label, "probability": probability, "levels": levels,
                                "probabilities": {leaf: float(p) for leaf, p in zip(labels, row)}})
        return predictions

    def ensemble(self, predictions):
        if not self.hierarchical:
            return super().ensemble(predictions)
        import numpy as np

        labels = list(predictions[0][0]["probabilities"])
        mean = np.mean([[[row["probabilities"][leaf] for leaf in labels] for row in model] for model in predictions],
                       axis=0)
        return self._tree_answers(mean, labels)

    def loss_function(self, train_features, labels, class_weighting):
        # The flat head's loss (class-weighted when asked) is the sequence-classification head's own.
        return hierarchical_loss(AspectTree(labels)) if self.hierarchical else None

    def score(self, examples, predictions, labels, evaluation):
        if not self.hierarchical:
            return super().score(examples, predictions, labels, evaluation)
        kwargs = {"bootstrap_samples": evaluation.bootstrap_samples, "confidence": evaluation.confidence}
        tree = AspectTree(labels)
        metrics: dict[str, Any] = {}
        for position, (level, depth) in enumerate(LEVEL_DEPTHS.items()):
            # Floors predict a label at the configured level, without levels: its truncations stand for them.
            answers = [p["levels"][position] if "levels" in p else truncate_aspect(p["label"], depth)
                       for p in predictions]
            part = classification_metrics([self.label_of(e, depth) for e in examples], answers, tree.nodes[level],
                                          **kwargs)
            if level == self.options.level:
                metrics.update(part)
            prefix = "full" if level == "full" else f"level{level}"
            metrics.update({f"{prefix}_{name}": part[name] for name in ("accuracy", "macro_f1")})
        return metrics

    def stratify_key(self, example: Example) -> str:
        # Full paths have many one-off classes; stratifying by the top level keeps strata large enough to split.
        return truncate_aspect(example.aspects[0], 1) if example.aspects else ""
