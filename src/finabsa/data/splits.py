"""Turning loaded splits into the train / validation / test sets a run uses.

The shipped FiQA validation split is contained in train, so by default validation is carved out of train: seeded,
stratified by the task's label, and sentence-disjoint (all rows of one sentence land on the same side). The test
split is never touched except to truncate it for quick trials.
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import DataError
from .records import Example

__all__ = ["RunData", "carve", "normalise_sentence", "prepare_splits", "sentence_overlap"]

logger = logging.getLogger(__name__)


def normalise_sentence(text: str) -> str:
    """Case-, space- and punctuation-insensitive key used to find the same sentence in two places."""
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def sentence_overlap(a: list[Example], b: list[Example]) -> int:
    """How many distinct sentences of ``b`` also occur in ``a`` (normalised)."""
    seen = {normalise_sentence(e.sentence) for e in a}
    return len({normalise_sentence(e.sentence) for e in b} & seen)


def carve(
    examples: list[Example], fraction: float, seed: int, key: Callable[[Example], str]
) -> tuple[list[Example], list[Example]]:
    """Split ``examples`` into (kept, carved): sentence-disjoint, stratified by ``key``, reproducible by ``seed``."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        groups[normalise_sentence(example.sentence)].append(example)
    strata: dict[str, list[str]] = defaultdict(list)
    for sentence, rows in groups.items():
        strata[key(rows[0])].append(sentence)
    rng = random.Random(seed)
    carved_sentences: set[str] = set()
    for stratum in sorted(strata):
        sentences = sorted(strata[stratum])
        rng.shuffle(sentences)
        take = round(len(sentences) * fraction)
        if take == 0 and len(sentences) >= 3:
            take = 1
        carved_sentences.update(sentences[:take])
    kept = [e for e in examples if normalise_sentence(e.sentence) not in carved_sentences]
    carved = [e for e in examples if normalise_sentence(e.sentence) in carved_sentences]
    return kept, carved


def _limit(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    if limit is None or len(examples) <= limit:
        return examples
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    return [examples[i] for i in sorted(order[:limit])]


@dataclass
class RunData:
    """The three sets a run uses, plus notes on where they came from (shown in the report)."""

    train: list[Example]
    validation: list[Example]
    test: list[Example]
    notes: list[str] = field(default_factory=list)
    #: Held-out test sets carved from other data sets (``data.also_train`` entries with ``hold_out``), by name.
    extra_tests: dict[str, list[Example]] = field(default_factory=dict)
    #: The names of those sets that are whole sources never trained on (``test_only``).
    never_trained: set[str] = field(default_factory=set)


def _shipped_validation(train: list[Example], valid: list[Example], notes: list[str]) -> list[Example]:
    """The shipped validation split, with a note (and a warning) on how much of it is also in train."""
    overlap = sentence_overlap(train, valid)
    distinct = len({e.sentence for e in valid})
    notes.append(f"validation: the shipped split ({len(valid)} rows); {overlap} of its {distinct} sentences are "
                 "also in train, so model selection on it measures memorisation.")
    if overlap:
        logger.warning("the shipped validation split shares %d of %d sentences with train", overlap, distinct)
    return valid


def _extra_rows(usable_extra: list[Example], held_out_rows: list[Example], notes: list[str]) -> list[Example]:
    """Rows of other data sets that may join training: those whose sentence is not in validation or test."""
    held_out = {normalise_sentence(e.sentence) for e in held_out_rows}
    kept = [e for e in usable_extra if normalise_sentence(e.sentence) not in held_out]
    by_set: dict[str, int] = defaultdict(int)
    for e in kept:
        by_set[e.dataset] += 1
    notes.append(
        "extra training data: " + ", ".join(f"{n} row(s) of {name}" for name, n in sorted(by_set.items()))
        + f" ({len(usable_extra) - len(kept)} dropped because their sentence is in validation or test)."
    )
    return kept


def _no_usable_rows(rows: list[Example], task_name: str, needs: str) -> DataError:
    """What the task needed, and which columns the file has (table sources keep them on each row)."""
    columns = rows[0].meta.get("columns") if rows else None
    found = f"; the file has the columns {', '.join(map(str, columns))}" if columns else ""
    return DataError(
        f"the training split has no usable rows for task '{task_name}' ({len(rows)} row(s) before filtering): "
        f"the task needs {needs or 'its labels'}{found}. Map the right column with the flag named, or choose "
        "a task this data set has labels for."
    )


def prepare_splits(
    splits: dict[str, list[Example]],
    *,
    usable: Callable[[Example], bool],
    stratify_key: Callable[[Example], str],
    validation: str = "carve",
    validation_fraction: float = 0.1,
    test_fraction: float = 0.15,
    seed: int = 13,
    max_train_rows: int | None = None,
    max_eval_rows: int | None = None,
    task_name: str = "",
    extra_train: list[Example] | None = None,
    needs: str = "",
) -> RunData:
    """Filter rows the task can use, choose validation and test sets, and apply row limits.

    ``extra_train`` rows (other data sets) join the training set after validation and test are chosen, minus any
    whose sentence occurs in validation or test.
    """
    notes: list[str] = []
    filtered = {name: [e for e in rows if usable(e)] for name, rows in splits.items()}
    for name, rows in filtered.items():
        dropped = len(splits[name]) - len(rows)
        if dropped:
            notes.append(f"{dropped} row(s) of split '{name}' lack what task '{task_name}' needs and were left out.")
    train = filtered.get("train", [])
    if not train:
        raise _no_usable_rows(splits.get("train", []), task_name, needs)
    test = filtered.get("test", [])
    if not test:
        train, test = carve(train, test_fraction, seed + 1, stratify_key)
        notes.append(
            f"the source has no labelled test split for task '{task_name}': {len(test)} row(s) were carved from "
            f"train as test (seeded, sentence-disjoint, {test_fraction:.0%})."
        )
    if validation == "shipped" and filtered.get("validation"):
        valid = _shipped_validation(train, filtered["validation"], notes)
    else:
        train, valid = carve(train, validation_fraction, seed, stratify_key)
        notes.append(f"validation: {len(valid)} row(s) carved from train (seeded, stratified, sentence-disjoint, "
                     f"{validation_fraction:.0%}); the shipped validation split is not used.")
    leaked = sentence_overlap(train, test)
    if leaked:
        notes.append(f"warning: {leaked} test sentence(s) also occur in train.")
    if extra_train:
        train = train + _extra_rows([e for e in extra_train if usable(e)], valid + test, notes)
    train = _limit(train, max_train_rows, seed)
    valid = _limit(valid, max_eval_rows, seed)
    test = _limit(test, max_eval_rows, seed)
    for name, rows in (("training", train), ("validation", valid), ("test", test)):
        if not rows:
            raise DataError(
                f"the {name} set is empty after filtering and splitting for task '{task_name}'; "
                "use more data or a larger --max-train-rows / --max-eval-rows."
            )
    return RunData(train=train, validation=valid, test=test, notes=notes)
