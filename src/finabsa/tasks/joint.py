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

from ..data.grouping import group_by_sentence, merge_sources
from ..data.labels import ASPECT_LEVELS, SENTIMENT_LABELS, sentiment_class
from ..data.records import Example, Mention, truncate_aspect
from ..data.spans import find_target_spans
from ..errors import DataError
from .aspect_tree import LEVEL_DEPTHS, AspectTree
from .base import HeadSpec, Task, choice_problems, register_task, softmax
from .classification import inverse_frequency
from .hooks import PipelineHooks
from .metrics import classification_metrics, normalise_answer, set_metrics, target_metrics
from .target import best_span, bio_tags, snap_to_words, token_features, tokens_in_spans

__all__ = ["JointTask", "JointOptions", "JointCollator", "JointLoss", "pooled_sentiment", "mention_class"]

logger = logging.getLogger(__name__)

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
    fuzzy_threshold: float = field(default=0.8, metadata={"help": "Similarity (0-1) above which a misspelt target "
                                                                  "is matched to the sentence's words."})
    score_weight: float = field(default=1.0, metadata={"help": "Weight of the score regression loss beside the "
                                                               "class loss (rows with a score only)."})
    sentence_context: bool = field(default=False, metadata={"help": "Add a sentence-level part to each target's "
                                                                    "pooled span (default: the span alone, so that "
                                                                    "targets of one sentence can differ)."})

    def __post_init__(self) -> None:
        self.aspect_level = str(self.aspect_level)


def mention_class(mention: Mention) -> str | None:
    """The sentiment class of a mention: its label, else the class of its score."""
    if mention.label:
        return mention.label
    return None if mention.score is None else sentiment_class(mention.score)


