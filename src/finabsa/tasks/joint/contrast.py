"""Contrast sentences made from training sentences: two sentences whose targets differ in sentiment, joined into one.

"Tesco shares surge while Sainsbury slumps" is where a model that lets a sentence's mood colour every target goes
wrong: both come out positive. Real sentences with targets of different sentiment are a minority of the training
data (1,230 of SEntFiN's 10,685 headlines), so the joint task can add made ones (``task.contrast_share``): two
sentences from the same source, each with targets of one sentiment and the two sentiments different (positive and
negative, positive and neutral, ...), joined by a connective ("while", ", but", "; "...). Each target keeps its
own clause's sentiment, so the only way to get both right is to read the target's own clause. Made sentences
train the tagger and the per-target sentiment only (no aspect, no sentence label: a joined sentence has neither),
and never enter validation or test.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

from ...data.records import SOURCE_KEY, Example
from .scoring import sentence_class

__all__ = ["CONNECTIVES", "contrast_sentences"]

#: How two clauses are joined; each keeps its own sentiment across them.
CONNECTIVES = (" while ", ", but ", "; ", " as ", ", whereas ", " and ")
#: Marks a made sentence in ``Example.meta`` (reports count them apart).
CONTRAST_KEY = "contrast"
#: Longest sentence (in words) a made one is built from: two headlines, not two posts past the token budget.
MAX_WORDS = 24


def contrast_sentences(train: list[Example], share: float, seed: int) -> list[Example]:
    """About ``share`` x len(train) made sentences, each two training sentences of one source whose targets agree
    within a sentence and differ between them, joined; seeded, so a run's data is reproducible."""
    by_source: dict[str, dict[str, list[Example]]] = defaultdict(lambda: defaultdict(list))
    for example in train:
        label = sentence_class(example)
        if label and example.mentions and not example.meta.get(CONTRAST_KEY) and \
                len(example.sentence.split()) <= MAX_WORDS:
            by_source[str(example.meta.get(SOURCE_KEY, example.dataset))][label].append(example)
    rng = random.Random(seed)
    made: list[Example] = []
    wanted = round(share * len(train))
    sources = sorted(by_source)
    attempts = 0
    while len(made) < wanted and sources and attempts < 20 * max(wanted, 1):
        attempts += 1
        classes = by_source[rng.choice(sources)]
        labels = sorted(classes)
        if len(labels) < 2:
            continue
        first_label, second_label = rng.sample(labels, 2)
        joined = _join(rng.choice(classes[first_label]), rng.choice(classes[second_label]), rng.choice(CONNECTIVES))
        if joined is not None:
            made.append(joined)
    return made


def _join(first: Example, second: Example, connective: str) -> Example | None:
    """``first`` + connective + ``second`` (its first letter lowered unless it starts a name), both sentences'
    targets; None when a target of one also occurs in the other (its clause would be ambiguous)."""
    left, right = first.sentence.strip().rstrip(".!?;:,"), second.sentence.strip()
    names = {m.text.lower() for m in (*first.mentions, *second.mentions)}
    if len(names) < len(first.mentions) + len(second.mentions):
        return None
    if any(m.text.lower() in right.lower() for m in first.mentions) or \
            any(m.text.lower() in left.lower() for m in second.mentions):
        return None
    starts_a_name = any(right.lower().startswith(m.text.lower()) for m in second.mentions)
    if not starts_a_name and right[:1].isupper() and right[1:2].islower():
        right = right[0].lower() + right[1:]
    return replace(first, sentence=f"{left}{connective}{right}", aspects=(), label=None, score=None,
                   mentions=(*first.mentions, *second.mentions), origin=f"{first.origin} + {second.origin}",
                   meta={**first.meta, CONTRAST_KEY: True})
