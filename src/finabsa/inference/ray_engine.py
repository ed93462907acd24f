"""Corpora on Ray Data: the same ``Pipeline`` over millions of texts, on one machine or a cluster.

``finabsa predict --engine ray INPUT --output DIR`` (or ``predict_corpus``) reads a file, a folder of shards or a
glob (parquet, CSV/TSV, JSON lines, text), analyses the rows in ``map_batches`` with a callable class (each actor
loads the model once; ``--actors`` of them, each with ``--cpus-per-actor`` CPUs or ``--gpus-per-actor`` GPUs) and
writes parquet shards. ``predict_dataset`` does the middle step on a ``ray.data.Dataset`` of your own.

Rows are read by the streaming reader (``finabsa.inference.streams``) inside Ray tasks, one task per file, so a row
that cannot be read (blank, bad JSON, no text) becomes an error record exactly as in streaming ``predict``, never a
dead job; a failed task or actor is retried by Ray. Records are the streaming ones, column by column: ``text``,
``error`` and the input's own parquet columns as they are; list fields (``targets``, ``notes``...) as list columns
of JSON objects (or strings); other structured fields (``aspect``...) as JSON text; a file input's own fields
under ``input`` (JSON). ``read_records`` turns the shards back into the records streaming ``predict`` writes.

Local Ray is started for the job unless ``--address`` (or ``RAY_ADDRESS``) names a cluster; on a cluster the run
folder (or a Hub id) and finabsa itself must be reachable from every node.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FinabsaError
from .streams import BadRow, format_of, predict_prepared, prepare_input, read_inputs, row_input, text_column_of

__all__ = ["RayOptions", "PipelineSpec", "predict_dataset", "predict_corpus", "read_corpus", "read_records",
           "import_ray", "RAY_INSTALL"]

#: How to get the optional engine.
RAY_INSTALL = "pip install 'finabsa[ray]'"
#: Column of the rows read from text-like files: one input, as JSON ({"item": ...} or {"bad": ...}).
PAYLOAD = "_finabsa_input"
#: Key of the parquet schema metadata that names the JSON-encoded columns (so ``read_records`` can decode them).
SCHEMA_KEY = b"finabsa"
#: Probes that show which fields a pipeline's records have (with and without a given target).
PROBES = ["Tesco shares surge after strong results", {"text": "Tesco shares surge", "target": "Tesco"}]
DOCUMENT_PROBES = ["Tesco shares surge after strong results. BP falls."]
#: Reading and writing reserve no CPU: the actors hold the cores (an actor per core would otherwise leave no CPU for
#: the read and write tasks, and the job would wait for ever).
IO_TASK: dict[str, Any] = {"num_cpus": 0}
#: Fields that every record may have beside the pipeline's own.
ALWAYS = ("text", "notes", "error", "input")


def import_ray() -> Any:
    """The ``ray`` module, or a ``FinabsaError`` that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise FinabsaError(f"--engine ray needs Ray Data, which is not installed here; install it with {RAY_INSTALL} "
                           "(or pip install 'ray[data]'), or use the default --engine stream.") from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """How the job runs on Ray."""

    #: Actors analysing rows, each with its own copy of the model.
    actors: int = 1
    #: CPUs per actor (None: the machine's CPUs divided among the actors, locally; 1 on a cluster).
    cpus_per_actor: float | None = None
    #: GPUs per actor (0: CPU actors).
    gpus_per_actor: float = 0.0
    #: Rows per ``map_batches`` call (the pipeline batches them further by ``batch_size``).
    rows_per_batch: int = 512
    #: Cluster address (``auto``, ``ray://host:10001``); None: ``RAY_ADDRESS``, else local Ray started for the job.
    address: str | None = None

    def problems(self) -> list[str]:
        checks = [("--actors", self.actors, self.actors >= 1, ">= 1"),
                  ("--cpus-per-actor", self.cpus_per_actor, self.cpus_per_actor is None or self.cpus_per_actor > 0,
                   "> 0"),
                  ("--gpus-per-actor", self.gpus_per_actor, self.gpus_per_actor >= 0, ">= 0"),
                  ("rows per batch", self.rows_per_batch, self.rows_per_batch >= 1, ">= 1")]
        return [f"{name} must be {rule}; found {value}" for name, value, ok, rule in checks if not ok]


