"""Joint runs side by side on every set they read, scored with today's code (decoding, metrics).

    python benchmarks/joint_sets.py runs/joint runs/joint-lora [--metrics pair_f1,target_f1]

A run's report is written once, by the code of its day; comparing two runs trained weeks apart mixes what the
training changed with what later decoding changed. This re-scores each run on the sets its saved configuration
rebuilds: validation (whole and per source: where choices are made), its test split and its held-out sets (what
they bought elsewhere). Prints one Markdown table per metric (a row per set, a column per run) and writes JSON.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import bench_arguments, hardware, hardware_line, joint_run_sets, write_json

METRICS = ("pair_f1", "target_f1", "target_exact_match", "sentiment_accuracy", "sentiment_macro_f1",
           "sentiment_mixed_accuracy", "best_target_sentiment_accuracy", "aspect_level2_accuracy",
           "aspect_full_accuracy", "head_mean_f1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished joint run folders")
    parser.add_argument("--metrics", default=",".join(METRICS), help="comma-separated metric names")
    args = bench_arguments(parser, "joint_sets.json", argv)

    import finabsa
    from finabsa.config import EvaluationConfig

    metrics = args.metrics.split(",")
    scores: dict[str, dict[str, dict]] = {}
    for run in args.runs:
        predictor = finabsa.load(run)
        for name, examples in joint_run_sets(predictor, per_source=True).items():
            result, _ = predictor.evaluate(examples, EvaluationConfig(bootstrap_samples=0))
            scores.setdefault(name, {})[run] = {"n": len(examples), **{m: result.get(m) for m in metrics}}
    print(hardware_line(hardware()))
    for metric in metrics:
        print(f"\n{metric}\n\n| set | " + " | ".join(args.runs) + " |\n|---|" + "---:|" * len(args.runs))
        for name, by_run in scores.items():
            cells = [by_run.get(run, {}).get(metric) for run in args.runs]
            print(f"| {name} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in cells) + " |")
    write_json(Path(args.output), {"hardware": hardware(), "runs": args.runs, "sets": scores})
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
