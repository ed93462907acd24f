"""FiQA-2018 Task 1 loaders: split files (pauri32/fiqa-2018 layout), the challenge's JSON files, and the hub."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import DataError
from .log import LoadLog, SkipRow
from .records import Example, parse_aspects, parse_score, repair_text, where
from .tables import find_split_file, read_table, require_columns

__all__ = [
    "SPLIT_FILE_COLUMNS",
    "SPLIT_NAMES",
    "default_data_path",
    "load_fiqa_official",
    "load_fiqa_splits",
    "load_fiqa_hub",
]

logger = logging.getLogger(__name__)

#: Columns a split file must have (``snippets``, ``format`` and ``label`` are optional).
SPLIT_FILE_COLUMNS = {
    "sentence": "the text",
    "target": "the entity",
    "sentiment_score": "score in [-1, 1]",
    "aspects": "list of aspect paths",
}
SPLIT_NAMES = ("train", "validation", "test")


def default_data_path() -> Path:
    """The data set used when none is given: ``$FINABSA_DATA``, else ``../shared/data/fiqa2018`` beside the repo."""
    env = os.environ.get("FINABSA_DATA")
    if env:
        return Path(env)
    candidates = [Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "fiqa2018"]
    candidates.append(Path.cwd() / ".." / "shared" / "data" / "fiqa2018")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    raise DataError(
        "no data set given and none found: expected a folder at ../shared/data/fiqa2018 beside the repository "
        f"(looked in {', '.join(str(c.resolve()) for c in candidates)}). Point at data with --data PATH, "
        "the FINABSA_DATA environment variable, or data.path in the config."
    )


def load_fiqa_splits(path: str | Path, repair: bool = True, log: LoadLog | None = None) -> dict[str, list[Example]]:
    """Load a folder of ``train``/``validation``/``test`` files in the pauri32/fiqa-2018 layout."""
    folder = Path(path)
    log = log or LoadLog()
    splits: dict[str, list[Example]] = {}
    for split in SPLIT_NAMES:
        file = find_split_file(folder, split)
        if file is None:
            continue
        rows = read_table(file)
        if not rows:
            raise DataError(f"{file}: split '{split}' has zero rows (a header and nothing else); add rows or "
                            "remove the file.")
        splits[split] = list(_rows_to_examples(rows, file.name, split, repair, log))
    if "train" not in splits:
        raise DataError(f"data folder '{folder}' has no train file (train.csv, train.jsonl or train.parquet).")
    return splits


def _rows_to_examples(
    rows: list[dict[str, Any]], file: str, split: str, repair: bool, log: LoadLog
) -> Iterable[Example]:
    if rows:
        require_columns(file, list(rows[0].keys()), SPLIT_FILE_COLUMNS)
    for index, row in enumerate(rows, start=1):
        try:
            sentence, repaired = repair_text(row["sentence"], where(file, index, "sentence"), repair, log)
            target_cell = row.get("target")
            target = None
            if target_cell is not None and str(target_cell).strip():
                target, target_repaired = repair_text(target_cell, where(file, index, "target"), repair, log)
                repaired = repaired or target_repaired
            yield Example(
                sentence=sentence,
                target=target,
                score=parse_score(row.get("sentiment_score"), where(file, index, "sentiment_score"), log),
                aspects=parse_aspects(row.get("aspects"), where(file, index, "aspects"), log),
                source_format=str(row.get("format")) if row.get("format") else None,
                split=split,
                origin=where(file, index),
                meta={"repaired": repaired},
            )
        except SkipRow:
            continue


def load_fiqa_official(path: str | Path, repair: bool = True, log: LoadLog | None = None) -> dict[str, list[Example]]:
    """Load the challenge's ``task1_{headline,post}_ABSA_{train,test}.json``: one example per (sentence, target)."""
    folder = Path(path)
    log = log or LoadLog()
    splits: dict[str, list[Example]] = {}
    files = sorted(folder.glob("task1_*.json"))
    if not files:
        raise DataError(f"'{folder}' holds no task1_*.json files of the FiQA-2018 challenge.")
    for file in files:
        split = "test" if file.stem.endswith("_test") else "train"
        source_format = "headline" if "headline" in file.stem else "post" if "post" in file.stem else None
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{file.name}: not valid UTF-8 JSON ({exc}).") from None
        if not isinstance(document, dict):
            raise DataError(f"{file.name}: expected a JSON object of id -> {{sentence, info}}; found a list or value.")
        for key, entry in document.items():
            location = f"{file.name}, id {key}"
            if not isinstance(entry, dict) or "sentence" not in entry or "info" not in entry:
                raise DataError(f"{location}: expected keys 'sentence' and 'info'; found {entry!r:.80}.")
            for n, info in enumerate(entry["info"], start=1):
                spot = f"{location}, info {n}"
                try:
                    sentence, repaired = repair_text(entry["sentence"], f"{location}, field 'sentence'", repair, log)
                    raw_target = info.get("target")
                    target = repair_text(raw_target, f"{spot}, field 'target'", repair, log)[0] if raw_target else None
                    example = Example(
                        sentence=sentence,
                        target=target,
                        score=parse_score(info.get("sentiment_score"), f"{spot}, field 'sentiment_score'", log),
                        aspects=parse_aspects(info.get("aspects"), f"{spot}, field 'aspects'", log),
                        source_format=source_format,
                        split=split,
                        origin=spot,
                        meta={"repaired": repaired, "id": key},
                    )
                except SkipRow:
                    continue
                splits.setdefault(split, []).append(example)
    return splits


def load_fiqa_hub(path: str | Path, repair: bool = True, log: LoadLog | None = None) -> dict[str, list[Example]]:
    """Load a hub data set in the pauri32/fiqa-2018 layout through ``datasets.load_dataset`` (needs network)."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a declared dependency
        raise DataError("loading from the hub needs the 'datasets' package: pip install datasets") from None
    try:
        dataset_dict = datasets.load_dataset(str(path))
    except Exception as exc:
        raise DataError(
            f"could not load '{path}' from the Hugging Face hub ({type(exc).__name__}: {exc}). No local folder of "
            "that name exists either; check the name, your network, or give a local folder."
        ) from None
    log = log or LoadLog()
    return {
        split: list(_rows_to_examples(list(ds), f"{path}[{split}]", split, repair, log))
        for split, ds in dataset_dict.items()
    }
