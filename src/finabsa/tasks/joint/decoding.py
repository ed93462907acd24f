"""Decoding the joint model's outputs: BIO tags into targets, each with its pooled sentiment, and given targets.

Every span the tags mark (``B I*``, or a stray ``I`` run) is a target; word pieces tagged apart snap to one word,
mentions of one entity are one target, named as first written (its sentiment pooled over all its mentions; they
agree by ``entity_keys``: "Barclays PLC ... Barclays's", and "Exxon Mobil Corp ... Exxon" or "General Electric ...
GE" where a company is named again by the first words of its name or its initials; a name the text wrote beside
a target, its ticker or a short form in brackets, is that target too: "Standard Chartered (StanChart) ...
StanChart"), and at least ``min_targets`` spans are answered through the best-scoring span.

One company is one target (``merge_fragments``): spans that the tagger left apart but that name one entity are
joined ("Levi Strauss" + "& Co", "Bank of" + "America", "Procter" + "Gamble" across "&", "Daiichi" + "Sankyo"
side by side, "Walgreens" + " Boots " + "Alliance Inc" across a word left out of a name that ends in a legal
suffix), a ticker written beside its company (``<LEVI.N>``, ``(AAPL)``, a wire service's bare ``.SPX`` or
``XOM.N``) becomes that target's ``ticker`` instead of a target of its own (a name the tagger ran on into its ticker
ends before it, and a code marked alone takes the capitalised words just before it as its name), a name joined by
"&" inside one word ("S&P", "AT&T") is one word, a name written after a capitalised word and a hyphen takes it
("Anheuser-" + "Busch InBev"), a trailing possessive is dropped ("Barclays's" -> "Barclays"), an index keeps its
number ("S&P" + " 500", "FTSE" + " 100") and the rest of its name ("Dow Jones Industrial" + " Average"), a span
that ends a listed name of another kind takes its first words ("Federal" + " Reserve"), a span that ends on "&",
"and" or a body's "of" takes the capitalised words after it ("Bank of" + " England") and a company's "of" goes
("Nokia Corp of" of "Nokia Corp of Finland"), a span that begins on "and", "&" or a body's "of" takes the
capitalised words before it ("Securities" + " and Exchange Commission") and a connector marked alone joins what it
connects or nothing, a company's name ends the words that describe it ("UBS Group AG" of "Swiss bank UBS Group
AG"), a company's name takes a word that ends many company names written right after it ("Pioneer Natural" + "
Resources", "HDFC" + " Bank"), and fragments that name nothing on their own (a lone legal suffix such as "Inc" or
"Co", a single letter) are dropped. Where a story was filed, the wire's slugs before its headline and where a company
lists name no target (a dateline, "NEW YORK, Jan 5 (Reuters) -"; "US STOCKS-"; "Nasdaq" of "Nasdaq-listed"), and a
company named again with the word for its shares is that company ("Alphabet Inc ... Alphabet shares").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...data.entity_kinds import (
    COMMODITY,
    COMPANY,
    CURRENCY,
    INDEX,
    INDEX_NAMES,
    PLACE,
    POLICY,
    entity_kind,
    listed_kind,
)
from ...data.labels import SENTIMENT_LABELS
from ...data.records import Example, Mention
from ...data.spans import LEGAL_SUFFIXES, ends_with_name_s, entity_key, entity_keys, locate_target, whole_word_spans
from ..base import softmax
from ..target import BEGIN, INSIDE, OUTSIDE, best_span, snap_to_words, tokens_in_spans
from .pooling import membership, pool_targets, span_sentiment

__all__ = ["SentimentParts", "best_spans", "decode_spans", "merge_fragments", "targets_with_sentiment", "given_target",
           "sentence_sentiment"]

#: A ticker written beside its company: ``<LEVI.N>``, ``(AAPL)``, ``(NYSE: KO)``, ``<.SPX>``, ``<7203.T>``, or a
#: wire service's bare code: an index's ``.SPX`` or a share's ``XOM.N`` (two or more characters before the exchange
#: letters, so that "U.S." and "S.A." are no tickers).
_TICKER_IN_TEXT = re.compile(r"[<(](?:[A-Z]+:\s*)?(?:\.?[A-Za-z][A-Za-z0-9]{0,5}(?:\.[A-Za-z]{1,2})?"
                             r"|\d{3,6}\.[A-Z]{1,2})[>)]"
                             r"|(?<!\S)(?:\.[A-Z][A-Z0-9]{1,5}|[A-Z0-9]{2,6}\.[A-Z]{1,2})(?![\w&])")
#: What may stand between a name and its ticker: nothing but spaces and punctuation, or the rest of the name in
#: capitalised words (group 1 ends where the name does), then a possessive ("Apple's (AAPL.O)") or the word
#: "index" ("the S&P 500 index .SPX").
_NAME_BEFORE_TICKER = re.compile(r"((?:\s+[A-Z][\w&'.-]*){0,4})(?:['’]s?)?(?:\s+(?i:index))?[\s,.]*")
#: Capitalised words (an index's number among them) that end right before a wire code: its name, when the tagger
#: marked only the code (group 1; the match starts at a word).
_NAME_ENDING_AT = re.compile(r"(?<!\S)([A-Z][\w&'.-]*(?:\s+(?:[A-Z][\w&'.-]*|\d{2,4})){0,4})[\s,]*$")
#: The rest of a word joined by "&" ("&P" of "S&P").
_JOINED_WORD_REST = re.compile(r"&[A-Za-z0-9]+")
#: What may stand between two fragments of one name.
_CONNECTOR = re.compile(r"^\s*(?:&|and|of|de|du|la)?\s*$", flags=re.IGNORECASE)
#: Lower-case words written inside names ("Bank of America", "Compagnie de Saint-Gobain", "National Endowment for
#: the Arts"), and legal suffixes.
_WORDS_INSIDE_NAMES = frozenset({"of", "and", "de", "du", "la", "le", "des", "del", "della", "di", "da", "do", "dos",
                                 "the", "von", "van", "der", "den", "y", "e", "et", "for", "in", "on", "at", "an", "a",
                                 "to", "publ"}) | frozenset(LEGAL_SUFFIXES)
#: A connector written as a word of its own ("Procter" + " & " + "Gamble", "Bank" + " of " + "America").
_CONNECTOR_WORDS = ("&", "and", "of")
_SUFFIXES = {s for s in LEGAL_SUFFIXES if " " not in s and s != "the"}
#: Index names whose number is part of the name ("S&P 500", "FTSE 100", "Nikkei 225"): the tagger often stops
#: before the number.
_INDEX_NAMES = ("s&p", "ftse", "nikkei", "dax", "cac", "russell", "stoxx", "euro stoxx", "hang seng", "asx", "nifty",
                "kospi", "ibex", "aex", "smi", "omx", "tsx", "mib", "bse", "sensex")
#: The kinds whose names come from a list (``finabsa.data.entity_kinds``): a span that ends one takes the rest.
_KNOWN_NAME_KINDS = (INDEX, POLICY, PLACE, CURRENCY, COMMODITY)
#: Words that end many company names ("Pioneer Natural Resources", "Tata Motors", "HDFC Bank"), lower case.
_NAME_HEADS = frozenset({
    "airlines", "airways", "bancorp", "bank", "brands", "capital", "chemicals", "communications", "electric",
    "electronics", "energy", "entertainment", "finance", "financial", "foods", "healthcare", "industries", "infra",
    "infrastructure", "insurance", "investments", "laboratories", "labs", "logistics", "minerals", "mining",
    "motors", "networks", "partners", "petroleum", "pharma", "pharmaceuticals", "power", "products", "properties",
    "realty", "resources", "securities", "semiconductor", "semiconductors", "services", "solutions", "steel",
    "systems", "technologies", "technology", "telecom", "therapeutics", "ventures",
})
#: One capitalised word written right after a name (group 1), to be read against ``_NAME_HEADS``.
_NAME_HEAD_AFTER = re.compile(r" ([A-Z][a-z]+)(?![\w&'’-])")
#: Up to four capitalised words written right after a position (not a weekday or a month: "Nokia Corp of Finland
#: Tuesday said").
_CAPITALISED_AFTER = re.compile(r"(?:\s+(?!(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b|(?:January|February|March|"
                                r"April|May|June|July|August|September|October|November|December)\b)"
                                r"[A-Z][\w&'-]*){1,4}")
#: The last word of a body named "... of" something ("Bank of England", "Institute of Chartered Accountants").
_NAMED_OF = frozenset({"bank", "corporation", "institute", "university", "ministry", "department", "bureau", "board",
                       "commission", "council", "association", "federation", "society", "office", "authority",
                       "exchange", "chamber", "government", "republic", "state", "states", "city", "port", "school",
                       "college", "museum", "church", "house"})
#: A wire story's dateline: a city in capitals (a country or a date may follow), the agency in brackets, a dash.
_DATELINE = re.compile(r"\s*[A-Z][A-Z./'-]+(?:\s+[A-Z][A-Z./'-]+){0,4}(?:,[^()\n]{0,40})?\s*\([\w ]*\b(?:Reuters|"
                       r"Bloomberg|AP|AFP|Dow Jones|Xinhua|Kyodo|PTI|IANS|IFR)\b[\w ]*\)\s*[-–—]+")
#: A capitalised word or two between two spans ("Boots" of "Walgreens Boots Alliance Inc").
_NAME_WORDS_BETWEEN = re.compile(r"(?:\s+[A-Z][\w&']*){1,2}\s+")  # not "Guinea-based" of "Papua New Guinea-based"
#: Words a Title Case headline capitalises that join or relate names rather than belong to one.
_TITLE_CASE_SMALL_WORDS = frozenset({"and", "or", "of", "the", "to", "in", "on", "at", "for", "with", "by", "from",
                                     "as", "vs", "versus", "a", "an"})
#: A wire story's slugs before its headline ("UPDATE 2-", "BRIEF-", "US STOCKS-", "REFILE-UPDATE 4-"): words in
#: capitals, one of them a slug's, and a hyphen written against the headline.
_WIRE_SLUGS = re.compile(r"\s*(?:(?:[A-Z][A-Z0-9&.']*\s+){0,3}[A-Z][A-Z0-9&.']*(?:\s+\d{1,2})?-(?=\S))+")
_SLUG_WORDS = frozenset({"UPDATE", "BRIEF", "EXCLUSIVE", "REFILE", "CORRECTED", "CORRECTION", "RPT", "REPEAT",
                         "WRAPUP", "ANALYSIS", "FOCUS", "INSIGHT", "COLUMN", "BREAKINGVIEWS", "FACTBOX", "TIMELINE",
                         "DIGEST", "STOCKS", "MARKETS", "FOREX", "TREASURIES", "PRECIOUS", "METALS", "GRAINS", "SOFTS",
                         "BONDS", "BUZZ", "HIGHLIGHTS", "INTERVIEW", "EXPLAINER", "POLL", "SNAPSHOT", "WRAP"})
#: The word for a company's shares written after its name ("Alphabet shares").
_SHARES_WORD = re.compile(r"\s+(?:shares?|stocks?)$")
#: What follows an exchange written as where a company lists ("Nasdaq-listed", "NYSE-traded").
_LISTED_AT = re.compile(r"-(?:listed|traded|quoted)\b", flags=re.IGNORECASE)
#: A capitalised word (not in capitals: "REFILE-") and a hyphen right before a position ("Anheuser-" of
#: "Anheuser-Busch").
_HYPHENED_WORD_BEFORE = re.compile(r"(?<![\w&'.-])([A-Z][a-z][\w&']+)-$")
#: Words written before a name with a hyphen that are no part of it ("Ex-Centrica").
_PREFIXES = frozenset({"ex", "pro", "anti", "non", "pre", "post", "vice", "former", "neo", "pan", "mid", "all"})
#: A short name written in brackets right after a name: one capitalised word ("(StanChart)", "(BofA)", "(VW)").
_BRACKETED_NAME = re.compile(r"\s*\(([A-Z][A-Za-z0-9&.-]{1,15})\)")
_INDEX_NUMBER = re.compile(r"\s+\d{2,4}(?![\w.,]\d)")


@dataclass(frozen=True)
class SentimentParts:
    """One sentence's sentiment outputs: the per-token part (``tokens x 4``), the sentence part added to each
    target with sentence context, and the sentence-level head's logits (3 classes)."""

    token: np.ndarray
    sentence: np.ndarray
    sentence_head: np.ndarray
    sentence_context: bool


