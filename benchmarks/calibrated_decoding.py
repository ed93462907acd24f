"""Finished runs decoded two ways: answers read from the calibrated outputs (finabsa before 2026-12-06) and from
the model's own outputs (now), each with the calibrated probabilities.

    python benchmarks/calibrated_decoding.py reports/study-fiqa     # every run of a study: mean ± sd per cell
    python benchmarks/calibrated_decoding.py runs/joint              # one run: validation, test and held-out sets

A temperature keeps the ranking of one head's classes, but not the comparisons some decodings make: the aspect tree
sums leaf probabilities per category, and a span's score multiplies tag probabilities along it (it ranks spans of
different lengths). Decoded from calibrated outputs, those answers moved with the temperature fitted on validation;
now they come from the model's own outputs (``Task.decode_calibrated``). Weights are the same, and training never
reads a calibration (it is fitted after training), so the 'now' column is what a re-run of the same configuration
reports. Prints each headline metric before → after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from _common import bench_arguments, hardware, hardware_line, joint_run_sets, write_json


def _run_folders(path: Path) -> dict[str, list[Path]]:
    """Run folders by group: a study's runs by cell (``runs/CELL/seed-N``), or the one run given."""
    if (path / "report.json").is_file():
        return {path.name: [path]}
    return {cell.name: sorted(p for p in cell.glob("seed-*") if (p / "report.json").is_file())
            for cell in sorted((path / "runs").iterdir()) if cell.is_dir()}


def _sets(predictor, whole: bool) -> dict[str, list]:
    """Validation, the test split and any held-out sets of one run; the test split alone for a study's runs."""
    sets = joint_run_sets(predictor)
    return sets if whole else {"test split": sets["test split"]}


def _score(predictor, examples: list, headline: list[str]) -> dict[str, dict[str, float]]:
    from finabsa.config import EvaluationConfig

    no_intervals = EvaluationConfig(bootstrap_samples=0)
    task, labels = predictor.task, predictor.labels
    # A replaced decoding reads the calibrated outputs: the task's own decode there is the former behaviour.
    before = task.score(examples, predictor.predict_examples(examples, decode=task.decode), labels, no_intervals)
    after, _ = predictor.evaluate(examples, no_intervals)
    return {m: {"before": before[m], "after": after[m]} for m in headline
            if isinstance(before.get(m), float) and isinstance(after.get(m), float)}


def _spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    return f"{mean:.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{mean:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a study's output folder, or one finished run folder")
    args = bench_arguments(parser, "calibrated_decoding.json", argv)

    import finabsa
    from finabsa.run_layout import read_report

    path = Path(args.path)
    groups = _run_folders(path)
    if not any(groups.values()):
        print(f"no finished run folder under '{path}': give a study's output folder or a run folder",
              file=sys.stderr)
        return 2
    whole = len(groups) == 1 and len(next(iter(groups.values()))) == 1
    print(f"{hardware_line(hardware())}\n{path}: answers decoded from the calibrated outputs (before) and from the "
          "model's own outputs (after); mean ± sd over the runs of a group; * where they differ")
    print("| runs | set | metric | before | after |\n|---|---|---|---:|---:|")
    results: dict[str, dict] = {}
    for group, runs in groups.items():
        scored: dict[str, dict[str, dict[str, list[float]]]] = {}
        for run in runs:
            predictor = finabsa.load(run)
            headline = read_report(run)["headline_metrics"]
            for name, examples in _sets(predictor, whole).items():
                for metric, pair in _score(predictor, examples, headline).items():
                    for when, value in pair.items():
                        scored.setdefault(name, {}).setdefault(metric, {}).setdefault(when, []).append(value)
        results[group] = scored
        for name, metrics in scored.items():
            for metric, values in metrics.items():
                changed = "" if values["before"] == values["after"] else " *"
                print(f"| {group} ({len(runs)}) | {name} | {metric}{changed} | {_spread(values['before'])} | "
                      f"{_spread(values['after'])} |", flush=True)
    write_json(Path(args.output), {"path": str(path), "groups": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
