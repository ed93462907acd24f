"""Where a data set comes from and how it is split: the ``data`` section of a run's configuration.

It lives with the loaders that read it; ``finabsa.config`` makes it one section of ``RunConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..constants import setting as _help

__all__ = ["DataConfig"]


@dataclass
class DataConfig:
    """Where the data comes from and how it is split."""

    path: str | None = _help(
        "Data set: a folder of split files (pauri32/fiqa-2018 layout), the folder of the challenge's official JSON "
        "files, or a hub id. Default: $FINABSA_DATA, else ../shared/data/fiqa2018 next to the repository.",
        flag="--data", default=None,
    )
    format: str = _help(
        "Data format: auto (detected), fiqa-splits, fiqa-official, hub, sentfin, phrasebank or table.",
            flag="--data-format", default="auto"
    )
    encoding: str = _help("Text encoding of CSV/TSV/JSON lines files.", flag="--encoding", default="utf-8")
    agreement: str = _help("Financial PhraseBank annotator agreement level: 50, 66, 75 or all.",
        flag="--agreement", default="all")
    text_column: str | None = _help("Column holding the text (table format; default: sentence or text).",
                                    flag="--text-column", default=None)
    label_column: str | None = _help("Column holding a class label (positive/neutral/negative for sentiment).",
                                     flag="--label-column", default=None)
    target_column: str | None = _help("Column holding the target entity.", flag="--target-column", default=None)
    score_column: str | None = _help("Column holding a sentiment score in [-1, 1].",
        flag="--score-column", default=None)
    aspect_column: str | None = _help("Column holding aspect paths (a list or one path).",
        flag="--aspect-column", default=None)
    split_column: str | None = _help("Column naming each row's split (train/validation/test).",
        flag="--split-column", default=None)
    also_train: list[Any] = _help(
        "More data sets whose rows are added to the training set (multi-data-set training): paths, or mappings "
        "with the same keys as this section (path, format, agreement, *_column...), and how its rows are used: "
        "split, max_rows, hold_out (a held-out test set), validation (a share for model selection), test_only, "
        "unlabelled. The validation and test splits come from the main data set unless an entry says so.",
        flag="--also-train", default_factory=list,
    )
    validation: str = _help(
        "Validation split for model selection: 'carve' a seeded, stratified, sentence-disjoint part out of train "
        "(default), or use the 'shipped' one (warning: the FiQA split's validation is contained in train).",
        default="carve",
    )
    validation_fraction: float = _help("Fraction of train sentences carved out for validation.", default=0.1)
    test_fraction: float = _help(
        "Fraction of train sentences carved out as test, used only when the source has no labelled test split.",
        default=0.15,
    )
    split_seed: int = _help("Seed of the split generator (kept apart from the training seed).", default=13)
    source_repeat: dict[str, int] = _help(
        "Times each training sentence of a source is seen per epoch, by source name (the data set names: fiqa, "
        "sentfin, a table's file name), e.g. {fiqa: 3}: a small source beside a large one keeps its weight; "
        "default once each.", default_factory=dict,
    )
    max_train_rows: int | None = _help("Use at most this many training rows (quick trials).",
        flag="--max-train-rows", default=None)
    max_eval_rows: int | None = _help("Use at most this many validation and test rows (quick trials).",
        flag="--max-eval-rows", default=None)
    repair_text: bool = _help("Repair mojibake with ftfy while loading.", default=True)
    unseen_labels: str = _help(
        "What to do with evaluation rows whose gold label never occurs in training: 'count' them as errors "
        "(default, comparable with published numbers), 'drop' them, or raise an 'error'.",
        default="count",
    )
