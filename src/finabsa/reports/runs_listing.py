"""Listing and comparing run folders (``finabsa runs``): what each run is, how it ended and what it scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..run_layout import (
    CHECKPOINTS_DIR,
    MODEL_DIR,
    PARTIAL_SUFFIX,
    REPORT_FILE,
    is_run_folder,
    read_report,
    read_run_info,
)
from .run_report import format_metric

__all__ = ["find_runs", "run_summary", "runs_table", "compare_table"]


def find_runs(root: Path, depth: int = 5) -> list[Path]:
    """Run folders (finished or ``.partial``) at or below ``root``, sorted by path."""
    if is_run_folder(root):
        return [root]
    found = []
    frontier = [root]
    for _ in range(depth):
        children = [child for folder in frontier if folder.is_dir() for child in sorted(folder.iterdir())
                    if child.is_dir() and child.name not in (MODEL_DIR, CHECKPOINTS_DIR)]
        found += [child for child in children if is_run_folder(child)]
        frontier = [child for child in children if not is_run_folder(child)]
    return sorted(found)


def run_summary(run: Path) -> dict[str, Any]:
    """Task, model, method, status, duration and headline metrics (after fine-tuning) of one run folder."""
    info = read_run_info(run)
    report = read_report(run) if (run / REPORT_FILE).is_file() else {}
    after = report.get("after") or {}
    metrics = {name: after.get(name) for name in report.get("headline_metrics", [])}
    status = info.get("status", "?")
    if run.name.endswith(PARTIAL_SUFFIX):
        status = "unfinished (running, or stopped: finabsa train --resume)"
    return {"run": str(run), "task": info.get("task_description", info.get("task")), "model": info.get("base_model"),
            "method": info.get("method"), "seed": info.get("seed"), "status": status,
            "minutes": round((info.get("seconds") or 0) / 60, 1), "started": info.get("started"), "metrics": metrics}


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def runs_table(runs: list[Path]) -> str:
    """One line per run: where, what, how it ended, and its first two headline metrics."""
    rows = []
    for run in runs:
        s = run_summary(run)
        shown = list(s["metrics"].items())[:2]
        rows.append([s["run"], s["task"], s["model"], s["method"], str(s["seed"]), s["status"], str(s["minutes"]),
                     ", ".join(f"{name} {format_metric(name, value)}" for name, value in shown) or "–"])
    return _table(["run", "task", "model", "method", "seed", "status", "min", "after fine-tuning"], rows)


def compare_table(runs: list[Path]) -> str:
    """Runs side by side: one column per run, one row per setting and headline metric."""
    summaries = [run_summary(run) for run in runs]
    metrics = list(dict.fromkeys(name for s in summaries for name in s["metrics"]))
    rows = [[key] + [str(s[key]) for s in summaries] for key in ("task", "model", "method", "seed", "status",
                                                                 "minutes")]
    rows += [[name] + [format_metric(name, s["metrics"].get(name)) for s in summaries] for name in metrics]
    return _table(["", *[s["run"] for s in summaries]], rows)
