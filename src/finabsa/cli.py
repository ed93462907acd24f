"""The ``finabsa`` command: a thin layer over the library API (``finabsa.train``, ``finabsa.load``...)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import SECTIONS, DataConfig, RunConfig, load_config
from .constants import INPUT_FORMATS, OUTPUT_FORMATS, RUNTIMES
from .errors import FinabsaError

__all__ = ["main", "build_parser", "parse_overrides"]

logger = logging.getLogger("finabsa")

EXAMPLES = """examples:
  finabsa train --task sentiment                       # LoRA on MiniLM, FiQA from ../shared/data/fiqa2018
  finabsa train --task aspect --set task.level=1       # aspect category at level 1
  finabsa train --task sentiment,aspect,target         # the three tasks, one run folder each, one summary table
  finabsa train configs/joint.yaml                     # one model for every target, its sentiment and the aspect
  finabsa train configs/sentiment.yaml --epochs 3      # a preset, with a flag overriding it
  finabsa train --task sentiment --max-train-rows 64 --max-eval-rows 32 --epochs 1   # a quick trial
  finabsa evaluate runs/sentiment-minilm-lora-20261126-101500
  echo '$TSLA breaks out' | finabsa predict runs/sentiment-minilm-lora-20261126-101500
  finabsa train --task sentiment --also-train ../shared/data/sentfin       # add SEntFiN rows to training
  finabsa data inspect ../shared/data/fiqa2018                             # look at the data first
  finabsa train --task instruct --model smollm2 --epochs 1                 # a decoder LLM answers all three
  finabsa train --resume runs/sentiment-minilm-lora-20261126-101500        # continue an interrupted run
"""


#: The config sections whose flagged fields become command-line flags, in --help order.
_FLAG_SECTIONS = ("data", "model", "adapter", "training")
_SCALARS = {"int": int, "float": float, "str": str}


@dataclasses.dataclass(frozen=True)
class ConfigFlag:
    """A command-line flag generated from a config field that declares one (``metadata["flag"]``)."""

    flag: str
    key: str  # dotted config key, e.g. ``training.epochs``
    field: dataclasses.Field

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def repeatable(self) -> bool:
        """List fields that take one value per flag (``--also-train A --also-train B``)."""
        return self.key == "data.also_train"

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        base = str(self.field.type).split("|")[0].strip()
        default = self.field.default if self.field.default is not dataclasses.MISSING else None
        text = self.field.metadata["help"]
        if self.repeatable:
            parser.add_argument(self.flag, dest=self.dest, action="append", default=[], metavar="PATH", help=text)
        elif base.startswith("list"):
            parser.add_argument(self.flag, dest=self.dest, default=None, metavar="A,B",
                                help=f"{text} Comma-separated. (default: {default})")
        else:
            parser.add_argument(self.flag, dest=self.dest, type=_SCALARS.get(base, str), default=None,
                                help=f"{text} (default: {default})")

    def value(self, args: argparse.Namespace) -> Any:
        """The flag's value as a config override, or None when it was not given."""
        value = getattr(args, self.dest, None)
        if value in (None, []):
            return None
        return value.split(",") if isinstance(value, str) and str(self.field.type).startswith("list") else value


def config_flags(sections: Sequence[str] = _FLAG_SECTIONS) -> list[ConfigFlag]:
    """The flags of the config fields that declare one, section by section."""
    return [ConfigFlag(f.metadata["flag"], f"{section}.{f.name}", f)
            for section in sections for f in dataclasses.fields(SECTIONS[section]) if "flag" in f.metadata]


#: Data flags that describe a source (what ``data inspect`` and ``evaluate --data`` take).
_SOURCE_FLAG_KEYS = ("data.format", "data.encoding", "data.agreement", "data.text_column", "data.label_column",
                     "data.target_column", "data.score_column", "data.aspect_column", "data.split_column")