@dataclass(frozen=True)
class PipelineSpec:
    """What each actor loads: a pipeline file, a run or export folder (or a Hub id), and how it answers."""

    path: str
    batch_size: int = 32
    runtime: str = "torch"
    min_probability: float | None = None
    documents: bool = False
    #: Where PyTorch models run in each actor: ``cpu``, or ``cuda`` for GPU actors (``--gpus-per-actor``).
    device: str = "cpu"

    def predictor(self) -> Callable[[list[Any]], list[dict[str, Any]]]:
        from torch import nn

        from .pipeline import Pipeline

        pipeline = Pipeline.from_path(self.path, batch_size=self.batch_size, runtime=self.runtime,
                                      min_probability=self.min_probability)
        for predictor in pipeline.predictors.values():
            if isinstance(predictor.model, nn.Module):
                predictor.model.to(self.device)  # the predictor moves each batch to its model's device
        return pipeline.analyze_documents if self.documents else pipeline.analyze


class AnalyzeBatch:
    """The callable class ``map_batches`` runs in each actor: the model loads once in ``__init__``."""

    def __init__(self, spec: PipelineSpec, text_column: str | None, threads: int | None):
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.predict = spec.predictor()
        self.text_column = text_column
        probes = DOCUMENT_PROBES if spec.documents else PROBES
        probed = self.predict(list(probes))
        self.fields = list(dict.fromkeys([key for record in probed for key in record] + list(ALWAYS)))
        #: Fields holding lists (list columns); the others but text and error are JSON text.
        self.lists = sorted({key for record in probed for key, value in record.items() if isinstance(value, list)}
                            | {"notes"})

    def __call__(self, batch: Any) -> Any:
        rows = batch.to_pylist()
        if PAYLOAD in batch.column_names:
            prepared = [prepare_input(_decode_payload(row[PAYLOAD]), int(row["position"])) for row in rows]
            passed: Any = None
        else:
            column = text_column_of(batch.column_names, "the dataset", self.text_column)
            # A row's place in its file is unknown here; its own columns (passed through) identify it.
            prepared = [prepare_input(row_input(row, column, ""), i) for i, row in enumerate(rows)]
            prepared = [(entry, {}) for entry, _ in prepared]  # parquet columns pass through as columns
            passed = batch.drop_columns([c for c in (column, "target") if c in batch.column_names])
        return records_table(predict_prepared(prepared, self.predict), self.fields, self.lists, passed)


