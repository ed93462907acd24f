"""Plots of a run: confusion matrices and the learning curve, as PNG files beside its report."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["plot_confusion", "plot_learning_curve", "write_run_plots"]


def write_run_plots(folder: Path, title: str, before: dict | None, after: dict | None, metrics_file: Path,
                    selection_metric: str) -> list[str]:
    """Confusion matrices before and after fine-tuning (classification tasks) and the learning curve; returns the
    file names written into ``folder``."""
    plots = []
    for stage, metrics in (("before", before), ("after", after)):
        if metrics and "confusion_matrix" in metrics:
            name = f"confusion_{stage}.png"
            plot_confusion(metrics["confusion_matrix"], folder / name, f"{title}, {stage} fine-tuning")
            plots.append(name)
    curve = plot_learning_curve(metrics_file, folder / "learning_curve.png", selection_metric)
    if curve:
        plots.append(curve.name)
    return plots


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
    # Long variant names would run past a small figure's edge: wrap them to its width.
    ax.set_title(textwrap.fill(title, width=max(30, int(size * 9))), fontsize=10)
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