def decode_spans(probabilities: np.ndarray, feature: dict[str, Any], sentence: str, max_span_tokens: int,
                 min_targets: int, merge: bool = True, entity_threshold: float = 0.0) -> list[dict[str, Any]]:
    """The targets the tag probabilities mark (``text``, ``start``, ``end``, ``score`` and their ``tokens``),
    merged per distinct text: the first occurrence's position, the tokens of every occurrence. With
    ``entity_threshold`` a token is in a target when P(B) + P(I) reaches it (B or I by the more probable); with 0,
    each token takes its most probable tag."""
    real = [j for j, ok in enumerate(feature["_real"]) if ok]
    tags = probabilities[real].argmax(-1)
    if entity_threshold > 0:
        inside = probabilities[real][:, [BEGIN, INSIDE]]
        tags = np.where(inside.sum(-1) >= entity_threshold, np.where(inside[:, 0] >= inside[:, 1], BEGIN, INSIDE),
                        OUTSIDE)
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
    joined = _join_overlapping(spans, sentence)
    if not merge:
        return _merge_repeats(joined)
    return _merge_repeats(merge_fragments(_about_the_news(joined, sentence), sentence, feature), sentence)


def _about_the_news(spans: list[dict[str, Any]], sentence: str) -> list[dict[str, Any]]:
    """The spans but those that say where a story was filed or where a company lists, not what the news is about: a
    wire story's dateline ("NEW YORK, Jan 5 (Reuters) -", whose "NEW" the tagger marked), its slugs ("US STOCKS-Wall
    St closes higher", where "US STOCKS" was a company) and an exchange written as a company's listing ("Nasdaq-listed
    Zoom", where "Nasdaq" was an index with the company's sentiment)."""
    dateline, slugs = _DATELINE.match(sentence), _WIRE_SLUGS.match(sentence)
    start = dateline.end() if dateline else 0
    if slugs and _SLUG_WORDS.intersection(re.findall(r"[A-Z]+", slugs.group())):
        start = max(start, slugs.end())
    return [span for span in spans if span["start"] >= start and not _LISTED_AT.match(sentence, span["end"])]


