"""Cross-source generalisation of the joint model: train on every source but one, score the source left out.

    python benchmarks/cross_source.py [--in-source runs/joint] [--epochs 8] [--max-test-rows 1500]
                                      [--set task.swap_share=0.2 ...] [--with-source ENTRY ...]

The number that predicts how a user's own news will go is how the model does on a source it never trained on.
Sources: **FiQA** (the ``pauri32`` split and the official JSON, one source: they share their sentences) and
**SEntFiN** (Indian financial headlines, every entity marked). Each leave-one-source-out run trains the joint
preset (``configs/joint.yaml``'s settings, without its distillation teacher, which was trained on both sources) on
the other source and scores the one left out as a ``test_only`` set (never trained on; a seeded sample of
``--max-test-rows`` sentences). ``--with-source`` adds a third source to every leave-one-out run's training (a
``data.also_train`` entry, e.g. Financial PhraseBank's sentence labels with ``--set task.sentence_rows=true``), to
measure what it buys on the source left out (its rows count toward the SEntFiN-alone run's 3,000-row cap and the
made sentences' shares, so compare at equal rows: docs/joint.md). The in-source column is the preset's own run
(``--in-source RUN``, or trained here): its held-out sets are carved from the sources it trains on.

For every test set: (entity, sentiment) pair F1 with predicted targets, target F1, sentiment accuracy and macro-F1
with gold targets, and accuracy on sentences whose targets differ in sentiment (``mixed``). Writes JSON to
--output and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import REPO, bench_arguments, hardware, hardware_line, write_json

FIQA, FIQA_OFFICIAL, SENTFIN = "../shared/data/fiqa2018", "../shared/data/fiqa2018/official", "../shared/data/sentfin"
METRICS = ("pair_f1", "target_f1", "sentiment_accuracy", "sentiment_macro_f1", "sentiment_mixed_accuracy")


def leave_one_out(max_test_rows: int, extra: Sequence[dict[str, Any]] = ()) -> dict[str, dict[str, Any]]:
    """The two leave-one-source-out runs: settings over the joint preset; ``extra`` entries train in both."""
    # One source trains: the preset's per-source conventions have nothing to tell apart (and the left-out source
    # is read as text of unknown source). No teacher: the preset's was trained on both sources, the left-out one too.
    single = {"task.source_conventions": [], "task.answer_as": "", "training.distill_from": None}
    return {
        "trained on FiQA, SEntFiN left out": {
            **single,
            "data.path": FIQA,
            "data.also_train": [{"path": FIQA_OFFICIAL, "split": "train"},
                                {"path": SENTFIN, "test_only": True, "max_rows": max_test_rows}, *extra],
        },
        "trained on SEntFiN, FiQA left out": {
            **single,
            "data.path": SENTFIN, "data.max_train_rows": 3000,
            "data.also_train": [{"path": FIQA_OFFICIAL, "split": "train", "test_only": True},
                                {"path": FIQA, "split": "test", "test_only": True}, *extra],
        },
    }


def _scores(report: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Test set name -> the metrics of interest, for the run's own test split and every held-out set."""
    sets = {"own test split": report["after"], **report.get("held_out_tests", {})}
    return {name: {m: metrics.get(m) for m in METRICS} for name, metrics in sets.items()}


def _train(overrides: dict[str, Any], output: Path) -> dict[str, Any]:
    import finabsa

    config = finabsa.load_config(REPO / "configs" / "joint.yaml", {**overrides, "output": str(output),
                                                                  "evaluation.before": False})
    began = time.perf_counter()
    result = finabsa.train(config, progress=False)
    return {"run": str(result.run_dir), "seconds": round(time.perf_counter() - began, 1),
            "rows": result.report["training"]["rows"], "sets": _scores(result.report)}


def _source_entry(text: str) -> dict[str, Any]:
    """A ``--with-source`` value: a bare path, or a ``data.also_train`` entry written as a YAML mapping."""
    import yaml

    entry = yaml.safe_load(text)
    if isinstance(entry, str):
        return {"path": entry}
    if not isinstance(entry, dict) or "path" not in entry:
        raise argparse.ArgumentTypeError(f"expected a path or a YAML mapping with a 'path' key, e.g. "
                                         f"'{{path: ../shared/data/financial_phrasebank}}'; found {text!r}")
    return entry


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in-source", default=None, help="a finished run of configs/joint.yaml (default: train one)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of each run (default: the preset's)")
    parser.add_argument("--max-test-rows", type=int, default=1500, help="sentences of a left-out source scored")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting over the preset for every run trained here (repeatable), to measure a "
                             "variant before it enters configs/joint.yaml")
    parser.add_argument("--with-source", dest="extra", action="append", default=[], metavar="ENTRY",
                        type=_source_entry,
                        help="a source every leave-one-out run also trains on (repeatable): a path, or a "
                             "data.also_train entry as YAML, e.g. '{path: ../shared/data/financial_phrasebank, "
                             "max_rows: 2000}'. The SEntFiN-alone run's 3,000-row cap and the made sentences' "
                             "shares count its rows too")
    args = bench_arguments(parser, "cross_source.json", argv)
    threads = args.threads

    import finabsa
    from finabsa.cli import parse_overrides
    from finabsa.run_layout import read_report

    settings = {**({"training.epochs": args.epochs} if args.epochs else {}), **parse_overrides(args.overrides)}
    extra = args.extra
    changed = "".join(f", {key}={value}" for key, value in settings.items())
    changed += "".join(f", also trained on {entry}" for entry in extra)
    print(f"{hardware_line(hardware())}\njoint preset (configs/joint.yaml){changed}, {threads} thread(s)", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        if args.in_source:
            report = read_report(Path(args.in_source))
            results["in source (configs/joint.yaml)"] = {"run": args.in_source, "sets": _scores(report)}
        else:
            results["in source (configs/joint.yaml)"] = _train(settings, Path(folder) / "in-source")
        for name, overrides in leave_one_out(args.max_test_rows, extra).items():
            print(f"training: {name} ...", flush=True)
            results[name] = _train({**overrides, **settings}, Path(folder) / name.replace(" ", "-").replace(",", ""))
    print("\n| run | test set | " + " | ".join(METRICS) + " |\n|---|---|" + "---:|" * len(METRICS))
    for run, entry in results.items():
        for test, metrics in entry["sets"].items():
            print(f"| {run} | {test} | " + " | ".join(_cell(metrics[m]) for m in METRICS) + " |")
    write_json(Path(args.output), {"hardware": hardware(), "finabsa": finabsa.__version__, "settings": settings,
                                   "with_sources": extra, "runs": results})
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
