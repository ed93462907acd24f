"""Run a list of configurations and tabulate validation (selection) and test metrics side by side.

    python benchmarks/sweep.py SWEEP.yaml --output runs/sweep [--filter NAME]

SWEEP.yaml holds ``base`` (settings shared by all runs, dotted keys) and ``runs`` (name -> dotted overrides).
Configurations are compared on the carved validation split; the test column is for reporting, not choosing.
Finished runs are skipped, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

import finabsa
from finabsa.run_layout import read_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", help="YAML file with 'base' and 'runs'")
    parser.add_argument("--output", default="runs/sweep", help="parent folder of the run folders")
    parser.add_argument("--filter", default="", help="only runs whose name contains this text")
    args = parser.parse_args(argv)
    spec = yaml.safe_load(Path(args.sweep).read_text())
    base = spec.get("base", {})
    output = Path(args.output)
    rows = []
    for name, overrides in spec["runs"].items():
        if args.filter and args.filter not in name:
            continue
        run_dir = output / name
        if (run_dir / "report.json").is_file():
            report = read_report(run_dir)
        else:
            config = finabsa.load_config(None, {**base, **(overrides or {}), "output": str(run_dir),
                                                "overwrite": True})
            started = time.time()
            report = finabsa.train(config, progress=False).report
            print(f"{name}: {time.time() - started:.0f} s", file=sys.stderr)
        training = report["training"]
        selection = next((v for k, v in training.items() if k.startswith("best_validation_")), None)
        after = report["after"]
        rows.append({"run": name, "validation": selection,
                     **{m: after.get(m) for m in report["headline_metrics"]},
                     "epochs": training["epochs_run"], "seconds": training["train_seconds"]})
        print(json.dumps(rows[-1]), flush=True)
    (output / "sweep.json").write_text(json.dumps(rows, indent=2))
    width = max(len(r["run"]) for r in rows)
    for r in rows:
        metrics = "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items() if k != "run")
        print(f"{r['run']:<{width}}  {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
