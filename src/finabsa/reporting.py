"""Evaluation reports: the before/after table in Markdown, confusion matrices and learning curves as PNG files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["format_metric", "metric_kind", "markdown_report", "plot_confusion", "plot_learning_curve", "summary_table"]

_PERCENT = {"accuracy", "exact_match"}
_FRACTION = {"macro_f1", "weighted_f1", "macro_precision", "macro_recall", "weighted_precision", "weighted_recall",
             "r2", "pearson"}


def metric_kind(name: str) -> str:
    """The metric a name stands for: ``sentiment_accuracy`` (one field of a multi-field task) -> ``accuracy``."""
    field, _, rest = name.partition("_")
    return rest if field in ("target", "aspect", "sentiment") and rest else name


def format_metric(name: str, value: Any, ci: Sequence[float] | None = None) -> str:
    """``accuracy 0.5467 [0.47, 0.62]`` -> ``54.67 % [46.67, 62.00]``; F1-type scores stay as fractions."""
    name = metric_kind(name)
    if value is None:
        return "–"
    if name in _PERCENT:
        text = f"{value * 100:.2f} %"
        if ci:
            text += f" [{ci[0] * 100:.1f}, {ci[1] * 100:.1f}]"
        return text
    text = f"{value:.4f}" if name in _FRACTION or name in ("mse", "rmse", "mae") else f"{value:.2f}"
    if ci:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]" if name in _FRACTION or name == "mse" else f" [{ci[0]:.1f}, {ci[1]:.1f}]"
    return text


def _metric_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    before, after = report.get("before") or {}, report["after"]
    for name in report["headline_metrics"]:
        b, a = before.get(name), after.get(name)
        kind = metric_kind(name)
        if b is None or a is None:
            change = "–"
        elif kind in _PERCENT:
            change = f"{(a - b) * 100:+.2f} pts"
        else:
            change = f"{a - b:+.4f}" if kind in _FRACTION or kind in ("mse", "rmse", "mae") else f"{a - b:+.2f}"
        rows.append((name, format_metric(name, b, before.get(f"{name}_ci")),
                     format_metric(name, a, after.get(f"{name}_ci")), change))
    return rows


def markdown_report(report: dict[str, Any]) -> str:
    """The run's evaluation report as Markdown (headline table, per-class table, plots, data notes)."""
    lines = [
        f"# {report['task_description']} — {report['model']} ({report['method']})",
        "",
        f"Test split: {report['test_rows']} rows; {report['confidence'] * 100:.0f} % bootstrap intervals in "
        "brackets. 'Before' is the model before fine-tuning (untrained head or zero-shot).",
        "",
        "| metric | before fine-tuning | after fine-tuning | change |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {b} | {a} | {c} |" for name, b, a, c in _metric_rows(report)]
    after = report["after"]
    if "per_class" in after:
        lines += ["", "## Per class (after fine-tuning)", "", "| label | precision | recall | F1 | support |",
                  "|---|---|---|---|---|"]
        for label, s in after["per_class"].items():
            lines.append(f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |")
        extra = [f"weighted F1 {after['weighted_f1']:.4f}", f"macro precision {after['macro_precision']:.4f}",
                 f"macro recall {after['macro_recall']:.4f}"]
        lines += ["", "; ".join(extra) + "."]
        if after.get("unseen_gold"):
            lines.append(f"{after['unseen_gold']} test row(s) have a label never seen in training (counted as wrong).")
    images = report.get("plots", [])
    if images:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in images]
    training = report.get("training", {})
    if training:
        lines += ["", "## Training", ""]
        lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in training.items()]
    if report.get("data_notes"):
        lines += ["", "## Data", ""] + [f"- {note}" for note in report["data_notes"]]
    return "\n".join(lines) + "\n"


def summary_table(reports: list[dict[str, Any]]) -> str:
    """Plain-text before/after table over several runs (one block of rows per task)."""
    header = ("task", "metric", "before", "after", "change")
    rows = []
    for report in reports:
        for name, b, a, c in _metric_rows(report):
            rows.append((report["task_description"], name, b, a, c))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion: dict[str, Any], path: Path, title: str) -> Path:
    """Confusion matrix heat map (rows: gold, columns: predicted) with counts in the cells when they fit."""
    import numpy as np

    plt = _pyplot()
    labels, matrix = confusion["labels"], np.array(confusion["matrix"])
    keep = [i for i in range(len(labels)) if matrix[i].sum() or matrix[:, i].sum()]
    labels, matrix = [labels[i] for i in keep], matrix[np.ix_(keep, keep)]
    size = max(4.0, min(24.0, 0.35 * len(labels) + 3))
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(matrix, cmap="Blues")
    font = 7 if len(labels) > 12 else 9
    ax.set_xticks(range(len(labels)), labels, rotation=90 if len(labels) > 4 else 0, fontsize=font)
    ax.set_yticks(range(len(labels)), labels, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    if len(labels) <= 30:
        peak = matrix.max() or 1
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if matrix[i, j] > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_learning_curve(metrics_file: Path, path: Path, selection_metric: str) -> Path | None:
    """Training loss per step and validation loss / selection metric per epoch, from ``metrics.jsonl``."""
    rows = [json.loads(line) for line in metrics_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [(r["epoch"], r["loss"]) for r in rows if "loss" in r and "eval_loss" not in r]
    valid = [r for r in rows if "eval_loss" in r]
    if not train and not valid:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="training loss", color="tab:blue", alpha=0.7)
    if valid:
        ax.plot([r["epoch"] for r in valid], [r["eval_loss"] for r in valid], "o-", label="validation loss",
                color="tab:orange")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    key = f"eval_{selection_metric}"
    if valid and key in valid[0] and selection_metric != "loss":
        other = ax.twinx()
        other.plot([r["epoch"] for r in valid], [r[key] for r in valid], "s--", color="tab:green",
                   label=f"validation {selection_metric}")
        other.set_ylabel(selection_metric)
        other.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title("learning curve")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