@register_task
class JointTask(Task, PipelineHooks):
    """Targets, their sentiment and the sentence's aspect from one encoder pass."""

    name = "joint"
    Options = JointOptions
    answer_key: ClassVar[str] = "pairs"
    data_needs = "targets (--target-column) with a sentiment score or label, and/or aspect paths (--aspect-column)"
    training_exclusion_reason = "they carry no label any head trains on"
    selection_metric: ClassVar[str] = "head_mean_f1"
    selection_greater_is_better: ClassVar[bool] = True
    headline_metrics: ClassVar[tuple[str, ...]] = (
        "pair_f1", "pair_precision", "pair_recall", "target_exact_match", "target_f1", "sentiment_accuracy",
        "sentiment_macro_f1", "sentiment_mixed_accuracy", "aspect_level1_accuracy", "aspect_level1_macro_f1",
        "aspect_level2_accuracy", "aspect_level2_macro_f1", "aspect_full_accuracy", "aspect_full_macro_f1",
    )

    @classmethod
    def check_options(cls, options: JointOptions) -> list[str]:
        problems = choice_problems(cls.name, "aspect_level", options.aspect_level, ASPECT_LEVELS)
        for name in ("max_targets", "max_span_tokens"):
            if getattr(options, name) < 1:
                problems.append(f"task 'joint' {name} must be >= 1; found {getattr(options, name)}")
        if options.min_targets < 0:
            problems.append(f"task 'joint' min_targets must be >= 0; found {options.min_targets}")
        if not 0 < options.fuzzy_threshold <= 1:
            problems.append(f"task 'joint' fuzzy_threshold must be in (0, 1]; found {options.fuzzy_threshold}")
        return problems

    # -- data -----------------------------------------------------------------------------------------------
    def check_examples(self, examples: list[Example]) -> None:
        """Refuse rows with no label for any head, and data whose targets mostly do not occur in their sentence."""
        for example in examples:
            if not self.usable(example):
                raise DataError(
                    f"{example.origin or 'a row'}: gives no label the joint model trains on: it needs a target "
                    "(column 'target', --target-column) with a sentiment score or label, or aspect paths (column "
                    "'aspects'). Sentence-level sentiment without a target (Financial PhraseBank) trains the "
                    "'sentiment' task instead; remove this data set from the joint run or map its target column."
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
        # Before grouping a row has ``target``; after, ``mentions``.
        return bool(example.mentions or example.aspects or (example.target and example.target.strip()))

    def group_rows(self, splits, extra):
        main, extra = merge_sources(splits.get("train", []), extra)
        grouped = {name: group_by_sentence(rows) for name, rows in splits.items() if name != "train"}
        return {"train": main, **grouped}, extra

    def gold(self, example: Example) -> Any:
        return _pairs_text((m.text, mention_class(m)) for m in example.mentions if mention_class(m))

    def stratify_key(self, example: Example) -> str:
        return example.dataset

    def build_labels(self, train: list[Example]) -> list[str]:
        return sorted({e.aspects[0] for e in train if e.aspects})

    def head(self, labels: list[str]) -> HeadSpec:
        return HeadSpec("joint", size=len(labels))

    def training_notes(self, train: list[Example]) -> list[str]:
        """How many training sentences and targets train each head (the others are masked for them)."""
        spans = [self._mention_spans(e) for e in train]
        located = [m for e, found in zip(train, spans) for m, where in zip(e.mentions, found) if where]
        tagged = sum(1 for e, found in zip(train, spans) if found and all(found))
        classes = Counter(mention_class(m) for m in located if mention_class(m))
        scored = sum(1 for m in located if m.score is not None)
        note = (f"heads trained: target tags on {tagged} of {len(train)} sentences; aspect on "
                f"{sum(1 for e in train if e.aspects)}; sentiment on {sum(classes.values())} targets "
                f"({', '.join(f'{c} {classes[c]}' for c in SENTIMENT_LABELS)}), of which {scored} with a score. "
                "A head is masked for the sentences that lack its labels.")
        logger.info(note)
        return [note]

    def _mention_spans(self, example: Example) -> list[list[tuple[int, int]]]:
        """The character spans of each mention in its sentence (``[]`` for one that cannot be located)."""
        return [find_target_spans(example.sentence, m.text, self.options.fuzzy_threshold) for m in example.mentions]

    # -- encoding -------------------------------------------------------------------------------------------
    def encode(self, examples, tokenizer, labels, max_length, with_labels):
        features = token_features(examples, tokenizer, max_length)
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
        return {"tags": tags, "target_ids": target_ids, "classes": classes, "scores": scores, "aspect": aspect}

    def collator(self, tokenizer):
        return JointCollator(tokenizer)

    def forward(self, model, batch, tokenizer):
        return model(**batch)

    def loss_function(self, train_features, labels, class_weighting):
        counts = Counter(c for f in train_features for c in f["labels"]["classes"] if c >= 0)
        weights = inverse_frequency(counts, len(SENTIMENT_LABELS)) if class_weighting and counts else None
        return JointLoss(AspectTree(labels) if labels else None, weights, self.options.score_weight,
                         self.options.sentence_context)

    # -- decoding -------------------------------------------------------------------------------------------
    def decode(self, outputs, features, examples, labels, tokenizer):
        arrays = {name: _numpy(getattr(outputs, name)) for name in
                  ("tag_logits", "aspect_logits", "sentiment_token", "sentiment_sentence")}
        tag_probabilities = softmax(arrays["tag_logits"])
        aspect_probabilities = softmax(arrays["aspect_logits"]) if labels else None
        tree = self._tree(labels) if labels else None
        predictions = []
        for i, (feature, example) in enumerate(zip(features, examples)):
            token_part = arrays["sentiment_token"][i]
            sentence_part = arrays["sentiment_sentence"][i] if self.options.sentence_context else \
                np.zeros_like(arrays["sentiment_sentence"][i])
            targets = []
            for span in self._decode_spans(tag_probabilities[i], feature, example.sentence):
                tokens = span.pop("tokens")
                targets.append({**span, "sentiment": pooled_sentiment(token_part, sentence_part, tokens)})
            prediction: dict[str, Any] = {
                "targets": targets,
                "aspect": self._aspect(tree, aspect_probabilities[i]) if tree is not None else None,
                "pairs": _pairs_text((t["text"], t["sentiment"]["label"]) for t in targets),
            }
            given = example.mentions or ((Mention(example.target),) if example.target else ())
            if given:
                prediction["given_targets"] = [self._given(m, feature, example, token_part, sentence_part)
                                               for m in given]
            predictions.append(prediction)
        return predictions

    def _tree(self, labels: list[str]) -> AspectTree:
        """The aspect tree of ``labels``, built once per label list (decoding runs once per batch)."""
        cached = getattr(self, "_cached_tree", None)
        if cached is None or cached.leaves != list(labels):
            cached = self._cached_tree = AspectTree(labels)
        return cached

    def _decode_spans(self, probabilities: np.ndarray, feature: dict[str, Any], sentence: str) -> list[dict]:
        """Every span the tags mark (``B I*``, or a stray ``I`` run), merged per distinct text: the first
        occurrence's position, sentiment pooled over all its occurrences. At least ``min_targets`` spans."""
        real = [j for j, ok in enumerate(feature["_real"]) if ok]
        tags = probabilities[real].argmax(-1)
        runs, current = [], []
        for position, tag in enumerate(tags):
            continues = tag == 2 and current and len(current) < self.options.max_span_tokens
            if continues:
                current.append(position)
                continue
            if current:
                runs.append(current)
            current = [position] if tag in (1, 2) else []
        if current:
            runs.append(current)
        spans = [self._span(probabilities, real, run, feature, sentence) for run in runs]
        if len(spans) < self.options.min_targets and real:
            best = best_span(probabilities, feature, sentence, self.options.max_span_tokens)
            if best["target"]:
                spans.append({"text": best["target"], "start": best["start"], "end": best["end"],
                              "score": best["score"], "tokens": best["tokens"]})
        joined: list[dict[str, Any]] = []
        for span in sorted(spans, key=lambda s: s["start"]):
            # A word split into pieces that were tagged apart snaps to the same word: one span.
            if joined and span["start"] < joined[-1]["end"]:
                last = joined[-1]
                last["end"] = max(last["end"], span["end"])
                last.update(text=sentence[last["start"]:last["end"]], tokens=last["tokens"] + span["tokens"],
                            score=min(last["score"], span["score"]))
            else:
                joined.append(span)
        merged: dict[str, dict[str, Any]] = {}
        for span in joined:
            key = span["text"].lower()
            if key in merged:
                merged[key]["tokens"] = merged[key]["tokens"] + span["tokens"]
                merged[key]["score"] = max(merged[key]["score"], span["score"])
            else:
                merged[key] = span
        return list(merged.values())

    @staticmethod
    def _span(probabilities: np.ndarray, real: list[int], run: list[int], feature: dict, sentence: str) -> dict:
        tokens = [real[p] for p in run]
        start, end = snap_to_words(sentence, feature["_offsets"][tokens[0]][0], feature["_offsets"][tokens[-1]][1])
        wanted = [1] + [2] * (len(tokens) - 1)
        score = float(np.prod([probabilities[t, w] for t, w in zip(tokens, wanted)]))
        return {"text": sentence[start:end], "start": start, "end": end, "score": score, "tokens": tokens}

    def _aspect(self, tree: AspectTree, probabilities: np.ndarray) -> dict[str, Any]:
        label, probability, levels = tree.read(probabilities, self.options.aspect_level)
        return {"label": label, "level": self.options.aspect_level, "levels": levels, "probability": probability}

    def _given(self, mention: Mention, feature: dict, example: Example, token_part: np.ndarray,
               sentence_part: np.ndarray) -> dict[str, Any] | None:
        found = find_target_spans(example.sentence, mention.text, self.options.fuzzy_threshold)
        tokens = tokens_in_spans(feature["_offsets"], feature["_real"], found)
        if not tokens:
            return None
        return {"text": mention.text, "sentiment": pooled_sentiment(token_part, sentence_part, tokens)}

    # -- pipeline record ------------------------------------------------------------------------------------
    @property
    def record_key(self) -> str | None:
        return None

    def provides(self) -> tuple[str, ...]:
        return ("target", "marked_sentence", "aspects", "aspect_l1", "aspect_l2")

    def fill(self, example: Example, prediction: dict[str, Any]) -> Example:
        if not example.target and prediction["targets"]:
            example = replace(example, target=prediction["targets"][0]["text"])
        if not example.aspects and prediction.get("aspect"):
            example = replace(example, aspects=(prediction["aspect"]["levels"][-1],))
        return example

    def record(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """``{"targets": [{text, start, end, score, sentiment}], "aspect": {label, levels, probability}}``."""
        record = {"targets": prediction["targets"], "aspect": prediction["aspect"]}
        if prediction.get("given_targets"):
            record["given_targets"] = prediction["given_targets"]
        return record

    # -- scoring --------------------------------------------------------------------------------------------
    def score(self, examples, predictions, labels, evaluation):
        kwargs = {"bootstrap_samples": evaluation.bootstrap_samples, "confidence": evaluation.confidence}
        metrics: dict[str, Any] = {"n": len(examples)}
        metrics.update(self._target_scores(examples, predictions, kwargs))
        metrics.update(self._sentiment_scores(examples, predictions, kwargs))
        metrics.update(self._aspect_scores(examples, predictions, labels, kwargs))
        parts = [metrics[k] for k in ("target_f1", "sentiment_macro_f1", "aspect_level2_macro_f1") if k in metrics]
        metrics["head_mean_f1"] = float(np.mean(parts)) if parts else 0.0
        return metrics

    def _target_scores(self, examples, predictions, kwargs) -> dict[str, Any]:
        rows = [(e, p) for e, p in zip(examples, predictions) if e.mentions]
        if not rows:
            return {}
        gold_targets = [{normalise_answer(m.text) for m in e.mentions} for e, _ in rows]
        found = [{normalise_answer(t["text"]) for t in p["targets"]} for _, p in rows]
        metrics = set_metrics(gold_targets, found, "target_")
        gold_pairs = [{(normalise_answer(m.text), mention_class(m)) for m in e.mentions if mention_class(m)}
                      for e, _ in rows]
        found_pairs = [{(normalise_answer(t["text"]), t["sentiment"]["label"]) for t in p["targets"]} for _, p in rows]
        metrics.update(set_metrics(gold_pairs, found_pairs, "pair_"))
        # The single-target view, comparable with the target task: the best-scoring span against the first target.
        top = [max(p["targets"], key=lambda t: t["score"])["text"] if p["targets"] else "" for _, p in rows]
        single = target_metrics([e.mentions[0].text for e, _ in rows], top, **kwargs)
        metrics.update({f"target_{k}": v for k, v in single.items() if k in ("exact_match", "exact_match_ci",
                                                                              "token_f1")})
        return metrics

    def _sentiment_scores(self, examples, predictions, kwargs) -> dict[str, Any]:
        gold, found, mixed = [], [], []
        for example, prediction in zip(examples, predictions):
            # Sentences whose targets differ in sentiment: where one label per sentence cannot be right.
            differ = len({mention_class(m) for m in example.mentions if mention_class(m)}) > 1
            for mention, given in zip(example.mentions, prediction.get("given_targets", [])):
                if mention_class(mention) and given is not None:
                    gold.append(mention_class(mention))
                    found.append(given["sentiment"]["label"])
                    mixed.append(differ)
        if not gold:
            return {}
        part = classification_metrics(gold, found, list(SENTIMENT_LABELS), **kwargs)
        metrics = {f"sentiment_{k}": part[k] for k in ("n", "accuracy", "accuracy_ci", "macro_f1", "macro_f1_ci",
                                                        "per_class")}
        if any(mixed):
            hits = [g == f for g, f, m in zip(gold, found, mixed) if m]
            metrics.update(sentiment_mixed_accuracy=sum(hits) / len(hits), sentiment_mixed_n=len(hits))
        metrics["confusion_matrix"] = part["confusion_matrix"]  # the run's confusion plot: sentiment, gold targets
        return metrics

    def _aspect_scores(self, examples, predictions, labels, kwargs) -> dict[str, Any]:
        rows = [(e, p) for e, p in zip(examples, predictions) if e.aspects and p.get("aspect")]
        if not rows:
            return {}
        tree = self._tree(labels)
        metrics: dict[str, Any] = {}
        for position, (level, depth) in enumerate(LEVEL_DEPTHS.items()):
            part = classification_metrics([truncate_aspect(e.aspects[0], depth) for e, _ in rows],
                                          [p["aspect"]["levels"][position] for _, p in rows], tree.nodes[level],
                                          **kwargs)
            prefix = "aspect_full" if level == "full" else f"aspect_level{level}"
            metrics.update({f"{prefix}_{name}": part[name] for name in ("accuracy", "macro_f1")})
        return metrics


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def pooled_sentiment(token_part: np.ndarray, sentence_part: np.ndarray, tokens: list[int]) -> dict[str, Any]:
    """The sentiment of a span: the mean of its tokens' part plus the sentence part (what training pools)."""
    pooled = (token_part[tokens].mean(0) if tokens else 0.0) + sentence_part
    probabilities = softmax(pooled[None, :3])[0]
    best = int(probabilities.argmax())
    return {"label": SENTIMENT_LABELS[best], "probability": float(probabilities[best]),
            "score": float(np.tanh(pooled[3]))}


def _pairs_text(pairs) -> str:
    """``"barclays: positive; lloyds: negative"``: (target, sentiment) pairs as one comparable string."""
    return "; ".join(sorted(f"{text.lower()}: {label}" for text, label in pairs))


class JointCollator:
    """Pads the token inputs (the tokenizer's padding) and the label tensors of the three heads."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        labels = [f["labels"] for f in features if "labels" in f]
        batch = self.tokenizer.pad([{k: v for k, v in f.items() if k != "labels"} for f in features],
                                   return_tensors="pt")
        if labels:
            length = batch["input_ids"].shape[1]
            left = self.tokenizer.padding_side == "left"

            def pad(rows: list[list[int]]) -> Any:
                return torch.tensor([[-100] * (length - len(r)) + r if left else r + [-100] * (length - len(r))
                                     for r in rows])

            batch["labels"] = {
                "tags": pad([row["tags"] for row in labels]),
                "target_ids": pad([row["target_ids"] for row in labels]),
                "classes": torch.tensor([row["classes"] for row in labels]),
                "scores": torch.tensor([row["scores"] for row in labels], dtype=torch.float32),
                "aspect": torch.tensor([row["aspect"] for row in labels]),
            }
        return batch


class JointLoss:
    """The Trainer's ``compute_loss_func``: tag, aspect-tree and pooled-sentiment losses, each over the sentences
    (or targets) that have its labels."""

    def __init__(self, tree: AspectTree | None, class_weights: list[float] | None, score_weight: float,
                 sentence_context: bool = True):
        self.tree = tree
        self.class_weights = class_weights
        self.score_weight = score_weight
        self.sentence_context = sentence_context

    @staticmethod
    def pool(outputs: Any, target_ids: Any, k: int, sentence_context: bool = True) -> tuple[Any, Any]:
        """Sentiment outputs of targets 1..k (``target_ids`` marks each token with its target's number): the mean
        of their tokens' part plus the sentence part, ``batch x k x 4``; and each target's token count."""
        import torch

        ids = torch.arange(1, k + 1, device=target_ids.device).view(1, k, 1)
        membership = (target_ids.unsqueeze(1) == ids).float()  # batch x targets x tokens
        counts = membership.sum(-1)
        pooled = (membership @ outputs["sentiment_token"].float()) / counts.clamp(min=1.0).unsqueeze(-1)
        if sentence_context:
            pooled = pooled + outputs["sentiment_sentence"].float().unsqueeze(1)
        return pooled, counts

    def __call__(self, outputs: Any, labels: dict[str, Any], num_items_in_batch: Any = None) -> Any:
        import torch
        import torch.nn.functional as F

        tag_logits = outputs["tag_logits"]
        total = tag_logits.sum() * 0.0  # keeps the graph when a batch has no labels for a head
        if (labels["tags"] != -100).any():
            total = total + F.cross_entropy(tag_logits.reshape(-1, tag_logits.shape[-1]).float(),
                                            labels["tags"].reshape(-1), ignore_index=-100)
        has_aspect = labels["aspect"] >= 0
        if self.tree is not None and has_aspect.any():
            total = total + self.tree.loss(outputs["aspect_logits"][has_aspect], labels["aspect"][has_aspect])
        pooled, counts = self.pool(outputs, labels["target_ids"], labels["classes"].shape[1], self.sentence_context)
        valid = (labels["classes"] >= 0) & (counts > 0)
        if valid.any():
            weight = None if self.class_weights is None else torch.tensor(self.class_weights, device=pooled.device)
            total = total + F.cross_entropy(pooled[valid][:, :3], labels["classes"][valid], weight=weight)
            scored = valid & ~torch.isnan(labels["scores"])
            if scored.any():
                total = total + self.score_weight * F.mse_loss(torch.tanh(pooled[scored][:, 3]),
                                                               labels["scores"][scored])
        return total
