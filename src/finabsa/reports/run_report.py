"""The evaluation report of a run: one builder for ``train`` and ``evaluate``, rendered as Markdown or a table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..tasks import Task
from .examples import examples_html, examples_markdown

__all__ = ["build_report", "format_metric", "html_report", "metric_kind", "markdown_report", "summary_table"]

_PERCENT = {"accuracy", "exact_match"}
_FRACTION = {"macro_f1", "weighted_f1", "macro_precision", "macro_recall", "weighted_precision", "weighted_recall",
             "r2", "pearson", "f1", "precision", "recall"}


_KNOWN = sorted(_PERCENT | _FRACTION | {"mse", "rmse", "mae", "token_f1", "rouge1"}, key=len, reverse=True)


def metric_kind(name: str) -> str:
    """The metric a name stands for: ``sentiment_accuracy`` (one field of a multi-field task) -> ``accuracy``."""
    if name in _KNOWN:
        return name
    return next((known for known in _KNOWN if name.endswith("_" + known)), name)


def build_report(task: Task, config: RunConfig, labels: list[str], test_rows: int, before: dict | None, after: dict,
                 **extra: Any) -> dict[str, Any]:
    """The report mapping of a run's evaluation (``report.json``): what was scored, how, and the metrics before
    and after fine-tuning; ``extra`` adds keys such as ``plots``, ``training`` or ``data_notes``."""
    return {
        "task": config.task.name,
        "task_description": task.describe(),
        "model": config.model.name,
        "method": config.adapter.method,
        "labels": labels,
        "test_rows": test_rows,
        "confidence": config.evaluation.confidence,
        "headline_metrics": list(task.headline_metrics),
        "before": before,
        "after": after,
        **extra,
    }


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


def html_report(report: dict[str, Any], examples: list[dict[str, Any]]) -> str:
    """The run's report as one HTML page: the Markdown report, with the examples drawn as the web page draws them."""
    import markdown

    body = markdown.markdown(markdown_report(report), extensions=["tables"])
    cards = f"<h2>Examples, rendered</h2>{examples_html(examples)}" if examples else ""
    return ("<!doctype html><meta charset='utf-8'><title>finabsa run</title><style>body{font-family:sans-serif;"
            "max-width:60em;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:2px 6px}img{max-width:100%}</style>\n" + body + cards)


def markdown_report(report: dict[str, Any], examples: list[dict[str, Any]] | None = None) -> str:
    """The run's evaluation report as Markdown (headline table, per-class table, plots, data notes, and up to 20
    test examples, the wrong ones first)."""
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
    for name, metrics in (report.get("held_out_tests") or {}).items():
        lines += ["", f"## Held-out test '{name}' (after fine-tuning, {metrics.get('n', '?')} rows)", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {m} | {format_metric(m, metrics[m], metrics.get(f'{m}_ci'))} |"
                  for m in report["headline_metrics"] if metrics.get(m) is not None]
    lines += calibration_lines(report.get("calibration"))
    if report.get("data_notes"):
        lines += ["", "## Data", ""] + [f"- {note}" for note in report["data_notes"]]
    if examples:
        wrong = sum(not row["correct"] for row in examples)
        lines += ["", f"## Examples (test split, {wrong} wrong of these {len(examples)}, wrong first)", ""]
        lines += examples_markdown(examples)
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


def calibration_lines(calibration: dict[str, Any] | None) -> list[str]:
    """The calibration section: per head its temperature and ECE, Brier and NLL before and after, on the
    validation split it was fitted on and on the test split it never saw."""
    if not calibration or calibration.get("method") == "none":
        reason = (calibration or {}).get("reason")
        return ["", "## Calibration", "", f"None{f': {reason}' if reason else ' (calibration.method: none)'}."] \
            if calibration else []
    lines = ["", "## Calibration", "",
             "One temperature per classification head, fitted on the validation split after training (the test split "
             "is only scored); a record's `probability` is the calibrated one. ECE: expected calibration error, "
             "15 confidence bins; Brier score; NLL: negative log-likelihood. Lower is better for all three.", "",
             "| head | temperature | split | rows | accuracy | mean confidence | ECE | Brier | NLL |",
             "|---|---:|---|---:|---:|---:|---|---|---|"]
    for split in ("validation", "test"):
        for head, entry in (calibration.get(split) or {}).items():
            b, a = entry["before"], entry["after"]
            lines.append(f"| {head} | {entry['temperature']:.3f} | {split} | {a['n']} | {a['accuracy']:.3f} | "
                         f"{b['confidence']:.3f} → {a['confidence']:.3f} | {b['ece']:.3f} → {a['ece']:.3f} | "
                         f"{b['brier']:.3f} → {a['brier']:.3f} | {b['nll']:.3f} → {a['nll']:.3f} |")
    lines += [f"- head '{head}' not calibrated: {why}." for head, why in (calibration.get("skipped") or {}).items()]
    return lines
