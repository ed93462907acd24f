"""Rows grouped per sentence: one example holding every target of a sentence, for the joint task.

Loaders give one row per (sentence, target): the official FiQA JSON and SEntFiN repeat a sentence once per entity.
A model that tags every target of a sentence in one pass needs the sentence once, with all its targets
(``Example.mentions``). Grouping keys on the normalised sentence, so a sentence that two sources share (the
``pauri32`` split and the official JSON) becomes one example whose targets are the union of both.
"""

from __future__ import annotations

from collections import defaultdict

from .records import Example, Mention
from .splits import normalise_sentence

__all__ = ["group_by_sentence", "merge_sources"]


def _mention(row: Example) -> Mention | None:
    if not row.target or not row.target.strip():
        return None
    return Mention(text=row.target.strip(), score=row.score, label=row.label, aspects=row.aspects, origin=row.origin)


def _combine(rows: list[Example]) -> Example:
    """One example for the rows of one sentence: the first row's text and source, every distinct target once (the
    first row naming it wins), and the aspects of all rows in order."""
    first = rows[0]
    mentions: dict[str, Mention] = {}
    aspects: dict[str, None] = {}
    for row in rows:
        aspects.update(dict.fromkeys(row.aspects))
        mention = _mention(row)
        if mention is not None:
            mentions.setdefault(mention.text.lower(), mention)
    origins = list(dict.fromkeys(r.origin for r in rows if r.origin))
    origin = origins[0] + (f" (+{len(origins) - 1} more row(s))" if len(origins) > 1 else "")
    # The sentence's own label (PhraseBank-style rows with no target) is kept; target rows' labels live on mentions.
    label = next((r.label for r in rows if not r.target and r.label), None)
    return Example(sentence=first.sentence, aspects=tuple(aspects), label=label, score=None,
                   source_format=first.source_format, split=first.split, dataset=first.dataset, origin=origin,
                   meta={**first.meta, "rows": len(rows)}, mentions=tuple(mentions.values()))


def group_by_sentence(rows: list[Example]) -> list[Example]:
    """One example per distinct (normalised) sentence, in order of first occurrence, with all its targets."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for row in rows:
        groups[normalise_sentence(row.sentence)].append(row)
    return [_combine(group) for group in groups.values()]


def merge_sources(main: list[Example], extra: list[Example]) -> tuple[list[Example], list[Example]]:
    """Group ``main`` and ``extra`` rows per sentence; a sentence found in both is one example of ``main`` (with the
    union of its targets), so that no sentence is trained on twice. Returns ``(main, extra)`` grouped."""
    main_keys = {normalise_sentence(row.sentence) for row in main}
    grouped = group_by_sentence(main + extra)
    return ([e for e in grouped if normalise_sentence(e.sentence) in main_keys],
            [e for e in grouped if normalise_sentence(e.sentence) not in main_keys])
