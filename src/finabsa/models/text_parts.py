"""A text longer than a model's ``max_length`` read in parts split at sentence boundaries, answered in one record.

An encoder reads at most ``max_length`` tokens; a news paragraph can be longer. Rather than cut it (the rest never
read), ``read_in_parts`` packs its sentences greedily into parts that fit, reads each, and merges their records:
list answers (targets) joined with their offsets moved into the whole text, any other answer from the part most
sure of it. Sentences come from pysbd (a maintained rule-based splitter that keeps "Inc.", "U.S.", "J.P. Morgan",
"5.2%", "$AAPL" and "<JNJ.N>" inside their sentence); a sentence longer than the budget is split at the last word
boundary that fits. ``Predictor.predict`` and ``finabsa.Pipeline`` read texts this way; document mode
(``finabsa.inference.documents``) uses the same sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..data.records import Example
from ..data.spans import entity_keys

__all__ = ["SentenceSpan", "split_sentences", "fit_to_length", "text_parts", "merge_part_records", "read_in_parts"]

#: A text's token character offsets (special tokens excluded), as a tokenizer gives them.
OffsetsOf = Callable[[str], list[tuple[int, int]]]


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence of a document: its text and its character offsets (``document[start:end] == text``)."""

    start: int
    end: int
    text: str


_SEGMENTER: Any = None


def split_sentences(document: str) -> list[SentenceSpan]:
    """The sentences of ``document`` with their offsets, surrounding white space left out."""
    global _SEGMENTER
    if _SEGMENTER is None:
        import pysbd

        _SEGMENTER = pysbd.Segmenter(language="en", clean=False, char_span=True)
    spans = []
    for piece in _SEGMENTER.segment(document):
        text = piece.sent.strip()
        if text:
            start = piece.start + piece.sent.index(text)
            spans.append(SentenceSpan(start, start + len(text), text))
    return spans


def fit_to_length(sentences: Sequence[SentenceSpan], offsets_of: OffsetsOf,
                  max_tokens: int) -> tuple[list[SentenceSpan], int]:
    """Sentences of at most ``max_tokens`` tokens: a longer one is split at the last white space before its
    ``max_tokens``-th token (at that token where a word is longer), so that no text is cut off; returns the pieces
    and the count of sentences that were split. ``offsets_of`` gives a text's token character offsets (special
    tokens excluded; ``max_tokens`` leaves room for them)."""
    pieces: list[SentenceSpan] = []
    cut = 0
    for sentence in sentences:
        offsets = offsets_of(sentence.text)
        if len(offsets) <= max_tokens:
            pieces.append(sentence)
            continue
        cut += 1
        text, start = sentence.text, sentence.start
        while offsets and len(offsets) > max_tokens:
            limit = offsets[max_tokens][0]
            split = text.rfind(" ", 0, limit)
            split = split if split > 0 else limit
            head = text[:split].rstrip()
            pieces.append(SentenceSpan(start, start + len(head), head))
            rest = text[split:].lstrip()
            start += len(text) - len(rest)
            text = rest
            offsets = offsets_of(text)
        if text:
            pieces.append(SentenceSpan(start, start + len(text), text))
    return pieces, cut


def text_parts(text: str, offsets_of: OffsetsOf, max_tokens: int) -> list[SentenceSpan]:
    """``text`` as it is when it fits ``max_tokens``; else its sentences packed greedily into parts that fit (a
    sentence longer than that split at word boundaries), so that sentence mode reads all of a long text."""
    if len(text) <= max_tokens or len(offsets_of(text)) <= max_tokens:  # a token covers at least one character
        return [SentenceSpan(0, len(text), text)]
    sentences, _ = fit_to_length(split_sentences(text), offsets_of, max_tokens)
    parts: list[SentenceSpan] = []
    for sentence in sentences:
        if parts:
            joined = text[parts[-1].start:sentence.end]
            if len(offsets_of(joined)) <= max_tokens:
                parts[-1] = SentenceSpan(parts[-1].start, sentence.end, joined)
                continue
        parts.append(sentence)
    return parts or [SentenceSpan(0, len(text), text)]


