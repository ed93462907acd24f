"""Finding a target's text in its sentence (exact, ignoring spacing and punctuation, or by similarity)."""

from __future__ import annotations

import difflib
import re

__all__ = ["find_target_spans", "mark_target"]

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
    compact_sentence, positions = _compact(sentence)
    compact_target, _ = _compact(target)
    if compact_target:
        found = [m.start() for m in re.finditer(re.escape(compact_target), compact_sentence)]
        if found:
            return [(positions[s], positions[s + len(compact_target) - 1] + 1) for s in found]
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
