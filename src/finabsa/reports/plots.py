"""Plots of a run: confusion matrices and the learning curve, as PNG files beside its report."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["plot_confusion", "plot_learning_curve", "write_run_plots"]


def write_run_plots(folder: Path, title: str, before: dict | None, after: dict | None, metrics_file: Path,
                    selection_metric: str, calibration: dict | None = None) -> list[str]:
    """Confusion matrices before and after fine-tuning (classification tasks), the learning curve, and a
    reliability diagram with the accuracy / coverage curve for each calibrated head; returns the file names
    written into ``folder``."""
    plots = []
    for head, entry in ((calibration or {}).get("test") or {}).items():
        name = f"reliability_{head}.png"
        plot_reliability(entry, folder / name, f"{title}: {head} (test split)")
        plots.append(name)
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


def plot_reliability(entry: dict[str, Any], path: Path, title: str) -> Path:
    """Reliability diagram (accuracy against confidence per bin, before and after calibration, the diagonal is
    perfect calibration) beside the accuracy / coverage curve of the calibrated probabilities."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    left.plot([0, 1], [0, 1], color="#888", linestyle="--", linewidth=1, label="perfectly calibrated")
    for stage, colour in (("before", "#b42318"), ("after", "#1a7f37")):
        bins = entry[f"reliability_{stage}"]
        ece = entry[stage]["ece"]
        left.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color=colour,
                  label=f"{stage} calibration (ECE {ece:.3f})")
    left.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title="reliability")
    left.legend(loc="upper left", fontsize=8)
    points = [c for c in entry["coverage"] if c["accuracy"] is not None]
    right.plot([c["coverage"] for c in points], [c["accuracy"] for c in points], marker="o", color="#0969da")
    for c in points[::2]:
        right.annotate(f"{c['min_probability']:.2f}", (c["coverage"], c["accuracy"]), fontsize=7,
                       textcoords="offset points", xytext=(3, 3))
    right.set(xlabel="coverage (share answered)", ylabel="accuracy of the answers", xlim=(0, 1.02),
              title="--min-probability: accuracy / coverage")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
