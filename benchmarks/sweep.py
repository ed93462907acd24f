"""Run a list of configurations and tabulate validation (selection) and test metrics side by side.

    python benchmarks/sweep.py SWEEP.yaml --output runs/sweep [--filter NAME]

SWEEP.yaml holds ``base`` (settings shared by all runs, dotted keys), ``runs`` (name -> dotted overrides) and,
optionally, ``seeds``: each run is then trained once per seed (named ``NAME-sSEED``; ``{seed}`` in a text setting
becomes the seed) and a second table gives each run's mean ± sd over its seeds. Configurations are compared on the
carved validation split; the test column is for reporting, not choosing.
Finished runs are skipped, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    for name, overrides in _with_seeds(spec["runs"], spec.get("seeds")).items():
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
    if spec.get("seeds"):
        _print_seed_means(rows, len(spec["seeds"]))
    return 0


def _with_seeds(runs: dict[str, dict | None], seeds: list[int] | None) -> dict[str, dict]:
    """``runs`` as they are, or each once per seed (``NAME-sSEED`` with ``training.seed`` set, and ``{seed}`` in a
    text setting replaced by it: a transfer stage of the same seed)."""
    if not seeds:
        return {name: overrides or {} for name, overrides in runs.items()}
    return {f"{name}-s{seed}": {**{key: value.replace("{seed}", str(seed)) if isinstance(value, str) else value
                                   for key, value in (overrides or {}).items()}, "training.seed": seed}
            for name, overrides in runs.items() for seed in seeds}


def _print_seed_means(rows: list[dict], n_seeds: int) -> None:
    """Mean ± sd over the seeds of each run name, for every numeric column."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["run"].rsplit("-s", 1)[0], []).append(r)
    print(f"\nmean ± sd over {n_seeds} seed(s):")
    for name, group in groups.items():
        columns = [k for k, v in group[0].items() if isinstance(v, (int, float)) and k != "run"]
        cells = []
        for column in columns:
            values = [r[column] for r in group if isinstance(r.get(column), (int, float))]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{column}={statistics.mean(values):.4f}±{sd:.4f}")
        print(f"{name}  " + "  ".join(cells))


if __name__ == "__main__":
    sys.exit(main())
