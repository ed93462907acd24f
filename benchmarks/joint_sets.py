"""Joint runs side by side on every set they read, scored with today's code (decoding, metrics).

    python benchmarks/joint_sets.py runs/joint runs/joint-lora [--metrics pair_f1,target_f1]

A run's report is written once, by the code of its day; comparing two runs trained weeks apart mixes what the
training changed with what later decoding changed. This re-scores each run on the sets its saved configuration
rebuilds: validation (whole and per source: where choices are made), its test split and its held-out sets (what
they bought elsewhere). Prints one Markdown table per metric (a row per set, a column per run) and writes JSON.

With ``--ensemble`` the runs (one base model, one label list) are also read as one model whose outputs are the mean
of theirs (column ``ensemble``, on the first run's sets and decoding): what averaging students would buy, at the
serving cost of all of them.
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
    parser.add_argument("--ensemble", action="store_true",
                        help="also score the mean of the runs' outputs as one model (column 'ensemble')")
    args = bench_arguments(parser, "joint_sets.json", argv)

    import finabsa
    from finabsa.config import EvaluationConfig

    metrics = args.metrics.split(",")
    scores: dict[str, dict[str, dict]] = {}
    predictors = {run: finabsa.load(run) for run in args.runs}
    if args.ensemble:
        predictors["ensemble"] = _ensemble(list(predictors.values()))
    for run, predictor in predictors.items():
        for name, examples in joint_run_sets(predictor, per_source=True).items():
            result, _ = predictor.evaluate(examples, EvaluationConfig(bootstrap_samples=0))
            scores.setdefault(name, {})[run] = {"n": len(examples), **{m: result.get(m) for m in metrics}}
    columns = list(predictors)
    print(hardware_line(hardware()))
    for metric in metrics:
        print(f"\n{metric}\n\n| set | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns))
        for name, by_run in scores.items():
            cells = [by_run.get(run, {}).get(metric) for run in columns]
            print(f"| {name} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in cells) + " |")
    write_json(Path(args.output), {"hardware": hardware(), "runs": args.runs, "sets": scores})
    print(f"\nwritten: {args.output}")
    return 0


def _ensemble(predictors: list) -> object:
    """The first predictor reading with a model whose outputs are the mean of every predictor's model's."""
    import copy

    import torch

    if any(p.labels != predictors[0].labels for p in predictors):
        raise SystemExit("--ensemble needs runs with one label list (the same aspect labels)")

    class MeanOutputs(torch.nn.Module):
        def __init__(self, models: list) -> None:
            super().__init__()
            self.models = torch.nn.ModuleList(models)

        def forward(self, **batch):
            outputs = [model(**batch) for model in self.models]
            mean = copy.copy(outputs[0])
            for name, value in vars(outputs[0]).items():
                if torch.is_tensor(value) and value.is_floating_point():
                    setattr(mean, name, torch.stack([getattr(o, name) for o in outputs]).mean(0))
            return mean

    ensemble = copy.copy(predictors[0])
    ensemble.model = MeanOutputs([p.model for p in predictors])
    ensemble.calibration = None  # each run's temperatures fit its own outputs, not the mean
    return ensemble


if __name__ == "__main__":
    sys.exit(main())
