"""One trained joint model, decoded with and without a decoding option: what the option changes, on every test set.

    python benchmarks/joint_decoding.py runs/joint [--option merge_fragments]

Decoding options (``task.merge_fragments``: one company as one target) change no weight, so their effect is
measured on the same run: the run's own test split and its held-out sets (the ones its configuration carves),
scored with the option off and on. Prints (target, sentiment) pair F1, target F1 and the predicted target count per
set. The validation split is where such a default is chosen; the test and held-out numbers are what it cost or
bought elsewhere.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from _common import bench_arguments, hardware, hardware_line, joint_run_sets, write_json

METRICS = ("pair_f1", "pair_precision", "pair_recall", "target_f1", "target_predicted")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a finished joint run folder")
    parser.add_argument("--option", default="merge_fragments", help="a boolean option of the joint task")
    args = bench_arguments(parser, "joint_decoding.json", argv)

    import finabsa
    from finabsa.config import EvaluationConfig

    predictor = finabsa.load(args.run)
    sets = joint_run_sets(predictor)
    no_intervals = EvaluationConfig(bootstrap_samples=0)
    print(f"{hardware_line(hardware())}\n{args.run}: task.{args.option} off / on")
    print("| set | option | " + " | ".join(METRICS) + " |\n|---|---|" + "---:|" * len(METRICS))
    results: dict[str, dict] = {}
    original = predictor.task.options
    for name, examples in sets.items():
        for value in (False, True):
            predictor.task.options = replace(original, **{args.option: value})
            metrics, _ = predictor.evaluate(examples, no_intervals)
            results.setdefault(name, {})[str(value)] = {m: metrics.get(m) for m in METRICS}
            print(f"| {name} | {value} | " + " | ".join(
                "–" if metrics.get(m) is None else f"{metrics[m]:.3f}" if isinstance(metrics[m], float)
                else str(metrics[m]) for m in METRICS) + " |", flush=True)
    predictor.task.options = original
    write_json(Path(args.output), {"run": args.run, "option": args.option, "sets": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
