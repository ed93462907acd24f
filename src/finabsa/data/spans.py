"""Finding a target's text in its sentence (exact, ignoring spacing and punctuation, or by similarity)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .entity_kinds import COMPANY, entity_kind, written_as_common_noun

__all__ = ["find_target_spans", "whole_word_spans", "mark_target", "locate_target", "target_aliases", "entity_key",
           "ends_with_name_s", "NAMES_WITH_S",
           "entity_keys", "LEGAL_SUFFIXES", "TargetMatch"]

#: What ``mark_target`` puts around the target in the sentence.
TARGET_MARKERS = ("<t>", "</t>")


def _compact(text: str) -> tuple[str, list[int]]:
    """Lower-cased alphanumerics of ``text`` and, for each, its index in ``text``."""
    chars, positions = [], []
    for i, ch in enumerate(text):
        if ch.isalnum():
            chars.append(ch.lower())
            positions.append(i)
    return "".join(chars), positions


def _compact_spans(sentence: str, name: str, bounded: bool = False) -> list[tuple[int, int]]:
    """Occurrences of ``name`` in ``sentence`` with spacing, punctuation and case aside ("SAB Miller" in
    "SABMiller"); with ``bounded``, only those that neither start nor end inside a word."""
    compact_name, _ = _compact(name)
    if not compact_name:
        return []
    compact_sentence, positions = _compact(sentence)
    spans = [(positions[m.start()], positions[m.end() - 1] + 1)
             for m in re.finditer(re.escape(compact_name), compact_sentence)]
    return [span for span in spans if not bounded or _word_bounded(sentence, *span)]


def _word_bounded(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` neither starts nor ends inside a word."""
    starts_clean = start == 0 or not (text[start - 1].isalnum() and text[start].isalnum())
    ends_clean = end == len(text) or not (text[end - 1].isalnum() and text[end].isalnum())
    return starts_clean and ends_clean


def find_target_spans(sentence: str, target: str, fuzzy_threshold: float = 0.8) -> list[tuple[int, int]]:
    """Character spans where ``target`` occurs in ``sentence``.

    Tries, in order: case-insensitive occurrences; occurrences ignoring spaces and punctuation ('SAB Miller' in
    'SABMiller'); and the most similar run of words when the target is misspelt ('Rangold' for 'Randgold').
    Returns ``[]`` when nothing is close enough.
    """
    target = target.strip()
    if not target:
        return []
    spans = [(m.start(), m.end()) for m in re.finditer(re.escape(target), sentence, flags=re.IGNORECASE)]
    # 'A' also occurs inside 'AA' and 'BP' inside 'BPX': whole-word occurrences win when there are any.
    whole = [(start, end) for start, end in spans if _word_bounded(sentence, start, end)]
    if whole or spans:
        return whole or spans
    found = _compact_spans(sentence, target)
    if found:
        return found
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", sentence)]
    n_target = max(1, len(target.split()))
    best, best_ratio = None, fuzzy_threshold
    for size in {max(1, n_target - 1), n_target, n_target + 1}:
        for i in range(len(words) - size + 1):
            start, end = words[i][0], words[i + size - 1][1]
            candidate = sentence[start:end].strip(".,;:!?'\"()[]")
            ratio = difflib.SequenceMatcher(None, candidate.lower(), target.lower()).ratio()
            if ratio > best_ratio:
                offset = sentence[start:end].find(candidate)
                best, best_ratio = (start + offset, start + offset + len(candidate)), ratio
    return [best] if best else []


#: Words that end a company's legal name and that texts often leave out ("Barclays PLC" -> "Barclays shares ...").
LEGAL_SUFFIXES = ("plc", "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc",
                  "lp", "group", "holdings", "holding", "sa", "ag", "nv", "se", "asa", "ab", "oyj", "spa", "bhd",
                  "& co", "and co", "the")
#: Names whose "'s" belongs to the name, not a possessive ("Moody's downgraded ...", "McDonald's sales rose"), lower
#: case, full stops dropped; a name ending in one of these keeps its "'s".
NAMES_WITH_S = frozenset({
    "moody's", "mcdonald's", "macy's", "kohl's", "lowe's", "dillard's", "kellogg's", "domino's", "wendy's",
    "sotheby's", "christie's", "denny's", "dick's", "hershey's", "applebee's", "papa john's", "trader joe's",
    "barron's", "lloyd's", "sainsbury's", "dr reddy's",
})
#: Words too common to stand for a company on their own.
_GENERIC_WORDS = {"bank", "banks", "group", "financial", "international", "holdings", "capital", "energy", "motors",
                  "global", "systems", "industries", "technologies", "resources", "partners", "services", "american",
                  "national", "general", "united", "first", "new", "china", "india", "shares", "stock"}
