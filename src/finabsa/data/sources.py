"""Data set formats, found by name or detected from a path, all loading into the canonical ``Example`` record.

| format          | what it reads                                                                           |
|-----------------|-----------------------------------------------------------------------------------------|
| `fiqa-splits`   | a folder of train/validation/test files in the pauri32/fiqa-2018 layout                 |
| `fiqa-official` | the FiQA-2018 challenge's task1_*.json files                                            |
| `hub`           | a hub id in the pauri32/fiqa-2018 layout (needs network)                                |
| `sentfin`       | SEntFiN 1.1 CSV: `Title`, `Decisions` (JSON entity -> label); one example per entity    |
| `phrasebank`    | Financial PhraseBank `Sentences_<agreement>Agree.txt` (latin-1, `sentence@label`)       |
| `table`         | any CSV/TSV/JSON lines/parquet file or folder, with a column mapping                    |
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, UnknownNameError
from .fiqa import (
    SPLIT_FILE_COLUMNS,
    SPLIT_NAMES,
    default_data_path,
    load_fiqa_hub,
    load_fiqa_official,
    load_fiqa_splits,
)
from .labels import SENTIMENT_LABELS
from .log import LoadLog, SkipRow
from .records import SOURCE_KEY, Example, parse_aspects, parse_score, repair_text, where
from .tables import TABLE_SUFFIXES, find_split_file, read_table, require_columns

__all__ = ["FORMATS", "SOURCE_KEYS", "USE_KEYS", "detect_format", "extra_source", "load_data", "load_fiqa",
           "PHRASEBANK_AGREEMENTS"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PHRASEBANK_AGREEMENTS = {"50": "50Agree", "66": "66Agree", "75": "75Agree", "all": "AllAgree", "100": "AllAgree"}
_SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                  "val": "validation", "dev": "validation", "test": "test", "testing": "test"}


def _source_field(source: Any, name: str, default: Any = None) -> Any:
    return getattr(source, name, default)


# -- format loaders: (source, log) -> {split: [Example]} ---------------------------------------------------------
def _fiqa_splits(source: Any, log: LoadLog) -> dict[str, list[Example]]:
    return load_fiqa_splits(source.path, source.repair_text, log)


def _fiqa_official(source: Any, log: LoadLog) -> dict[str, list[Example]]:
    return load_fiqa_official(source.path, source.repair_text, log)


def _hub(source: Any, log: LoadLog) -> dict[str, list[Example]]:
    return load_fiqa_hub(source.path, source.repair_text, log)


def _sentfin(source: Any, log: LoadLog) -> dict[str, list[Example]]:
    path = Path(source.path)
    file = path if path.is_file() else next(iter(sorted(path.glob("SEntFiN*.csv"))), None)
    if file is None:
        raise DataError(f"'{path}' holds no SEntFiN*.csv file.")
    rows = read_table(file, source.encoding)
    if not rows:
        raise DataError(f"{file}: has a header but zero rows.")
    require_columns(file.name, list(rows[0]), {"Title": "the headline", "Decisions": "JSON entity -> label"})
    examples = []
    for index, row in enumerate(rows, start=1):
        try:
            title, repaired = repair_text(row["Title"], where(file.name, index, "Title"), source.repair_text, log)
            try:
                decisions = json.loads(row["Decisions"])
            except (TypeError, json.JSONDecodeError):
                decisions = None
            if not isinstance(decisions, dict) or not decisions:
                log.problem("bad_decisions", where(file.name, index, "Decisions"),
                            f"expected a JSON object of entity -> positive/neutral/negative; found "
                            f"{str(row['Decisions'])[:60]!r}.")
            for entity, label in decisions.items():
                label = str(label).strip().lower()
                if label not in SENTIMENT_LABELS:
                    log.problem("unknown_label", where(file.name, index, "Decisions"),
                                f"unknown label {label!r} for '{entity}'; expected positive, neutral or negative.")
                examples.append(Example(sentence=title, target=entity.strip(), label=label, dataset="sentfin",
                                        source_format="headline", origin=where(file.name, index),
                                        meta={"repaired": repaired}))
        except SkipRow:
            continue
    return {"train": examples}


def _phrasebank(source: Any, log: LoadLog) -> dict[str, list[Example]]:
    path = Path(source.path)
    agreement = str(source.agreement).lower().removesuffix("agree")
    if path.is_file():
        file = path
    else:
        if agreement not in PHRASEBANK_AGREEMENTS:
            raise DataError(f"unknown PhraseBank agreement level '{source.agreement}'; expected one of "
                            f"{', '.join(sorted(set(PHRASEBANK_AGREEMENTS) - {'100'}))}.")
        file = path / f"Sentences_{PHRASEBANK_AGREEMENTS[agreement]}.txt"
        if not file.is_file():
            raise DataError(f"'{path}' has no {file.name}; PhraseBank files are Sentences_50Agree.txt, "
                            "Sentences_66Agree.txt, Sentences_75Agree.txt and Sentences_AllAgree.txt.")
    # PhraseBank ships as latin-1; a UTF-8 re-export is read as UTF-8.
    encoding = source.encoding if source.encoding.lower() not in ("utf-8", "utf8") else "latin-1"
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode(encoding)
    examples = []
    for index, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        location = f"{file.name}, line {index}"
        try:
            if "@" not in line:
                log.problem("malformed_line", location, "expected 'sentence@label'; found no '@'.")
            sentence, label = line.rsplit("@", 1)
            label = label.strip().lower()
            if label not in SENTIMENT_LABELS:
                log.problem("unknown_label", location, f"unknown label {label!r}; expected positive, neutral or "
                                                        "negative.")
            sentence, repaired = repair_text(sentence.strip(), location, source.repair_text, log)
            examples.append(Example(sentence=sentence, label=label, dataset="phrasebank", origin=location,
                                    meta={"repaired": repaired}))
        except SkipRow:
            continue
    return {"train": examples}


def _table(source: Any, log: LoadLog) -> dict[str, list[Example]]:
    path = Path(source.path)
    if path.is_dir():
        files = {split: find_split_file(path, split) for split in SPLIT_NAMES}
        files = {split: f for split, f in files.items() if f is not None}
        if not files:
            found = [p for p in sorted(path.iterdir()) if p.suffix.lower() in TABLE_SUFFIXES]
            if len(found) != 1:
                raise DataError(f"folder '{path}' has no train/validation/test files and "
                                f"{'several' if found else 'no'} data files; point at one file.")
            files = {"train": found[0]}
    else:
        files = {"train": path}
    splits: dict[str, list[Example]] = {}
    for default_split, file in files.items():
        rows = read_table(file, source.encoding)
        if not rows:
            raise DataError(f"{file}: has a header but zero rows.")
        for example in _table_rows(rows, file.name, default_split, source, log):
            splits.setdefault(example.split, []).append(example)
    return splits


def _column(source: Any, name: str, found: list[str], defaults: tuple[str, ...]) -> str | None:
    given = _source_field(source, f"{name}_column")
    if given:
        return given
    return next((d for d in defaults if d in found), None)


def _table_rows(rows: list[dict[str, Any]], file: str, default_split: str, source: Any, log: LoadLog):
    found = list(rows[0])
    columns = tuple(found)  # kept on each row's meta (one shared tuple), so that later messages can name them
    text = _column(source, "text", found, ("sentence", "text", "title", "headline", "Title"))
    label = _column(source, "label", found, ())
    target = _column(source, "target", found, ("target", "entity"))
    score = _column(source, "score", found, ("sentiment_score", "score"))
    aspect = _column(source, "aspect", found, ("aspects", "aspect"))
    split = _column(source, "split", found, ())
    required = {text or "sentence": "the text; set --text-column"}
    for role in ("label", "target", "score", "aspect", "split"):
        given = _source_field(source, f"{role}_column")
        if given:
            required[given] = f"the {role}, from --{role}-column"
    require_columns(file, found, required)
    for index, row in enumerate(rows, start=1):
        try:
            sentence, repaired = repair_text(row.get(text or "sentence"), where(file, index, text or "sentence"),
                                             source.repair_text, log)
            row_split = default_split
            if split:
                value = str(row.get(split, "")).strip().lower()
                if value not in _SPLIT_ALIASES:
                    log.problem("unknown_split", where(file, index, split),
                                f"unknown split {value!r}; expected train, validation or test.")
                row_split = _SPLIT_ALIASES[value]
            label_value = row.get(label) if label else None
            label_value = str(label_value).strip().lower() if label_value not in (None, "") else None
            target_value = row.get(target) if target else None
            yield Example(
                sentence=sentence,
                target=str(target_value).strip() if target_value not in (None, "") else None,
                score=parse_score(row.get(score), where(file, index, score), log) if score else None,
                aspects=parse_aspects(row.get(aspect), where(file, index, aspect), log) if aspect else (),
                label=label_value,
                split=row_split,
                dataset=Path(file).stem,
                origin=where(file, index),
                meta={"repaired": repaired, "columns": columns},
            )
        except SkipRow:
            continue


FORMATS: dict[str, Callable[[Any, LoadLog], dict[str, list[Example]]]] = {
    "fiqa-splits": _fiqa_splits,
    "fiqa-official": _fiqa_official,
    "hub": _hub,
    "sentfin": _sentfin,
    "phrasebank": _phrasebank,
    "table": _table,
}


def _has_column_mapping(source: Any) -> bool:
    return any(_source_field(source, f"{n}_column") for n in ("text", "label", "target", "score", "aspect", "split"))


def _header(file: Path) -> list[str]:
    if file.suffix.lower() in (".csv", ".tsv"):
        try:
            with file.open(encoding="utf-8", errors="replace") as handle:
                first = handle.readline().lstrip("\ufeff")
        except OSError:
            return []
        return [h.strip().strip('"') for h in first.split("\t" if file.suffix == ".tsv" else ",")]
    return []


def detect_format(path: str | Path, source: Any = None) -> str:
    """The format of a data location, or a ``DataError`` that says what was expected."""
    p = Path(path)
    if source is not None and _has_column_mapping(source) and p.exists():
        return "table"
    if p.is_dir():
        train = find_split_file(p, "train")
        if train is not None:
            header = _header(train)
            return "fiqa-splits" if not header or all(c in header for c in SPLIT_FILE_COLUMNS) else "table"
        if any(find_split_file(p, s) for s in SPLIT_NAMES):
            return "fiqa-splits"
        if list(p.glob("task1_*.json")):
            return "fiqa-official"
        if list(p.glob("Sentences_*Agree.txt")):
            return "phrasebank"
        if list(p.glob("SEntFiN*.csv")):
            return "sentfin"
        found = sorted(x.name for x in p.iterdir())[:10]
        raise DataError(
            f"data folder '{p}' holds no known data set: expected train/validation/test files (.csv, .tsv, .jsonl, "
            ".parquet), FiQA task1_*.json, PhraseBank Sentences_*Agree.txt or SEntFiN*.csv; found: "
            f"{', '.join(found) or 'nothing'}."
        )
    if p.is_file():
        if re.match(r"Sentences_\w+Agree\.txt$", p.name):
            return "phrasebank"
        header = _header(p)
        if "Title" in header and "Decisions" in header:
            return "sentfin"
        return "table"
    if _HUB_ID.match(str(path)):
        return "hub"
    raise DataError(
        f"data path '{path}' does not exist. Give an existing folder or file (e.g. ../shared/data/fiqa2018), "
        "set FINABSA_DATA, or give a hub id such as pauri32/fiqa-2018 when online."
    )


def load_data(source: Any, log: LoadLog | None = None) -> dict[str, list[Example]]:
    """Load a data source (a ``DataConfig`` or anything with its fields) into ``{split: [Example, ...]}``."""
    log = log or LoadLog()
    if source.path is None:
        source = _with_path(source, default_data_path())
    fmt = source.format
    if fmt == "auto":
        fmt = detect_format(source.path, source)
    elif not Path(str(source.path)).exists() and fmt != "hub":
        detect_format(source.path)  # raises the 'does not exist' message
    if fmt not in FORMATS:
        raise UnknownNameError("data format", fmt, list(FORMATS) + ["auto"])
    splits = FORMATS[fmt](source, log)
    # Loaded rows say which source they came from (meta is each row's own dict): the loader's data set name, or a
    # table's file or folder name (its rows' ``dataset`` is each file's name, e.g. 'train' and 'test').
    table_name = Path(str(source.path)).stem if fmt == "table" else None
    for rows in splits.values():
        for row in rows:
            row.meta[SOURCE_KEY] = table_name or row.dataset
    empty = [name for name, rows in splits.items() if not rows]
    if empty and log.strict:
        raise DataError(f"'{source.path}': split(s) {', '.join(empty)} have no usable rows.")
    repaired = len(log.of_kind("mojibake"))
    if repaired:
        import logging

        rows = sum(1 for rows in splits.values() for e in rows if e.meta.get("repaired"))
        logging.getLogger("finabsa.data").info("repaired mojibake in %d cell(s) of %d row(s) of %s", repaired, rows,
                                               source.path)
    return splits


def _with_path(source: Any, path: Path) -> Any:
    import dataclasses

    return dataclasses.replace(source, path=str(path))


def load_fiqa(path: str | Path | None = None, fmt: str = "auto", repair: bool = True) -> dict[str, list[Example]]:
    """Load a data set by path with default settings (convenience for notebooks and tests)."""
    from .source_config import DataConfig

    return load_data(DataConfig(path=None if path is None else str(path), format=fmt, repair_text=repair))


#: Keys a data source mapping (``data.also_train`` entries) may set.
SOURCE_KEYS = ("path", "format", "encoding", "agreement", "text_column", "label_column", "target_column",
                "score_column", "aspect_column", "split_column", "repair_text")
#: Keys an ``also_train`` entry may set besides ``SOURCE_KEYS``: how its rows are used (``finabsa.data.prepare``).
USE_KEYS = ("hold_out", "max_rows", "split", "test_only", "unlabelled", "validation")


def extra_source(main: Any, entry: Any) -> Any:
    """The source of one ``data.also_train`` entry (a path, or a mapping of ``SOURCE_KEYS``), as an object of the
    same type as ``main`` (a ``DataConfig``) with its own defaults and ``main``'s text repair setting."""
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict) or not entry.get("path"):
        raise ConfigError([f"expected a path or a mapping with 'path'; found {entry!r}"])
    unknown = [k for k in entry if k not in SOURCE_KEYS + USE_KEYS]
    if unknown:
        raise ConfigError([f"unknown key(s) {', '.join(unknown)}; known: {', '.join(SOURCE_KEYS + USE_KEYS)}"])
    problems = [f"{key} must be a number > 0; found {entry[key]!r}" for key in ("hold_out", "max_rows")
                if key in entry and not (isinstance(entry[key], (int, float)) and entry[key] > 0)]
    if "split" in entry and entry["split"] not in ("train", "validation", "test"):
        problems.append(f"split must be train, validation or test; found {entry['split']!r}")
    if "validation" in entry and not (isinstance(entry["validation"], (int, float)) and 0 < entry["validation"] < 1):
        problems.append(f"validation is a fraction of the sentences, between 0 and 1; found {entry['validation']!r}")
    if "validation" in entry and (entry.get("test_only") or entry.get("unlabelled")):
        problems.append("validation carves labelled training sentences: not with test_only or unlabelled")
    if "hold_out" in entry and not problems and not entry["hold_out"] < 1:
        problems.append(f"hold_out is a fraction of the sentences, below 1; found {entry['hold_out']!r} (test_only: "
                        "true holds out the whole source)")
    for key in ("test_only", "unlabelled"):
        if key in entry and not isinstance(entry[key], bool):
            problems.append(f"{key} must be true or false; found {entry[key]!r}")
    if entry.get("test_only") and entry.get("unlabelled"):
        problems.append("an entry is either test_only (scored, never trained on) or unlabelled (distilled), not both")
    if entry.get("test_only") and "hold_out" in entry:
        problems.append("test_only holds out the whole source: drop hold_out from the same entry")
    if problems:
        raise ConfigError(problems)
    return type(main)(**{"repair_text": main.repair_text, **{k: v for k, v in entry.items() if k in SOURCE_KEYS}})

