"""Abstention: an answer less probable than the user's threshold is labelled ``uncertain`` instead of guessed.

People act on a model's answer when it is sure enough ("act when the model is 90 % sure"). With
``--min-probability P`` (``finabsa predict``, ``finabsa serve``, ``Pipeline(min_probability=P)``, or
``"min_probability"`` in an API request) every labelled answer of a record whose (calibrated) probability is below
``P`` (a target's sentiment, the aspect, a sentence's label) becomes ``{"label": "uncertain", "best_label": ...}``,
its probability kept. The run report's accuracy / coverage curve says which ``P`` keeps how many answers at what
accuracy.
"""

from __future__ import annotations

from typing import Any

from ..errors import FinabsaError

__all__ = ["UNCERTAIN", "check_min_probability", "withhold"]

#: The label of a withheld answer.
UNCERTAIN = "uncertain"


def check_min_probability(value: Any) -> float | None:
    """``value`` as a threshold in (0, 1), or None for no threshold; anything else is a ``FinabsaError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < float(value) < 1:
        raise FinabsaError(f"min_probability must be a number between 0 and 1 (exclusive), e.g. 0.8; found "
                           f"{value!r}")
    return float(value)


def withhold(record: Any, min_probability: float | None) -> Any:
    """``record`` (a dict, list or value) with every answer below ``min_probability`` labelled ``uncertain``;
    unchanged without a threshold."""
    if min_probability is None:
        return record
    if isinstance(record, list):
        return [withhold(item, min_probability) for item in record]
    if not isinstance(record, dict):
        return record
    answer = {key: withhold(value, min_probability) for key, value in record.items()}
    probability = answer.get("probability")
    if isinstance(answer.get("label"), str) and isinstance(probability, float) and probability < min_probability \
            and answer["label"] != UNCERTAIN:
        answer["best_label"], answer["label"] = answer["label"], UNCERTAIN
    return answer