#: Words a name's initials skip ("State Bank of India" is "SBI").
_ACRONYM_SKIPS = {"of", "and", "the", "de", "for", "&"}
_SUFFIX_PATTERN = re.compile(r"[\s,]+(?:" + "|".join(re.escape(s).replace(r"\ ", r"\s+") for s in LEGAL_SUFFIXES)
                             + r")\.?$", flags=re.IGNORECASE)
#: A ticker as texts write it: ``$AAPL``, ``<AAPL.O>``, ``(LEVI.N)``, ``AAPL.O``.
_TICKER = re.compile(r"^[$<(]?([A-Za-z][A-Za-z0-9]{0,5})(?:\.[A-Za-z]{1,2})?[>)]?$")


@dataclass(frozen=True)
class TargetMatch:
    """Where a given target was found in a text, and how: ``exact`` (its own words, case and spacing aside),
    ``alias`` (without a legal suffix or possessive: "Barclays PLC" as "Barclays"), ``ticker`` (``$AAPL`` as
    ``<AAPL.O>``), ``acronym`` ("IBM" for "International Business Machines"), ``initials`` (the reverse: "SEC" as
    "Securities and Exchange Commission"), ``spelling`` (other spacing or
    punctuation: "Coca Cola Co" as "Coca-Cola"), ``word`` (its one distinctive word: "J Sainsbury" as
    "Sainsbury"), ``fuzzy`` (a misspelling); no spans when it is not in the text."""

    spans: tuple[tuple[int, int], ...]
    how: str

    @property
    def located(self) -> bool:
        return bool(self.spans)


def target_aliases(target: str) -> list[str]:
    """Other names a text may use for ``target``: without legal suffixes ("Barclays PLC" -> "Barclays"), a leading
    "The", a possessive, or a web name's ".com" ("Amazon.com Inc" -> "Amazon.com" -> "Amazon"); longest first."""
    aliases: list[str] = []
    name = target.strip()
    for _ in range(3):  # "Lloyds Banking Group PLC" -> "Lloyds Banking Group" -> "Lloyds Banking"
        name = re.sub(r"^the\s+", "", name, flags=re.IGNORECASE)
        name = re.sub(r"['’]s$", "", name).strip()
        shorter = _SUFFIX_PATTERN.sub("", name).strip(" ,.")
        if not _SUFFIX_PATTERN.search(name):  # a web name's domain, once its suffixes are gone ("Amazon.com Inc")
            shorter = re.sub(r"(?<=\w)\.com$", "", name, flags=re.IGNORECASE)
        if shorter == name or not shorter:
            break
        name = shorter
        aliases.append(name)
    if re.search(r"['’]s$", target.strip()):
        aliases.insert(0, re.sub(r"['’]s$", "", target.strip()))
    return [a for a in dict.fromkeys(aliases) if a and a.lower() != target.strip().lower()]


def _as_ticker(name: str) -> str | None:
    """The ticker ``name`` is, when it is one as written (``$AAPL``, ``<AAPL.O>``, ``AAPL``; not "Apple")."""
    ticker = _TICKER.match(name)
    return ticker.group(1) if ticker and (name[:1] in "$<(" or name.isupper()) else None


def ends_with_name_s(text: str) -> bool:
    """Whether ``text`` ends with a name whose "'s" is part of it (``NAMES_WITH_S``: "Moody's", "Dr. Reddy's")."""
    words = text.replace("’", "'").replace(".", "").lower().split()
    return any(" ".join(words[-n:]) in NAMES_WITH_S for n in (1, 2) if len(words) >= n)


def _without_possessive(name: str) -> str:
    """``name`` with its spacing made single and a trailing possessive ("'s", "'") dropped."""
    return re.sub(r"['’]s?$", "", " ".join(name.split())).strip()


def entity_key(name: str) -> str:
    """One key for the names of one entity in a text: case, spacing, a ticker's marks (``$AAPL``, ``<AAPL.O>``),
    legal suffixes, a leading "The" and a possessive aside ("Barclays PLC", "barclays" and "Barclays'" agree)."""
    name = " ".join(name.split())
    if ticker := _as_ticker(name):
        return ticker.casefold()
    name = _without_possessive(name)
    aliases = target_aliases(name)
    return (aliases[-1] if aliases else name).casefold().strip(" .,")


