"""Training wall time of one joint model against the three per-task models it replaces, same data and epochs.

    python benchmarks/joint_train_time.py [--epochs 3] [--threads 2] [--model minilm]

Trains, one after the other on the FiQA split (validation carved from train, the same for every run), with the same
model, method, batch size and number of epochs (no early stopping): the ``joint`` task, then ``target`` (span),
``aspect`` (hierarchical head) and ``sentiment`` (sentence). Prints each run's fine-tuning time (the Trainer's
epochs with their validation passes) and its end-to-end wall time, and the ratio of the three runs' sum to the joint
run (target: the joint run takes less). Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, hardware, hardware_line, set_threads, write_json

RUNS = {
    "joint": {"task.name": "joint"},
    "target": {"task.name": "target"},
    "aspect": {"task.name": "aspect", "task.head": "hierarchical", "task.level": "2"},
    "sentiment": {"task.name": "sentiment"},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of every run")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-train-rows", type=int, default=None, help="fewer rows for a quick look")
    parser.add_argument("--output", default=str(REPO / "reports" / "bench" / "joint_train_time.json"))
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)

    import finabsa
    from finabsa.config import RunConfig

    info = hardware()
    print(f"{hardware_line(info)}\n{args.model}, LoRA, {args.epochs} epoch(s) each, FiQA split, {threads} thread(s)")
    print("| run | train rows | fine-tuning s | wall s |\n|---|---:|---:|---:|")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, settings in RUNS.items():
            config = RunConfig().with_overrides({
                **settings, "model.name": args.model, "training.epochs": args.epochs,
                "training.early_stopping_patience": None, "evaluation.before": False,
                "evaluation.bootstrap_samples": 0, "data.max_train_rows": args.max_train_rows,
                "output": str(Path(folder) / name),
            })
            began = time.perf_counter()
            report = finabsa.train(config.validate(), progress=False).report
            wall = time.perf_counter() - began
            training = report["training"]
            results[name] = {"train_seconds": training["train_seconds"], "wall_seconds": round(wall, 1),
                             "rows": training["rows"]}
            print(f"| {name} | {training['rows'].split(',')[0].split()[-1]} | {training['train_seconds']} | "
                  f"{wall:.1f} |", flush=True)
    per_task = [results[name] for name in RUNS if name != "joint"]
    summary = {key: round(sum(r[key] for r in per_task), 1) for key in ("train_seconds", "wall_seconds")}
    ratio = {key: round(summary[key] / results["joint"][key], 2) for key in summary}
    print(f"| three per-task runs | | {summary['train_seconds']} | {summary['wall_seconds']} |")
    print(f"the three runs take {ratio['train_seconds']}x the joint run's fine-tuning time ({ratio['wall_seconds']}x "
          "wall time); target: > 1")
    path = write_json(Path(args.output), {"hardware": info, "threads": threads, "model": args.model,
                                          "epochs": args.epochs, "runs": results, "per_task_sum": summary,
                                          "ratio": ratio})
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
