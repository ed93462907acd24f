"""One joint run trained with per-source conventions (``task.source_conventions``), each test set read with each
convention: how much of a source's score is its own convention, and which convention reads text of a source the
model never saw best.

    python benchmarks/source_conventions.py runs/joint

The run's validation split, its test split and its held-out sets (the ones its configuration carves) are scored
once per listed source, every sentence read as if it came from that source. The diagonal (a set read with its own
source's convention) is what the run's report shows; the other cells are a cross-convention measurement: the
convention that holds up best on the source it was not learned from is the one to answer unknown text with
(``task.answer_as``). Prints pair F1, target F1, sentiment accuracy with gold targets and mixed-sentence accuracy.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from _common import bench_arguments, hardware, hardware_line, write_json

METRICS = ("pair_f1", "target_f1", "target_predicted", "sentiment_accuracy", "sentiment_macro_f1",
           "sentiment_mixed_accuracy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a finished joint run folder trained with task.source_conventions")
    args = bench_arguments(parser, "source_conventions.json", argv)

    import finabsa
    from finabsa.config import EvaluationConfig
    from finabsa.data.prepare import training_data
    from finabsa.data.records import SOURCE_KEY

    predictor = finabsa.load(args.run)
    conventions = predictor.task.options.source_conventions
    if not conventions:
        parser.error(f"{args.run} was trained without task.source_conventions: nothing to compare")
    data = training_data(predictor.task, predictor.info["config"].data)
    sets = {"validation": data.validation, "test split": data.test, **data.extra_tests}
    no_intervals = EvaluationConfig(bootstrap_samples=0)
    print(f"{hardware_line(hardware())}\n{args.run}: every set read with each source's convention")
    print("| set | read as | " + " | ".join(METRICS) + " |\n|---|---|" + "---:|" * len(METRICS))
    results: dict[str, dict] = {}
    for name, examples in sets.items():
        for convention in conventions:
            read_as = [replace(e, meta={**e.meta, SOURCE_KEY: convention}) for e in examples]
            metrics, _ = predictor.evaluate(read_as, no_intervals)
            results.setdefault(name, {})[convention] = {m: metrics.get(m) for m in METRICS}
            print(f"| {name} | {convention} | " + " | ".join(
                "–" if metrics.get(m) is None else f"{metrics[m]:.3f}" if isinstance(metrics[m], float)
                else str(metrics[m]) for m in METRICS) + " |", flush=True)
    write_json(Path(args.output), {"run": args.run, "conventions": conventions, "sets": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