def entity_keys(names: Sequence[str]) -> list[str]:
    """``entity_key`` of each of ``names`` (mentions in the order written), except that a company named again by
    the leading words of its full name, or by its initials in capitals, takes the full name's key: news names a
    company in full first and shortly after ("Exxon Mobil Corp ... Exxon's results", "Goldman Sachs Group Inc ...
    Goldman", "General Electric Co ... GE"). Only a later mention written as those words alone ("Tata Group" is not
    "Tata Motors"), not a ticker ("AAPL" is its own key) nor a word too common to name a company ("American"), only
    when both are companies (``entity_kind``: "China" after "China Mobile" is a place), and only when just one
    earlier name starts with those words or has those initials ("Tata" after "Tata Motors" and "Tata Steel" stays
    its own)."""
    keys: list[str] = []
    for i, name in enumerate(names):
        key = entity_key(name) or name.casefold()
        if key not in keys and entity_kind(name) == COMPANY:
            fuller = {keys[j] for j in range(i) if _names_again(name, names[j], keys[j])
                      and entity_kind(names[j]) == COMPANY}
            if len(fuller) == 1:
                key = fuller.pop()
        keys.append(key)
    return keys


def _names_again(short: str, full: str, full_key: str) -> bool:
    """Whether ``short`` names the company ``full`` (its key ``full_key``) again: by the first words of its name,
    or by its initials written in capitals."""
    written = _without_possessive(short).strip(" .,")
    if written.isupper() and written in _initials(full):
        return True
    words = written.casefold().split()
    return bool(words) and not set(words) <= _GENERIC_WORDS and not _as_ticker(written) \
        and len(words) < len(full_key.split()) and full_key.split()[:len(words)] == words


def _initials(name: str) -> set[str]:
    """A name's initials as news writes them, with and without its legal suffixes: "IBM", "SBI", "GE" of "General
    Electric Co", "GSK" of "GlaxoSmithKline"; joined by "&" for two names joined by "&" ("L&T" of "Larsen &
    Toubro")."""
    forms: set[str] = set()
    for form in dict.fromkeys([name, *target_aliases(name)]):
        # A name written as one word of capitalised parts has their initials ("GSK" of "GlaxoSmithKline").
        words = [w for w in re.split(r"[\s-]+|(?<=[a-z])(?=[A-Z])", form.strip()) if w]
        initials = [w[0].upper() for w in words if w.lower() not in _ACRONYM_SKIPS and w[0].isalpha()]
        if 2 <= len(initials) <= 6:
            forms.add("".join(initials))
            if "&" in words and len(initials) == 2:
                forms.add("&".join(initials))
    return forms


def whole_word_spans(sentence: str, text: str) -> list[tuple[int, int]]:
    """Whole-word, case-insensitive occurrences of ``text`` (a possessive ``'s`` after it is allowed; any run of
    white space between its words)."""
    pattern = r"(?<![\w])" + re.escape(text).replace(r"\ ", r"\s+") + r"(?![\w])"
    return [(m.start(), m.end()) for m in re.finditer(pattern, sentence, flags=re.IGNORECASE)]


def _ticker_spans(sentence: str, target: str) -> list[tuple[int, int]]:
    """Occurrences of the ticker ``target`` names, however the text writes it (``$AAPL``, ``<AAPL.O>``)."""
    match = _TICKER.match(target.strip())
    if not match or not (target.strip()[0] in "$<(" or target.strip().isupper()):
        return []
    symbol = re.escape(match.group(1))
    pattern = r"(?:\$" + symbol + r"|<" + symbol + r"(?:\.[A-Za-z]{1,2})?>|\(" + symbol + r"(?:\.[A-Za-z]{1,2})?\)|" \
              r"(?<![\w$<(])" + symbol + r"\.[A-Z]{1,2}(?![\w]))"
    return [(m.start(), m.end()) for m in re.finditer(pattern, sentence, flags=re.IGNORECASE)]


def _distinctive_word(sentence: str, target: str) -> list[tuple[int, int]]:
    """The occurrences of the target's one distinctive word ("Sainsbury" of "J Sainsbury PLC"; "JPMorgan" of
    "JPMorgan Chase & Co" as "JP Morgan" too), when that word occurs in the text and no other word of the name
    competes."""
    words = [w for w in re.findall(r"[\w&.-]+", target_aliases(target)[-1] if target_aliases(target) else target)
             if len(w) >= 4 and w.lower() not in _GENERIC_WORDS and w.lower() not in LEGAL_SUFFIXES]
    found = [(w, whole_word_spans(sentence, w) or _compact_spans(sentence, w, bounded=True)) for w in words]
    found = [(w, spans) for w, spans in found if spans]
    return found[0][1] if len(found) == 1 else []


def _spelled_otherwise(sentence: str, target: str) -> list[tuple[int, int]]:
    """Where the text writes the target or one of its aliases with other spacing or punctuation, whole words and
    four letters or more ("Coca Cola Co" as "Coca-Cola", "McDonalds Corp" as "McDonald's", "Rolls Royce" as
    "Rolls-Royce")."""
    for name in (target, *target_aliases(target)):
        if len(_compact(name)[0]) >= 4 and (spans := _compact_spans(sentence, name, bounded=True)):
            return spans
    return []


