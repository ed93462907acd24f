"""Streaming prediction over files of any size: read inputs lazily, predict chunk by chunk, write as we go.

Memory stays constant in the input size: only one chunk of rows (a few batches) is held at a time. Rows that
cannot be analysed (no text, bad JSON) become an output record with an ``error`` field, so output rows stay aligned
with input rows and one bad line does not end a long job.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..constants import INPUT_FORMATS, OUTPUT_FORMATS
from ..data.records import Example, as_example
from ..errors import FinabsaError

__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "BadRow", "Prepared", "read_inputs", "stream_predictions",
           "prepare_input", "predict_prepared", "flatten_record", "TEXT_COLUMNS", "format_of", "text_column_of",
           "row_input"]

#: Text columns tried, in order, when a CSV input has no ``--text-column``.
TEXT_COLUMNS = ("text", "sentence", "headline", "title")


@dataclass(frozen=True)
class BadRow:
    """An input row that cannot be analysed, with the reason (kept to write an error record in its place)."""

    where: str
    message: str
    text: str = ""
    #: The row's other columns (its id...), carried to the error record so that the row can be found.
    input: dict[str, Any] = field(default_factory=dict)


def format_of(path: str | None, input_format: str) -> str:
    """The input format of ``path``: ``input_format``, or (``auto``) the one its suffix names; text otherwise."""
    if input_format not in INPUT_FORMATS:
        raise FinabsaError(f"unknown input format '{input_format}'; expected one of {', '.join(INPUT_FORMATS)}.")
    if input_format != "auto":
        return input_format
    suffix = Path(path).suffix.lower() if path else ""
    return {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}.get(suffix,
                                                                                                           "text")


def _lines(path: str | None, progress: bool) -> Iterator[str]:
    """Lines of a file (or standard input for None / '-'), with a byte-based progress bar for files."""
    if path in (None, "-"):
        yield from sys.stdin
        return
    file = Path(path)
    if not file.is_file():
        raise FinabsaError(f"input file '{path}' does not exist; give a CSV, JSON lines or text file, or '-' for "
                           "standard input.")
    from tqdm.auto import tqdm

    with file.open("r", encoding="utf-8", errors="strict", newline="") as handle, tqdm(
        total=file.stat().st_size, unit="B", unit_scale=True, desc=file.name, disable=not progress, leave=False
    ) as bar:
        try:
            for line in handle:
                bar.update(len(line.encode("utf-8")))
                yield line
        except UnicodeDecodeError as exc:
            raise FinabsaError(f"input file '{path}' is not UTF-8 text ({exc}); convert it, e.g. with iconv.") from None


def read_inputs(
    path: str | None, input_format: str = "auto", text_column: str | None = None, progress: bool = False
) -> Iterator[str | dict | BadRow]:
    """Inputs one by one: sentences, JSON objects (``text``/``sentence`` plus optional fields), or ``BadRow``.

    ``text`` files (and standard input) hold one sentence per line; a line starting with ``{`` is read as JSON.
    ``jsonl`` holds one JSON object per line. ``csv``/``tsv``/``parquet`` take the text from ``text_column`` (default:
    the first of text, sentence, headline, title) and a given target from a ``target`` column, when there is one;
    the row's other columns come along under ``_input``, so that they reach the output record. A blank line is a
    ``BadRow``, so that output records stay aligned with input lines.
    """
    kind = format_of(path, input_format)
    name = "stdin" if path in (None, "-") else Path(path).name
    if kind == "parquet":
        yield from _read_parquet(path, name, text_column)
        return
    lines = _lines(path, progress)
    if kind in ("csv", "tsv"):
        yield from _read_table(lines, name, "\t" if kind == "tsv" else ",", text_column)
        return
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            yield BadRow(f"{name}, line {number}", "blank line: no text to analyse")
            continue
        if kind == "jsonl" or line.lstrip().startswith("{"):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield BadRow(f"{name}, line {number}", f"not valid JSON: {exc}")
                continue
            yield item if isinstance(item, dict) else BadRow(
                f"{name}, line {number}", f"expected a JSON object with a 'text' field; found {type(item).__name__}"
            )
        else:
            yield line


def text_column_of(columns: list[str], name: str, text_column: str | None) -> str:
    """The column holding the text: ``text_column``, or the first of ``TEXT_COLUMNS``; else a ``FinabsaError``."""
    candidates = [text_column] if text_column else list(TEXT_COLUMNS)
    column = next((c for c in candidates if c in columns), None)
    if column is None:
        wanted = f"no column '{text_column}'" if text_column else f"none of the columns {', '.join(TEXT_COLUMNS)}"
        raise FinabsaError(
            f"input '{name}' has {wanted}; its columns are {', '.join(columns)}. Name the text column with "
            "--text-column."
        )
    return column


def _read_parquet(path: str | None, name: str, text_column: str | None) -> Iterator[dict | BadRow]:
    """Rows of a parquet file, batch by batch (constant memory); the other columns come along under ``_input``."""
    import pyarrow.parquet as pq

    if path in (None, "-") or not Path(str(path)).is_file():
        raise FinabsaError(f"parquet input '{path}' is not a file; give a .parquet file (standard input is text).")
    table = pq.ParquetFile(str(path))
    column = text_column_of(table.schema_arrow.names, name, text_column)
    number = 0
    for batch in table.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            number += 1
            yield row_input(row, column, f"{name}, row {number}")


def row_input(row: dict[str, Any], column: str, where: str) -> dict | BadRow:
    """A table row as an input: its text (and ``target`` when it has one), its other columns under ``_input``."""
    text = row.get(column)
    item: dict[str, Any] = {"text": text}
    if isinstance(row.get("target"), str) and row["target"].strip():
        item["target"] = row["target"]
    others = {key: value for key, value in row.items() if key not in item and key != column}
    if not isinstance(text, str) or not text.strip():
        return BadRow(where, f"column '{column}' is empty", input=others)
    return {**item, "_input": others} if others else item


def _read_table(lines: Iterable[str], name: str, delimiter: str, text_column: str | None) -> Iterator[dict | BadRow]:
    reader = csv.reader(lines, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise FinabsaError(f"input '{name}' is empty; expected a header row and one row per text.")
    header = [column.strip() for column in header]
    column = text_column_of(header, name, text_column)
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        yield row_input(dict(zip(header, row)), column, f"{name}, row {number}")


# ---------------------------------------------------------------------------------------------------------------
def flatten_record(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One flat row for CSV: nested mappings join keys with '_'; a list of mappings contributes its first item
    under the singular key (``targets`` -> ``target_text``, ``target_start``...) and all of them in one column
    under its own key (``targets`` -> ``"Barclays: positive; Lloyds: negative"``), so that no target of a sentence
    with several (the joint model) is lost."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_record(value, f"{name}_"))
        elif isinstance(value, list) and (not value or isinstance(value[0], dict)):
            singular = name[:-1] if name.endswith("s") else name
            flat.update(flatten_record(value[0], f"{singular}_") if value else {f"{singular}_text": ""})
            flat[name] = "; ".join(_item_summary(item) for item in value)
        elif isinstance(value, list):
            flat[name] = "; ".join(map(str, value))
        else:
            flat[name] = value
    return flat


def _item_summary(item: dict[str, Any]) -> str:
    """``Barclays: positive``: an item's text, with its sentiment label when it has one."""
    sentiment = item.get("sentiment")
    label = sentiment.get("label") if isinstance(sentiment, dict) else None
    return f"{item.get('text', '')}: {label}" if label else str(item.get("text", ""))


class _Writer:
    """JSON lines, or CSV whose columns come from the first chunk (plus ``error``)."""

    def __init__(self, handle: IO[str], output_format: str):
        if output_format not in OUTPUT_FORMATS:
            raise FinabsaError(
                f"unknown output format '{output_format}'; expected one of {', '.join(OUTPUT_FORMATS)}."
            )
        self.handle = handle
        self.format = output_format
        self.csv: csv.DictWriter | None = None

    def write(self, records: list[dict[str, Any]]) -> None:
        if self.format == "jsonl":
            for record in records:
                # default=str: a parquet input's dates and decimals, carried under "input", as text
                self.handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        else:
            rows = [flatten_record(r) for r in records]
            if self.csv is None:
                columns = list(dict.fromkeys(k for row in rows for k in row if k != "error")) + ["error"]
                self.csv = csv.DictWriter(self.handle, fieldnames=columns, extrasaction="ignore", restval="")
                self.csv.writeheader()
            self.csv.writerows(rows)
        self.handle.flush()


def stream_predictions(
    inputs: Iterable[str | dict | BadRow],
    predict: Callable[[list[Any]], list[dict[str, Any]]],
    output: IO[str],
    output_format: str = "jsonl",
    chunk_size: int = 512,
) -> dict[str, int]:
    """Predict ``inputs`` chunk by chunk with ``predict`` and write one record per input; returns counts."""

    writer = _Writer(output, output_format)
    counts = {"rows": 0, "errors": 0}
    chunk: list[Prepared] = []

    def flush() -> None:
        writer.write(predict_prepared(chunk, predict))
        counts["rows"] += len(chunk)
        counts["errors"] += sum(isinstance(entry, BadRow) for entry, _ in chunk)
        chunk.clear()

    for number, item in enumerate(inputs, start=1):
        chunk.append(prepare_input(item, number - 1))
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return counts


#: An input ready to predict: its Example (or the reason it has none) and its own other fields, carried along.
Prepared = tuple[Example | BadRow, dict[str, Any]]


def prepare_input(item: str | dict | BadRow, position: int) -> Prepared:
    """The input at ``position`` (0-based) as an Example or ``BadRow``, with the fields to carry to its record."""
    carried = _carried(item)
    return (item if isinstance(item, BadRow) else _example_or_bad_row(item, position)), carried


def predict_prepared(chunk: list[Prepared], predict: Callable[[list[Any]], list[dict[str, Any]]]) -> list[dict]:
    """One record per prepared input, in order: ``predict``'s for the good ones (in one call), an ``error`` record
    for each bad one; carried fields under ``input``. Streaming ``predict`` and the Ray engine both write these."""
    good = [entry for entry, _ in chunk if not isinstance(entry, BadRow)]
    predicted = iter(predict(good) if good else [])
    records = []
    for entry, carried in chunk:
        if isinstance(entry, BadRow):
            record = {"text": entry.text, "error": f"{entry.where}: {entry.message}" if entry.where else entry.message}
        else:
            record = next(predicted)
        records.append({**record, "input": carried} if carried else record)
    return records


#: Fields of a JSON input that finabsa reads itself; any other field is carried to the output record.
_READ_FIELDS = ("text", "sentence", "target", "aspects")


def _example_or_bad_row(item: str | dict, index: int) -> Example | BadRow:
    """The input as an Example (converted once; predictors take Examples as they are), or the reason it is not."""
    try:
        return as_example(item, index)
    except FinabsaError as exc:
        return BadRow("", str(exc), item if isinstance(item, str) else "")


def _carried(item: Any) -> dict[str, Any]:
    """The input's own other columns or fields (ids, dates...), to be written back beside the prediction."""
    if isinstance(item, BadRow):
        return dict(item.input)
    if not isinstance(item, dict):
        return {}
    if "_input" in item:
        return dict(item.pop("_input"))
    return {key: value for key, value in item.items() if key not in _READ_FIELDS}
