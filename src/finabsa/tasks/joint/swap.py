"""Name-swapped sentences made from training sentences: the same sentence with each target's name replaced by the
name of another training target.

A tagger and a sentiment head trained on a few thousand headlines learn names as well as contexts: that
"Sensex" is a target, that a company seen mostly in good news is positive. On a user's news the names are new, and
only the context can carry the answer. A swapped sentence keeps its words and every label (the target tags now
fall on the new names, each target keeps its sentiment) and changes only the names, drawn from every source's
targets, so a FiQA context gets SEntFiN's names and the other way round. Names keep their shape: a ticker
(``TSLA``) is replaced by a ticker, a capitalised name by a name, a lower-case term ("gold") by a term. A sentence
is swapped only when each of its targets is written in it as a whole word and no two targets overlap ("Bank" inside
"Bank of America"), so the new labels sit exactly where the old ones did. Made sentences train the tagger, the
per-target sentiment and the sentence-level head (no aspect: a swapped copy adds no aspect evidence), keep their
source (their convention is their context's), and never enter validation or test.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import replace

from ...data.records import Example
from ...data.spans import whole_word_spans
from .contrast import CONTRAST_KEY

__all__ = ["SWAP_KEY", "swapped_sentences"]

#: Marks a made sentence in ``Example.meta`` (reports count them apart).
SWAP_KEY = "swapped"


def swapped_sentences(train: list[Example], share: float, seed: int) -> list[Example]:
    """About ``share`` x len(train) made sentences: training sentences (each used at most once) with every
    target's name replaced by another training target's name of the same shape; seeded, so a run's data is
    reproducible."""
    names = _names_by_shape(train)
    candidates = [e for e in train if e.mentions and not e.meta.get(CONTRAST_KEY) and not e.meta.get(SWAP_KEY)]
    rng = random.Random(seed)
    rng.shuffle(candidates)
    wanted = round(share * len(train))
    made: list[Example] = []
    for example in candidates:
        if len(made) >= wanted:
            break
        swapped = _swap(example, names, rng)
        if swapped is not None:
            made.append(swapped)
    return made


def _shape(name: str) -> str:
    """``ticker`` for a symbol written in capitals (``TSLA``, ``BRK.B``), ``term`` for a lower-case one (SEntFiN
    marks commodities and sectors too: "gold", "sugar mill"), ``name`` for a capitalised name."""
    if re.fullmatch(r"[A-Z][A-Z0-9.]{0,5}", name):
        return "ticker"
    return "term" if name[:1].islower() else "name"


def _names_by_shape(train: list[Example]) -> dict[str, list[str]]:
    """Every distinct target name of the training sentences (two characters or more), by shape, sorted."""
    found: dict[str, set[str]] = defaultdict(set)
    for example in train:
        for mention in example.mentions:
            text = mention.text.strip()
            if len(text) >= 2:
                found[_shape(text)].add(text)
    return {shape: sorted(texts) for shape, texts in found.items()}


def _swap(example: Example, names: dict[str, list[str]], rng: random.Random) -> Example | None:
    """``example`` with each target's occurrences renamed; None when a target is not written as a whole word,
    two targets overlap, or no fitting name is left."""
    places = [whole_word_spans(example.sentence, m.text.strip()) for m in example.mentions]
    if not all(places):
        return None
    spans = sorted((start, end, k) for k, found in enumerate(places) for start, end in found)
    if any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])):
        return None
    lowered = example.sentence.lower()
    chosen: list[str] = []
    for mention in example.mentions:
        pool = names.get(_shape(mention.text.strip()), [])
        choice = None
        for _ in range(10):
            name = rng.choice(pool) if pool else None
            if name and name.lower() not in lowered and all(name.lower() != c.lower() for c in chosen):
                choice = name
                break
        if choice is None:
            return None
        chosen.append(choice)
    sentence = example.sentence
    for start, end, k in reversed(spans):
        sentence = sentence[:start] + chosen[k] + sentence[end:]
    # A new name that also occurs elsewhere in the new sentence (inside a longer new name, say) would be tagged
    # there by nobody: the labels would no longer match the text.
    if any(len(whole_word_spans(sentence, name)) != len(found) for name, found in zip(chosen, places)):
        return None
    mentions = tuple(replace(m, text=name) for m, name in zip(example.mentions, chosen))
    target = chosen[0] if example.target else None
    return replace(example, sentence=sentence, target=target, mentions=mentions, aspects=(),
                   origin=f"{example.origin} (names swapped)", meta={**example.meta, SWAP_KEY: True})
