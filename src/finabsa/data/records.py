"""The canonical example record and the cell parsers every loader shares."""

from __future__ import annotations

import ast
import logging
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import ftfy
import ftfy.badness

from ..errors import DataError
from .log import LoadLog

__all__ = ["SOURCE_KEY", "Example", "Mention", "as_example", "parse_aspects", "parse_score", "repair_text",
           "truncate_aspect", "where"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mention:
    """One target of a sentence with the labels its source gives it (a score, a class, aspect paths).

    Sentences grouped for the joint task (``finabsa.data.grouping``) carry one mention per distinct target;
    ``origin`` names the file and row it came from.
    """

    text: str
    score: float | None = None
    label: str | None = None
    aspects: tuple[str, ...] = ()
    origin: str = ""


#: ``Example.meta`` key naming the data set a loaded row came from (``dataset``); a user's text has none, which is
#: how a model with per-source conventions tells loaded rows from text of unknown source.
SOURCE_KEY = "source"


@dataclass(frozen=True)
class Example:
    """One (sentence, target) pair with whatever annotations its source has.

    ``aspects`` holds full ``/``-separated paths (``Stock/Price Action/Bullish``); ``score`` is the sentiment toward
    the target in [-1, 1]; ``label`` is a sentence-level class given directly by sources without a score.
    ``origin`` names file and row so that every message about the example can point at it. ``mentions`` holds every
    target of the sentence when rows were grouped per sentence (the joint task); it is empty otherwise.
    """

    sentence: str
    target: str | None = None
    score: float | None = None
    aspects: tuple[str, ...] = ()
    label: str | None = None
    source_format: str | None = None
    split: str = "train"
    dataset: str = "fiqa"
    origin: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    mentions: tuple[Mention, ...] = ()

    def with_split(self, split: str) -> Example:
        return replace(self, split=split)



def where(file: str, row: int | str, column: str | None = None) -> str:
    """Human-readable location: ``train.csv, row 12, column 'aspects'`` (rows count from 1 after the header)."""
    text = f"{file}, row {row}"
    return f"{text}, column '{column}'" if column else text


_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def parse_aspects(cell: Any, location: str, log: LoadLog | None = None) -> tuple[str, ...]:
    """Parse an aspects cell such as ``"['Stock/Price Action/Bullish']"`` into a tuple of paths.

    Malformed but unambiguous strings (``['Market/Volatility]``, a quote missing) are repaired with a warning that
    names the row; anything that is not a list of paths raises ``DataError``.
    """
    if isinstance(cell, (list, tuple)):
        items = list(cell)
    else:
        text = "" if cell is None or (isinstance(cell, float) and math.isnan(cell)) else str(cell).strip()
        if not text:
            return ()
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = _lenient_list(text)
            if parsed is None:
                (log or LoadLog()).problem(
                    "aspects_unparseable", location,
                    f"cannot parse the aspects value {text!r}; expected a list of '/'-separated paths such as "
                    "['Stock/Price Action/Bullish']. Fix or remove that cell.",
                )
            detail = f"malformed aspects {text!r} -> {parsed!r}"
            if log is not None:
                log.repaired("aspects", location, detail)
            else:
                logger.warning("%s: repaired %s", location, detail)
        items = list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
    paths = []
    for item in items:
        if not isinstance(item, str):
            (log or LoadLog()).problem("aspects_unparseable", location,
                                       f"aspects must be strings such as 'Market/Volatility'; found {item!r}.")
        path = "/".join(part.strip() for part in item.strip().strip("/").split("/") if part.strip())
        if path:
            paths.append(path)
    return tuple(paths)


def _lenient_list(text: str) -> list[str] | None:
    if not (text.startswith("[") or text.endswith("]")):
        return None
    inner = text.strip("[]").strip()
    quoted = [a or b for a, b in _QUOTED.findall(inner)]
    if quoted and all(q.strip() for q in quoted):
        return quoted
    parts = [part.strip().strip("'\"").strip() for part in inner.split(",")]
    parts = [p for p in parts if p]
    return parts or None


def truncate_aspect(path: str, level: int | None) -> str:
    """``truncate_aspect('Stock/Price Action/Bullish', 2) == 'Stock/Price Action'``; ``None`` keeps the full path."""
    if level is None:
        return path
    return "/".join(path.split("/")[:level])


def parse_score(cell: Any, location: str, log: LoadLog | None = None) -> float | None:
    """Parse a sentiment score in [-1, 1]; empty cells give None, anything unreadable is a load problem."""
    log = log or LoadLog()
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    try:
        value = float(cell)
    except (TypeError, ValueError):
        log.problem("bad_score", location, f"sentiment score {cell!r} is not a number; expected a value in [-1, 1].")
    if math.isnan(value):
        return None
    if not -1.0 <= value <= 1.0:
        log.problem("bad_score", location,
                    f"sentiment score {value} is outside [-1, 1]; fix the cell or rescale the column.")
    return value


def repair_text(text: Any, location: str, repair: bool = True, log: LoadLog | None = None) -> tuple[str, bool]:
    """Return ``(text, repaired)``: mojibake fixed with ftfy; empty or unrepairable text is a load problem."""
    log = log or LoadLog()
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
        log.problem("empty_text", location, "the text is empty; every row needs a sentence.")
    if not isinstance(text, str):
        text = str(text)
    if not repair:
        return text, False
    fixed = ftfy.fix_text(text, normalization="NFC")
    if "\ufffd" in fixed or ftfy.badness.is_bad(fixed):
        log.problem(
            "garbled_text", location,
            f"the text {text[:80]!r} is garbled (mojibake) and could not be repaired; re-export the file as "
            "UTF-8 or fix that cell.",
        )
    if fixed != text:
        log.repaired("mojibake", location, f"{text[:60]!r} -> {fixed[:60]!r}", warn=False)
    return fixed, fixed != text


def as_example(item: str | dict | Example, position: int = 0) -> Example:
    """Accept a plain sentence, a mapping (``sentence``/``text``, optional ``target``, ``aspects``) or an Example."""
    if isinstance(item, Example):
        return item
    if isinstance(item, str):
        if not item.strip():
            raise DataError(f"input {position + 1} is an empty string; give a sentence to analyse.")
        return Example(sentence=item, split="predict", origin=f"input {position + 1}")
    if isinstance(item, dict):
        sentence = item.get("sentence", item.get("text"))
        if not isinstance(sentence, str) or not sentence.strip():
            raise DataError(
                f"input {position + 1} has no text: expected a 'sentence' (or 'text') string; "
                f"found keys {', '.join(map(str, item)) or 'none'}."
            )
        aspects = item.get("aspects")
        return Example(
            sentence=sentence,
            target=item.get("target"),
            aspects=parse_aspects(aspects, f"input {position + 1}, field 'aspects'") if aspects else (),
            split="predict",
            origin=f"input {position + 1}",
        )
    raise DataError(f"input {position + 1} must be a string or an object; found {type(item).__name__}.")
