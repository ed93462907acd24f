"""Fault drill: kill training with SIGKILL at a random step, resume it, and compare with an uninterrupted run.

    python benchmarks/fault_drill.py [--trials 3] [--epochs 2] [--checkpoint-steps 10] [--seed 0]

Trains the default model (MiniLM + LoRA, sentiment on FiQA) once without interruption, then --trials times: starts
the same run, sends SIGKILL when the training log passes a random step, resumes with `finabsa train --resume`, and
compares the resumed run's test metrics and predictions with the uninterrupted run's. Prints one row per trial
(kill step, checkpoint resumed from, metric differences, predictions that differ) and writes JSON to --output.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, hardware, hardware_line, write_json

from finabsa.run_layout import read_predictions, read_report, read_run_info


def train_command(output: Path, args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "finabsa", "train", "--task", "sentiment", "--epochs", str(args.epochs),
            "--output", str(output), "--quiet", "--set", f"training.checkpoint_steps={args.checkpoint_steps}",
            "--set", "training.logging_steps=1", "--set", f"training.early_stopping_patience={args.epochs + 1}"]


def run(command: list[str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - began


def last_logged_step(metrics: Path) -> int:
    try:
        lines = metrics.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    steps = []
    for line in lines:
        try:
            steps.append(json.loads(line).get("step", 0))
        except json.JSONDecodeError:  # the line being written right now
            pass
    return max(steps, default=0)


def kill_at(command: list[str], partial: Path, step: int, timeout: float = 1800) -> int:
    """Start training and SIGKILL it once its log has passed ``step``; returns the last logged step."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    began = time.monotonic()
    while process.poll() is None and time.monotonic() - began < timeout:
        if last_logged_step(partial / "metrics.jsonl") >= step:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return last_logged_step(partial / "metrics.jsonl")
        time.sleep(0.2)
    raise SystemExit(f"training ended before step {step}; choose a smaller step range")


def outcome(run_dir: Path) -> dict:
    report, predictions = read_report(run_dir), read_predictions(run_dir)
    return {"accuracy": report["after"]["accuracy"], "macro_f1": report["after"]["macro_f1"],
            "steps": report["training"]["steps"], "labels": [p["label"] for p in predictions],
            "probabilities": [p["probability"] for p in predictions]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--checkpoint-steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random kill steps")
    parser.add_argument("--workdir", default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--output", default=str(REPO / "reports" / "bench" / "fault_drill.json"))
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="finabsa-drill-"))
    info = hardware()
    print(f"{hardware_line(info)}\nruns in {workdir}", flush=True)
    seconds = run(train_command(workdir / "uninterrupted", args))
    reference = outcome(workdir / "uninterrupted")
    print(f"uninterrupted: {reference['steps']} steps in {seconds:.0f} s; accuracy {reference['accuracy']:.4f}, "
          f"macro-F1 {reference['macro_f1']:.4f}", flush=True)
    trials = []
    for trial in range(1, args.trials + 1):
        output = workdir / f"trial-{trial}"
        step = rng.randint(args.checkpoint_steps + 1, reference["steps"] - 2)
        killed_after = kill_at(train_command(output, args), output.with_name(output.name + ".partial"), step)
        run([sys.executable, "-m", "finabsa", "train", "--resume", str(output), "--quiet"])
        info_file = read_run_info(output)
        result = outcome(output)
        differing = sum(a != b for a, b in zip(result["labels"], reference["labels"]))
        gap = max(abs(a - b) for a, b in zip(result["probabilities"], reference["probabilities"]))
        trials.append({"trial": trial, "kill_after_step": killed_after,
                       "resumed_from": info_file["resumed"][-1]["from_checkpoint"],
                       "accuracy_difference": result["accuracy"] - reference["accuracy"],
                       "macro_f1_difference": result["macro_f1"] - reference["macro_f1"],
                       "steps": result["steps"], "differing_predictions": differing,
                       "max_probability_difference": gap})
        print(f"trial {trial}: killed after step {killed_after}, resumed from {trials[-1]['resumed_from']}", flush=True)
    print("| trial | killed after step | resumed from | steps | accuracy diff | macro-F1 diff | differing "
          "predictions | max probability diff |\n|---:|---:|---|---:|---:|---:|---:|---:|")
    for t in trials:
        print(f"| {t['trial']} | {t['kill_after_step']} | {t['resumed_from']} | {t['steps']} | "
              f"{t['accuracy_difference']:+.4f} | {t['macro_f1_difference']:+.4f} | {t['differing_predictions']} | "
              f"{t['max_probability_difference']:.2e} |")
    path = write_json(Path(args.output), {"hardware": info, "epochs": args.epochs,
                                           "checkpoint_steps": args.checkpoint_steps,
                                           "uninterrupted": {k: v for k, v in reference.items()
                                                             if k not in ("labels", "probabilities")},
                                           "trials": trials})
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
