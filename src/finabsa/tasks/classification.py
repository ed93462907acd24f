"""Shared machinery of sentence-level classification tasks (sentiment, aspect): one label per example."""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from typing import Any, ClassVar

from ..data.records import Example
from .base import TEMPLATE_FIELDS, HeadSpec, Task, render_template, softmax
from .hooks import ExplanationHooks, PipelineHooks, StudyHooks
from .metrics import classification_metrics

__all__ = ["SequenceClassificationTask", "template_problems"]


def template_problems(task: str, text_template: str, pair_template: str) -> list[str]:
    """Problems with a pair of input templates (unknown fields, no sentence at all)."""
    import string

    problems = []
    for name, template in (("text_template", text_template), ("pair_template", pair_template)):
        if not isinstance(template, str):
            problems.append(f"task '{task}' {name} must be a string such as '{{sentence}}'; found {template!r}")
            continue
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        except ValueError as exc:
            problems.append(f"task '{task}' {name} {template!r} is not a valid template: {exc}")
            continue
        unknown = [f for f in fields if f not in TEMPLATE_FIELDS]
        if unknown:
            problems.append(
                f"task '{task}' {name} uses unknown field(s) {', '.join(unknown)}; "
                f"available: {', '.join(TEMPLATE_FIELDS)}"
            )
    if isinstance(text_template, str) and not text_template.strip():
        problems.append(f"task '{task}' text_template must not be empty (e.g. '{{sentence}}')")
    return problems


def inverse_frequency(counts: Counter, size: int) -> list[float]:
    """Class weights from the training counts of classes ``0..size-1``: inverse frequency, normalised so that a
    balanced set gets weight 1 for every class (0 for a class never seen)."""
    total = sum(counts.values())
    return [total / (size * counts[i]) if counts.get(i) else 0.0 for i in range(size)]


class SequenceClassificationTask(Task, PipelineHooks, StudyHooks, ExplanationHooks):
    """A task with one class label per example, predicted from the (templated) sentence."""

    selection_metric: str = "macro_f1"
    selection_greater_is_better: ClassVar[bool] = True

    @abstractmethod
    def label_of(self, example: Example) -> str | None:
        """The class label of an example, or None when it has none."""

    def usable(self, example: Example) -> bool:
        return self.label_of(example) is not None

    def gold(self, example: Example) -> Any:
        return self.label_of(example)

    def build_labels(self, train: list[Example]) -> list[str]:
        return sorted({self.label_of(e) for e in train})

    def head(self, labels: list[str]) -> HeadSpec:
        return HeadSpec("sequence-classification", size=len(labels), problem_type="single_label_classification")

    def closed_label_set(self, labels: list[str]) -> bool:
        return self.head(labels).size == len(labels)

    def baselines(self, train: list[Example], test: list[Example], labels: list[str]) -> dict[str, list[dict]]:
        """Majority class of train, and TF-IDF (word 1-2 grams) + logistic regression on the same input text."""
        if not self.closed_label_set(labels):
            return {}
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        def texts(rows: list[Example]) -> list[str]:
            first, second = self.inputs(rows)
            return [" ".join(parts) for parts in zip(first, second or [""] * len(first))]

        gold = [self.label_of(e) for e in train]
        majority = Counter(gold).most_common(1)[0][0]
        vectoriser = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        model = LogisticRegression(max_iter=2000, C=10.0).fit(vectoriser.fit_transform(texts(train)), gold)
        predicted = model.predict(vectoriser.transform(texts(test)))
        return {
            "majority": [{"label": majority} for _ in test],
            "tfidf_logreg": [{"label": str(label)} for label in predicted],
        }

    def input_templates(self) -> tuple[str, ...]:
        return (self.options.text_template, self.options.pair_template)

    def inputs(self, examples: list[Example]) -> tuple[list[str], list[str] | None]:
        """Texts (and second segments, when a pair template is set) for a batch of examples."""
        texts = [render_template(self.options.text_template, e) for e in examples]
        pairs = None
        if self.options.pair_template:
            pairs = [render_template(self.options.pair_template, e) for e in examples]
        return texts, pairs

    def encode(self, examples, tokenizer, labels, max_length, with_labels):
        texts, pairs = self.inputs(examples)
        fast = getattr(tokenizer, "is_fast", False)
        encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length, return_offsets_mapping=fast)
        index = {label: i for i, label in enumerate(labels)}
        features = []
        for i, example in enumerate(examples):
            feature = {key: encoded[key][i] for key in encoded.keys() if key != "offset_mapping"}
            if fast:  # where each word piece of the first segment is, for explanations (never fed to the model)
                segments = encoded.sequence_ids(i)
                feature["_text"] = texts[i]
                feature["_offsets"] = [tuple(o) if segments[j] == 0 else (0, 0)
                                       for j, o in enumerate(encoded["offset_mapping"][i])]
            if with_labels:
                feature["labels"] = self.encode_label(example, index)
            features.append(feature)
        return features

    def encode_label(self, example: Example, index: dict[str, int]) -> Any:
        return index[self.label_of(example)]

    def decode(self, outputs, features, examples, labels, tokenizer):
        probabilities = softmax(outputs.float().cpu().numpy())
        predictions = []
        for row in probabilities:
            best = int(row.argmax())
            predictions.append(
                {
                    "label": labels[best],
                    "probability": float(row[best]),
                    "probabilities": {label: float(p) for label, p in zip(labels, row)},
                }
            )
        return predictions

    def explained_answers(self, prediction, feature, labels):
        """The sentence's label (a regressed score: its one output), read from the whole input."""
        closed = self.closed_label_set(labels) and prediction.get("label") in labels
        index = labels.index(prediction["label"]) if closed else 0
        return [(prediction, None, index)]

    def answer_score(self, outputs, tokens, index):
        logits = outputs if not hasattr(outputs, "logits") else outputs.logits
        return logits[:, index]

    def render_answer(self, prediction: dict[str, Any]) -> str:
        """The class label (for a regressed score too: its class is what the gold answer names)."""
        return str(prediction.get("label"))

    def ensemble(self, predictions):
        """Average the class probabilities of the models (soft voting)."""
        combined = []
        for rows in zip(*predictions):
            labels = list(rows[0]["probabilities"])
            mean = {label: sum(row["probabilities"][label] for row in rows) / len(rows) for label in labels}
            best = max(mean, key=mean.get)
            combined.append({"label": best, "probability": mean[best], "probabilities": mean})
        return combined

    def score(self, examples, predictions, labels, evaluation):
        return classification_metrics(
            [self.label_of(e) for e in examples],
            [p["label"] for p in predictions],
            labels,
            bootstrap_samples=evaluation.bootstrap_samples,
            confidence=evaluation.confidence,
        )