def source_flags() -> list[ConfigFlag]:
    """The flags that describe a data source's format and columns."""
    return [f for f in config_flags(("data",)) if f.key in _SOURCE_FLAG_KEYS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finabsa",
        description="Aspect-based financial sentiment analysis: fine-tune pretrained language models with LoRA "
        "for sentiment, aspect category and target detection, and evaluate them before and after.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="fine-tune a model for one or more tasks and write run folders",
        description="Fine-tune a model for a task, evaluate it on the test split before and after, and write a run "
        "folder (config, metrics, report, plots, adapter). Settings come from an optional YAML preset, then the "
        "flags below, then --set overrides.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("config", nargs="?", help="YAML preset (see configs/); flags override it")
    train.add_argument("--task", help="task name, or several separated by commas: sentiment, aspect, target, "
                       "joint (one encoder: every target, its sentiment and the aspect; see configs/joint.yaml), "
                       "instruct (a decoder LLM answering all three)")
    for flag in config_flags():
        flag.add_to(train)
    train.add_argument("--output", help="run folder to write (with several tasks: a parent folder, one per task)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="any other setting by its dotted name, e.g. --set training.class_weighting=true "
                       "--set task.mode=regression (repeatable)")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted run (killed, crashed, Ctrl-C) from its latest checkpoint, with "
                       "the configuration saved in it; other settings are not allowed with it")
    train.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")
    train.add_argument("--quiet", action="store_true", help="no progress bars")

    evaluate = commands.add_parser(
        "evaluate", help="score a run folder's model on its test split or other data",
        description="Load a finished run folder and score its model on a split of its data set or of --data.",
    )
    evaluate.add_argument("run_dir", help="run folder written by 'finabsa train'")
    evaluate.add_argument("--data", help="data set to score on (default: the one the run was trained on)")
    for flag in source_flags():
        flag.add_to(evaluate)
    evaluate.add_argument("--split", default=None, help="split to score, or 'all' for every row; default: test, or "
                          "every row of a --data file that has no split column")
    evaluate.add_argument("--max-rows", type=int, help="score a seeded sample of this many rows")
    evaluate.add_argument("--output", help="also write the report as JSON to this file")

    predict = commands.add_parser(
        "predict", help="predict with a run folder's model, or a pipeline of several (JSON lines or CSV out)",
        description="Predict with one run folder (RUN_DIR), or with a pipeline of run folders (--pipeline FILE: "
        "target, aspect and sentiment of each sentence in one record). Inputs: sentences as arguments, a file "
        "(plain text, one sentence per line; JSON lines with a 'text' or 'sentence' field; CSV/TSV with "
        "--text-column), or standard input. Files are streamed chunk by chunk, so memory stays constant; a row "
        "that cannot be analysed gets a record with an 'error' field.",
        epilog="examples:\n  finabsa predict runs/sentiment \"Tesco shares surge after strong results\"\n"
        "  finabsa predict --pipeline pipeline.yaml headlines.csv --text-column title --output-format csv\n"
        "  cat tweets.txt | finabsa predict --pipeline pipeline.yaml > records.jsonl\n"
        "  finabsa predict runs/joint --documents articles.jsonl --output answers.jsonl\n"
        "  finabsa predict runs/joint --engine ray 'news/*.parquet' --output scored/ --actors 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("run_dir", nargs="?", metavar="RUN_DIR | INPUT",
                         help="run folder written by 'finabsa train'; with --pipeline, the input file ('-' or "
                         "nothing: standard input)")
    predict.add_argument("texts", nargs="*", help="sentences to analyse")
    predict.add_argument("--pipeline", metavar="FILE",
                         help="YAML file mapping task names to run folders, e.g. 'sentiment: runs/sentiment'")
    predict.add_argument("--file", help="input file (same as INPUT)")
    predict.add_argument("--input-format", default="auto", choices=INPUT_FORMATS,
                         help="input format (default: from the file name; text for standard input)")
    predict.add_argument("--text-column", help="CSV/TSV column holding the text (default: the first of text, "
                         "sentence, headline, title)")
    predict.add_argument("--output", help="write records to this file instead of standard output")
    predict.add_argument("--output-format", default="jsonl", choices=OUTPUT_FORMATS,
                         help="jsonl (one JSON object per input) or csv (flattened columns); default: jsonl")
    predict.add_argument("--batch-size", type=int, help="sentences per forward pass (default: the run's "
                         "evaluation batch size; 32 for a pipeline)")
    predict.add_argument("--runtime", default="torch", choices=RUNTIMES,
                         help="torch, onnx or onnx-int8 (default: torch); a run folder is exported once into the "
                         "export cache ($FINABSA_CACHE, default ~/.cache/finabsa) keyed by its adapter hash")
    predict.add_argument("--min-probability", type=float, metavar="P",
                         help="label an answer 'uncertain' when its (calibrated) probability is below P, e.g. 0.8; "
                         "the run report's accuracy / coverage curve shows what each P keeps")
    predict.add_argument("--explain", action="store_true",
                         help="add 'reasons' to every answer: the word pieces that pushed it most (Integrated "
                         "Gradients; PyTorch runtime only; about 35x the time of a plain prediction)")
    predict.add_argument("--documents", action="store_true",
                         help="each input is a whole document: split into sentences (pysbd), analysed in one "
                         "batched pass, answered per document (each entity once, with its mentions' offsets, its "
                         "sentiment over the document and per sentence; the aspects)")
    predict.add_argument("--engine", default="stream", choices=("stream", "ray"),
                         help="stream (default: this process, chunk by chunk) or ray (Ray Data: a file, a folder of "
                         "shards or a glob, written as parquet shards to --output; pip install 'finabsa[ray]')")
    predict.add_argument("--actors", type=int, default=1, metavar="N",
                         help="with --engine ray: actors analysing rows, each with its own model (default: 1)")
    predict.add_argument("--cpus-per-actor", type=float, metavar="C",
                         help="with --engine ray: CPUs per actor (default: this machine's CPUs / --actors)")
    predict.add_argument("--gpus-per-actor", type=float, default=0.0, metavar="G",
                         help="with --engine ray: GPUs per actor, e.g. 1 or 0.5 (default: 0, CPU actors)")
    predict.add_argument("--address", metavar="ADDRESS",
                         help="with --engine ray: the Ray cluster to join, e.g. auto (default: $RAY_ADDRESS, else "
                         "local Ray started for the job)")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")

    export = commands.add_parser(
        "export", help="write a merged (and ONNX) model of a run folder for fast inference",
        description="Fold a run's LoRA adapter into its base weights and write a folder that loads with plain "
        "transformers (the head kept), plus, with --onnx, an ONNX model for ONNX Runtime and, with --int8, its "
        "dynamic int8 quantisation. 'finabsa predict', 'finabsa serve' and pipelines take the folder like a run "
        "folder; --runtime picks the runtime.",
        epilog="examples:\n  finabsa export runs/sentiment --output exports/sentiment --onnx --int8\n"
        "  finabsa predict exports/sentiment --runtime onnx-int8 \"Tesco shares surge\"",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("run_dir", help="run folder written by 'finabsa train'")
    export.add_argument("--output", required=True, help="export folder to write")
    export.add_argument("--onnx", action="store_true", help="also write model.onnx (fp32)")
    export.add_argument("--int8", action="store_true", help="also write model.int8.onnx (dynamic int8; implies "
                        "--onnx)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing export folder")

    data = commands.add_parser("data", help="look at a data set: splits, labels, leakage, bad rows",
                               description="Data set tools.")
    data_commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    inspect = data_commands.add_parser(
        "inspect", help="report on a data set before training on it",
        description="Report rows and labels per split, score and length distributions, aspect hierarchy, targets "
        "missing from their sentence, duplicates within and across splits (leakage), labels that disagree "
        "across duplicates, and every cell repaired or unusable. Prints a summary and writes report.md, "
        "report.html, report.json and PNG plots.",
        epilog="examples:\n  finabsa data inspect ../shared/data/fiqa2018\n"
        "  finabsa data inspect ../shared/data/financial_phrasebank --agreement 50\n"
        "  finabsa data inspect mydata.csv --text-column headline --label-column sentiment --strict",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("path", help="data folder or file")
    for flag in source_flags():
        flag.add_to(inspect)
    inspect.add_argument("--tokenizer", default="minilm", help="tokenizer for text lengths: alias, folder or hub "
                         "id; 'none' skips lengths (default: minilm)")
    inspect.add_argument("--max-length", type=int, default=128, help="count texts longer than this (default: 128)")
    inspect.add_argument("--output", help="report folder (default: reports/data-<name>)")
    inspect.add_argument("--strict", action="store_true",
                         help="exit with status 1 when splits leak into each other or rows are unusable")

    study = commands.add_parser(
        "study", help="run a matrix of experiments and report them beside a reference study",
        description="Run every (cell, seed) of a study file, skipping runs that already finished, and write "
        "report.md, report.html and results.json: each cell as mean ± sd over seeds with its 95 % interval, "
        "beside floors (untrained head, majority class, TF-IDF + logistic regression) and the reference numbers.",
        epilog="examples:\n  finabsa study                          # configs/study-fiqa.yaml\n"
        "  finabsa study configs/study-fiqa.yaml --quick   # same table shape in a few minutes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    study.add_argument("config", nargs="?", help="study file (default: configs/study-fiqa.yaml)")
    study.add_argument("--quick", action="store_true", help="apply the study file's 'quick' section")
    study.add_argument("--output", help="report folder (default: reports/<study name>)")
    study.add_argument("--report-only", action="store_true",
                       help="write the report from the runs finished so far, without training")
    study.add_argument("--verbose", action="store_true", help="progress bars for every run")

    serve = commands.add_parser(
        "serve", help="serve a pipeline over HTTP (FastAPI): POST /v1/analyze",
        description="Load a pipeline of run folders (or one run or export folder) once and serve it: POST "
        "/v1/analyze with {\"texts\": [...]} answers one record per text (targets, aspect, sentiment); POST "
        "/v1/documents answers per document (each entity once, with its mentions); GET /v1/models lists what is "
        "loaded; GET /healthz; GET /metrics (Prometheus); OpenAPI docs at /docs. Under load the queue is bounded "
        "(429 with Retry-After past --max-queue texts), each request has a deadline (504 past --timeout), and "
        "SIGTERM drains (requests in flight finish, new ones get 503). Binds 127.0.0.1 unless told otherwise.",
        epilog="examples:\n  finabsa serve runs/joint\n"
        "  finabsa serve runs/joint --runtime onnx-int8 --workers 2 --max-queue 128 --timeout 10\n"
        "  FINABSA_API_KEY=secret finabsa serve pipeline.yaml --host 0.0.0.0 --port 8080\n"
        "  curl -s localhost:8000/v1/analyze -H 'Content-Type: application/json' "
        "-d '{\"texts\": [\"Tesco shares surge\"]}'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("pipeline", metavar="PIPELINE | RUN_DIR",
                       help="YAML file mapping task names to run folders, or one run or export folder (e.g. "
                       "runs/joint)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--api-key", help="require this key in X-API-Key (or Authorization: Bearer) on every route "
                       "but /healthz (default: $FINABSA_API_KEY; none when unset)")
    serve.add_argument("--max-texts", type=int, default=64, help="most texts per request (default: 64)")
    serve.add_argument("--max-chars", type=int, default=2000, help="most characters per text (default: 2000)")
    serve.add_argument("--batch-size", type=int, default=32, help="sentences per forward pass (default: 32)")
    serve.add_argument("--min-probability", type=float, metavar="P",
                       help="label answers below probability P 'uncertain' (a request's 'min_probability' wins)")
    serve.add_argument("--runtime", default="torch", choices=RUNTIMES,
                       help="torch, onnx or onnx-int8 (default: torch); a run folder is exported once into the "
                       "export cache for an ONNX runtime")
    serve.add_argument("--max-queue", type=int, default=256, metavar="N",
                       help="most texts waiting for the model; past it a request is answered 429 with Retry-After "
                       "(default: 256)")
    serve.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="deadline of a request, queueing included; past it the answer is 504 (default: 30)")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="processes serving on the same port, each with its own model and cores / N threads "
                       "(default: 1); /metrics sums over them")

    runs = commands.add_parser(
        "runs", help="list run folders, or compare several side by side",
        description="List the run folders under a folder (default: runs/) with task, model, method, seed, status, "
        "minutes and headline metrics; given two or more run folders, show them side by side.",
        epilog="examples:\n  finabsa runs\n  finabsa runs reports/study-fiqa\n"
        "  finabsa runs runs/sentiment-a runs/sentiment-b",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    runs.add_argument("paths", nargs="*", default=["runs"], help="a folder holding run folders, or run folders")

    push = commands.add_parser(
        "push", help="share a run or export folder on the Hugging Face Hub",
        description="Upload a finished run folder or an export folder (with its model card, README.md) to the "
        "Hugging Face Hub; load it back anywhere with finabsa.load('ORG/NAME') or 'finabsa predict ORG/NAME'.",
        epilog="examples:\n  finabsa push runs/joint --repo-id my-team/finabsa-joint --dry-run\n"
        "  finabsa push exports/joint --repo-id my-team/finabsa-joint-onnx --private",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    push.add_argument("folder", help="a finished run folder or an export folder")
    push.add_argument("--repo-id", required=True, help="the Hub repository, ORG/NAME (created when missing)")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    push.add_argument("--dry-run", action="store_true", help="list the files and show the card; upload nothing")
    commands.add_parser("tasks", help="list the tasks and their options",
                        description="List the registered tasks and the options each accepts (set with --set "
                        "task.OPTION=VALUE or in the YAML task section).")
    return parser


def _version() -> str:
    from .constants import __version__

    return __version__


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs as a settings mapping (values stay text: the config loader converts them)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise FinabsaError(f"--set expects KEY=VALUE (e.g. training.epochs=3); found '{pair}'.")
        key, value = pair.split("=", 1)
        overrides[key.strip()] = value
    return overrides


def config_from_args(args: argparse.Namespace, task: str | None = None) -> RunConfig:
    """The resolved ``RunConfig`` of a ``finabsa train`` command line (preset, then flags, then --set)."""
    overrides: dict[str, Any] = {}
    if task is not None:
        overrides["task.name"] = task
    for flag in config_flags():
        value = flag.value(args)
        if value is not None:
            overrides[flag.key] = value
    if args.output:
        overrides["output"] = args.output
    if args.overwrite:
        overrides["overwrite"] = True
    overrides.update(parse_overrides(args.overrides))
    return load_config(args.config, overrides)


def _command_train(args: argparse.Namespace) -> int:
    from .training import task_configs, train_tasks

    if args.resume:
        from .training import resume

        given = [flag.flag for flag in config_flags() if flag.value(args) is not None]
        given += ["CONFIG"] * bool(args.config) + ["--task"] * bool(args.task) + ["--set"] * bool(args.overrides)
        if given:
            raise FinabsaError(f"--resume continues a run with the configuration saved in it; drop {', '.join(given)} "
                               "(or start a new run without --resume).")
        _print_results([resume(args.resume, progress=not args.quiet)])
        return 0
    tasks = [t.strip() for t in args.task.split(",") if t.strip()] if args.task else []
    config = config_from_args(args, tasks[0] if tasks else None)
    configs = task_configs(config, tasks or [config.task.name])
    if args.print_config:
        for each in configs:
            print(each.resolved().to_yaml())
        return 0
    _print_results(train_tasks(config, [c.task.name for c in configs], progress=not args.quiet))
    return 0


def _print_results(results: list[Any]) -> None:
    """Run folders and the before/after table; silent in the helper processes of a multi-process run."""
    from .reports.run_report import summary_table

    if not all(result.report for result in results):
        return
    for result in results:
        print(f"run folder: {result.run_dir}")
    print()
    print(summary_table([result.report for result in results]))


def _command_evaluate(args: argparse.Namespace) -> int:
    from .inference.evaluate import evaluate
    from .reports.run_report import summary_table

    columns = {flag.key.split(".", 1)[1]: flag.value(args) for flag in source_flags()
               if flag.key != "data.format" and flag.value(args) is not None}
    report = evaluate(args.run_dir, data=args.data, data_format=args.data_format or "auto", split=args.split,
                      max_rows=args.max_rows, progress=True, **columns)
    print(f"scored {report['rows_scored']} row(s) of split '{report['split']}' of {report['data']}")
    print(summary_table([report]))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"report written to {args.output}")
    return 0


def _command_predict(args: argparse.Namespace) -> int:
    from .inference.abstention import check_min_probability
    from .inference.streams import read_inputs, stream_predictions

    threshold = check_min_probability(args.min_probability)
    if args.explain and args.runtime != "torch":
        raise FinabsaError(f"--explain needs gradients, which the {args.runtime} runtime does not give; explain with "
                           "--runtime torch (a run folder, or an export folder on PyTorch).")
    if args.explain and args.documents:
        raise FinabsaError("--explain works on sentences; drop --documents to explain, or --explain to analyse "
                           "documents.")
    positional = [args.run_dir] if args.run_dir else []
    positional += args.texts
    if args.engine == "ray":
        return _predict_on_ray(args, positional, threshold)
    predict_chunk = _chunk_predictor(args, positional, threshold)
    source = args.file
    takes_file = args.pipeline or args.documents
    if takes_file and len(positional) == 1 and (positional[0] == "-" or Path(positional[0]).is_file()):
        source = positional.pop()
    if positional and source:
        raise FinabsaError("give sentences as arguments or an input file, not both.")
    inputs = iter(positional) if positional else read_inputs(
        source, args.input_format, args.text_column, progress=not args.quiet and source not in (None, "-")
    )
    output = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        counts = stream_predictions(inputs, predict_chunk, output, args.output_format,
                                    chunk_size=max(256, 4 * (args.batch_size or 32)))
    finally:
        if args.output:
            output.close()
    if counts["rows"] == 0:
        raise FinabsaError("no input: give sentences as arguments, an input file, or lines on standard input.")
    if counts["errors"]:
        logger.warning("%d of %d input rows could not be analysed; their records carry an 'error' field",
                       counts["errors"], counts["rows"])
    if args.output:
        logger.info("wrote %d records to %s", counts["rows"], args.output)
    return 0


def _chunk_predictor(args: argparse.Namespace, positional: list[str], threshold: float | None) -> Any:
    """What ``predict`` calls on each chunk of inputs: a pipeline's (sentences or documents) or one run's; takes
    the model's path off ``positional``."""
    from .inference.abstention import withhold
    from .inference.explain import explain_records

    if args.pipeline or args.documents:
        from .inference.pipeline import Pipeline

        if not args.pipeline and not positional:
            raise FinabsaError("predict --documents needs a run folder (RUN_DIR) or --pipeline FILE.")
        model = Pipeline.from_path(args.pipeline or positional.pop(0), batch_size=args.batch_size or 32,
                                   runtime=args.runtime, min_probability=threshold)
        if args.documents:
            return model.analyze_documents
        return lambda items: model.analyze(items, explain=args.explain)
    from .inference.loading import load

    if not positional:
        raise FinabsaError("predict needs a run folder (RUN_DIR) or --pipeline FILE; see 'finabsa predict --help'.")
    predictor = load(positional.pop(0), batch_size=args.batch_size, runtime=args.runtime)
    return lambda items: withhold(explain_records(predictor, items) if args.explain else predictor.predict(items),
                                  threshold)


def _predict_on_ray(args: argparse.Namespace, positional: list[str], threshold: float | None) -> int:
    """``predict --engine ray``: a corpus (file, folder of shards or glob) to parquet shards in ``--output``."""
    from .inference.ray_engine import PipelineSpec, RayOptions, import_ray, predict_corpus

    import_ray()
    model = args.pipeline or (positional.pop(0) if positional else None)
    source = args.file or (positional.pop(0) if positional else None)
    if model is None or source is None or positional or not args.output:
        raise FinabsaError("predict --engine ray takes RUN_DIR (or --pipeline FILE), one INPUT (a file, a folder of "
                           "shards or a glob) and --output FOLDER, e.g. 'finabsa predict runs/joint --engine ray "
                           "'news/*.parquet' --output scored/'.")
    if args.explain:
        raise FinabsaError("--explain is for a few sentences at a time; it is not offered on the Ray engine.")
    if args.gpus_per_actor and args.runtime != "torch":
        raise FinabsaError(f"--gpus-per-actor runs the models on PyTorch; the {args.runtime} runtime here runs on CPU "
                           "only. Drop --runtime (or --gpus-per-actor for CPU actors).")
    spec = PipelineSpec(model, batch_size=args.batch_size or 32, runtime=args.runtime, min_probability=threshold,
                        documents=args.documents, device="cuda" if args.gpus_per_actor else "cpu")
    options = RayOptions(actors=args.actors, cpus_per_actor=args.cpus_per_actor, gpus_per_actor=args.gpus_per_actor,
                         address=args.address)
    written = predict_corpus(source, args.output, spec, options, args.input_format, args.text_column,
                             progress=not args.quiet)
    logger.info("wrote %d records as parquet shards to %s", written, args.output)
    return 0


def _command_export(args: argparse.Namespace) -> int:
    from .inference.export import export_run

    folder = export_run(args.run_dir, args.output, onnx=args.onnx or args.int8, int8=args.int8,
                        overwrite=args.overwrite)
    print(f"export folder: {folder} ({', '.join(sorted(p.name for p in folder.iterdir()))})")
    return 0


def _command_serve(args: argparse.Namespace) -> int:
    from .inference.abstention import check_min_probability
    from .inference.server import ServeSpec, serve
    from .inference.service import ServiceLimits

    limits = ServiceLimits(max_texts=args.max_texts, max_chars=args.max_chars, max_batch=max(args.batch_size, 1),
                           max_queue=args.max_queue, timeout=args.timeout)
    problems = limits.problems()
    if problems:
        raise FinabsaError("invalid service limits: " + "; ".join(problems) + ".")
    spec = ServeSpec(args.pipeline, api_key=args.api_key, limits=limits, batch_size=args.batch_size,
                     runtime=args.runtime, min_probability=check_min_probability(args.min_probability))
    serve(spec, host=args.host, port=args.port, workers=args.workers)
    return 0


def _command_runs(args: argparse.Namespace) -> int:
    from .reports.runs_listing import compare_table, find_runs, runs_table
    from .run_layout import is_run_folder

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FinabsaError(f"no such folder: {', '.join(missing)}; give a folder holding run folders (default: runs/) "
                           "or run folders.")
    if len(paths) > 1 and all(is_run_folder(p) for p in paths):
        print(compare_table(paths))
        return 0
    found = [run for p in paths for run in find_runs(p)]
    if not found:
        raise FinabsaError(f"no run folders under {', '.join(map(str, paths))}; 'finabsa train' writes them (into "
                           "runs/ by default).")
    print(runs_table(found))
    return 0


def _command_tasks(args: argparse.Namespace) -> int:
    from .tasks import get_task, task_names

    for name in task_names():
        task = get_task(name)
        print(f"{name}: {(task.__doc__ or '').strip().splitlines()[0]}")
        for f in dataclasses.fields(task.Options):
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
            print(f"  task.{f.name} (default {default!r}): {f.metadata.get('help', '')}")
    return 0


def _command_study(args: argparse.Namespace) -> int:
    from .study import load_study, run_study

    path = Path(args.config) if args.config else Path(__file__).resolve().parents[2] / "configs" / "study-fiqa.yaml"
    spec = load_study(path, quick=args.quick, output=args.output)
    logger.info("study '%s': %d cell(s) x %d seed(s) -> %s", spec.name, len(spec.cells), len(spec.seeds),
                spec.output)
    result = run_study(spec, progress=args.verbose, report_only=args.report_only)
    print(_headline(Path(result["output"]) / "report.md"))
    print(f"report: {Path(result['output']) / 'report.md'} ({result['wall_seconds'] / 60:.1f} min)")
    return 0


def _headline(report: Path) -> str:
    text = report.read_text(encoding="utf-8")
    start = text.index("## Headline table")
    end = text.index("\n## ", start + 3)
    return text[start:end].strip()


def _command_data(args: argparse.Namespace) -> int:
    if args.data_command != "inspect":
        build_parser().parse_args(["data", "--help"])
        return 2
    from .data.inspect import inspect_data, summary_text, write_inspection

    values = {"path": args.path}
    for flag in source_flags():
        if flag.value(args) is not None:
            values[flag.key.split(".", 1)[1]] = flag.value(args)
    source = DataConfig(**values)
    tokenizer = None
    if args.tokenizer.lower() != "none":
        from .models.hub import load_tokenizer, resolve_model

        tokenizer = load_tokenizer(resolve_model(args.tokenizer))
    report = inspect_data(source, tokenizer=tokenizer, max_length=args.max_length)
    print(summary_text(report))
    name = Path(args.path).resolve().name or "data"
    folder = Path(args.output) if args.output else Path("reports") / f"data-{name}"
    files = write_inspection(report, folder)
    print(f"report: {files[0]} (also {', '.join(f.name for f in files[1:])})")
    if args.strict and (report["leakage"] or report["unusable_rows"]):
        print("finabsa: --strict: leakage or unusable rows found", file=sys.stderr)
        return 1
    return 0


def _command_push(args: argparse.Namespace) -> int:
    from .inference.share import push_folder

    answer = push_folder(args.folder, args.repo_id, private=args.private, dry_run=args.dry_run)
    if args.dry_run:
        print(f"would upload {len(answer['files'])} file(s) to {args.repo_id}"
              f"{' (private)' if args.private else ''}:")
        print("\n".join(f"  {name}" for name in answer["files"]))
        print("\nmodel card (README.md):\n" + (answer["card"] or "(none: this folder has no README.md)"))
    else:
        print(f"pushed {len(answer['files'])} file(s): {answer['url']}")
    return 0


_COMMANDS = {"train": _command_train, "evaluate": _command_evaluate, "predict": _command_predict,
             "tasks": _command_tasks, "data": _command_data, "study": _command_study,
             "serve": _command_serve, "export": _command_export, "runs": _command_runs, "push": _command_push}


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; ``predict``'s sentences may stand before, between or after its options."""
    args, extra = parser.parse_known_args(argv)
    # argparse fills the sentences from the first run of positional words only; the rest come back as extras.
    if extra and getattr(args, "command", None) == "predict" and not any(e.startswith("-") for e in extra):
        args.texts = [*args.texts, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``finabsa`` console script; returns the exit status."""
    parser = build_parser()
    args = _parse(parser, argv)
    if not args.command:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        return _COMMANDS[args.command](args)
    except FinabsaError as exc:
        print(f"finabsa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("finabsa: interrupted; unfinished run folders end in '.partial'.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