def best_spans(spans: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` best-scoring of ``spans``, kept in the order they are written (a convention that marks only the
    entity a sentence is about, ``targets_per_sentence``)."""
    kept = set(sorted(range(len(spans)), key=lambda i: -spans[i]["score"])[:limit])
    return [span for i, span in enumerate(spans) if i in kept]


def merge_fragments(spans: list[dict[str, Any]], sentence: str, feature: dict[str, Any]) -> list[dict[str, Any]]:
    """One company, one target: join fragments of one name, attach a ticker written beside its company, drop a
    trailing possessive and fragments that name nothing (see the module docstring). ``spans`` are sorted by start."""
    merged: list[dict[str, Any]] = []
    for span in spans:
        span = _without_possessive(_without_trailing_ticker(dict(span), sentence), sentence)
        if not span["text"] or span["text"].strip().lower() in _CONNECTOR_WORDS:
            continue  # a connector alone joins nothing: the spans around it are joined across it or not at all
        _without_descriptor(span, sentence, feature)
        last = merged[-1] if merged else None
        floor = last["end"] if last else 0  # a span takes nothing written before where the span before ends
        _absorb_joined_word(span, sentence, feature)
        _absorb_hyphened_start(span, sentence, feature, floor)
        _absorb_name_before_connector(span, sentence, feature, floor)
        _absorb_name_after_connector(span, sentence, feature)
        _absorb_name_head(span, sentence, feature)
        _absorb_suffix(span, sentence, feature)
        _absorb_index_number(span, sentence, feature)
        _absorb_index_name(span, sentence, feature)
        _absorb_known_name_before(span, sentence, feature, floor)
        between = sentence[floor:span["start"]] if last else ""
        if last and span["start"] < last["end"]:  # a part of the name the span before already took ("& Co")
            _extend(last, span, sentence)
        elif last and (ticker := _ticker_beside(span["start"], span["end"], sentence)) and (
                name_rest := _NAME_BEFORE_TICKER.fullmatch(sentence, last["end"], ticker[0])):
            # The ticker closes the name in wire copy: capitalised words the tagger left between the two belong to
            # the name ("Dow Jones" + " Industrial Average" before "<.DJI>").
            _widen(last, name_rest.end(1), sentence, feature)
            last["ticker"] = ticker[1]
            last["tokens"] = last["tokens"] + span["tokens"]
        elif last and "ticker" not in last and _CONNECTOR.match(between) and _joins(last, span, between):
            _extend(last, span, sentence)
            _absorb_suffix(last, sentence, feature)
        elif last and "ticker" not in last and _joins_across_words(last, span, between):
            _widen(last, span["end"], sentence, feature)
            last["score"] = min(last["score"], span["score"])
        elif (ticker := _ticker_beside(span["start"], span["end"], sentence)) and \
                (name := _untagged_name_before(sentence, floor, ticker[0])):
            # A wire code alone: the tagger missed the name it closes ("the S&P 500 .SPX"), so the capitalised words
            # written just before it are that name, and the code its ticker.
            tokens = tokens_in_spans(feature["_offsets"], feature["_real"], [name])
            merged.append({**span, "start": name[0], "end": name[1], "text": sentence[name[0]:name[1]],
                           "ticker": ticker[1], "tokens": tokens + [t for t in span["tokens"] if t not in tokens]})
        else:
            merged.append(span)
    return _without_shares_word([span for span in merged if not _names_nothing(span["text"])], sentence, feature)


def _without_shares_word(spans: list[dict[str, Any]], sentence: str, feature: dict[str, Any]
                         ) -> list[dict[str, Any]]:
    """A company named again with the word for its shares is that company ("Alphabet Inc's Google was fined ...,
    though Alphabet shares were little changed": "Alphabet shares" is "Alphabet Inc"), where without the word it
    names a target written before it; "European shares" and "IT stocks" alone are markets and sectors."""
    for i, span in enumerate(spans):
        word = _SHARES_WORD.search(span["text"])
        if not word:
            continue
        keys = entity_keys([other["text"] for other in spans[:i]] + [span["text"][:word.start()]])
        if keys[-1] in keys[:-1]:
            _narrow(span, span["start"], span["start"] + word.start(), sentence, feature)
    return spans


def _ticker_beside(start: int, end: int, sentence: str) -> tuple[int, str] | None:
    """Where the bracketed ticker that holds ``sentence[start:end]`` (a span) starts, and the ticker, when the text
    writes one there (``<LEVI.N>``, ``(AAPL)``: the tagger may mark the brackets, the symbol inside them or a piece
    of it such as the ``N`` of ``LEVI.N``); None otherwise."""
    for match in _TICKER_IN_TEXT.finditer(sentence):
        if match.start() <= start and end <= match.end():
            return match.start(), _ticker_text(match)
    return None


def _untagged_name_before(sentence: str, floor: int, at: int) -> tuple[int, int] | None:
    """Where the capitalised words (and an index's number) written right before ``at`` start and end, after
    ``floor`` and without a leading "The"; None when a lower-case word or punctuation comes first."""
    match = _NAME_ENDING_AT.search(sentence, floor, at)
    if not match:
        return None
    start, end = match.span(1)
    article = re.match(r"The\s+(?=\S)", sentence[start:end])
    return (start + article.end() if article else start), end


def _ticker_text(match: re.Match) -> str:
    """The ticker a ``_TICKER_IN_TEXT`` match writes, without brackets or exchange prefix (``LEVI.N``, ``KO``)."""
    return match.group(0).strip("<>() ").split(":")[-1].strip()


def _without_trailing_ticker(span: dict[str, Any], sentence: str) -> dict[str, Any]:
    """A name the tagger ran on into the ticker written after it ("Exxon Mobil Corp XOM." of "Exxon Mobil Corp
    XOM.N") ends before the ticker, which becomes its ``ticker``; the tokens stay (the sentiment reads them)."""
    for match in _TICKER_IN_TEXT.finditer(sentence, span["start"] + 1):
        if match.start() >= span["end"]:
            break
        name_end = len(sentence[:match.start()].rstrip(" ,"))
        if span["end"] <= match.end() and name_end > span["start"]:
            span.update(end=name_end, text=sentence[span["start"]:name_end], ticker=_ticker_text(match))
            break
    return span


def _extend(span: dict[str, Any], other: dict[str, Any], sentence: str) -> None:
    """``span`` widened to cover ``other`` too (their tokens pooled together)."""
    end = max(span["end"], other["end"])
    span.update(end=end, text=sentence[span["start"]:end], score=min(span["score"], other["score"]),
                tokens=span["tokens"] + [t for t in other["tokens"] if t not in span["tokens"]])


def _joins(first: dict[str, Any], second: dict[str, Any], between: str) -> bool:
    """Whether two spans with only a connector between them are one name: a suffix after a name ("& Co"), a name
    ending in a connector ("Bank of" + "America"), two capitalised parts joined by "&" or by the "of" of a body's
    name ("Bank" + " of " + "America"), or two capitalised parts one space apart ("Daiichi" + "Sankyo": two
    entities are written with a comma or a word between them), unless both are tickers ("AAPL MSFT")."""
    if second["text"].strip(". ").lower() in _SUFFIXES or first["text"].split()[-1].lower() in _CONNECTOR_WORDS:
        return True
    if not (first["text"][:1].isupper() and second["text"][:1].isupper()):
        return False
    if "&" in between or (between.strip() == "of" and first["text"].split()[-1].lower() in _NAMED_OF):
        return True
    return between in ("", " ") and not (_looks_like_ticker(first["text"]) and _looks_like_ticker(second["text"]))


def _joins_across_words(first: dict[str, Any], second: dict[str, Any], between: str) -> bool:
    """Whether a capitalised word or two the tagger left out join two spans into one company ("Walgreens" + " Boots "
    + "Alliance Inc"): only before a name that ends in a legal suffix, after one that does not, and across no word
    a Title Case headline capitalises ("And", "Of"), so that "Apple Beats Microsoft" and "Direct Line Insurance Group
    PLC And Admiral Group plc" still name two companies each."""
    words = between.split()
    return bool(_NAME_WORDS_BETWEEN.fullmatch(between)) and _ends_in_suffix(second["text"]) \
        and len(second["text"].split()) > 1 and not _ends_in_suffix(first["text"]) \
        and not any(word.lower() in _TITLE_CASE_SMALL_WORDS for word in words) \
        and first["text"][:1].isupper() and not _looks_like_ticker(first["text"])


def _ends_in_suffix(text: str) -> bool:
    words = text.split()
    return bool(words) and words[-1].strip(".,").lower() in _SUFFIXES


def _looks_like_ticker(text: str) -> bool:
    return text.isupper() and len(text) <= 5 and " " not in text


_SUFFIX_AFTER = re.compile(r",?\s+(?:(?:&|and)\s+)?(" + "|".join(sorted(_SUFFIXES, key=len, reverse=True))
                           + r")(?![\w])", flags=re.IGNORECASE)


def _absorb_suffix(span: dict[str, Any], sentence: str, feature: dict[str, Any]) -> None:
    """Extend a name over the capitalised legal suffix that follows it in the text ("Levi Strauss" + " & Co",
    " Inc"); a trailing full stop stays out (scoring ignores punctuation)."""
    match = _SUFFIX_AFTER.match(sentence, span["end"])
    if match and match.group(1)[:1].isupper():
        _widen(span, match.end(), sentence, feature)


def _absorb_hyphened_start(span: dict[str, Any], sentence: str, feature: dict[str, Any], floor: int) -> None:
    """A name that starts after a capitalised word and a hyphen takes that word: one name is written so
    ("Anheuser-Busch InBev", where the tagger marked "Busch InBev"; "Mercedes-Benz"). Not a wire label in capitals
    ("REFILE-Hikma") nor a prefix ("Ex-Centrica")."""
    before = _HYPHENED_WORD_BEFORE.search(sentence, floor, span["start"])
    if before and span["text"][:1].isupper() and before.group(1).lower() not in _PREFIXES:
        _widen(span, span["end"], sentence, feature, start=before.start())


def _without_descriptor(span: dict[str, Any], sentence: str, feature: dict[str, Any]) -> None:
    """A company's name that the tagger ran back over the words that describe it ends them: "Swiss bank UBS Group AG"
    is "UBS Group AG", "Apple supplier Foxconn" is "Foxconn" (wire copy introduces a company so). The name starts
    after the last lower-case word that a capitalised word follows, where the span starts with a capital ("largecap
    IT stocks" is a sector), that word is no part of a name ("Bank of America", "Marks and Spencer", "Aluminij dd")
    and one or two words come before the first such word, none a legal suffix ("Skandinaviska Enskilda Banken AB
    publ Helsinki Branch" is one name)."""
    words = list(re.finditer(r"\S+", span["text"]))
    if len(words) < 3 or not span["text"][:1].isupper():
        return
    lower = [i for i, word in enumerate(words[:-1]) if _is_descriptive_word(word.group())]
    cut = max((i for i in lower if words[i + 1].group()[:1].isupper()), default=None)
    if cut is None or lower[0] > 2 or any(_ends_in_suffix(word.group()) for word in words[:lower[0]]):
        return
    start = words[cut + 1].start()
    if entity_kind(span["text"][start:]) == COMPANY:
        _narrow(span, span["start"] + start, span["end"], sentence, feature)


def _is_descriptive_word(word: str) -> bool:
    """A lower-case word of three letters or more that names no part of a company ("bank", "drugmaker",
    "e-commerce"; not "of", "publ", "dd")."""
    return len(word) >= 3 and word.replace("-", "").isalpha() and word.islower() and word not in _WORDS_INSIDE_NAMES


def _narrow(span: dict[str, Any], start: int, end: int, sentence: str, feature: dict[str, Any]) -> None:
    """``span`` cut to ``sentence[start:end]`` (inside it), without the tokens of what it lost; ``_widen``'s
    counterpart."""
    kept = tokens_in_spans(feature["_offsets"], feature["_real"], [(start, end)])
    span.update(start=start, end=end, text=sentence[start:end], tokens=[t for t in span["tokens"] if t in kept])


def _absorb_name_before_connector(span: dict[str, Any], sentence: str, feature: dict[str, Any], floor: int) -> None:
    """A name that the tagger began on a connector, where no name begins, takes the capitalised words written right
    before it ("Securities" + " and Exchange Commission", "Procter" + " & Gamble"; after "of", only a body named "...
    of" something: "Bank" + " of England"); with none there (after ``floor``, where the span before ends) or a
    company's "of", the connector goes ("and Microsoft" -> "Microsoft")."""
    words = span["text"].split(maxsplit=1)
    if len(words) < 2 or words[0] not in _CONNECTOR_WORDS:
        return
    name = _untagged_name_before(sentence, floor, span["start"])
    if name and not sentence[name[1]:span["start"]].strip() and (
            words[0] != "of" or sentence[name[0]:name[1]].split()[-1].lower() in _NAMED_OF):
        _widen(span, span["end"], sentence, feature, start=name[0])
        return
    _narrow(span, span["start"] + span["text"].index(words[1]), span["end"], sentence, feature)


def _absorb_name_after_connector(span: dict[str, Any], sentence: str, feature: dict[str, Any]) -> None:
    """A name that the tagger ended on a connector, where no name ends: after "&" or "and" it takes the capitalised
    words written next ("Korea Hydro &" + " Nuclear Power Co"); after "of", so does a body named "... of" something
    ("Bank of" + " England", "Institute of" + " Chartered Accountants"), while a company's "of" is where it is from,
    and goes ("Nokia Corp of" of "Nokia Corp of Finland" is "Nokia Corp"). A connector alone is no name (dropped
    later)."""
    words = span["text"].split()
    if len(words) < 2 or words[-1].lower() not in _CONNECTOR_WORDS:
        return
    match = _CAPITALISED_AFTER.match(sentence, span["end"])
    if words[-1].lower() != "of" or words[-2].lower() in _NAMED_OF:
        if match:
            _widen(span, match.end(), sentence, feature)
        return
    end = span["start"] + len(span["text"].rstrip()[:-2].rstrip())
    span.update(end=end, text=sentence[span["start"]:end])


def _absorb_name_head(span: dict[str, Any], sentence: str, feature: dict[str, Any]) -> None:
    """Extend a company's name over the capitalised word that ends many company names, written right after it
    ("Pioneer Natural" + " Resources", "Tata" + " Motors", "HDFC" + " Bank"): the tagger often stops before it, and
    alone the rest names another company or none."""
    if not (span["text"][:1].isupper() and entity_kind(span["text"]) == COMPANY):
        return
    for _ in range(2):  # "Edelweiss" + " Financial" + " Services"
        match = _NAME_HEAD_AFTER.match(sentence, span["end"])
        if not (match and match.group(1).lower() in _NAME_HEADS):
            return
        _widen(span, match.end(), sentence, feature)


def _absorb_index_number(span: dict[str, Any], sentence: str, feature: dict[str, Any]) -> None:
    """Extend an index's name over the number that follows it in the text ("S&P" + " 500")."""
    match = _INDEX_NUMBER.match(sentence, span["end"])
    if match and span["text"].strip().lower() in _INDEX_NAMES:
        _widen(span, match.end(), sentence, feature)


def _absorb_index_name(span: dict[str, Any], sentence: str, feature: dict[str, Any]) -> None:
    """Extend the first words of a market index's name over the rest written after them ("Dow Jones Industrial" +
    " Average", "Nasdaq" + " Composite"): the tagger often stops inside a long index name."""
    written, begun = sentence[span["start"]:].lower(), span["text"].lower()
    rest = [name for name in INDEX_NAMES if name.startswith(begun + " ") and written.startswith(name)
            and not written[len(name):len(name) + 1].isalnum()]
    if rest:
        _widen(span, span["start"] + len(max(rest, key=len)), sentence, feature)


def _absorb_known_name_before(span: dict[str, Any], sentence: str, feature: dict[str, Any], floor: int) -> None:
    """A span that ends a known name of another kind ("Reserve" of "Federal Reserve", "Street" of "Wall Street",
    "Jones" of "Dow Jones") takes the capitalised words of that name written before it (after ``floor``, where the
    span before ends): the tagger often marks only the last word, and alone it would read as a company. A span of
    such a kind takes them where the whole is a listed name of its kind ("Central Bank" of "European Central
    Bank")."""
    kind = entity_kind(span["text"])
    before = sentence[floor:span["start"]]
    for count in (3, 2, 1):
        words = re.search(r"(?<!\S)(?!The\s)(?:[A-Z][\w&'.-]*\s+){" + str(count) + "}$", before)
        if not words:
            continue
        longer = before[words.start():] + span["text"]
        if entity_kind(longer) in _KNOWN_NAME_KINDS if kind == COMPANY else listed_kind(longer) == kind:
            _widen(span, span["end"], sentence, feature, start=floor + words.start())
            return


def _absorb_joined_word(span: dict[str, Any], sentence: str, feature: dict[str, Any]) -> None:
    """A name written with "&" inside one word ("S&P", "AT&T", "M&S") is one word: a span that stops at its "&"
    takes the rest (the tagger often marks only the letters before it)."""
    match = _JOINED_WORD_REST.match(sentence, span["end"])
    if match and span["text"][-1:].isalnum():
        _widen(span, match.end(), sentence, feature)


def _widen(span: dict[str, Any], end: int, sentence: str, feature: dict[str, Any], start: int | None = None) -> None:
    """``span`` extended to ``end`` (and back to ``start``) in the text, with the tokens of what it gained."""
    start = span["start"] if start is None else start

    def gained(begin: int, stop: int) -> list[int]:
        return [t for t in tokens_in_spans(feature["_offsets"], feature["_real"], [(begin, stop)])
                if t not in span["tokens"]]

    tokens = gained(start, span["start"]) + span["tokens"] + gained(span["end"], end)
    span.update(start=start, end=end, text=sentence[start:end], tokens=tokens)


def _without_possessive(span: dict[str, Any], sentence: str) -> dict[str, Any]:
    """``span`` without a trailing possessive ("Barclays's" -> "Barclays"), unless the "'s" is the name's own
    ("Moody's", ``ends_with_name_s``), which it takes when the tagger stopped before it ("McDonald" of "McDonald's";
    its tokens are left out, as a possessive's would be)."""
    match = re.search(r"\s*['’]s?$", span["text"])
    if match and span["text"][: match.start()].strip() and not ends_with_name_s(span["text"]):
        span["end"] = span["start"] + match.start()
        span["text"] = sentence[span["start"]:span["end"]]
    elif (own := re.match(r"['’]s(?!\w)", sentence[span["end"]:])) and ends_with_name_s(span["text"] + own.group()):
        span["end"] += own.end()
        span["text"] = sentence[span["start"]:span["end"]]
    return span


def _names_nothing(text: str) -> bool:
    """A fragment that is no entity on its own: a legal suffix, a connector, one lower-case letter or a symbol."""
    bare = text.strip(" .,&'’-")
    return (not bare or bare.lower() in _SUFFIXES or bare.lower() in ("of", "and", "the")
            or (len(bare) == 1 and not bare.isupper()))


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


def _merge_repeats(spans: list[dict[str, Any]], sentence: str | None = None) -> list[dict[str, Any]]:
    """Repeated mentions of one entity are one target, named as first written: the tokens of all of them, the best
    score. Mentions agree by ``entity_keys`` (case, legal suffixes, possessives and ticker marks aside, and a
    company named again by the first words of its name or its initials), so "Barclays PLC ... Barclays" and "Exxon
    Mobil Corp ... Exxon" are one target each. With the ``sentence``, a mention of a name the text wrote beside a
    target (its ticker, or a short name in brackets: "Standard Chartered (StanChart) ... StanChart shares") is that
    target too."""
    merged: dict[str, dict[str, Any]] = {}
    named_beside: dict[str, str] = {}  # the key of a name written beside a target -> that target's key
    for span, key in zip(spans, entity_keys([span["text"] for span in spans])):
        key = named_beside.get(key, key)
        if sentence is not None and key not in merged:
            for name in _other_names(span, sentence):
                named_beside.setdefault(entity_key(name), key)
        if key in merged:
            merged[key]["tokens"] = merged[key]["tokens"] + span["tokens"]
            merged[key]["score"] = max(merged[key]["score"], span["score"])
        else:
            merged[key] = span
    return list(merged.values())


def _other_names(span: dict[str, Any], sentence: str) -> list[str]:
    """The other names a text gives a target where it first names it: its ticker, and a short form of its name in
    brackets right after it (``_short_form_after``)."""
    names = [span["ticker"]] if span.get("ticker") else []
    if short := _short_form_after(span["start"], span["end"], sentence):
        names.append(short)
    return names


def _short_form_after(start: int, end: int, sentence: str) -> str | None:
    """The short form of the name at ``sentence[start:end]`` that the text defines in brackets right after it
    ("Standard Chartered (StanChart)", "Bank of America (BofA)", "Volkswagen (VW)": news defines the name it goes on
    to use); None for none, or for a bracketed word that is no short form of the name ("Ford (Detroit)")."""
    bracketed = _BRACKETED_NAME.match(sentence, end)
    return bracketed.group(1) if bracketed and _shortens(bracketed.group(1), sentence[start:end]) else None


def _spans_of_other_names(start: int, end: int, sentence: str) -> list[tuple[int, int]]:
    """Where the text names what it names at ``sentence[start:end]`` another way, right where it names it: the
    company name before a ticker or a short form in brackets that this is ("Apple Inc" of "Apple Inc <AAPL.O>",
    "Standard Chartered" of "Standard Chartered (StanChart)"), or every mention of the short form this name
    defines in brackets after it."""
    if (ticker := _ticker_beside(start, end, sentence)) and (name := _untagged_name_before(sentence, 0, ticker[0])):
        return [name]
    if short := _short_form_after(start, end, sentence):
        return whole_word_spans(sentence, short)
    if sentence[start - 1:start] == "(" and sentence[end:end + 1] == ")" and \
            (name := _untagged_name_before(sentence, 0, start - 1)) and _short_form_after(*name, sentence):
        return [name]
    return []


def _shortens(short: str, name: str) -> bool:
    """Whether ``short`` is written with letters of ``name`` in their order, starting with its first ("StanChart"
    of "Standard Chartered", "BofA" of "Bank of America"), case aside."""
    letters = iter(c for c in name.casefold() if c.isalnum())
    short = "".join(c for c in short.casefold() if c.isalnum())
    return bool(short) and short[0] == name.strip()[:1].casefold() and all(c in letters for c in short)


def _span(probabilities: np.ndarray, real: list[int], run: list[int], feature: dict, sentence: str) -> dict:
    tokens = [real[p] for p in run]
    start, end = snap_to_words(sentence, feature["_offsets"][tokens[0]][0], feature["_offsets"][tokens[-1]][1])
    wanted = [BEGIN] + [INSIDE] * (len(tokens) - 1)
    score = float(np.prod([probabilities[t, w] for t, w in zip(tokens, wanted)]))
    return {"text": sentence[start:end], "start": start, "end": end, "score": score, "tokens": tokens}


def targets_with_sentiment(spans: list[dict[str, Any]], parts: SentimentParts) -> list[dict[str, Any]]:
    """The decoded spans as record targets, each with the sentiment pooled over its tokens."""
    pooled, _ = pool_targets(parts.token, parts.sentence, membership([s["tokens"] for s in spans], len(parts.token)),
                             parts.sentence_context)
    return [{**{k: v for k, v in span.items() if k != "tokens"}, "sentiment": span_sentiment(row)}
            for span, row in zip(spans, pooled)]


def sentence_sentiment(logits: np.ndarray) -> dict[str, Any]:
    """``{label, probability, score}`` from the sentence-level head; the score is P(positive) - P(negative)."""
    probabilities = softmax(logits[None, :])[0]
    best = int(probabilities.argmax())
    index = {label: i for i, label in enumerate(SENTIMENT_LABELS)}
    return {"label": SENTIMENT_LABELS[best], "probability": float(probabilities[best]),
            "score": float(probabilities[index["positive"]] - probabilities[index["negative"]])}


def given_target(mention: Mention, feature: dict[str, Any], example: Example, parts: SentimentParts,
                 fuzzy_threshold: float) -> dict[str, Any]:
    """The sentiment toward a target the input names, pooled over its mentions, found by name, alias or ticker
    (``locate_target``); a target the text does not contain is answered by the sentence-level head, with
    ``located: false``. Never empty. A target is read with the other names the text gives it where it names it, as
    decoding joins them (``_spans_of_other_names``): found as a ticker written in wire style, with the company name
    before it ("Apple Inc" of "Apple Inc <AAPL.O>" for "$AAPL" or "AAPL"); found as a name or a short form of it in
    brackets, with the other ("Standard Chartered PLC" and "StanChart" both read every mention of "Standard
    Chartered (StanChart) ... StanChart shares")."""
    match = locate_target(example.sentence, mention.text, fuzzy_threshold)
    spans = list(match.spans)
    for start, end in match.spans:
        spans.extend(_spans_of_other_names(start, end, example.sentence))
    tokens = tokens_in_spans(feature["_offsets"], feature["_real"], spans)
    if not tokens:
        return {"text": mention.text, "located": False, "sentiment": sentence_sentiment(parts.sentence_head),
                "note": "not found in the text: the sentiment of the whole sentence"}
    pooled, _ = pool_targets(parts.token, parts.sentence, membership([tokens], len(parts.token)),
                             parts.sentence_context)
    start, end = match.spans[0]
    return {"text": mention.text, "located": True, "match": match.how, "start": start, "end": end,
            "sentiment": span_sentiment(pooled[0])}
