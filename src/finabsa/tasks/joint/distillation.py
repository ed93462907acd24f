"""Knowledge distillation for the joint model: a teacher's soft targets, and the student's labels made from them.

The teacher (e.g. MPNet, 110 M parameters) and the student (MiniLM, 22 M) tokenise differently, so soft targets
are kept in characters: each teacher token's tag distribution with its character span, each target's sentiment
distribution with the character spans it was pooled over (the gold targets where the sentence has them, else the
targets the teacher found), the aspect distribution over the teacher's aspect labels, and the sentence head's
distribution. The student maps them onto its own tokens; the joint head's loss compares distributions at the
distillation temperature (``finabsa.models.heads.joint.JointLoss``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...data.labels import SENTIMENT_LABELS
from ...data.records import Example
from ...data.spans import find_target_spans
from ..base import softmax
from ..target import BEGIN, INSIDE, tokens_in_spans
from .decoding import decode_spans
from .pooling import membership, pool_targets

__all__ = ["teacher_soft_targets", "ensemble_soft_targets", "student_soft_labels"]


def teacher_soft_targets(arrays: dict[str, np.ndarray], features: list[dict[str, Any]], examples: list[Example],
                         labels: list[str], temperature: float, options: Any) -> list[dict[str, Any]]:
    """The soft targets of one batch of teacher outputs (``arrays``: the joint model's outputs as numpy)."""
    soft = []
    for i, (feature, example) in enumerate(zip(features, examples)):
        real = [j for j, ok in enumerate(feature["_real"]) if ok]
        tags = softmax(arrays["tag_logits"][i] / temperature)
        if example.mentions:
            spans = [find_target_spans(example.sentence, m.text, options.fuzzy_threshold) for m in example.mentions]
        else:
            found = decode_spans(softmax(arrays["tag_logits"][i]), feature, example.sentence,
                                 options.max_span_tokens, options.min_targets, merge=options.merge_fragments)
            spans = [[(t["start"], t["end"])] for t in found]
        spans = [s for s in spans if s][: options.max_targets]
        tokens = [tokens_in_spans(feature["_offsets"], feature["_real"], s) for s in spans]
        token_part = arrays["sentiment_token"][i]
        pooled, _ = pool_targets(token_part, arrays["sentiment_sentence"][i], membership(tokens, len(token_part)),
                                 options.sentence_context)
        classes = len(SENTIMENT_LABELS)
        soft.append({
            "tags": [[*feature["_offsets"][j], *map(float, tags[j])] for j in real],
            "targets": [{"spans": [list(s) for s in span], "probs": softmax(row[:classes] / temperature).tolist()}
                        for span, row, found in zip(spans, pooled, tokens) if found],
            "aspect": {"labels": list(labels), "probs": softmax(arrays["aspect_logits"][i] / temperature).tolist()}
            if labels else None,
            "sentence": softmax(arrays["sentence_sentiment"][i] / temperature).tolist(),
        })
    return soft


def ensemble_soft_targets(per_teacher: list[dict[str, Any]], sentence: str) -> dict[str, Any]:
    """Several teachers' soft targets of one sentence as one: the mean of their distributions.

    Teachers may tokenise differently, so the first teacher's tokens carry the tags: every other teacher's tag
    distribution is read at each of those tokens (the token covering its first character), and averaged over the
    teachers that have one there. Its targets are the first teacher's (on a labelled sentence every teacher pools
    the same gold spans); each target's sentiment is averaged over the teachers that pooled exactly those spans.
    The aspect is averaged over teachers with the same aspect labels, the sentence head over all."""
    first, others = per_teacher[0], per_teacher[1:]
    offsets = [(int(start), int(end)) for start, end, *_ in first["tags"]]
    tag_rows = [[row[2:] for row in first["tags"]]]
    tag_rows += [_tags_on_tokens(other["tags"], offsets, [True] * len(offsets), sentence) for other in others]
    tags = [[*offsets[j], *_mean([rows[j] for rows in tag_rows if sum(rows[j]) > 0])] for j in range(len(offsets))]
    targets = []
    for target in first["targets"]:
        same = [t["probs"] for other in others for t in other["targets"] if t["spans"] == target["spans"]]
        targets.append({"spans": target["spans"], "probs": _mean([target["probs"], *same])})
    aspect = first["aspect"]
    if aspect is not None:
        same = [o["aspect"]["probs"] for o in others if o["aspect"] and o["aspect"]["labels"] == aspect["labels"]]
        aspect = {"labels": aspect["labels"], "probs": _mean([aspect["probs"], *same])}
    return {"tags": tags, "targets": targets, "aspect": aspect,
            "sentence": _mean([soft["sentence"] for soft in per_teacher])}


def _mean(rows: list[list[float]]) -> list[float]:
    return np.mean(np.asarray(rows, dtype=float), axis=0).tolist()


def student_soft_labels(feature: dict[str, Any], example: Example, labels: list[str],
                        max_targets: int) -> dict[str, Any]:
    """The teacher's soft targets (``example.meta["soft"]``) on the student's tokens, as label lists."""
    soft = example.meta["soft"]
    offsets, real = feature["_offsets"], feature["_real"]
    return {
        "tags": _tags_on_tokens(soft["tags"], offsets, real, example.sentence),
        **_targets_on_tokens(soft["targets"], offsets, real, max_targets),
        "aspect": soft["aspect"]["probs"] if soft.get("aspect") and soft["aspect"]["labels"] == list(labels)
        else [0.0] * max(len(labels), 1),
        "sentence": soft["sentence"],
    }


def _tags_on_tokens(teacher: list[list[float]], offsets: list[tuple[int, int]], real: list[bool],
                    sentence: str) -> list[list[float]]:
    """Each student token's tag distribution: the teacher token's that covers its first character; a student
    token that continues a word the teacher's token began takes that token's B mass as I. Zeros: no target."""
    by_char: dict[int, tuple[int, list[float]]] = {}
    for start, end, *probs in teacher:
        for c in range(int(start), int(end)):
            by_char[c] = (int(start), probs)
    rows = []
    for j, (start, _) in enumerate(offsets):
        found = by_char.get(start) if real[j] else None
        if found is None:
            rows.append([0.0, 0.0, 0.0])
            continue
        teacher_start, probs = found
        probs = list(probs)
        continues = teacher_start < start and start > 0 and sentence[start - 1].isalnum()
        if continues:  # the teacher's token began this word earlier: a continuation here
            probs[INSIDE] += probs[BEGIN]
            probs[BEGIN] = 0.0
        rows.append(probs)
    return rows


def _targets_on_tokens(targets: list[dict[str, Any]], offsets: list[tuple[int, int]], real: list[bool],
                       max_targets: int) -> dict[str, Any]:
    """Each soft target's tokens (``target_ids``: 1..K per token) and its sentiment distribution (K x 3)."""
    target_ids = [0] * len(real)
    classes = [[0.0] * len(SENTIMENT_LABELS) for _ in range(max_targets)]
    for k, target in enumerate(targets[:max_targets]):
        for j in tokens_in_spans(offsets, real, [tuple(s) for s in target["spans"]]):
            target_ids[j] = target_ids[j] or k + 1
        classes[k] = list(target["probs"])
    return {"target_ids": target_ids, "classes": classes}
