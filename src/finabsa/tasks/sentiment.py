"""Sentiment of a sentence toward its target: three classes cut from the score, or the score itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..data.labels import NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD, SENTIMENT_LABELS, sentiment_class
from ..data.records import Example
from ..errors import DataError
from .base import HeadSpec, choice_problems, register_task
from .classification import SequenceClassificationTask, template_problems
from .metrics import regression_metrics

__all__ = ["SentimentTask", "SentimentOptions", "SENTIMENT_LABELS"]

MODES = ("classes", "regression")


@dataclass
class SentimentOptions:
    mode: str = field(default="classes", metadata={"help": "classes (3-way classifier) or regression (predict the "
                                                           "score, report thresholded classes too)."})
    positive_threshold: float = field(default=POSITIVE_THRESHOLD, metadata={"help": "Scores above this are "
                                                                                    "positive."})
    negative_threshold: float = field(default=NEGATIVE_THRESHOLD, metadata={"help": "Scores below this are "
                                                                                    "negative."})
    text_template: str = field(default="{sentence}", metadata={"help": "First input segment; fields: sentence, "
                                                                       "marked_sentence (target between <t> and "
                                                                       "</t>), target, aspects, aspect_l1, "
                                                                       "aspect_l2."})
    pair_template: str = field(default="", metadata={"help": "Optional second segment, e.g. '{target}; {aspects}' "
                                                             "(the study's 'sentence + aspects')."})


@register_task
class SentimentTask(SequenceClassificationTask):
    """3-class sentiment (positive / neutral / negative) or score regression."""

    name = "sentiment"
    Options = SentimentOptions
    data_needs = "a sentiment score in [-1, 1] (--score-column) or a positive/neutral/negative label (--label-column)"

    @classmethod
    def check_options(cls, options: SentimentOptions) -> list[str]:
        problems = template_problems(cls.name, options.text_template, options.pair_template)
        problems += choice_problems(cls.name, "mode", options.mode, MODES)
        if not -1 <= options.negative_threshold <= options.positive_threshold <= 1:
            problems.append(
                "task 'sentiment' thresholds must satisfy -1 <= negative_threshold <= positive_threshold <= 1; "
                f"found {options.negative_threshold} and {options.positive_threshold}"
            )
        return problems

    @property
    def regression(self) -> bool:
        return self.options.mode == "regression"

    def describe(self) -> str:
        parts = ["sentiment"]
        if self.regression:
            parts.append("regression")
        if self.options.pair_template:
            parts.append(f"+ {self.options.pair_template}")
        return " ".join(parts)

    def class_of_score(self, score: float) -> str:
        return sentiment_class(score, self.options.positive_threshold, self.options.negative_threshold)

    def label_of(self, example: Example) -> str | None:
        if example.score is not None:
            return self.class_of_score(example.score)
        return example.label if example.label in SENTIMENT_LABELS else None

    def check_examples(self, examples: list[Example]) -> None:
        for example in examples:
            if example.score is None and example.label is not None and example.label not in SENTIMENT_LABELS:
                raise DataError(
                    f"{example.origin}: unknown sentiment label {example.label!r}; expected positive, neutral or "
                    "negative. Map the labels in the file, or give a score column instead."
                )

    def usable(self, example: Example) -> bool:
        if self.regression:
            return example.score is not None
        return self.label_of(example) is not None

    def build_labels(self, train: list[Example]) -> list[str]:
        return list(SENTIMENT_LABELS)

    def head(self, labels: list[str]) -> HeadSpec:
        if self.regression:
            return HeadSpec("sequence-classification", size=1, problem_type="regression")
        return super().head(labels)

    @property
    def answer_key(self) -> str:  # type: ignore[override]
        return "score" if self.regression else "label"

    @property
    def headline_metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("accuracy", "macro_f1", "mse", "r2") if self.regression else ("accuracy", "macro_f1")

    def encode_label(self, example: Example, index: dict[str, int]) -> Any:
        if self.regression:
            return float(example.score)
        return index[self.label_of(example)]

    def decode(self, outputs, features, examples, labels, tokenizer):
        if not self.regression:
            return super().decode(outputs, features, examples, labels, tokenizer)
        scores = outputs.float().cpu().numpy().reshape(-1).clip(-1.0, 1.0)
        return [{"label": self.class_of_score(float(s)), "score": float(s)} for s in scores]

    def ensemble(self, predictions):
        if not self.regression:
            return super().ensemble(predictions)
        scores = [sum(row["score"] for row in rows) / len(rows) for rows in zip(*predictions)]
        return [{"label": self.class_of_score(score), "score": score} for score in scores]

    def record(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """``{"sentiment": {label, probability, score?}}``: a probability for classes, the score for regression."""
        record = {"label": prediction["label"], "probability": prediction.get("probability")}
        for key in ("score", "reasons"):
            if key in prediction:
                record[key] = prediction[key]
        return {self.name: record}

    def score(self, examples, predictions, labels, evaluation):
        metrics = super().score(examples, predictions, labels, evaluation)
        if self.regression:
            metrics.update(
                regression_metrics(
                    [e.score for e in examples],
                    [p["score"] for p in predictions],
                    bootstrap_samples=evaluation.bootstrap_samples,
                    confidence=evaluation.confidence,
                )
            )
        return metrics
