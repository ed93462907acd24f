"""Reading tabular files (CSV, TSV, JSON lines, parquet) with messages that name the file, row and column."""

from __future__ import annotations

import csv
import difflib
import io
from pathlib import Path
from typing import Any

from ..errors import DataError

__all__ = ["TABLE_SUFFIXES", "read_table", "require_columns", "find_split_file"]

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")


def _check_text_file(file: Path, encoding: str) -> str:
    try:
        raw = file.read_bytes()
    except PermissionError:
        raise DataError(f"{file}: permission denied; make the file readable (chmod +r).") from None
    except IsADirectoryError:
        raise DataError(f"{file}: is a folder; expected a file.") from None
    except OSError as exc:
        raise DataError(f"{file}: cannot be read ({exc.strerror}).") from None
    if not raw.strip():
        raise DataError(f"{file}: the file is empty (0 bytes); expected a header row and data rows.")
    if b"\x00" in raw[:8192]:
        raise DataError(f"{file}: looks like a binary file (NUL bytes); expected {file.suffix.lstrip('.')} text.")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{file}: not valid {encoding} text (byte 0x{raw[exc.start]:02x} on line {line}); re-save the file as "
            "UTF-8, or give its encoding (--encoding latin-1 / data.encoding)."
        ) from None
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'; use a Python codec name such as utf-8 or latin-1.") from None


def _read_delimited(file: Path, text: str, delimiter: str) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{file}: the file has no header row.") from None
    except csv.Error as exc:
        raise DataError(f"{file}: malformed header row ({exc}).") from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{file}: duplicate column name(s) {', '.join(dupes)} in the header.")
    rows = []
    try:
        for number, values in enumerate(reader, start=1):
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise DataError(
                    f"{file}, row {number}: has {len(values)} fields but the header has {len(header)} "
                    f"({', '.join(header)}); quote cells that contain '{delimiter}' or fix the row."
                )
            rows.append(dict(zip(header, values)))
    except csv.Error as exc:
        raise DataError(f"{file}, row {reader.line_num}: malformed {file.suffix.lstrip('.')} ({exc}).") from None
    return rows


def read_table(file: str | Path, encoding: str = "utf-8") -> list[dict[str, Any]]:
    """Read a CSV/TSV/JSON lines/parquet file into row dicts (CSV cells stay strings)."""
    file = Path(file)
    suffix = file.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{file}: unsupported file type '{suffix or 'none'}'; expected one of "
                        f"{', '.join(TABLE_SUFFIXES)}.")
    if suffix == ".parquet":
        import pandas as pd

        try:
            return pd.read_parquet(file).to_dict(orient="records")
        except Exception as exc:  # pyarrow raises several types for a damaged or non-parquet file
            raise DataError(f"{file}: cannot be read as parquet ({type(exc).__name__}: {exc}).") from None
    text = _check_text_file(file, encoding)
    if suffix in (".csv", ".tsv"):
        return _read_delimited(file, text, "\t" if suffix == ".tsv" else ",")
    import json

    stripped = text.lstrip()
    if suffix == ".json" and stripped.startswith("["):
        try:
            rows = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{file}, line {number}: not valid JSON ({exc.msg}).") from None
    bad = next((i for i, row in enumerate(rows, start=1) if not isinstance(row, dict)), None)
    if bad:
        raise DataError(f"{file}, row {bad}: expected a JSON object per row; found {type(rows[bad - 1]).__name__}.")
    return rows


def require_columns(file: str, found: list[str], required: dict[str, str]) -> None:
    """Check that each required column exists; ``required`` maps column -> what it is for (for the message)."""
    missing = [column for column in required if column not in found]
    if not missing:
        return
    parts = []
    for column in missing:
        close = difflib.get_close_matches(column, found, n=1, cutoff=0.75)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        parts.append(f"'{column}' ({required[column]}){hint}")
    raise DataError(f"{file}: missing column(s) {', '.join(parts)}; found: {', '.join(map(str, found))}.")


def find_split_file(folder: Path, split: str) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        candidate = folder / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    return None