def _acronym_spans(sentence: str, target: str) -> list[tuple[int, int]]:
    """Where the text writes the target as its initials, in capitals ("IBM" for "International Business
    Machines", "HUL" for "Hindustan Unilever Ltd", "SBI" for "State Bank of India", "L&T" for "Larsen & Toubro"):
    three initials or more, or two joined by "&", of the name with or without its legal suffixes. Two capitals alone
    name too much for a target looked for in any text ("US" is no "Union Steel")."""
    spans: list[tuple[int, int]] = []
    for form in _initials(target):
        if len(form.replace("&", "")) >= 3 or "&" in form:
            spans += [(m.start(), m.end()) for m in re.finditer(r"(?<![\w&])" + re.escape(form) + r"(?![\w&])",
                                                                  sentence)]
    return sorted(set(spans))


#: A run of capitalised words, with the small words names hold between them ("Securities and Exchange Commission").
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'.-]*(?:\s+(?:(?:" + "|".join(map(re.escape, sorted(_ACRONYM_SKIPS)))
                              + r")\s+)?[A-Z][\w'.-]*)*")


def _name_with_initials(sentence: str, target: str) -> list[tuple[int, int]]:
    """Where the text writes in full the name that a target given as initials in capitals stands for ("SEC" for "U.S.
    Securities and Exchange Commission", "LSEG" for "London Stock Exchange Group Plc"): the words, capitalised,
    whose initials the target is. Three initials or more, as for ``_acronym_spans``."""
    if not (target.isupper() and target.isalpha() and 3 <= len(target) <= 6):
        return []
    spans: list[tuple[int, int]] = []
    for run in _CAPITALISED_RUN.finditer(sentence):
        words = list(re.finditer(r"\S+", run.group()))
        for first in range(len(words)):
            for last in range(first, len(words)):
                start, end = run.start() + words[first].start(), run.start() + words[last].end()
                if words[first].group().lower() not in _ACRONYM_SKIPS and target in _initials(sentence[start:end]):
                    spans.append((start, end))
    return [span for span in spans if not any(o != span and o[0] <= span[0] and span[1] <= o[1] for o in spans)]


def locate_target(sentence: str, target: str, fuzzy_threshold: float = 0.8) -> TargetMatch:
    """Find a target a user names in the text: its own words, then its aliases (legal suffixes and possessives
    dropped), the ticker as the text writes it, its initials in capitals ("IBM"), the name in full of a target given
    as initials ("Securities and Exchange Commission" for "SEC"), the name or an alias spelt with
    other spacing or punctuation ("Coca-Cola", "McDonald's"), its one distinctive word, and last a misspelling
    (``find_target_spans``'s similarity). Tried in that order; the first that finds the target answers."""
    target = target.strip()
    if not target:
        return TargetMatch((), "none")
    steps: list[tuple[str, Callable[[], list[tuple[int, int]]]]] = [
        ("exact", lambda: whole_word_spans(sentence, target)),
        *[("alias", lambda alias=alias: whole_word_spans(sentence, alias)) for alias in target_aliases(target)],
        ("ticker", lambda: _ticker_spans(sentence, target)),
        ("acronym", lambda: _acronym_spans(sentence, target)),
        ("initials", lambda: _name_with_initials(sentence, target)),
        ("spelling", lambda: _spelled_otherwise(sentence, target)),
        ("word", lambda: _distinctive_word(sentence, target)),
        ("fuzzy", lambda: find_target_spans(sentence, target, fuzzy_threshold)),
    ]
    for how, find in steps:
        spans = _as_names(sentence, target, find())
        if spans:
            return TargetMatch(tuple(spans), how)
    return TargetMatch((), "none")


def _as_names(sentence: str, target: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` less those where the text writes a capitalised target as a common word, all in lower case in a
    text that capitalises others ("target" of "price target" is not Target Corp, "shell company" not Shell)."""
    if target == target.lower():
        return spans
    return [(start, end) for start, end in spans if not written_as_common_noun(sentence[start:end], sentence)]


def mark_target(sentence: str, target: str | None) -> str | None:
    """The sentence with the target's first occurrence between ``<t>`` and ``</t>``; None without a target.

    A target that cannot be located is appended (``... <t> BP </t>``), so the model still sees which entity is
    meant."""
    if not target or not target.strip():
        return None
    opening, closing = TARGET_MARKERS
    spans = find_target_spans(sentence, target)
    if not spans:
        return f"{sentence} {opening} {target.strip()} {closing}"
    start, end = spans[0]
    return f"{sentence[:start]}{opening} {sentence[start:end]} {closing}{sentence[end:]}"
