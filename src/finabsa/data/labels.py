"""Label vocabularies of the data: sentiment classes and how a score becomes one, and aspect depths."""

from __future__ import annotations

__all__ = ["SENTIMENT_LABELS", "POSITIVE_THRESHOLD", "NEGATIVE_THRESHOLD", "sentiment_class", "ASPECT_LEVELS"]

#: Sentiment classes, in the order of the FiQA split's ``label`` column (0 positive, 1 neutral, 2 negative).
SENTIMENT_LABELS = ("positive", "neutral", "negative")

#: Default cut points of a score in [-1, 1]: above the first is positive, below the second negative.
POSITIVE_THRESHOLD = 0.1
NEGATIVE_THRESHOLD = -0.1

#: Depths at which an aspect path (``Stock/Price Action/Bullish``) can be classified.
ASPECT_LEVELS = ("1", "2", "full")


def sentiment_class(score: float, positive: float = POSITIVE_THRESHOLD, negative: float = NEGATIVE_THRESHOLD) -> str:
    """The class of a sentiment score: ``positive`` above ``positive``, ``negative`` below ``negative``."""
    if score > positive:
        return "positive"
    if score < negative:
        return "negative"
    return "neutral"
