"""Whole documents: split into sentences, analysed in one batched pass, answered per document.

Sentences come from pysbd (a maintained rule-based splitter that keeps "Inc.", "U.S.", "J.P. Morgan", "5.2%",
"$AAPL" and "<JNJ.N>" inside their sentence; ``benchmarks/documents.py`` measures it). A sentence longer than the
models' ``max_length`` tokens is split at the last word boundary that fits, never cut: such sentences are counted
in ``sentences_cut``.

One answer per document::

    text, sentences      each sentence's record (as sentence mode answers it) with its start / end in the document
    entities             each entity once: its name (the longest mention), its mentions (character offsets into
                         the document, their sentence and sentiment), its sentiment over the document and its
                         per-sentence labels
    aspects              the aspect labels of the sentences, most frequent first, with the sentences they label
    sentences_cut        how many sentences were over max_length tokens (and split to fit)

**The document sentiment of an entity** is the mean of its mentions' (calibrated) class distributions, each mention
weighing the same; its label is the most probable class of that mean, its ``probability`` that class's mean
probability and its ``score`` the mean P(positive) - P(negative). Mentions group by ``entity_key``: case, legal
suffixes ("Barclays PLC" = "Barclays"), possessives and ticker marks (``$AAPL`` = ``AAPL``) aside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..data.labels import SENTIMENT_LABELS
from ..data.records import Example
from ..data.spans import entity_key

__all__ = ["SentenceSpan", "SplitDocument", "split_sentences", "fit_to_length", "split_documents",
           "answer_documents", "analyze_documents", "aggregate_document", "document_sentiment"]


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence of a document: its text and its character offsets (``document[start:end] == text``)."""

    start: int
    end: int
    text: str


#: The field of a record, target or mention that holds its sentiment answer.
SENTIMENT_FIELD = "sentiment"

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


