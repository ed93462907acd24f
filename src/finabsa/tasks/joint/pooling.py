"""Pooling a target's sentiment over its span: the one implementation, used by decoding (numpy, predicted spans)
and by the loss (torch, gold spans), so that training and inference pool alike.

The joint model outputs a per-token sentiment part (``batch x tokens x 4``) and a sentence part (``batch x 4``);
a target's sentiment is the mean of its tokens' part, plus the sentence part when the task asks for sentence
context. The functions here use only operations numpy arrays and torch tensors share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...data.labels import SENTIMENT_LABELS
from ..base import softmax

__all__ = ["SENTIMENT_OUTPUTS", "SOURCE_IDS", "pool_targets", "membership", "span_sentiment"]

#: Sentiment outputs per target: three class logits (``SENTIMENT_LABELS`` order) and one score (tanh -> [-1, 1]).
SENTIMENT_OUTPUTS = len(SENTIMENT_LABELS) + 1
#: The feature (and model input) naming each sentence's source convention (``task.source_conventions``); the
#: task writes it, the joint head's collator and model read it (like the sentiment outputs above, both sides share
#: the graph's interface).
SOURCE_IDS = "source_ids"


def pool_targets(token_part: Any, sentence_part: Any, members: Any, sentence_context: bool) -> tuple[Any, Any]:
    """Each target's pooled sentiment outputs and token count.

    ``members`` (``... x targets x tokens``) counts how often each token belongs to each target; ``token_part``
    is ``... x tokens x 4`` and ``sentence_part`` ``... x 4``. Returns ``(... x targets x 4, ... x targets)``; a
    target with no token gets the sentence part alone (zeros without sentence context).
    """
    counts = members.sum(-1)
    pooled = (members @ token_part) / (counts + (counts == 0))[..., None]
    if sentence_context:
        pooled = pooled + sentence_part[..., None, :]
    return pooled, counts


def membership(spans: list[list[int]], tokens: int) -> np.ndarray:
    """The ``targets x tokens`` count matrix of token-index lists (one list per target), for ``pool_targets``."""
    members = np.zeros((len(spans), tokens), dtype=np.float32)
    for k, span in enumerate(spans):
        np.add.at(members[k], span, 1.0)
    return members


def span_sentiment(pooled: np.ndarray) -> dict[str, Any]:
    """``{label, probability, score}`` of one target from its pooled outputs."""
    probabilities = softmax(pooled[None, : len(SENTIMENT_LABELS)])[0]
    best = int(probabilities.argmax())
    return {"label": SENTIMENT_LABELS[best], "probability": float(probabilities[best]),
            "score": float(np.tanh(pooled[len(SENTIMENT_LABELS)]))}
