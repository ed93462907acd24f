"""The ``finabsa`` command: a thin layer over the library API (``finabsa.train``, ``finabsa.load``...)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import AdapterConfig, DataConfig, ModelConfig, RunConfig, TrainingConfig, load_config
from .errors import FinabsaError

__all__ = ["main", "build_parser"]

logger = logging.getLogger("finabsa")

EXAMPLES = """examples:
  finabsa train --task sentiment                       # LoRA on MiniLM, FiQA from ../shared/data/fiqa2018
  finabsa train --task aspect --set task.level=1       # aspect category at level 1
  finabsa train --task sentiment,aspect,target         # the three tasks, one run folder each, one summary table
  finabsa train configs/sentiment.yaml --epochs 3      # a preset, with a flag overriding it
  finabsa train --task sentiment --max-train-rows 64 --max-eval-rows 32 --epochs 1   # a quick trial
  finabsa evaluate runs/sentiment-minilm-lora-20261126-101500
  echo '$TSLA breaks out' | finabsa predict runs/sentiment-minilm-lora-20261126-101500
  finabsa train --task sentiment --also-train ../shared/data/sentfin       # add SEntFiN rows to training
  finabsa data inspect ../shared/data/fiqa2018                             # look at the data first
"""


def _field_help(cls: type, name: str) -> str:
    for f in dataclasses.fields(cls):
        if f.name == name:
            default = f.default if f.default is not dataclasses.MISSING else None
            return f"{f.metadata.get('help', '')} (default: {default})"
    raise KeyError(name)


# Flags for the common settings: (flag, dotted config key, config class, field, type)
_FLAGS: list[tuple[str, str, type, str, Any]] = [
    ("--data", "data.path", DataConfig, "path", str),
    ("--data-format", "data.format", DataConfig, "format", str),
    ("--agreement", "data.agreement", DataConfig, "agreement", str),
    ("--encoding", "data.encoding", DataConfig, "encoding", str),
    ("--text-column", "data.text_column", DataConfig, "text_column", str),
    ("--label-column", "data.label_column", DataConfig, "label_column", str),
    ("--target-column", "data.target_column", DataConfig, "target_column", str),
    ("--score-column", "data.score_column", DataConfig, "score_column", str),
    ("--aspect-column", "data.aspect_column", DataConfig, "aspect_column", str),
    ("--split-column", "data.split_column", DataConfig, "split_column", str),
    ("--model", "model.name", ModelConfig, "name", str),
    ("--max-length", "model.max_length", ModelConfig, "max_length", int),
    ("--method", "adapter.method", AdapterConfig, "method", str),
    ("--rank", "adapter.rank", AdapterConfig, "rank", int),
    ("--alpha", "adapter.alpha", AdapterConfig, "alpha", float),
    ("--target-modules", "adapter.target_modules", AdapterConfig, "target_modules", str),
    ("--epochs", "training.epochs", TrainingConfig, "epochs", float),
    ("--learning-rate", "training.learning_rate", TrainingConfig, "learning_rate", float),
    ("--batch-size", "training.batch_size", TrainingConfig, "batch_size", int),
    ("--seed", "training.seed", TrainingConfig, "seed", int),
    ("--max-train-rows", "data.max_train_rows", DataConfig, "max_train_rows", int),
    ("--max-eval-rows", "data.max_eval_rows", DataConfig, "max_eval_rows", int),
]


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
    train.add_argument("--task", help="task name, or several separated by commas: sentiment, aspect, target")
    for flag, _, cls, name, kind in _FLAGS:
        train.add_argument(flag, type=kind, default=None, help=_field_help(cls, name))
    train.add_argument("--also-train", action="append", default=[], metavar="PATH",
                       help="another data set whose rows join the training set (repeatable), e.g. "
                       "../shared/data/sentfin; validation and test come from --data")
    train.add_argument("--output", help="run folder to write (with several tasks: a parent folder, one per task)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="any other setting by its dotted name, e.g. --set training.class_weighting=true "
                       "--set task.mode=regression (repeatable)")
    train.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")
    train.add_argument("--quiet", action="store_true", help="no progress bars")

    evaluate = commands.add_parser(
        "evaluate", help="score a run folder's model on its test split or other data",
        description="Load a finished run folder and score its model on a split of its data set or of --data.",
    )
    evaluate.add_argument("run_dir", help="run folder written by 'finabsa train'")
    evaluate.add_argument("--data", help="data set to score on (default: the one the run was trained on)")
    evaluate.add_argument("--data-format", default="auto", help="auto, fiqa-splits, fiqa-official or hub")
    evaluate.add_argument("--split", default="test", help="split to score (default: test)")
    evaluate.add_argument("--max-rows", type=int, help="score at most this many rows")
    evaluate.add_argument("--output", help="also write the report as JSON to this file")

    predict = commands.add_parser(
        "predict", help="predict with a run folder's model (JSON lines out)",
        description="Predict for sentences given as arguments, in a file, or on standard input when neither is "
        "given. Input lines are plain sentences or JSON objects with 'sentence' and optional 'target' and "
        "'aspects'. Output: one JSON object per input line.",
    )
    predict.add_argument("run_dir", help="run folder written by 'finabsa train'")
    predict.add_argument("texts", nargs="*", help="sentences to analyse")
    predict.add_argument("--file", help="file with one sentence or JSON object per line")
    predict.add_argument("--batch-size", type=int, help="prediction batch size")

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
    for flag, key, cls, name, kind in _FLAGS:
        if key.startswith("data.") and key not in ("data.path", "data.max_train_rows", "data.max_eval_rows"):
            inspect.add_argument(flag, type=kind, default=None, help=_field_help(cls, name))
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

    commands.add_parser("tasks", help="list the tasks and their options",
                        description="List the registered tasks and the options each accepts (set with --set "
                        "task.OPTION=VALUE or in the YAML task section).")
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def _parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
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
    for flag, key, _, _, _ in _FLAGS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            overrides[key] = value.split(",") if key == "adapter.target_modules" else value
    if getattr(args, "also_train", None):
        overrides["data.also_train"] = list(args.also_train)
    if args.output:
        overrides["output"] = args.output
    if args.overwrite:
        overrides["overwrite"] = True
    overrides.update(_parse_overrides(args.overrides))
    return load_config(args.config, overrides)


def _command_train(args: argparse.Namespace) -> int:
    from .reporting import summary_table
    from .training import train

    tasks = [t.strip() for t in args.task.split(",") if t.strip()] if args.task else [None]
    configs = []
    for task in tasks:
        config = config_from_args(args, task)
        if len(tasks) > 1:
            parent = Path(args.output) if args.output else Path("runs") / time.strftime("all-%Y%m%d-%H%M%S")
            config.output = str(parent / config.task.name)
        configs.append(config.validate())
    if args.print_config:
        for config in configs:
            print(config.to_yaml())
        return 0
    reports = []
    for config in configs:
        logger.info("training task '%s' with %s (%s)", config.task.name, config.model.name, config.adapter.method)
        result = train(config, progress=not args.quiet)
        reports.append(result.report)
        print(f"run folder: {result.run_dir}")
    print()
    print(summary_table(reports))
    return 0


def _command_evaluate(args: argparse.Namespace) -> int:
    from .evaluate_run import evaluate
    from .reporting import summary_table

    report = evaluate(args.run_dir, data=args.data, data_format=args.data_format, split=args.split,
                      max_rows=args.max_rows, progress=True)
    print(summary_table([report]))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"report written to {args.output}")
    return 0


def _read_inputs(args: argparse.Namespace) -> list[Any]:
    if args.texts:
        lines = list(args.texts)
    elif args.file:
        try:
            lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise FinabsaError(f"cannot read input file '{args.file}': {exc}") from None
    else:
        lines = sys.stdin.read().splitlines()
    inputs: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                inputs.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise FinabsaError(f"input line {number} starts with '{{' but is not valid JSON: {exc}") from None
        else:
            inputs.append(line)
    if not inputs:
        raise FinabsaError("no input: give sentences as arguments, --file FILE, or lines on standard input.")
    return inputs


def _command_predict(args: argparse.Namespace) -> int:
    from .predict import load

    predictor = load(args.run_dir, batch_size=args.batch_size)
    inputs = _read_inputs(args)
    for item, prediction in zip(inputs, predictor.predict(inputs)):
        text = item if isinstance(item, str) else item.get("sentence", item.get("text"))
        print(json.dumps({"text": text, **prediction}, ensure_ascii=False))
    return 0


def _command_tasks(args: argparse.Namespace) -> int:
    from .tasks import get_task, task_names

    for name in task_names():
        task = get_task(name)
        print(f"{name}: {(task.__doc__ or '').strip().splitlines()[0]}")
        for f in dataclasses.fields(task.Options):
            print(f"  task.{f.name} (default {f.default!r}): {f.metadata.get('help', '')}")
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
    for flag, key, _, _, _ in _FLAGS:
        attribute = flag.lstrip("-").replace("-", "_")
        if key.startswith("data.") and getattr(args, attribute, None) is not None and key != "data.path":
            values[key.split(".", 1)[1]] = getattr(args, attribute)
    source = DataConfig(**values)
    tokenizer = None if args.tokenizer.lower() == "none" else args.tokenizer
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


_COMMANDS = {"train": _command_train, "evaluate": _command_evaluate, "predict": _command_predict,
             "tasks": _command_tasks, "data": _command_data, "study": _command_study}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``finabsa`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
