"""Data preparation for a task: the one place that turns a configured data set into what a run trains and scores.

Training, re-evaluation (``finabsa evaluate``) and the study all call these functions, so that the rows a task
uses, the carved splits and the treatment of labels never seen in training are the same everywhere. The task is
only asked the questions of ``TaskDataNeeds``; any task plug-in answers them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ..errors import DataError
from .records import SOURCE_KEY, Example
from .sources import USE_KEYS, extra_source, load_data
from .splits import RunData, carve, normalise_sentence, prepare_splits

__all__ = ["TaskDataNeeds", "TrainingData", "load_task_data", "training_data", "apply_unseen_label_policy",
           "scoring_examples"]


class TaskDataNeeds(Protocol):
    """What data preparation asks of a task (every ``finabsa.tasks.Task`` answers it)."""

    @property
    def training_exclusion_reason(self) -> str: ...
    @property
    def data_needs(self) -> str: ...

    def describe(self) -> str: ...
    def usable(self, example: Example) -> bool: ...
    def usable_for_training(self, example: Example) -> bool: ...
    def gold(self, example: Example) -> Any: ...
    def stratify_key(self, example: Example) -> str: ...
    def check_examples(self, examples: list[Example]) -> None: ...
    def closed_label_set(self, labels: list[str]) -> bool: ...
    def build_labels(self, train: list[Example]) -> list[str]: ...
    def group_rows(self, splits: dict[str, list[Example]], extra: list[Example]) -> tuple[dict, list[Example]]: ...
    def training_notes(self, train: list[Example]) -> list[str]: ...
    def augment(self, train: list[Example], seed: int) -> list[Example]: ...


@dataclass
class TrainingData:
    """The rows one run trains on, selects on and is tested on, with its label list and notes for the report."""

    labels: list[str]
    train: list[Example]
    validation: list[Example]
    test: list[Example]
    notes: list[str] = field(default_factory=list)
    #: Held-out test sets carved from ``also_train`` entries (``hold_out``), by name; scored after fine-tuning.
    extra_tests: dict[str, list[Example]] = field(default_factory=dict)
    #: The names of those sets that are whole sources the run never trains on (``test_only``: cross-source).
    never_trained: set[str] = field(default_factory=set)


def _sample_sentences(rows: list[Example], limit: int, seed: int) -> list[Example]:
    """At most ``limit`` sentences of ``rows`` (seeded), keeping every row of a chosen sentence."""
    sentences = sorted({normalise_sentence(e.sentence) for e in rows})
    if len(sentences) <= limit:
        return rows
    chosen = set(random.Random(seed).sample(sentences, limit))
    return [e for e in rows if normalise_sentence(e.sentence) in chosen]


def _extra_sets(task: TaskDataNeeds, data_config: Any,
                notes: list[str]) -> tuple[list[Example], dict, set[str], list[Example]]:
    """Training rows of the ``also_train`` entries, the test sets carved from them, the names of those test
    sets that are whole sources never trained on, and the validation rows carved from them.

    How an entry's rows are used: ``split`` keeps one split of it (default: all); ``unlabelled`` keeps its
    sentences without their labels (they train only through a distillation teacher's soft targets); ``hold_out``
    carves that fraction of its sentences into a test set named after its path; ``test_only`` makes the whole
    source such a test set (a source the model never trains on: the cross-source measurement); ``validation``
    carves that fraction of the rest into the validation split (model selection then reads this source too);
    ``max_rows`` keeps at most that many of its sentences (a seeded sample) for training, or for the test set of a
    ``test_only`` one.
    """
    extra: list[Example] = []
    validation: list[Example] = []
    tests: dict[str, list[Example]] = {}
    never_trained: set[str] = set()
    for entry in data_config.also_train:
        use = {k: entry[k] for k in USE_KEYS if k in entry} if isinstance(entry, dict) else {}
        source = extra_source(data_config, entry)
        loaded = load_data(source)
        if use.get("split") and use["split"] not in loaded:
            raise DataError(f"{source.path} has no split '{use['split']}'; it has: {', '.join(sorted(loaded))}.")
        rows = [e for name, split in loaded.items() if use.get("split", name) == name for e in split]
        name = Path(source.path).stem
        if use.get("test_only"):
            held = _sample_sentences(rows, int(use["max_rows"]), data_config.split_seed) if use.get("max_rows") \
                else rows
            tests[name] = held
            never_trained.add(name)
            notes.append(f"held-out test '{name}': {len(held)} row(s) of {source.path}, a source this run never "
                         "trains on (test_only).")
            continue
        if use.get("hold_out"):
            rows, held = carve(rows, float(use["hold_out"]), data_config.split_seed + 2, task.stratify_key)
            tests[name] = held
            notes.append(f"held-out test '{name}': {len(held)} row(s) carved from {source.path} (seeded, "
                         f"sentence-disjoint, {float(use['hold_out']):.0%}); no training sentence touches them.")
        if use.get("validation"):
            rows, carved = carve(rows, float(use["validation"]), data_config.split_seed + 3, task.stratify_key)
            validation.extend(carved)
            notes.append(f"validation: {len(carved)} row(s) carved from {source.path} ({float(use['validation']):.0%},"
                         " sentence-disjoint): model selection reads this source too.")
        if use.get("unlabelled"):
            rows = _without_labels(rows)
            notes.append(f"{name}: {len(rows)} sentence(s) without their labels: they train only through the "
                         "teacher's soft targets (training.distill_from).")
        if use.get("max_rows"):
            kept = _sample_sentences(rows, int(use["max_rows"]), data_config.split_seed)
            if len(kept) < len(rows):
                notes.append(f"{name}: trained on a seeded sample of {use['max_rows']} sentences ({len(kept)} of "
                             f"{len(rows)} rows).")
            rows = kept
        extra.extend(rows)
    return extra, tests, never_trained, validation


def _without_labels(rows: list[Example]) -> list[Example]:
    """One row per distinct sentence with every label dropped, marked ``unlabelled`` (for distillation)."""
    seen: dict[str, Example] = {}
    for e in rows:
        seen.setdefault(normalise_sentence(e.sentence), replace(
            e, target=None, score=None, label=None, aspects=(), mentions=(), meta={**e.meta, "unlabelled": True}))
    return list(seen.values())


def _drop_held_out(rows: list[Example], held: set[str], what: str, notes: list[str]) -> list[Example]:
    """``rows`` minus those whose sentence is in a held-out test set (noted when any are)."""
    kept = [e for e in rows if normalise_sentence(e.sentence) not in held]
    if len(kept) < len(rows):
        notes.append(f"{len(rows) - len(kept)} row(s) of {what} left out: their sentence is in a held-out test or "
                     "validation set.")
    return kept


def _grouped(task: TaskDataNeeds, name: str, rows: list[Example]) -> list[Example]:
    """The rows of one split as the task trains and scores them (grouped per sentence for the joint task)."""
    return task.group_rows({name: rows}, [])[0][name]


def load_task_data(task: TaskDataNeeds, data_config: Any) -> RunData:
    """Load the configured data set (and ``also_train`` sets) and split it into the task's train/validation/test."""
    splits = load_data(data_config)
    notes: list[str] = []
    extra, tests, never_trained, extra_validation = _extra_sets(task, data_config, notes)
    if tests or extra_validation:
        held = {normalise_sentence(e.sentence) for rows in [*tests.values(), extra_validation] for e in rows}
        splits = {name: rows if name == "test" else _drop_held_out(rows, held, f"split '{name}'", notes)
                  for name, rows in splits.items()}
        extra = _drop_held_out(extra, held, "the extra training data", notes)
    for rows in [*splits.values(), extra, *tests.values(), extra_validation]:
        task.check_examples(rows)
    splits, extra = task.group_rows(splits, extra)
    tests = {name: [e for e in _grouped(task, name, rows) if task.usable(e)] for name, rows in tests.items()}
    extra_validation = [e for e in _grouped(task, "validation", extra_validation) if task.usable(e)]
    data = prepare_splits(
        splits,
        usable=task.usable,
        stratify_key=task.stratify_key,
        validation=data_config.validation,
        validation_fraction=data_config.validation_fraction,
        test_fraction=data_config.test_fraction,
        seed=data_config.split_seed,
        max_train_rows=data_config.max_train_rows,
        max_eval_rows=data_config.max_eval_rows,
        task_name=task.describe(),
        extra_train=extra,
        needs=task.data_needs,
    )
    data.notes[:0] = notes
    data.validation = data.validation + extra_validation
    data.extra_tests = tests
    data.never_trained = never_trained
    return data


def training_data(task: TaskDataNeeds, data_config: Any) -> TrainingData:
    """Everything a training run reads: labels from train, rows it can train on, the test set after the
    unseen-label policy, and the notes that say what was left out."""
    data = load_task_data(task, data_config)
    labels = task.build_labels(data.train)
    notes = list(data.notes)
    test = apply_unseen_label_policy(task, labels, data.test, data_config.unseen_labels, notes)
    train = [e for e in data.train if task.usable_for_training(e)]
    validation = [e for e in data.validation if task.usable_for_training(e)]
    if task.closed_label_set(labels):
        validation = [e for e in validation if task.gold(e) in labels]
    skipped = len(data.train) - len(train)
    if skipped:
        notes.append(f"{skipped} training row(s) were left out: {task.training_exclusion_reason}.")
    if not train or not validation:
        raise DataError(f"no usable training or validation rows remain for task '{task.describe()}'.")
    made = task.augment(train, data_config.split_seed)
    if made:
        notes.append(f"{len(made)} made training row(s) added to the {len(train)} loaded ones (task '"
                     f"{task.describe()}' augmentation); validation and test hold none.")
    train = _repeated(train, data_config.source_repeat, notes) + made
    notes.extend(task.training_notes(train))
    return TrainingData(labels, train, validation, test, notes, data.extra_tests, data.never_trained)


def _repeated(train: list[Example], times: dict[str, int], notes: list[str]) -> list[Example]:
    """``train`` with each row of a source in ``times`` that many times (``data.source_repeat``), noted."""
    if not times:
        return train
    repeated = [e for e in train for _ in range(times.get(str(e.meta.get(SOURCE_KEY)), 1))]
    counts = {name: sum(1 for e in train if e.meta.get(SOURCE_KEY) == name) for name in times}
    notes.append("repeated per epoch: " + ", ".join(f"{name} {counts[name]} sentence(s) x{n}"
                                                     for name, n in times.items()))
    return repeated


def apply_unseen_label_policy(task: TaskDataNeeds, labels: list[str], examples: list[Example], policy: str,
                              notes: list[str]) -> list[Example]:
    """Rows whose gold label the model cannot predict: ``count`` them as errors (noted), ``drop`` them (noted), or
    raise an ``error`` naming them."""
    if not task.closed_label_set(labels):
        return examples
    unseen = [e for e in examples if task.gold(e) not in labels]
    if not unseen:
        return examples
    names = sorted({str(task.gold(e)) for e in unseen})
    if policy == "error":
        raise DataError(
            f"{len(unseen)} test row(s) have label(s) never seen in training: {', '.join(names[:5])}"
            f"{' ...' if len(names) > 5 else ''} (e.g. {unseen[0].origin}). The model cannot predict them; "
            "set data.unseen_labels to 'count' or 'drop', or train on data that has them."
        )
    if policy == "drop":
        notes.append(f"{len(unseen)} test row(s) with labels never seen in training were dropped.")
        return [e for e in examples if task.gold(e) in labels]
    notes.append(f"{len(unseen)} test row(s) have labels never seen in training ({len(names)} distinct); they "
                 "count as errors.")
    return examples


def scoring_examples(task: TaskDataNeeds, splits: dict[str, list[Example]], split: str, labels: list[str],
                     policy: str, notes: list[str], max_rows: int | None = None, seed: int = 13) -> list[Example]:
    """The rows of ``split`` (``all``: every split) a trained model is scored on: usable by the task, the
    unseen-label policy applied, and at most ``max_rows`` of them (a seeded sample, so that a file sorted by label
    is not scored on one class)."""
    task.check_examples([e for rows in splits.values() for e in rows])
    if split == "all":
        splits = {"all": [e for rows in splits.values() for e in rows]}
    if split not in splits:
        raise DataError(f"the data set has no split '{split}'; it has: {', '.join(sorted(splits))}. Pick one of "
                        "those with --split, or score every row with --split all.")
    examples = [e for e in _grouped(task, split, splits[split]) if task.usable(e)]
    if not examples:
        raise DataError(
            f"split '{split}' has no rows usable by task '{task.describe()}' ({len(splits[split])} before filtering)."
        )
    examples = apply_unseen_label_policy(task, labels, examples, policy, notes)
    if max_rows and len(examples) > max_rows:
        chosen = sorted(random.Random(seed).sample(range(len(examples)), max_rows))
        examples = [examples[i] for i in chosen]
        notes.append(f"scored a seeded sample of {max_rows} of the split's {len(splits[split])} rows.")
    return examples