def records_table(records: list[dict[str, Any]], fields: list[str], lists: list[str], passed: Any = None) -> Any:
    """An Arrow table of ``records``, one column per field and the same schema for every batch: ``lists`` as list
    columns of JSON values, ``text`` and ``error`` as text, the other fields as JSON text; ``passed`` (the input's
    own columns) appended as they are."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {}
    schema = []
    for field in fields:
        if field in lists:
            columns[field] = [[json.dumps(v, ensure_ascii=False) for v in r[field]]
                              if isinstance(r.get(field), list) else None for r in records]
            schema.append(pa.field(field, pa.list_(pa.string())))
        else:
            columns[field] = [_encode_value(field, r[field]) if field in r else None for r in records]
            schema.append(pa.field(field, pa.string()))
    encoded = {"lists": [f for f in fields if f in lists], "json": [f for f in fields if f not in PLAIN]}
    table = pa.Table.from_pydict(columns, schema=pa.schema(schema, metadata={SCHEMA_KEY: json.dumps(encoded)}))
    if passed is not None:
        for name in passed.column_names:
            if name not in table.column_names:
                table = table.append_column(passed.schema.field(name), passed.column(name))
    return table


#: Record fields written as plain text (the others are JSON).
PLAIN = ("text", "error")


def _encode_value(field: str, value: Any) -> str | None:
    if field in PLAIN:
        return None if value is None else str(value)
    return json.dumps(value, ensure_ascii=False)


def _decode_payload(payload: str) -> str | dict | BadRow:
    decoded = json.loads(payload)
    if "bad" in decoded:
        return BadRow(**decoded["bad"])
    return decoded["item"]


def _file_rows(row: dict[str, Any]) -> Any:
    """The inputs of one file (the body of a Ray read task), each as a payload row; bad rows included."""
    for position, item in enumerate(read_inputs(row["path"], row["format"], row["text_column"] or None)):
        payload: dict[str, Any]
        if isinstance(item, BadRow):
            payload = {"bad": {"where": item.where, "message": item.message, "text": item.text, "input": item.input}}
        else:
            payload = {"item": item}
        yield {PAYLOAD: json.dumps(payload, ensure_ascii=False, default=str), "position": position}


def input_files(source: str) -> list[str]:
    """The files ``source`` names: a file, every input file in a folder (sorted), or the matches of a glob."""
    path = Path(source).expanduser()
    if path.is_file():
        return [str(path)]
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    else:
        files = sorted(f for f in glob.glob(str(path), recursive=True) if Path(f).is_file())
    if not files:
        raise FinabsaError(f"no input files at '{source}'; give a file, a folder of shards or a glob such as "
                           "'news/*.parquet'.")
    return files


def read_corpus(source: str, input_format: str = "auto", text_column: str | None = None) -> Any:
    """A ``ray.data.Dataset`` of the inputs at ``source``: parquet read by Ray itself, other formats one read task
    per file through the streaming reader (so bad rows become error records)."""
    ray = import_ray()
    files = input_files(source)
    kinds = {format_of(f, input_format) for f in files}
    if len(kinds) > 1:
        raise FinabsaError(f"'{source}' mixes input formats ({', '.join(sorted(kinds))}); give files of one format, "
                           "or name it with --input-format.")
    kind = kinds.pop()
    if kind == "parquet":
        return ray.data.read_parquet(files, ray_remote_args=IO_TASK)
    tasks = [{"path": f, "format": kind, "text_column": text_column or ""} for f in files]
    return ray.data.from_items(tasks, override_num_blocks=len(tasks)).flat_map(_file_rows, **IO_TASK)


def predict_dataset(dataset: Any, spec: PipelineSpec, options: RayOptions | None = None,
                    text_column: str | None = None) -> Any:
    """``dataset``'s records as a new ``ray.data.Dataset`` (lazy): rows with a text column (``text_column``, or the
    first of text, sentence, headline, title), or rows from ``read_corpus``."""
    options = options or RayOptions()
    problems = options.problems()
    if problems:
        raise FinabsaError("invalid Ray options: " + "; ".join(problems) + ".")
    threads, reserved = _actor_cpus(options)
    # Blocks of one batch each, streamed: one file (or one large parquet row group) then feeds every actor.
    dataset = dataset.repartition(target_num_rows_per_block=options.rows_per_batch)
    return dataset.map_batches(
        AnalyzeBatch, fn_constructor_args=(spec, text_column, threads), batch_format="pyarrow",
        batch_size=options.rows_per_batch, concurrency=options.actors, num_cpus=reserved,
        num_gpus=options.gpus_per_actor or None, ray_remote_args_fn=_restartable,
    )


def _restartable() -> dict[str, Any]:
    """An actor that dies (out of memory, a lost node) is restarted, and its batch retried, up to twice."""
    return {"max_restarts": 2, "max_task_retries": 2}


def _actor_cpus(options: RayOptions) -> tuple[int, float]:
    """Torch threads per actor, and the CPUs each actor reserves: given, or (by default) the cluster's CPUs
    shared among the actors for threads, less one CPU kept free in the reservation so that Ray's read, repartition
    and write tasks can always be scheduled (an actor per core would otherwise leave the job waiting for ever)."""
    if options.cpus_per_actor:
        return max(1, int(options.cpus_per_actor)), options.cpus_per_actor
    import ray

    total = float(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
    return max(1, int(total // options.actors)), max(0.25, (total - 1) / options.actors)


def connect(address: str | None, progress: bool = True) -> None:
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), or start local Ray for this job."""
    ray = import_ray()
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # the records come out in input order, as in streaming predict
    ctx.enable_progress_bars = progress
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)


def predict_corpus(source: str, output: str, spec: PipelineSpec, options: RayOptions | None = None,
                   input_format: str = "auto", text_column: str | None = None, progress: bool = True) -> int:
    """Analyse the corpus at ``source`` and write its records as parquet shards to the folder ``output``; returns
    the number of records written."""
    target = Path(output)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FinabsaError(f"output folder '{output}' exists and is not empty; the Ray engine writes parquet shards "
                           "into a new (or empty) folder.")
    options = options or RayOptions()
    connect(options.address, progress)
    records = predict_dataset(read_corpus(source, input_format, text_column), spec, options, text_column)
    records.write_parquet(str(target), ray_remote_args=IO_TASK)
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(shard).metadata.num_rows for shard in target.glob("*.parquet"))


def read_records(folder: str | Path) -> list[dict[str, Any]]:
    """The records in the parquet shards the Ray engine wrote, as streaming ``predict`` writes them (JSON columns
    decoded, absent fields left out); pass-through input columns are kept as they are. It reads every shard into
    memory: for a large corpus read the shards with ``ray.data.read_parquet`` or ``pyarrow.dataset`` instead."""
    import pyarrow.parquet as pq

    records = []
    for shard in sorted(Path(folder).glob("*.parquet")):
        table = pq.read_table(shard)
        encoded = json.loads((table.schema.metadata or {}).get(SCHEMA_KEY, b"{}"))
        lists, decoded = set(encoded.get("lists", [])), set(encoded.get("json", []))
        for row in table.to_pylist():
            record = {}
            for key, value in row.items():
                if value is None:
                    continue
                if key in lists:
                    value = [json.loads(v) for v in value]
                elif key in decoded:
                    value = json.loads(value)
                record[key] = value
            records.append(record)
    return records
