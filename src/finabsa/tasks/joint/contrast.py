"""Texts made from training sentences: contrast sentences (two whose targets differ in sentiment, joined into one)
and paragraphs (two or three sentences, one after another).

"Tesco shares surge while Sainsbury slumps" is where a model that lets a sentence's mood colour every target goes
wrong: both come out positive. Real sentences with targets of different sentiment are a minority of the training
data (1,230 of SEntFiN's 10,685 headlines), so the joint task can add made ones (``task.contrast_share``): two
sentences from the same source, each with targets of one sentiment and the two sentiments different (positive and
negative, positive and neutral, ...), joined by a connective ("while", ", but", "; "...). Each target keeps its
own clause's sentiment, so the only way to get both right is to read the target's own clause. Made sentences
train the tagger and the per-target sentiment only (no aspect, no sentence label: a joined sentence has neither),
and never enter validation or test.

News often comes as a paragraph of several sentences, while every training sentence is one sentence; a model
that has never read two sentences at once reads them worse together than apart (three validation headlines joined:
pair F1 0.69 read whole against 0.79 read one by one, ``benchmarks/joint_paragraphs.py``). **Made paragraphs**
(``task.paragraph_share``) are two or three training sentences of one source written one after another, each
target keeping its labels, so that the model learns to read each target in its own sentence.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from ...data.records import SOURCE_KEY, Example
from .scoring import sentence_class

__all__ = ["CONNECTIVES", "contrast_sentences", "paragraphs"]

#: How two clauses are joined; each keeps its own sentiment across them.
CONNECTIVES = (" while ", ", but ", "; ", " as ", ", whereas ", " and ")
#: Marks a made sentence in ``Example.meta`` (reports count them apart).
CONTRAST_KEY = "contrast"
#: Marks a made paragraph in ``Example.meta``.
PARAGRAPH_KEY = "paragraph"
#: Longest sentence (in words) a made one is built from: two headlines, not two posts past the token budget.
MAX_WORDS = 24
#: How many sentences a made paragraph has (one of these, drawn).
PARAGRAPH_SENTENCES = (2, 3)


def contrast_sentences(train: list[Example], share: float, seed: int) -> list[Example]:
    """About ``share`` x len(train) made sentences, each two training sentences of one source whose targets agree
    within a sentence and differ between them, joined; seeded, so a run's data is reproducible."""
    by_source = _by_source(train, sentence_class)

    def contrast(rng: random.Random) -> Example | None:
        classes = by_source[rng.choice(sorted(by_source))]
        labels = sorted(classes)
        if len(labels) < 2:
            return None
        first_label, second_label = rng.sample(labels, 2)
        return _join(rng.choice(classes[first_label]), rng.choice(classes[second_label]), rng.choice(CONNECTIVES))

    return _made(contrast, round(share * len(train)) if by_source else 0, seed, CONTRAST_KEY)


def paragraphs(train: list[Example], share: float, seed: int) -> list[Example]:
    """About ``share`` x len(train) made paragraphs, each two or three training sentences of one source (their
    targets all different) written one after another; seeded, so a run's data is reproducible."""
    by_source = _by_source(train, lambda example: "any")

    def paragraph(rng: random.Random) -> Example | None:
        pool = by_source[rng.choice(sorted(by_source))]["any"]
        made = rng.choice(pool)
        for _ in range(rng.choice(PARAGRAPH_SENTENCES) - 1):
            joined = _join(made, rng.choice(pool), ". ", lower_start=False)
            if joined is None:
                return None
            made = joined
        return made

    return _made(paragraph, round(share * len(train)) if by_source else 0, seed, PARAGRAPH_KEY)


def _made(make: Callable[[random.Random], Example | None], wanted: int, seed: int, mark: str) -> list[Example]:
    """``wanted`` examples from ``make`` (which may fail: None), each marked ``mark`` in its meta; gives up after
    20 tries per wanted example."""
    rng = random.Random(seed)
    made: list[Example] = []
    attempts = 0
    while len(made) < wanted and attempts < 20 * max(wanted, 1):
        attempts += 1
        example = make(rng)
        if example is not None:
            made.append(replace(example, meta={**example.meta, mark: True}))
    return made


def _by_source(train: list[Example], key: Callable[[Example], str | None]) -> dict[str, dict[str, list[Example]]]:
    """Loaded training sentences with targets (not too long to join) by source, then by ``key`` (None: left out)."""
    grouped: dict[str, dict[str, list[Example]]] = defaultdict(lambda: defaultdict(list))
    for example in train:
        group = key(example)
        if group and example.mentions and not example.meta.get(CONTRAST_KEY) and \
                not example.meta.get(PARAGRAPH_KEY) and len(example.sentence.split()) <= MAX_WORDS:
            grouped[str(example.meta.get(SOURCE_KEY, example.dataset))][group].append(example)
    return grouped


def _join(first: Example, second: Example, connective: str, lower_start: bool = True) -> Example | None:
    """``first`` + connective + ``second`` (with ``lower_start``, its first letter lowered unless it starts a
    name), both sentences' targets; None when a target of one also occurs in the other (its clause would be
    ambiguous)."""
    left, right = first.sentence.strip().rstrip(".!?;:,"), second.sentence.strip()
    names = {m.text.lower() for m in (*first.mentions, *second.mentions)}
    if len(names) < len(first.mentions) + len(second.mentions):
        return None
    if any(m.text.lower() in right.lower() for m in first.mentions) or \
            any(m.text.lower() in left.lower() for m in second.mentions):
        return None
    starts_a_name = any(right.lower().startswith(m.text.lower()) for m in second.mentions)
    if lower_start and not starts_a_name and right[:1].isupper() and right[1:2].islower():
        right = right[0].lower() + right[1:]
    return replace(first, sentence=f"{left}{connective}{right}", aspects=(), label=None, score=None,
                   mentions=(*first.mentions, *second.mentions), origin=f"{first.origin} + {second.origin}")