def fit_to_length(sentences: Sequence[SentenceSpan], offsets_of: Callable[[str], list[tuple[int, int]]],
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


def document_sentiment(sentiments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The document sentiment of one entity from its mentions' sentiments (the rule in this module's docstring)."""
    mean = [sum(_distribution(s)[i] for s in sentiments) / len(sentiments) for i in range(len(SENTIMENT_LABELS))]
    best = max(range(len(mean)), key=mean.__getitem__)
    index = {label: i for i, label in enumerate(SENTIMENT_LABELS)}
    return {"label": SENTIMENT_LABELS[best], "probability": mean[best],
            "score": mean[index["positive"]] - mean[index["negative"]], "mentions": len(sentiments)}


def _distribution(sentiment: dict[str, Any]) -> list[float]:
    """A mention's class probabilities: its ``probabilities`` when given, else rebuilt from its label, probability
    and score (score = P(positive) - P(negative), which with the top probability fixes all three classes)."""
    given = sentiment.get("probabilities")
    if isinstance(given, dict) and all(label in given for label in SENTIMENT_LABELS):
        return [float(given[label]) for label in SENTIMENT_LABELS]
    label = sentiment.get("best_label") or sentiment["label"]  # a withheld answer keeps its best label
    top = float(sentiment.get("probability") or 1.0)
    score = float(sentiment.get("score", 0.0) or 0.0)
    if label == "positive":
        positive, negative = top, max(0.0, top - score)
    elif label == "negative":
        positive, negative = max(0.0, score + top), top
    else:
        positive, negative = max(0.0, (1 - top + score) / 2), max(0.0, (1 - top - score) / 2)
    neutral = top if label == "neutral" else max(0.0, 1.0 - positive - negative)
    probabilities = {"positive": positive, "neutral": neutral, "negative": negative}
    return [probabilities[label] for label in SENTIMENT_LABELS]


def aggregate_document(document: str, sentences: Sequence[SentenceSpan], records: Sequence[dict[str, Any]],
                       sentences_cut: int = 0) -> dict[str, Any]:
    """The answer for one document from its sentences and their records (sentence mode's, in order)."""
    placed = [{**record, "start": span.start, "end": span.end} for span, record in zip(sentences, records)]
    groups: dict[str, list[dict[str, Any]]] = {}
    for number, (span, record) in enumerate(zip(sentences, records)):
        for target in record.get("targets") or []:
            if target.get("start") is None or not target.get("text"):
                continue
            sentiment = target.get(SENTIMENT_FIELD) or _sentence_sentiment(record)
            mention = {"text": target["text"], "start": span.start + target["start"],
                       "end": span.start + target["end"], "sentence": number}
            if sentiment:
                mention[SENTIMENT_FIELD] = sentiment
            groups.setdefault(entity_key(target["text"]), []).append(mention)
    entities = [_entity(mentions) for mentions in groups.values()]
    return {"text": document, "sentences": placed, "entities": entities, "aspects": _aspects(records),
            "sentences_cut": sentences_cut}


def _sentence_sentiment(record: dict[str, Any]) -> dict[str, Any] | None:
    """A pipeline's record-level sentiment (predicted for the record's target), when it is a labelled answer."""
    sentiment = record.get(SENTIMENT_FIELD)
    return sentiment if isinstance(sentiment, dict) and sentiment.get("label") in SENTIMENT_LABELS else None


def _entity(mentions: list[dict[str, Any]]) -> dict[str, Any]:
    name = max((m["text"] for m in mentions), key=len)
    entity: dict[str, Any] = {"text": name, "mentions": mentions}
    sentiments = [m[SENTIMENT_FIELD] for m in mentions if SENTIMENT_FIELD in m]
    if sentiments:
        entity[SENTIMENT_FIELD] = document_sentiment(sentiments)
        per_sentence: dict[int, list[dict[str, Any]]] = {}
        for mention in mentions:
            if SENTIMENT_FIELD in mention:
                per_sentence.setdefault(mention["sentence"], []).append(mention[SENTIMENT_FIELD])
        entity["per_sentence"] = [{"sentence": number, **_label_only(document_sentiment(found))}
                                  for number, found in per_sentence.items()]
    return entity


def _label_only(sentiment: dict[str, Any]) -> dict[str, Any]:
    return {"label": sentiment["label"], "probability": sentiment["probability"]}


def _aspects(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    found: dict[str, list[int]] = {}
    for number, record in enumerate(records):
        aspect = record.get("aspect")
        if isinstance(aspect, dict) and aspect.get("label") and aspect["label"] != "uncertain":
            found.setdefault(aspect["label"], []).append(number)
    return [{"label": label, "sentences": numbers}
            for label, numbers in sorted(found.items(), key=lambda item: (-len(item[1]), item[1][0]))]


@dataclass(frozen=True)
class SplitDocument:
    """A document ready for analysis: its text, its sentences (each within ``max_tokens``) and how many were split."""

    text: str
    sentences: list[SentenceSpan]
    sentences_cut: int


def split_documents(documents: Iterable[str | dict | Example], offsets_of: Callable[[str], list[tuple[int, int]]],
                    max_tokens: int) -> list[SplitDocument]:
    """Each document split into sentences that fit ``max_tokens`` (``fit_to_length``)."""
    split = []
    for item in documents:
        text = _text_of(item)
        sentences, cut = fit_to_length(split_sentences(text), offsets_of, max_tokens)
        split.append(SplitDocument(text, sentences, cut))
    return split


def answer_documents(split: Sequence[SplitDocument], records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answer of each document from the records of all their sentences, in order (one list for all)."""
    answers, start = [], 0
    for document in split:
        count = len(document.sentences)
        answers.append(aggregate_document(document.text, document.sentences, records[start : start + count],
                                          document.sentences_cut))
        start += count
    return answers


def analyze_documents(documents: Iterable[str | dict | Example], analyze: Callable[[list[Any]], list[dict]],
                      offsets_of: Callable[[str], list[tuple[int, int]]], max_tokens: int) -> list[dict[str, Any]]:
    """One answer per document: every sentence of every document analysed by one ``analyze`` call (batched)."""
    split = split_documents(documents, offsets_of, max_tokens)
    sentences = [span.text for document in split for span in document.sentences]
    return answer_documents(split, analyze(sentences) if sentences else [])


def _text_of(item: str | dict | Example) -> str:
    if isinstance(item, Example):
        return item.sentence
    if isinstance(item, dict):
        return str(item.get("text") or item.get("sentence") or "")
    return item


# -- sentence mode: a text over max_length read in parts ------------------------------------------------------
def text_parts(text: str, offsets_of: Callable[[str], list[tuple[int, int]]], max_tokens: int) -> list[SentenceSpan]:
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
    """One record for a text read in ``parts``: list fields (targets...) joined, their offsets moved into the text
    (a given target answered once: where a part found it, else by the first part); any other answer from the part
    most sure of it; the notes of every part, and one that says the text was read in parts."""
    merged: dict[str, Any] = {"text": text}
    keys = list(dict.fromkeys(key for record in records for key in record if key not in ("text", "notes")))
    for key in keys:
        values = [(part, record[key]) for part, record in zip(parts, records) if key in record]
        if all(isinstance(value, list) for _, value in values):
            merged[key] = _one_per_unlocated([_shifted(item, part.start) for part, value in values for item in value])
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
