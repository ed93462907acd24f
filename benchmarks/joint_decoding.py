"""One or more trained joint models, each decoded with every value of a decoding option: what the option changes.

    python benchmarks/joint_decoding.py runs/joint [--option merge_fragments]
    python benchmarks/joint_decoding.py runs/joint runs/joint-ema --option targets_per_sentence \
        --values '{}' '{fiqa: 1}' '{fiqa: 2}'
    python benchmarks/joint_decoding.py runs/joint --option answer_kinds --values '[]' '[company, index]' \
        --as-unknown
    python benchmarks/joint_decoding.py CROSS_RUN ... --sets-of runs/joint --as-unknown --option entity_threshold \
        --values 0 0.4 0.3

Decoding options (``task.merge_fragments``: one company as one target; ``task.targets_per_sentence``: the most
targets a convention answers with; ``task.answer_kinds``: the kinds of target a user's text is answered with) change
no weight, so their effect is measured on the same run: its validation split (whole and per source), its test split
and the held-out sets its configuration carves, scored with each value (a boolean option: off and on). With
``--as-unknown`` every sentence is read as a user's text is, its source unknown (``task.answer_as``'s convention;
``task.answer_kinds`` applies): how text of another source's convention fares. Prints (target, sentiment) pair F1,
precision, recall, target F1 and the predicted target count per set, and, over several runs, each value's mean
validation pair F1 per set. Validation is where such a default is chosen; the test and held-out numbers are what it
cost or bought elsewhere.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from statistics import mean

import yaml
from _common import bench_arguments, hardware, hardware_line, joint_run_sets, write_json

METRICS = ("pair_f1", "pair_precision", "pair_recall", "target_f1", "target_predicted")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished joint run folders")
    parser.add_argument("--option", default="merge_fragments", help="a decoding option of the joint task")
    parser.add_argument("--values", nargs="+", default=["false", "true"],
                        help="the values to decode with, each in YAML (default: false true)")
    parser.add_argument("--as-unknown", action="store_true",
                        help="read every sentence as a text of unknown source (a user's), not with its source's "
                             "convention")
    parser.add_argument("--sets-of", metavar="RUN",
                        help="score every run on this run's sets instead of its own: a run trained on one source "
                             "read on another source's validation sentences (cross-source, with --as-unknown)")
    args = bench_arguments(parser, "joint_decoding.json", argv)

    import finabsa
    from finabsa.config import EvaluationConfig
    from finabsa.data.records import SOURCE_KEY

    values = [yaml.safe_load(value) for value in args.values]
    no_intervals = EvaluationConfig(bootstrap_samples=0)
    print(f"{hardware_line(hardware())}\ntask.{args.option}: {' / '.join(args.values)}")
    print("| run | set | value | " + " | ".join(METRICS) + " |\n|---|---|---|" + "---:|" * len(METRICS))
    results: dict[str, dict] = {}
    shared_sets = joint_run_sets(finabsa.load(args.sets_of), per_source=True) if args.sets_of else None
    for run in args.runs:
        predictor = finabsa.load(run)
        original = predictor.task.options
        for name, examples in (shared_sets or joint_run_sets(predictor, per_source=True)).items():
            if args.as_unknown:
                examples = [replace(e, meta={k: v for k, v in e.meta.items() if k != SOURCE_KEY}) for e in examples]
            for text, value in zip(args.values, values):
                predictor.task.options = replace(original, **{args.option: value})
                metrics, _ = predictor.evaluate(examples, no_intervals)
                results.setdefault(run, {}).setdefault(name, {})[text] = {m: metrics.get(m) for m in METRICS}
                print(f"| {run} | {name} | {text} | " + " | ".join(
                    "–" if metrics.get(m) is None else f"{metrics[m]:.3f}" if isinstance(metrics[m], float)
                    else str(metrics[m]) for m in METRICS) + " |", flush=True)
        predictor.task.options = original
    means = _validation_means(results, args.values)
    if len(args.runs) > 1:
        print(f"\nmean validation pair F1 over {len(args.runs)} runs:")
        for name, by_value in means.items():
            print(f"  {name}: " + ", ".join(f"{text} {score:.3f}" for text, score in by_value.items()))
    write_json(Path(args.output), {"runs": args.runs, "option": args.option, "values": args.values,
                                   "as_unknown": args.as_unknown, "sets_of": args.sets_of, "results": results,
                                   "validation_means": means})
    return 0


def _validation_means(results: dict[str, dict], values: list[str]) -> dict[str, dict[str, float]]:
    """Each value's pair F1 on each validation set, averaged over the runs that read it."""
    names = sorted({name for sets in results.values() for name in sets if name.startswith("validation")})
    return {name: {text: mean(sets[name][text]["pair_f1"] for sets in results.values() if name in sets)
                   for text in values} for name in names}


if __name__ == "__main__":
    sys.exit(main())