def merge_part_records(text: str, parts: Sequence[SentenceSpan], records: Sequence[dict[str, Any]]) -> dict:
    """One record for a text read in ``parts``: list fields (targets...) joined, their offsets moved into the text,
    one entity named in several parts answered once (where first written, with the sentiment of the mention the
    model is most sure of; a given target too: where a part found it, else by the first part); any other answer
    from the part most sure of it; the notes of every part, and one that says the text was read in parts."""
    merged: dict[str, Any] = {"text": text}
    keys = list(dict.fromkeys(key for record in records for key in record if key not in ("text", "notes")))
    for key in keys:
        values = [(part, record[key]) for part, record in zip(parts, records) if key in record]
        if all(isinstance(value, list) for _, value in values):
            merged[key] = _one_per_unlocated(_one_per_entity(
                [_shifted(item, part.start) for part, value in values for item in value]))
        elif all(isinstance(value, dict) for _, value in values):
            merged[key] = max((value for _, value in values), key=lambda v: float(v.get("probability") or 0.0))
        else:
            merged[key] = values[0][1]
    notes = [note for record in records for note in record.get("notes", [])]
    merged["notes"] = notes + [f"read in {len(parts)} parts split at sentence boundaries (longer than the models' "
                               "max_length); each part's answers are kept, offsets into the whole text"]
    return merged


def _shifted(value: Any, by: int) -> Any:
    """``value`` with every ``start`` / ``end`` (of it and of the items it holds, e.g. reasons) moved by ``by``."""
    if isinstance(value, list):
        return [_shifted(item, by) for item in value]
    if not isinstance(value, dict):
        return value
    moved = {key: _shifted(item, by) if isinstance(item, (list, dict)) else item for key, item in value.items()}
    for key in ("start", "end"):
        if isinstance(moved.get(key), int):
            moved[key] += by
    return moved


def _one_per_entity(items: list[Any]) -> list[Any]:
    """Located items (a ``text`` and a ``start``) that name one entity (``entity_keys``: "Barclays PLC" in one part,
    "Barclays" in another) kept once, where first written, with the ``sentiment`` the model was most sure of."""
    located = [i for i, item in enumerate(items)
               if isinstance(item, dict) and isinstance(item.get("start"), int) and item.get("text")]
    first: dict[str, int] = {}
    dropped = set()
    for i, key in zip(located, entity_keys([items[i]["text"] for i in located])):
        if key not in first:
            first[key] = i
            continue
        dropped.add(i)
        kept, other = items[first[key]], items[i]
        if _sureness(other) > _sureness(kept):
            items[first[key]] = {**kept, "sentiment": other["sentiment"]}
    return [item for i, item in enumerate(items) if i not in dropped]


def _sureness(item: dict[str, Any]) -> float:
    """How sure the model was of an item's sentiment (its probability; -1 without one)."""
    sentiment = item.get("sentiment")
    return float(sentiment.get("probability") or 0.0) if isinstance(sentiment, dict) else -1.0


def _one_per_unlocated(items: list[Any]) -> list[Any]:
    """Items without a place (a given target no part found) once per text, and none where a part found it."""
    located = {item.get("text") for item in items if isinstance(item, dict) and item.get("start") is not None}
    kept, seen = [], set()
    for item in items:
        if isinstance(item, dict) and item.get("start") is None and "text" in item:
            if item["text"] in located or item["text"] in seen:
                continue
            seen.add(item["text"])
        kept.append(item)
    return kept


def read_in_parts(examples: Sequence[Example], records_of: Callable[[list[Example]], list[dict[str, Any]]],
                  offsets_of: OffsetsOf, max_tokens: int) -> list[dict[str, Any]]:
    """One record per example from ``records_of`` (records starting with ``text``), each example over
    ``max_tokens`` read in parts (``text_parts``) and answered in one record (``merge_part_records``); one
    ``records_of`` call for all, so that the parts are batched together."""
    split = [text_parts(example.sentence, offsets_of, max_tokens) for example in examples]
    if all(len(parts) == 1 for parts in split):
        return records_of(list(examples))
    pieces = [replace(example, sentence=part.text) if len(parts) > 1 else example
              for example, parts in zip(examples, split) for part in parts]
    records = iter(records_of(pieces))
    return [next(records) if len(parts) == 1 else
            merge_part_records(example.sentence, parts, [next(records) for _ in parts])
            for example, parts in zip(examples, split)]
