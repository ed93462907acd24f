"""FiQA-2018 Task 1 loaders: split files (pauri32/fiqa-2018 layout), the challenge's JSON files, and the hub."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import DataError
from .records import Example, parse_aspects, parse_score, repair_text, where

__all__ = [
    "SPLIT_FILE_COLUMNS",
    "default_data_path",
    "detect_format",
    "load_fiqa",
    "load_fiqa_official",
    "load_fiqa_splits",
    "load_fiqa_hub",
    "read_table",
]

logger = logging.getLogger(__name__)

#: Columns a split file must have (``snippets``, ``format`` and ``label`` are optional).
SPLIT_FILE_COLUMNS = ("sentence", "target", "sentiment_score", "aspects")
SPLIT_NAMES = ("train", "validation", "test")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


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


def detect_format(path: str | Path) -> str:
    """Return ``fiqa-splits``, ``fiqa-official`` or ``hub`` for a data location, or raise a clear ``DataError``."""
    p = Path(path)
    if p.is_dir():
        if any(_split_file(p, s) for s in SPLIT_NAMES):
            return "fiqa-splits"
        if list(p.glob("task1_*_train.json")) or list(p.glob("task1_*.json")):
            return "fiqa-official"
        found = sorted(x.name for x in p.iterdir())[:10]
        raise DataError(
            f"data folder '{p}' holds no split files (expected train/validation/test as .csv, .jsonl or .parquet) "
            f"and no FiQA task1_*.json files; found: {', '.join(found) or 'nothing'}."
        )
    if p.exists():
        raise DataError(f"data path '{p}' is a file; expected a folder of split files or of the official JSON files.")
    if _HUB_ID.match(str(path)):
        return "hub"
    raise DataError(
        f"data path '{path}' does not exist. Give an existing folder (e.g. ../shared/data/fiqa2018), "
        "set FINABSA_DATA, or give a hub id such as pauri32/fiqa-2018 when online."
    )


def load_fiqa(path: str | Path | None = None, fmt: str = "auto", repair: bool = True) -> dict[str, list[Example]]:
    """Load FiQA Task 1 from ``path`` (or the default location) into ``{split: [Example, ...]}``."""
    path = default_data_path() if path is None else path
    fmt = detect_format(path) if fmt == "auto" else fmt
    loaders = {"fiqa-splits": load_fiqa_splits, "fiqa-official": load_fiqa_official, "hub": load_fiqa_hub}
    splits = loaders[fmt](path, repair=repair)
    repaired = sum(1 for examples in splits.values() for e in examples if e.meta.get("repaired"))
    if repaired:
        logger.info("repaired mojibake in %d row(s) of %s", repaired, path)
    return splits


def read_table(file: Path) -> list[dict[str, Any]]:
    """Read a CSV/TSV/JSON lines/parquet file into row dicts, with messages that name the file."""
    import pandas as pd

    try:
        if file.stat().st_size == 0:
            raise DataError(f"{file}: the file is empty (0 bytes); expected a header row and data rows.")
        suffix = file.suffix.lower()
        if suffix in (".csv", ".tsv"):
            frame = pd.read_csv(file, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
        elif suffix in (".jsonl", ".json"):
            frame = pd.read_json(file, lines=True, dtype=False)
        elif suffix == ".parquet":
            frame = pd.read_parquet(file)
        else:
            raise DataError(f"{file}: unsupported file type '{suffix}'; expected one of {', '.join(TABLE_SUFFIXES)}.")
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8.") from None
    except PermissionError:
        raise DataError(f"{file}: permission denied; make the file readable.") from None
    except Exception as exc:  # pandas raises many types for malformed files; all mean 'cannot read this'
        raise DataError(f"{file}: cannot be read as {file.suffix.lstrip('.')}: {exc}".rstrip()) from None
    return frame.to_dict(orient="records")


def _split_file(folder: Path, split: str) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        candidate = folder / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def load_fiqa_splits(path: str | Path, repair: bool = True) -> dict[str, list[Example]]:
    """Load a folder of ``train``/``validation``/``test`` files in the pauri32/fiqa-2018 layout."""
    folder = Path(path)
    splits: dict[str, list[Example]] = {}
    for split in SPLIT_NAMES:
        file = _split_file(folder, split)
        if file is None:
            continue
        rows = read_table(file)
        splits[split] = list(_rows_to_examples(rows, file.name, split, repair))
    if "train" not in splits:
        raise DataError(f"data folder '{folder}' has no train file (train.csv, train.jsonl or train.parquet).")
    return splits


def _rows_to_examples(rows: list[dict[str, Any]], file: str, split: str, repair: bool) -> Iterable[Example]:
    if rows:
        missing = [c for c in SPLIT_FILE_COLUMNS if c not in rows[0]]
        if missing:
            raise DataError(
                f"{file}: missing column(s) {', '.join(missing)}; expected {', '.join(SPLIT_FILE_COLUMNS)}; "
                f"found {', '.join(map(str, rows[0].keys()))}."
            )
    for index, row in enumerate(rows, start=1):
        sentence, repaired = repair_text(row["sentence"], where(file, index, "sentence"), repair)
        target_cell = row.get("target")
        target = None
        if target_cell is not None and str(target_cell).strip():
            target, target_repaired = repair_text(target_cell, where(file, index, "target"), repair)
            repaired = repaired or target_repaired
        yield Example(
            sentence=sentence,
            target=target,
            score=parse_score(row.get("sentiment_score"), where(file, index, "sentiment_score")),
            aspects=parse_aspects(row.get("aspects"), where(file, index, "aspects")),
            source_format=str(row.get("format")) if row.get("format") else None,
            split=split,
            origin=where(file, index),
            meta={"repaired": repaired},
        )


def load_fiqa_official(path: str | Path, repair: bool = True) -> dict[str, list[Example]]:
    """Load the challenge's ``task1_{headline,post}_ABSA_{train,test}.json``: one example per (sentence, target)."""
    folder = Path(path)
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
            sentence, repaired = repair_text(entry["sentence"], f"{location}, field 'sentence'", repair)
            for n, info in enumerate(entry["info"], start=1):
                spot = f"{location}, info {n}"
                yield_target = info.get("target")
                target = repair_text(yield_target, f"{spot}, field 'target'", repair)[0] if yield_target else None
                splits.setdefault(split, []).append(
                    Example(
                        sentence=sentence,
                        target=target,
                        score=parse_score(info.get("sentiment_score"), f"{spot}, field 'sentiment_score'"),
                        aspects=parse_aspects(info.get("aspects"), f"{spot}, field 'aspects'"),
                        source_format=source_format,
                        split=split,
                        origin=spot,
                        meta={"repaired": repaired, "id": key},
                    )
                )
    return splits


def load_fiqa_hub(path: str | Path, repair: bool = True) -> dict[str, list[Example]]:
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
    return {
        split: list(_rows_to_examples(list(ds), f"{path}[{split}]", split, repair))
        for split, ds in dataset_dict.items()
    }
