"""Aspect category: the hierarchical aspect path, truncated to level 1, level 2 or kept in full."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..data.labels import ASPECT_LEVELS
from ..data.records import Example, truncate_aspect
from .base import choice_problems, register_task
from .classification import SequenceClassificationTask, template_problems

__all__ = ["AspectTask", "AspectOptions"]

@dataclass
class AspectOptions:
    level: str = field(default="2", metadata={"help": "Aspect depth to classify: 1 (e.g. Stock), 2 (Stock/Price "
                                                      "Action) or full (the whole path)."})
    text_template: str = field(default="{sentence}", metadata={"help": "First input segment; fields: sentence, "
                                                                       "target."})
    pair_template: str = field(default="", metadata={"help": "Optional second segment, e.g. '{target}'."})

    def __post_init__(self) -> None:
        self.level = str(self.level)  # YAML and flags give 1 and 2 as integers


@register_task
class AspectTask(SequenceClassificationTask):
    """Classify the sentence's (first) aspect path at the configured level."""

    name = "aspect"
    Options = AspectOptions

    @classmethod
    def check_options(cls, options: AspectOptions) -> list[str]:
        problems = template_problems(cls.name, options.text_template, options.pair_template)
        problems += choice_problems(cls.name, "level", options.level, ASPECT_LEVELS)
        for template in (options.text_template, options.pair_template):
            if "aspect" in template:
                problems.append("task 'aspect' templates must not include the aspects they are asked to predict")
        return problems

    @property
    def depth(self) -> int | None:
        return None if self.options.level == "full" else int(self.options.level)

    def describe(self) -> str:
        return f"aspect (level {self.options.level})"

    def label_of(self, example: Example) -> str | None:
        # FiQA rows carry one aspect path; with several, the first is the one a single-label head predicts.
        return truncate_aspect(example.aspects[0], self.depth) if example.aspects else None

    def provides(self) -> tuple[str, ...]:
        # A level-2 label fills the level-1 and level-2 fields exactly; only a full path can stand for `aspects`.
        return {"1": ("aspect_l1",), "2": ("aspect_l1", "aspect_l2")}.get(
            self.options.level, ("aspects", "aspect_l1", "aspect_l2")
        )

    def fill(self, example: Example, prediction: dict[str, Any]) -> Example:
        return example if example.aspects else replace(example, aspects=(prediction["label"],))

    def record(self, prediction: dict[str, Any]) -> dict[str, Any]:
        return {"label": prediction["label"], "level": self.options.level, "probability": prediction["probability"]}

    def stratify_key(self, example: Example) -> str:
        # Full paths have many one-off classes; stratifying by the top level keeps strata large enough to split.
        return truncate_aspect(example.aspects[0], 1) if example.aspects else ""
