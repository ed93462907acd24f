"""Scoring the joint model per head and end to end: targets (set P/R/F1 and the best span's exact match), the
sentiment of each gold target (and on sentences whose targets differ), the aspect at every level, and (target,
sentiment) pairs with predicted targets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ...data.labels import SENTIMENT_LABELS, sentiment_class
from ...data.records import Example, Mention, truncate_aspect
from ..aspect_tree import LEVEL_DEPTHS, AspectTree
from ..metrics import classification_metrics, normalise_answer, set_metrics, target_metrics

__all__ = ["mention_class", "sentence_class", "pairs_text", "joint_metrics"]


def mention_class(mention: Mention) -> str | None:
    """The sentiment class of a mention: its label, else the class of its score."""
    if mention.label:
        return mention.label
    return None if mention.score is None else sentiment_class(mention.score)


def sentence_class(example: Example) -> str | None:
    """The class every labelled target of the sentence shares (what the sentence-level head learns), else None."""
    classes = {mention_class(m) for m in example.mentions} - {None}
    return classes.pop() if len(classes) == 1 else None


def pairs_text(pairs: Iterable[tuple[str, str | None]]) -> str:
    """``"barclays: positive; lloyds: negative"``: (target, sentiment) pairs as one comparable string."""
    return "; ".join(sorted(f"{text.lower()}: {label}" for text, label in pairs))


def joint_metrics(examples: list[Example], predictions: list[dict[str, Any]], tree: AspectTree | None,
                  bootstrap_samples: int, confidence: float) -> dict[str, Any]:
    """Every head's metrics and ``head_mean_f1`` (mean of target F1, sentiment macro-F1 and aspect level-2
    macro-F1: the selection metric)."""
    kwargs = {"bootstrap_samples": bootstrap_samples, "confidence": confidence}
    metrics: dict[str, Any] = {"n": len(examples)}
    metrics.update(_target_scores(examples, predictions, kwargs))
    metrics.update(_sentiment_scores(examples, predictions, kwargs))
    if tree is not None:
        metrics.update(_aspect_scores(examples, predictions, tree, kwargs))
    parts = [metrics[k] for k in ("target_f1", "sentiment_macro_f1", "aspect_level2_macro_f1") if k in metrics]
    metrics["head_mean_f1"] = float(np.mean(parts)) if parts else 0.0
    return metrics


def _target_scores(examples: list[Example], predictions: list[dict], kwargs: dict[str, Any]) -> dict[str, Any]:
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
    best = [max(p["targets"], key=lambda t: t["score"]) if p["targets"] else None for _, p in rows]
    single = target_metrics([e.mentions[0].text for e, _ in rows], [t["text"] if t else "" for t in best], **kwargs)
    metrics.update({f"target_{k}": v for k, v in single.items() if k in ("exact_match", "exact_match_ci",
                                                                          "token_f1")})
    metrics.update(_best_target_sentiment([e for e, _ in rows], best, kwargs))
    return metrics


def _best_target_sentiment(examples: list[Example], best: list[dict | None], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The sentiment of the model's own best-scoring target (``best``, one per example, None when it answered
    none) against the first gold target's class: the joint model's counterpart of the pipeline's "sentiment with
    predicted target and aspects" (a sentence with no predicted target counts as wrong)."""
    gold, found = [], []
    for example, target in zip(examples, best):
        label = mention_class(example.mentions[0])
        if label:
            gold.append(label)
            found.append(target["sentiment"]["label"] if target else None)
    answered = [(g, f) for g, f in zip(gold, found) if f]
    if not answered:
        return {}
    part = classification_metrics([g for g, _ in answered], [f for _, f in answered], list(SENTIMENT_LABELS),
                                  **kwargs)
    return {"best_target_sentiment_accuracy": sum(g == f for g, f in zip(gold, found)) / len(gold),
            "best_target_sentiment_macro_f1": part["macro_f1"], "best_target_sentiment_n": len(gold)}


def _sentiment_scores(examples: list[Example], predictions: list[dict], kwargs: dict[str, Any]) -> dict[str, Any]:
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


def _aspect_scores(examples: list[Example], predictions: list[dict], tree: AspectTree,
                   kwargs: dict[str, Any]) -> dict[str, Any]:
    rows = [(e, p) for e, p in zip(examples, predictions) if e.aspects and p.get("aspect")]
    if not rows:
        return {}
    metrics: dict[str, Any] = {}
    for position, (level, depth) in enumerate(LEVEL_DEPTHS.items()):
        part = classification_metrics([truncate_aspect(e.aspects[0], depth) for e, _ in rows],
                                      [p["aspect"]["levels"][position] for _, p in rows], tree.nodes[level],
                                      **kwargs)
        prefix = "aspect_full" if level == "full" else f"aspect_level{level}"
        metrics.update({f"{prefix}_{name}": part[name] for name in ("accuracy", "macro_f1")})
    return metrics
