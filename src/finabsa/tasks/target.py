"""Target detection: which entity or ticker a sentence is about.

Two methods behind one task name: ``span`` tags the target's tokens with BIO labels (encoder models, the offline
default) and returns the span in the sentence's own casing; ``generate`` writes the target with an encoder-decoder
model (flan-t5 for users online).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from ..data.records import Example
from ..data.spans import find_target_spans
from .base import HeadSpec, Task, choice_problems, register_task, render_template, softmax
from .classification import template_problems
from .hooks import PipelineHooks, StudyHooks
from .metrics import target_metrics

__all__ = ["TargetTask", "SpanTargetTask", "GenerativeTargetTask", "TargetOptions", "find_target_spans", "BIO_LABELS",
           "bio_tags", "best_span", "snap_to_words", "token_features", "tokens_in_spans", "OUTSIDE", "BEGIN", "INSIDE"]

BIO_LABELS = ["O", "B", "I"]
#: Tag ids of ``BIO_LABELS``: outside a target, its first token, a token inside it.
OUTSIDE, BEGIN, INSIDE = (BIO_LABELS.index(tag) for tag in ("O", "B", "I"))
METHODS = ("span", "generate")


@dataclass
class TargetOptions:
    method: str = field(default="span", metadata={"help": "span (token classification, encoder models) or generate "
                                                          "(encoder-decoder, e.g. flan-t5)."})
    prompt_template: str = field(
        default="Which company, asset or ticker is this text about? {sentence}",
        metadata={"help": "Input of the generate method; fields: sentence."},
    )
    max_target_tokens: int = field(default=16, metadata={"help": "Longest target the generate method writes."})
    max_span_tokens: int = field(default=12, metadata={"help": "Longest span the span method returns."})
    fuzzy_threshold: float = field(
        default=0.8,
        metadata={"help": "Similarity (0-1) above which a target spelled differently from the sentence (e.g. "
                          "'Morrissons' for 'Morrisons') is matched to the sentence's words for span labels."},
    )


# --------------------------------------------------------------------------------------------------------------
@register_task
class TargetTask(Task, PipelineHooks, StudyHooks):
    """Detect the entity or ticker a sentence is about (span tagging or generation)."""

    name = "target"
    Options = TargetOptions
    data_needs = "the target entity of each row (--target-column)"
    answer_key: ClassVar[str] = "target"
    selection_metric: str = "exact_match"
    selection_greater_is_better: ClassVar[bool] = True
    headline_metrics: ClassVar[tuple[str, ...]] = ("exact_match", "token_f1", "rouge1")

    @classmethod
    def from_options(cls, raw: dict[str, Any] | None = None) -> Task:
        options = TargetOptions(**(raw or {}))
        variant = GenerativeTargetTask if options.method == "generate" else SpanTargetTask
        return variant(options)

    @classmethod
    def check_options(cls, options: TargetOptions) -> list[str]:
        problems = choice_problems(cls.name, "method", options.method, METHODS)
        problems.extend(p for p in template_problems(cls.name, options.prompt_template, "") if "unknown" in p)
        for name in ("max_target_tokens", "max_span_tokens"):
            if getattr(options, name) < 1:
                problems.append(f"task 'target' {name} must be >= 1; found {getattr(options, name)}")
        if not 0 < options.fuzzy_threshold <= 1:
            problems.append(f"task 'target' fuzzy_threshold must be in (0, 1]; found {options.fuzzy_threshold}")
        return problems

    def describe(self) -> str:
        return f"target ({self.options.method})"

    def usable(self, example: Example) -> bool:
        return bool(example.target and example.target.strip())

    def gold(self, example: Example) -> Any:
        return example.target

    def stratify_key(self, example: Example) -> str:
        return example.source_format or ""

    def provides(self) -> tuple[str, ...]:
        return ("target", "marked_sentence")

    def fill(self, example: Example, prediction: dict[str, Any]) -> Example:
        return example if example.target else replace(example, target=prediction["target"] or None)

    def record(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """``{"targets": [{text, start, end, score}]}``: the detected target, or an empty list when none was found."""
        if not prediction.get("target"):
            return {"targets": []}
        return {"targets": [{"text": prediction["target"], "start": prediction.get("start"),
                             "end": prediction.get("end"), "score": prediction.get("score")}]}

    def unanswered_record(self) -> dict[str, Any]:
        return {"targets": None}

    def render_answer(self, prediction: dict[str, Any]) -> str:
        return str(prediction.get("target"))

    def is_correct(self, gold: Any, prediction: dict[str, Any]) -> bool:
        """Exact match, case-insensitive (the study's target metric)."""
        return (gold or "").strip().lower() == (prediction.get("target") or "").strip().lower()

    def baselines(self, train: list[Example], test: list[Example], labels: list[str]) -> dict[str, list[dict]]:
        """The first cashtag (``$TSLA`` -> ``TSLA``), else the first capitalised word."""

        def guess(sentence: str) -> str:
            cashtag = re.search(r"\$([A-Za-z][A-Za-z.]{0,5})", sentence)
            if cashtag:
                return cashtag.group(1)
            word = re.search(r"\b[A-Z][\w&.-]*", sentence)
            return word.group(0) if word else ""

        return {"first_cashtag_or_capitalised": [{"target": guess(e.sentence)} for e in test]}

    def ensemble(self, predictions):
        """Majority vote over the models' target strings (case-insensitive); ties go to the higher summed score."""
        combined = []
        for rows in zip(*predictions):
            votes: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                votes.setdefault((row.get("target") or "").lower(), []).append(row)
            best = max(votes.values(), key=lambda group: (len(group), sum(r.get("score") or 0.0 for r in group)))
            combined.append(dict(best[0]))
        return combined

    def score(self, examples, predictions, labels, evaluation):
        return target_metrics(
            [e.target for e in examples],
            [p["target"] for p in predictions],
            bootstrap_samples=evaluation.bootstrap_samples,
            confidence=evaluation.confidence,
        )


class SpanTargetTask(TargetTask):
    """BIO token classification over the sentence; decoding returns the best-scoring span."""

    def build_labels(self, train: list[Example]) -> list[str]:
        return list(BIO_LABELS)

    def head(self, labels: list[str]) -> HeadSpec:
        return HeadSpec("token-classification", size=len(labels))

    training_exclusion_reason: ClassVar[str] = "their target could not be located in the sentence"

    def usable_for_training(self, example: Example) -> bool:
        return bool(find_target_spans(example.sentence, example.target or "", self.options.fuzzy_threshold))

    def encode(self, examples, tokenizer, labels, max_length, with_labels):
        features = token_features(examples, tokenizer, max_length)
        if with_labels:
            for feature, example in zip(features, examples):
                spans = find_target_spans(example.sentence, example.target or "", self.options.fuzzy_threshold)
                feature["labels"] = bio_tags(feature["_offsets"], feature["_real"], spans)
        return features

    def decode(self, outputs, features, examples, labels, tokenizer):
        probabilities = softmax(outputs.float().cpu().numpy())
        return [
            self._best_span(probabilities[i], feature, example)
            for i, (feature, example) in enumerate(zip(features, examples))
        ]

    def decode_calibrated(self, outputs, calibrated, features, examples, labels, tokenizer):
        # A span's score multiplies its tokens' tag probabilities and ranks the spans: a temperature would re-rank
        # spans of different lengths, so the span and its score come from the model's own tag probabilities (the
        # tag temperature is fitted and reported: how calibrated the per-token probabilities are).
        return self.decode(outputs, features, examples, labels, tokenizer)

    def _best_span(self, probs: np.ndarray, feature: dict[str, Any], example: Example) -> dict[str, Any]:
        span = best_span(probs, feature, example.sentence, self.options.max_span_tokens)
        span.pop("tokens", None)
        return span


def token_features(examples: list[Example], tokenizer: Any, max_length: int) -> list[dict[str, Any]]:
    """Tokenised sentences with each token's character offsets (``_offsets``) and whether it is a real word piece
    of the sentence (``_real``: not padding or a special token), for tagging and span decoding."""
    encoded = tokenizer(
        [e.sentence for e in examples], truncation=True, max_length=max_length, return_offsets_mapping=True
    )
    features = []
    for i in range(len(examples)):
        offsets = encoded["offset_mapping"][i]
        special = encoded.special_tokens_mask[i] if "special_tokens_mask" in encoded else None
        feature = {k: encoded[k][i] for k in encoded.keys() if k not in ("offset_mapping", "special_tokens_mask")}
        feature["_offsets"] = [tuple(o) for o in offsets]
        feature["_real"] = [(end > start) and not (special and special[j]) for j, (start, end) in enumerate(offsets)]
        features.append(feature)
    return features


def bio_tags(offsets: list[tuple[int, int]], real: list[bool], spans: list[tuple[int, int]]) -> list[int]:
    """BIO tag indices (``BIO_LABELS``) of the tokens for character ``spans``; -100 for tokens that are not real."""
    tags = []
    for j, (start, end) in enumerate(offsets):
        if not real[j]:
            tags.append(-100)
            continue
        tag = OUTSIDE
        for span_start, span_end in spans:
            if start < span_end and end > span_start:
                first = all(
                    not (real[k] and offsets[k][0] < span_end and offsets[k][1] > span_start) for k in range(j)
                )
                tag = BEGIN if first or start <= span_start else INSIDE
                break
        tags.append(tag)
    return tags


def tokens_in_spans(offsets: list[tuple[int, int]], real: list[bool], spans: list[tuple[int, int]]) -> list[int]:
    """Indices of the real tokens that overlap any of the character ``spans``."""
    return [j for j, (start, end) in enumerate(offsets)
            if real[j] and any(start < span_end and end > span_start for span_start, span_end in spans)]


def best_span(probs: np.ndarray, feature: dict[str, Any], sentence: str, max_span_tokens: int) -> dict[str, Any]:
    """The most probable single span under the BIO tag probabilities (``B I* `` followed by a non-``I``)."""
    real = [j for j, ok in enumerate(feature["_real"]) if ok]
    if not real:
        return {"target": "", "start": None, "end": None, "score": 0.0, "tokens": []}
    log_p = np.log(np.clip(probs[real], 1e-9, 1.0))
    n = len(real)
    best = (-math.inf, 0, 0)
    for i in range(n):
        total = log_p[i, BEGIN]
        for j in range(i, min(n, i + max_span_tokens)):
            if j > i:
                total += log_p[j, INSIDE]
            # The span must end here: the next token is not a continuation.
            end_term = np.log(max(1e-9, 1 - probs[real[j + 1], INSIDE])) if j + 1 < n else 0.0
            if total + end_term > best[0]:
                best = (total + end_term, i, j)
    score, i, j = best
    offsets = feature["_offsets"]
    start, end = snap_to_words(sentence, offsets[real[i]][0], offsets[real[j]][1])
    return {"target": sentence[start:end], "start": start, "end": end, "score": float(math.exp(score)),
            "tokens": real[i : j + 1]}


#: A web address ending a name, kept with it as every source writes such targets ("Thetrainline.com", "eqwise.in").
_WEB_DOMAIN = re.compile(r"\.(?:com|net|org|in|co\.uk|co\.in)\b", flags=re.IGNORECASE)


#: Words that scraped texts glue to the name after them: section labels ("CompaniesDiageo", "Industry
#: NewsWolseley") and the article ("TheWartsila").
_SECTION_LABELS = frozenset({"Companies", "Company", "News", "Feed", "Markets", "Market", "Business", "Industry",
                             "Economy", "Deals", "Stocks", "Finance", "The"})


def _glued_label(sentence: str, position: int) -> bool:
    """Whether two words glued together meet at ``position``: a section label and a name ("CompaniesDiageo stays
    neutral": the training labels tag the name alone there, 12 rows of the FiQA split's train, 14 of the official
    JSON, none in SEntFiN), or a lower-case word and a name where a text lost a space ("ofCramo"). Decoding does not
    widen back over it; a name whose capitalised parts meet so is one word ("TotalEnergies", "GlaxoSmithKline",
    where the tagger may mark the second part)."""
    if not (sentence[position - 1].islower() and sentence[position].isupper()):
        return False
    word_start = position
    while word_start > 0 and sentence[word_start - 1].isalpha():
        word_start -= 1
    before = sentence[word_start:position]
    return before[:1].islower() or before in _SECTION_LABELS


def snap_to_words(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span that starts or ends inside a word (a stray sub-word token) to whole words (a dotted initial
    glued to the rest of its name too: "E." of "E.ON"), and over a web domain that ends the name. Only the start
    stops at a glued label; the end always widens, so "Astra" of "AstraZeneca" still becomes the whole name."""
    while start > 0 and sentence[start - 1].isalnum() and sentence[start].isalnum() \
            and not _glued_label(sentence, start):
        start -= 1
    while end < len(sentence) and sentence[end].isalnum() and (
            sentence[end - 1].isalnum() or _dotted_initial(sentence, start, end)):
        end += 1
    domain = _WEB_DOMAIN.match(sentence, end)
    if domain and start < end:
        end = domain.end()
    return start, end


def _dotted_initial(sentence: str, start: int, end: int) -> bool:
    """Whether the span ends in a capital's dot glued to the rest of a word ("E." of "E.ON"): the name goes on."""
    return end - start >= 2 and sentence[end - 1] == "." and sentence[end - 2].isupper() and \
        (end - 2 == start or not sentence[end - 3].isalnum())


class GenerativeTargetTask(TargetTask):
    """Encoder-decoder generation of the target text from a prompt."""

    selection_metric: str = "loss"
    selection_greater_is_better: ClassVar[bool] = False

    def build_labels(self, train: list[Example]) -> list[str]:
        return []

    def head(self, labels: list[str]) -> HeadSpec:
        return HeadSpec("seq2seq")

    def input_templates(self) -> tuple[str, ...]:
        return (self.options.prompt_template,)

    def encode(self, examples, tokenizer, labels, max_length, with_labels):
        prompts = [render_template(self.options.prompt_template, e) for e in examples]
        encoded = tokenizer(prompts, truncation=True, max_length=max_length)
        targets = None
        if with_labels:
            targets = tokenizer(
                text_target=[e.target for e in examples], truncation=True, max_length=self.options.max_target_tokens
            )["input_ids"]
        features = []
        for i in range(len(examples)):
            feature = {k: encoded[k][i] for k in ("input_ids", "attention_mask")}
            if targets is not None:
                feature["labels"] = targets[i]
            features.append(feature)
        return features

    def forward(self, model, batch, tokenizer):
        return model.generate(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            max_new_tokens=self.options.max_target_tokens,
            num_beams=1,
            do_sample=False,
        )

    def decode(self, outputs, features, examples, labels, tokenizer):
        texts = tokenizer.batch_decode(outputs, skip_special_tokens=True)
        predictions = []
        for text, example in zip(texts, examples):
            text = text.strip()
            match = re.search(re.escape(text), example.sentence, flags=re.IGNORECASE) if text else None
            if match:  # report the sentence's own casing and position when the answer occurs in it
                predictions.append({"target": match.group(0), "start": match.start(), "end": match.end()})
            else:
                predictions.append({"target": text, "start": None, "end": None})
        return predictions
