"""Decoding the joint model's outputs: BIO tags into targets, each with its pooled sentiment, and given targets.

Every span the tags mark (``B I*``, or a stray ``I`` run) is a target; word pieces tagged apart snap to one word,
repeats of the same text are one target (its sentiment pooled over all its mentions), and at least
``min_targets`` spans are answered through the best-scoring span.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...data.records import Example, Mention
from ...data.spans import find_target_spans
from ..target import BEGIN, INSIDE, OUTSIDE, best_span, snap_to_words, tokens_in_spans
from .pooling import membership, pool_targets, span_sentiment

__all__ = ["decode_spans", "targets_with_sentiment", "given_target"]


def decode_spans(probabilities: np.ndarray, feature: dict[str, Any], sentence: str, max_span_tokens: int,
                 min_targets: int) -> list[dict[str, Any]]:
    """The targets the tag probabilities mark (``text``, ``start``, ``end``, ``score`` and their ``tokens``),
    merged per distinct text: the first occurrence's position, the tokens of every occurrence."""
    real = [j for j, ok in enumerate(feature["_real"]) if ok]
    tags = probabilities[real].argmax(-1)
    runs: list[list[int]] = []
    current: list[int] = []
    for position, tag in enumerate(tags):
        if tag == INSIDE and current and len(current) < max_span_tokens:
            current.append(position)
            continue
        if current:
            runs.append(current)
        current = [position] if tag != OUTSIDE else []
    if current:
        runs.append(current)
    spans = [_span(probabilities, real, run, feature, sentence) for run in runs]
    if len(spans) < min_targets and real:
        best = best_span(probabilities, feature, sentence, max_span_tokens)
        if best["target"]:
            spans.append({"text": best["target"], "start": best["start"], "end": best["end"],
                          "score": best["score"], "tokens": best["tokens"]})
    return _merge_repeats(_join_overlapping(spans, sentence))


def _join_overlapping(spans: list[dict[str, Any]], sentence: str) -> list[dict[str, Any]]:
    """A word split into pieces that were tagged apart snaps to the same word: one span."""
    joined: list[dict[str, Any]] = []
    for span in sorted(spans, key=lambda s: s["start"]):
        if joined and span["start"] < joined[-1]["end"]:
            last = joined[-1]
            last["end"] = max(last["end"], span["end"])
            last.update(text=sentence[last["start"]:last["end"]], tokens=last["tokens"] + span["tokens"],
                        score=min(last["score"], span["score"]))
        else:
            joined.append(span)
    return joined


def _merge_repeats(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Repeated mentions of one text are one target: the tokens of all of them, the best score."""
    merged: dict[str, dict[str, Any]] = {}
    for span in spans:
        key = span["text"].lower()
        if key in merged:
            merged[key]["tokens"] = merged[key]["tokens"] + span["tokens"]
            merged[key]["score"] = max(merged[key]["score"], span["score"])
        else:
            merged[key] = span
    return list(merged.values())


def _span(probabilities: np.ndarray, real: list[int], run: list[int], feature: dict, sentence: str) -> dict:
    tokens = [real[p] for p in run]
    start, end = snap_to_words(sentence, feature["_offsets"][tokens[0]][0], feature["_offsets"][tokens[-1]][1])
    wanted = [BEGIN] + [INSIDE] * (len(tokens) - 1)
    score = float(np.prod([probabilities[t, w] for t, w in zip(tokens, wanted)]))
    return {"text": sentence[start:end], "start": start, "end": end, "score": score, "tokens": tokens}


def targets_with_sentiment(spans: list[dict[str, Any]], token_part: np.ndarray, sentence_part: np.ndarray,
                           sentence_context: bool) -> list[dict[str, Any]]:
    """The decoded spans as record targets, each with the sentiment pooled over its tokens."""
    pooled, _ = pool_targets(token_part, sentence_part, membership([s["tokens"] for s in spans], len(token_part)),
                             sentence_context)
    return [{**{k: v for k, v in span.items() if k != "tokens"}, "sentiment": span_sentiment(row)}
            for span, row in zip(spans, pooled)]


def given_target(mention: Mention, feature: dict[str, Any], example: Example, token_part: np.ndarray,
                 sentence_part: np.ndarray, sentence_context: bool, fuzzy_threshold: float) -> dict[str, Any] | None:
    """The sentiment toward a target the input names, pooled over its mentions; None when it is not in the text."""
    found = find_target_spans(example.sentence, mention.text, fuzzy_threshold)
    tokens = tokens_in_spans(feature["_offsets"], feature["_real"], found)
    if not tokens:
        return None
    pooled, _ = pool_targets(token_part, sentence_part, membership([tokens], len(token_part)), sentence_context)
    return {"text": mention.text, "sentiment": span_sentiment(pooled[0])}
