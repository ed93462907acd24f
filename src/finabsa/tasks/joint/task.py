"""Joint aspect-based sentiment: every target of a sentence, its sentiment, and the sentence's aspect, in one pass.

One encoder with three heads (``finabsa.models.joint_model``), trained together on sentences grouped with all
their targets (``finabsa.data.grouping``):

- **targets**: BIO tags over every target span (several per sentence, cashtags and multi-word names);
- **aspect**: the hierarchical aspect head on the mean-pooled sentence (levels 1, 2 and the full path);
- **sentiment per target**: three classes and a score from the pooled representation of the target's span (gold
  spans in training, predicted spans at inference).

A head whose labels a sentence lacks is masked for that sentence (SEntFiN has no aspects; a sentence whose target
cannot be located in it trains no tags). Rows that give no label to any head are refused, naming file and row.

Data decisions: FiQA (the ``pauri32`` split and the official JSON) trains all three heads (its score gives both
the class, by the usual cut points, and the score); SEntFiN trains tags and the class (its neutral is a human
judgement, broader than FiQA's score band); Financial PhraseBank is not used: it labels whole sentences with no
target, so it has nothing for the per-target sentiment head or the tagger, and its rows are refused with that
reason (train the ``sentiment`` task on it instead).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from ...data.entity_kinds import ENTITY_KINDS, entity_kind
from ...data.grouping import group_by_sentence, merge_sources
from ...data.labels import ASPECT_LEVELS, SENTIMENT_LABELS
from ...data.records import SOURCE_KEY, Example, Mention
from ...data.spans import find_target_spans
from ...errors import DataError
from ..aspect_tree import AspectTree
from ..base import HeadSpec, Task, choice_problems, register_task, softmax
from ..hooks import DistillationHooks, ExplanationHooks, PipelineHooks
from ..target import BIO_LABELS, bio_tags, token_features, tokens_in_spans
from .contrast import contrast_sentences, paragraphs
from .decoding import SentimentParts, best_spans, decode_spans, given_target, targets_with_sentiment
from .distillation import ensemble_soft_targets, student_soft_labels, teacher_soft_targets
from .pooling import SOURCE_IDS
from .scoring import joint_metrics, mention_class, pairs_text, sentence_class
from .swap import swapped_sentences

__all__ = ["JointTask", "JointOptions"]

logger = logging.getLogger(__name__)

#: Validation metrics the joint task can select its best epoch by (``task.selection``).
SELECTION_METRICS = ("head_mean_f1", "pair_f1")
#: Share of rows whose target cannot be found in their sentence above which the data is refused (a wrong column).
MAX_UNLOCATED_SHARE = 0.2


@dataclass
class JointOptions:
    aspect_level: str = field(default="2", metadata={"help": "Level of the aspect 'label' in the output (1, 2 or "
                                                             "full); 'levels' always lists all three."})
    max_targets: int = field(default=8, metadata={"help": "Most targets per sentence the sentiment head trains on."})
    max_span_tokens: int = field(default=12, metadata={"help": "Longest target span, in tokens."})
    min_targets: int = field(default=1, metadata={"help": "Answer at least this many targets per sentence: when the "
                                                          "tags mark none, the best-scoring span (0: none)."})
    entity_threshold: float = field(default=0.0, metadata={
        "help": "A token is part of a target when its tag probabilities outside a target (B + I) reach this, then "
                "B or I by the more probable; 0 (default): each token's most probable of B, I and O."})
    fuzzy_threshold: float = field(default=0.8, metadata={"help": "Similarity (0-1) above which a misspelt target "
                                                                  "is matched to the sentence's words."})
    score_weight: float = field(default=1.0, metadata={"help": "Weight of the score regression loss beside the "
                                                               "class loss (rows with a score only)."})
    merge_fragments: bool = field(default=True, metadata={"help": "One company, one target: join fragments of a "
                                                                  "name ('Levi Strauss' + '& Co'), attach a ticker "
                                                                  "written beside it, drop possessives and lone "
                                                                  "suffixes."})
    sentence_rows: bool = field(default=False, metadata={"help": "Train the sentence-level head also on rows with "
                                                               "a sentence label and no target (Financial "
                                                               "PhraseBank); off: such rows are refused."})
    context_window: int = field(default=0, metadata={"help": "Tokens each side that a token's sentiment part reads "
                                                           "(0: its own state only), so that a target's sentiment "
                                                           "sees its verb ('Sainsbury slumps')."})
    sentence_context: bool = field(default=False, metadata={"help": "Add a sentence-level part to each target's "
                                                                    "pooled span (default: the span alone, so that "
                                                                    "targets of one sentence can differ)."})
    contrast_share: float = field(default=0.0, metadata={
        "help": "Add this share of made contrast sentences to training: two sentences of one source whose "
                "targets' sentiments differ, joined ('X surges while Y slumps'), each target keeping its clause's "
                "sentiment (0: none)."})
    paragraph_share: float = field(default=0.0, metadata={
        "help": "Add this share of made paragraphs to training: two or three training sentences of one source "
                "written one after another, each target keeping its labels, so that a text of several sentences "
                "is read as well as each sentence alone (0: none)."})
    swap_share: float = field(default=0.0, metadata={
        "help": "Add this share of made name-swapped sentences to training: a training sentence with each target's "
                "name replaced by another training target's name (tags and sentiments kept), so that the context, "
                "not the name, carries the answer (0: none)."})
    source_conventions: list[str] = field(default_factory=list, metadata={
        "help": "Training sources (data set names: fiqa, sentfin, ...) that each keep their own conventions (which "
                "entities are targets, what neutral means), learned through a source vector added to every input "
                "token; [] (default): one convention for all sources."})
    answer_as: str = field(default="", metadata={
        "help": "With source_conventions: the source whose conventions answer texts of unknown source (a user's "
                "text, a source not listed); default: the first listed."})
    targets_per_sentence: dict[str, int] = field(default_factory=dict, metadata={
        "help": "With source_conventions: the most targets a text read with a convention is answered with, its "
                "best-scoring ones ({fiqa: 1}: FiQA marks the one entity a sentence is about, one target in 95 % of "
                "its training sentences); {} (default): every target the tags mark."})
    answer_kinds: list[str] = field(default_factory=list, metadata={
        "help": "The kinds of target a text of unknown source (a user's text, a source the run never trained on) is "
                f"answered with, of {', '.join(ENTITY_KINDS)} ([company, index]: no regulator, place, currency, "
                "commodity, market segment, person or cited news source as a target); every answered target carries "
                "its kind. [] (default): every kind. A text of a listed source_conventions source keeps its "
                "convention's targets."})
    selection: str = field(default="head_mean_f1", metadata={
        "help": "Validation metric that picks the best epoch (and early stopping): head_mean_f1 (mean of target F1, "
                "sentiment macro-F1 and aspect level-2 macro-F1) or pair_f1 (the (target, sentiment) pairs with "
                "predicted targets: what a user of every target reads)."})

    def __post_init__(self) -> None:
        self.aspect_level = str(self.aspect_level)


@register_task
class JointTask(Task, PipelineHooks, DistillationHooks, ExplanationHooks):
    """Targets, their sentiment and the sentence's aspect from one encoder pass."""

    name = "joint"
    Options = JointOptions
    answer_key: ClassVar[str] = "targets"
    data_needs = "targets (--target-column) with a sentiment score or label, and/or aspect paths (--aspect-column)"
    training_exclusion_reason = "they carry no label any head trains on"
    selection_metric = "head_mean_f1"
    selection_greater_is_better: ClassVar[bool] = True
    headline_metrics: ClassVar[tuple[str, ...]] = (
        "pair_f1", "pair_precision", "pair_recall", "target_exact_match", "target_f1", "sentiment_accuracy",
        "sentiment_macro_f1", "sentiment_mixed_accuracy", "best_target_sentiment_accuracy",
        "best_target_sentiment_macro_f1", "aspect_level1_accuracy", "aspect_level1_macro_f1",
        "aspect_level2_accuracy", "aspect_level2_macro_f1", "aspect_full_accuracy", "aspect_full_macro_f1",
    )

    def __init__(self, options: JointOptions | None = None):
        super().__init__(options)
        self.selection_metric = self.options.selection

    @classmethod
    def check_options(cls, options: JointOptions) -> list[str]:
        problems = choice_problems(cls.name, "aspect_level", options.aspect_level, ASPECT_LEVELS)
        problems += choice_problems(cls.name, "selection", options.selection, SELECTION_METRICS)
        for name in ("max_targets", "max_span_tokens"):
            if getattr(options, name) < 1:
                problems.append(f"task 'joint' {name} must be >= 1; found {getattr(options, name)}")
        if not 0 <= options.context_window <= 8:
            problems.append(f"task 'joint' context_window must be between 0 and 8 tokens; found "
                            f"{options.context_window}")
        if options.min_targets < 0:
            problems.append(f"task 'joint' min_targets must be >= 0; found {options.min_targets}")
        for name in ("contrast_share", "paragraph_share", "swap_share"):
            if not 0 <= getattr(options, name) <= 1:
                problems.append(f"task 'joint' {name} must be between 0 and 1; found {getattr(options, name)}")
        if not 0 <= options.entity_threshold < 1:
            problems.append(f"task 'joint' entity_threshold must be in [0, 1) (0: the most probable tag); found "
                            f"{options.entity_threshold}")
        if not 0 < options.fuzzy_threshold <= 1:
            problems.append(f"task 'joint' fuzzy_threshold must be in (0, 1]; found {options.fuzzy_threshold}")
        return problems + _convention_problems(options)

    # -- data -----------------------------------------------------------------------------------------------
    def check_examples(self, examples: list[Example]) -> None:
        """Refuse rows with no label for any head, and data whose targets mostly do not occur in their sentence."""
        for example in examples:
            if not self.usable(example) and not example.meta.get("unlabelled"):
                raise DataError(
                    f"{example.origin or 'a row'}: gives no label the joint model trains on: it needs a target "
                    "(column 'target', --target-column) with a sentiment score or label, or aspect paths (column "
                    "'aspects'). Sentence-level sentiment without a target (Financial PhraseBank) trains the "
                    "'sentiment' task instead, or the joint model's sentence-level head with --set "
                    "task.sentence_rows=true; else remove this data set from the joint run or map its target column."
                )
        targeted = [e for e in examples if e.target]
        unlocated = [e for e in targeted if not find_target_spans(e.sentence, e.target, self.options.fuzzy_threshold)]
        if targeted and len(unlocated) > MAX_UNLOCATED_SHARE * len(targeted):
            shown = "; ".join(f"{e.origin}, column 'target': {e.target!r}" for e in unlocated[:3])
            raise DataError(
                f"{len(unlocated)} of {len(targeted)} targets do not occur in their sentence (e.g. {shown}). The "
                "target column may be the wrong one: map the column that names an entity of the sentence."
            )
        for e in unlocated[:5]:
            logger.warning("%s, column 'target': %r does not occur in its sentence; that sentence trains no target "
                           "tags and no sentiment for it", e.origin, e.target)

    def usable(self, example: Example) -> bool:
        # Before grouping a row has ``target``; after, ``mentions``. Unlabelled sentences train through a teacher.
        return bool(example.mentions or example.aspects or (example.target and example.target.strip())
                    or example.meta.get("unlabelled") or (self.options.sentence_rows and self._sentence_label(example)))

    @staticmethod
    def _sentence_label(example: Example) -> str | None:
        """The sentence's own class (a row with a sentence label and no target), for the sentence-level head."""
        return example.label if not example.mentions and not example.target and example.label in SENTIMENT_LABELS \
            else None

    def group_rows(self, splits, extra):
        main, extra = merge_sources(splits.get("train", []), extra)
        grouped = {name: group_by_sentence(rows) for name, rows in splits.items() if name != "train"}
        return {"train": main, **grouped}, extra

    def augment(self, train: list[Example], seed: int) -> list[Example]:
        contrast = contrast_sentences(train, self.options.contrast_share, seed) if self.options.contrast_share else []
        made_paragraphs = paragraphs(train, self.options.paragraph_share, seed) if self.options.paragraph_share else []
        swapped = swapped_sentences(train, self.options.swap_share, seed) if self.options.swap_share else []
        return contrast + made_paragraphs + swapped

    def gold(self, example: Example) -> Any:
        return pairs_text((m.text, mention_class(m)) for m in example.mentions if mention_class(m))

    def stratify_key(self, example: Example) -> str:
        return example.dataset

    def build_labels(self, train: list[Example]) -> list[str]:
        return sorted({e.aspects[0] for e in train if e.aspects})

    def head(self, labels: list[str]) -> HeadSpec:
        """The joint head: ``size`` aspects; the tag count and the options its model and loss read."""
        conventions = self.options.source_conventions
        return HeadSpec("joint", size=len(labels), settings={
            "tags": len(BIO_LABELS), "sentence_context": self.options.sentence_context,
            "score_weight": self.options.score_weight, "context_window": self.options.context_window,
            **({"sources": len(conventions), "default_source": self._default_source()} if conventions else {})})

    def _default_source(self) -> int:
        conventions = self.options.source_conventions
        return conventions.index(self.options.answer_as) if self.options.answer_as in conventions else 0

    def source_index(self, example: Example) -> int:
        """The convention an example is read with: its loaded source's when listed, else ``answer_as``'s (a
        user's text carries no source)."""
        source = example.meta.get(SOURCE_KEY)
        conventions = self.options.source_conventions
        return conventions.index(source) if source in conventions else self._default_source()

    def _targets_cap(self, example: Example) -> int | None:
        """The most targets ``example`` is answered with under its convention (None: no limit)."""
        conventions = self.options.source_conventions
        return self.options.targets_per_sentence.get(conventions[self.source_index(example)]) if conventions else None

    def _kinds_answered(self, example: Example) -> list[str]:
        """The kinds ``example``'s targets may be (``answer_kinds``; [] : any): a text of a listed source keeps its
        convention's."""
        unknown = example.meta.get(SOURCE_KEY) not in self.options.source_conventions
        return self.options.answer_kinds if unknown else []

    def training_notes(self, train: list[Example]) -> list[str]:
        """How many training sentences and targets train each head (the others are masked for them)."""
        spans = [self._mention_spans(e) for e in train]
        located = [m for e, found in zip(train, spans) for m, where in zip(e.mentions, found) if where]
        tagged = sum(1 for e, found in zip(train, spans) if found and all(found))
        classes = Counter(mention_class(m) for m in located if mention_class(m))
        notes = [self._convention_note(train)] if self.options.source_conventions else []
        scored = sum(1 for m in located if m.score is not None)
        agreed = sum(1 for e in train if sentence_class(e) or (self.options.sentence_rows and self._sentence_label(e)))
        note = (f"heads trained: target tags on {tagged} of {len(train)} sentences; aspect on "
                f"{sum(1 for e in train if e.aspects)}; sentiment on {sum(classes.values())} targets "
                f"({', '.join(f'{c} {classes[c]}' for c in SENTIMENT_LABELS)}), of which {scored} with a score; "
                f"sentence-level sentiment (for given targets the text does not contain) on {agreed} sentences "
                "whose targets agree (or that carry a sentence label). A head is masked for the sentences that "
                "lack its labels.")
        logger.info(note)
        return [note, *notes]

    def _convention_note(self, train: list[Example]) -> str:
        conventions = self.options.source_conventions
        counts = Counter(conventions[self.source_index(e)] for e in train)
        unlisted = sorted({str(e.meta.get(SOURCE_KEY)) for e in train if e.meta.get(SOURCE_KEY) not in conventions})
        note = (f"source conventions: {', '.join(f'{name} {counts[name]} sentences' for name in conventions)}; "
                f"texts of unknown source answer as '{conventions[self._default_source()]}'")
        if unlisted:
            note += f" (training sentences of {', '.join(unlisted)}, not listed, train as it too)"
        logger.info(note)
        return note

    def _mention_spans(self, example: Example) -> list[list[tuple[int, int]]]:
        """The character spans of each mention in its sentence (``[]`` for one that cannot be located)."""
        return [find_target_spans(example.sentence, m.text, self.options.fuzzy_threshold) for m in example.mentions]

    # -- encoding -------------------------------------------------------------------------------------------
    def encode(self, examples, tokenizer, labels, max_length, with_labels):
        features = token_features(examples, tokenizer, max_length)
        if self.options.source_conventions:
            for feature, example in zip(features, examples):
                feature[SOURCE_IDS] = self.source_index(example)
        if with_labels:
            index = {label: i for i, label in enumerate(labels)}
            for feature, example in zip(features, examples):
                feature["labels"] = self._labels(feature, example, index)
        return features

    def _labels(self, feature: dict[str, Any], example: Example, index: dict[str, int]) -> dict[str, Any]:
        offsets, real = feature["_offsets"], feature["_real"]
        spans = self._mention_spans(example)
        # A sentence with a target that cannot be located trains no tags: its tokens would be tagged O wrongly.
        located = bool(spans) and all(spans)
        tags = bio_tags(offsets, real, [s for found in spans for s in found]) if located else [-100] * len(real)
        target_ids = [0] * len(real)
        classes = [-100] * self.options.max_targets
        scores = [float("nan")] * self.options.max_targets
        for k, (mention, found) in enumerate(zip(example.mentions[: self.options.max_targets], spans)):
            positions = tokens_in_spans(offsets, real, found)
            for j in positions:
                target_ids[j] = target_ids[j] or k + 1
            label = mention_class(mention)
            if positions and label:
                classes[k] = SENTIMENT_LABELS.index(label)
                scores[k] = float("nan") if mention.score is None else mention.score
        aspect = index.get(example.aspects[0], -100) if example.aspects else -100
        agreed = sentence_class(example) or (self._sentence_label(example) if self.options.sentence_rows else None)
        encoded = {"tags": tags, "target_ids": target_ids, "classes": classes, "scores": scores, "aspect": aspect,
                   "sentence": SENTIMENT_LABELS.index(agreed) if agreed else -100}
        if "soft" in example.meta:  # a teacher's soft targets (training.distill_from)
            encoded["soft"] = student_soft_labels(feature, example, list(index), self.options.max_targets)
        return encoded

    def forward(self, model, batch, tokenizer):
        return model(**batch)

    def explained_answers(self, prediction, feature, labels):
        """Every target's sentiment (found or given and located), read from its own tokens."""
        answers = []
        for target in [*prediction["targets"], *(t for t in prediction.get("given_targets") or [] if t["located"])]:
            tokens = tokens_in_spans(feature["_offsets"], feature["_real"], [(target["start"], target["end"])])
            if tokens:
                answers.append((target, tokens, SENTIMENT_LABELS.index(target["sentiment"]["label"])))
        return answers

    def answer_score(self, outputs, tokens, index):
        score = outputs["sentiment_token"][:, tokens, index].mean(-1)
        if self.options.sentence_context:
            score = score + outputs["sentiment_sentence"][:, index]
        return score

    def soft_targets(self, outputs, features, examples, labels, temperature):
        return teacher_soft_targets(self._arrays(outputs, len(features)), features, examples, labels, temperature,
                                    self.options)

    def ensemble_soft_targets(self, per_teacher, example):
        return ensemble_soft_targets(per_teacher, example.sentence)

    @staticmethod
    def _arrays(outputs: Any, rows: int) -> dict[str, np.ndarray]:
        """The joint model's outputs as numpy arrays; exports written before the sentence-level head lack its output
        (their unlocated targets then get 1/3 each)."""
        arrays = {name: _numpy(getattr(outputs, name)) for name in
                  ("tag_logits", "aspect_logits", "sentiment_token", "sentiment_sentence")}
        head = getattr(outputs, "sentence_sentiment", None)
        arrays["sentence_sentiment"] = _numpy(head) if head is not None else \
            np.zeros((rows, len(SENTIMENT_LABELS)), dtype=np.float32)
        return arrays

    # -- decoding -------------------------------------------------------------------------------------------
    def decode(self, outputs, features, examples, labels, tokenizer):
        arrays = self._arrays(outputs, len(features))
        return self._decode(arrays, arrays, features, examples, labels)

    def decode_calibrated(self, outputs, calibrated, features, examples, labels, tokenizer):
        # Spans (their scores multiply tag probabilities along the span and rank the targets) and the aspect path
        # (the tree sums leaf probabilities) are comparisons a temperature changes: they come from the model's own
        # outputs. Sentiments are one head's argmax over a mean of logits, unchanged by it: they and every
        # reported probability come from the calibrated outputs.
        return self._decode(self._arrays(outputs, len(features)), self._arrays(calibrated, len(features)),
                            features, examples, labels)

    def _decode(self, arrays: dict[str, np.ndarray], reported: dict[str, np.ndarray], features: list[dict[str, Any]],
                examples: list[Example], labels: list[str]) -> list[dict[str, Any]]:
        """Predictions whose spans and aspect path are read from ``arrays``, and whose sentiments and probabilities
        from ``reported`` (the same arrays, or their calibrated copy)."""
        tag_probabilities = softmax(arrays["tag_logits"])
        aspect_probabilities = softmax(arrays["aspect_logits"]) if labels else None
        reported_aspect = softmax(reported["aspect_logits"]) if labels else None
        tree = self._tree(labels) if labels else None
        context = self.options.sentence_context
        predictions = []
        for i, (feature, example) in enumerate(zip(features, examples)):
            token_part, sentence_part = reported["sentiment_token"][i], reported["sentiment_sentence"][i]
            parts = SentimentParts(token_part, sentence_part, reported["sentence_sentiment"][i], context)
            spans = decode_spans(tag_probabilities[i], feature, example.sentence, self.options.max_span_tokens,
                                 self.options.min_targets, merge=self.options.merge_fragments,
                                 entity_threshold=self.options.entity_threshold)
            spans = [{**span, "kind": entity_kind(span["text"], example.sentence)} for span in spans]
            if kinds := self._kinds_answered(example):
                spans = [span for span in spans if span["kind"] in kinds]
            cap = self._targets_cap(example)
            spans = best_spans(spans, cap) if cap else spans
            prediction: dict[str, Any] = {
                "targets": targets_with_sentiment(spans, parts),
                "aspect": self._aspect(tree, aspect_probabilities[i], reported_aspect[i]) if tree is not None else None,
            }
            given = example.mentions or ((Mention(example.target),) if example.target else ())
            if given:
                prediction["given_targets"] = [given_target(m, feature, example, parts, self.options.fuzzy_threshold)
                                               for m in given]
            predictions.append(prediction)
        return predictions

    def _tree(self, labels: list[str]) -> AspectTree:
        """The aspect tree of ``labels``, built once per label list (decoding runs once per batch)."""
        cached = getattr(self, "_cached_tree", None)
        if cached is None or cached.leaves != list(labels):
            cached = self._cached_tree = AspectTree(labels)
        return cached

    def _aspect(self, tree: AspectTree, probabilities: np.ndarray, reported: np.ndarray) -> dict[str, Any]:
        label, _, levels = tree.read(probabilities, self.options.aspect_level)
        return {"label": label, "level": self.options.aspect_level, "levels": levels,
                "probability": tree.probability(reported, self.options.aspect_level, label)}

    def render_answer(self, prediction: dict[str, Any]) -> str:
        """``"barclays: positive; lloyds: negative"``: every predicted target with its sentiment."""
        return pairs_text((t["text"], t["sentiment"]["label"]) for t in prediction.get("targets") or [])

    # -- pipeline record ------------------------------------------------------------------------------------
    def provides(self) -> tuple[str, ...]:
        return ("target", "marked_sentence", "aspects", "aspect_l1", "aspect_l2")

    def fill(self, example: Example, prediction: dict[str, Any]) -> Example:
        if not example.target and prediction["targets"]:
            example = replace(example, target=prediction["targets"][0]["text"])
        if not example.aspects and prediction.get("aspect"):
            example = replace(example, aspects=(prediction["aspect"]["levels"][-1],))
        return example

    def record(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """``{"targets": [{text, start, end, score, kind, sentiment}], "aspect": {label, levels, probability}}``."""
        record = {"targets": prediction["targets"], "aspect": prediction["aspect"]}
        if prediction.get("given_targets"):
            record["given_targets"] = prediction["given_targets"]
        return record

    # -- scoring --------------------------------------------------------------------------------------------
    def score(self, examples, predictions, labels, evaluation):
        return joint_metrics(examples, predictions, self._tree(labels) if labels else None,
                             evaluation.bootstrap_samples, evaluation.confidence)


def _convention_problems(options: JointOptions) -> list[str]:
    conventions = options.source_conventions
    if not isinstance(conventions, list) or not all(isinstance(c, str) and c for c in conventions):
        return [f"task 'joint' source_conventions must be a list of data set names such as [fiqa, sentfin]; found "
                f"{conventions!r}"]
    problems = []
    if len(conventions) == 1 or len(set(conventions)) != len(conventions):
        problems.append(f"task 'joint' source_conventions lists two or more distinct sources (or none); found "
                        f"{conventions}")
    if options.answer_as and options.answer_as not in conventions:
        problems.append(f"task 'joint' answer_as must be one of source_conventions {conventions}; found "
                        f"'{options.answer_as}'")
    kinds = options.answer_kinds
    if not isinstance(kinds, list) or not all(kind in ENTITY_KINDS for kind in kinds):
        problems.append(f"task 'joint' answer_kinds must be a list of kinds of {list(ENTITY_KINDS)}, such as "
                        f"[company, index], or [] for every kind; found {kinds!r}")
    caps = options.targets_per_sentence
    if not isinstance(caps, dict):
        return problems + [f"task 'joint' targets_per_sentence must map a convention to a number of targets, such "
                           f"as {{fiqa: 1}}; found {caps!r}"]
    for source, cap in caps.items():
        if source not in conventions:
            problems.append(f"task 'joint' targets_per_sentence names '{source}', which is not one of "
                            f"source_conventions {conventions}; list it there or remove it")
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            problems.append(f"task 'joint' targets_per_sentence: the most targets for '{source}' must be a whole "
                            f"number >= 1; found {cap!r}")
    return problems


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)
