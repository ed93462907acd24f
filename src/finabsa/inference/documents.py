"""Whole documents: split into sentences, analysed in one batched pass, answered per document.

Sentences come from pysbd (``finabsa.models.text_parts.split_sentences``; ``benchmarks/documents.py`` measures it).
A sentence longer than the models' ``max_length`` tokens is split at the last word boundary that fits, never cut:
such sentences are counted in ``sentences_cut``.

One answer per document::

    text, sentences      each sentence's record (as sentence mode answers it) with its start / end in the document
    entities             each entity once: its name (the longest mention), its kind (``entity_kind``: company,
                         index, ...), its mentions (character offsets into the document, their sentence and
                         sentiment), its sentiment over the document and its per-sentence labels
    aspects              the aspect labels of the sentences, most frequent first, with the sentences they label
    sentences_cut        how many sentences were over max_length tokens (and split to fit)

**The document sentiment of an entity** is the mean of its mentions' (calibrated) class distributions, each mention
weighing the same; its label is the most probable class of that mean, its ``probability`` that class's mean
probability and its ``score`` the mean P(positive) - P(negative). Mentions group by ``entity_keys``: case, legal
suffixes ("Barclays PLC" = "Barclays"), possessives and ticker marks (``$AAPL`` = ``AAPL``) aside, and a company
named again by the first words of its name ("Exxon Mobil Corp" ... "Exxon") is that company.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..data.entity_kinds import entity_kind
from ..data.labels import SENTIMENT_LABELS
from ..data.records import Example
from ..data.spans import entity_keys
from ..models.text_parts import SentenceSpan, fit_to_length, split_sentences

__all__ = ["SplitDocument", "split_documents", "answer_documents", "analyze_documents", "aggregate_document",
           "document_sentiment"]

#: The field of a record, target or mention that holds its sentiment answer.
SENTIMENT_FIELD = "sentiment"


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
    mentions: list[dict[str, Any]] = []
    for number, (span, record) in enumerate(zip(sentences, records)):
        for target in record.get("targets") or []:
            if target.get("start") is None or not target.get("text"):
                continue
            sentiment = target.get(SENTIMENT_FIELD) or _sentence_sentiment(record)
            mention = {"text": target["text"], "start": span.start + target["start"],
                       "end": span.start + target["end"], "sentence": number}
            if sentiment:
                mention[SENTIMENT_FIELD] = sentiment
            mentions.append(mention)
    groups: dict[str, list[dict[str, Any]]] = {}
    for mention, key in zip(mentions, entity_keys([m["text"] for m in mentions])):
        groups.setdefault(key, []).append(mention)
    entities = [_entity(mentions, document) for mentions in groups.values()]
    return {"text": document, "sentences": placed, "entities": entities, "aspects": _aspects(records),
            "sentences_cut": sentences_cut}


def _sentence_sentiment(record: dict[str, Any]) -> dict[str, Any] | None:
    """A pipeline's record-level sentiment (predicted for the record's target), when it is a labelled answer."""
    sentiment = record.get(SENTIMENT_FIELD)
    return sentiment if isinstance(sentiment, dict) and sentiment.get("label") in SENTIMENT_LABELS else None


def _entity(mentions: list[dict[str, Any]], document: str) -> dict[str, Any]:
    name = max((m["text"] for m in mentions), key=len)
    entity: dict[str, Any] = {"text": name, "kind": entity_kind(name, document), "mentions": mentions}
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
