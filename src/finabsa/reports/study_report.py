"""The study report: report.md (+ HTML), results.json, and the plots it embeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..run_layout import is_run_folder, read_predictions, read_report, read_run_info
from ..tasks import build_task
from .examples import examples_html, pick_examples
from .run_report import format_metric, metric_kind

__all__ = ["write_study_report", "held_out_entries"]

#: What the held-out table shows of each held-out or cross-source set.
HELD_OUT_METRICS = ("pair_f1", "target_f1", "sentiment_accuracy", "sentiment_macro_f1", "sentiment_mixed_accuracy")


def _find(results: list[dict], slug: str, stage: str, metric: str) -> dict | None:
    return next((r for r in results if r["slug"] == slug and r["stage"] == stage and r["metric"] == metric), None)


def _cell_text(entry: dict | None) -> str:
    if entry is None:
        return "–"
    kind = metric_kind(entry["metric"])
    scale = 100 if kind in ("accuracy", "exact_match") else 1
    digits = 2 if scale == 100 or kind in ("token_f1", "rouge1") else 3
    unit = " %" if scale == 100 else ""
    text = f"{entry['mean'] * scale:.{digits}f}{unit}"
    if entry["n_seeds"] > 1 and entry["stage"] != "ensemble":
        text += f" ± {entry['sd'] * scale:.{digits}f}"
    if entry["ci_high"] > entry["ci_low"]:
        text += f" [{entry['ci_low'] * scale:.{digits - 1}f}, {entry['ci_high'] * scale:.{digits - 1}f}]"
    return text


def _main_metric(results: list[dict], slug: str) -> str:
    metrics = [r["metric"] for r in results if r["slug"] == slug]
    for name in ("exact_match", "accuracy"):
        if name in metrics:
            return name
    return metrics[0] if metrics else "accuracy"


def _reference(value: float | None, metric: str) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.2f} %" if metric_kind(metric) in ("accuracy", "exact_match") else f"{value}"


def _floor_text(floors: dict[str, Any], metric: str) -> str:
    parts = []
    for name, metrics in floors.items():
        if metric in metrics:
            parts.append(f"{name.replace('_', ' ')} {format_metric(metric, metrics[metric])}")
    return "; ".join(parts) or "–"


def inputs_text(spec: Any, cell: Any) -> str:
    """What a cell's model reads at test time: the sentence, plus gold or predicted target and aspects; and the
    transfer stage it started from."""
    from ..config import load_config
    from ..tasks import PipelineHooks, build_task

    source = spec.cell(cell.view_of) if getattr(cell, "view_of", None) else cell
    if getattr(cell, "predicted_inputs", None):
        source = spec.cell(cell.predicted_inputs["model"])
    config = load_config(None, {**spec.base, **source.settings})
    task = build_task(config.task.name, config.task.options)
    needs = sorted(task.needs()) if isinstance(task, PipelineHooks) else []
    given = "predicted" if getattr(cell, "predicted_inputs", None) else "gold"
    text = "sentence" + "".join(f" + {given} {field}" for field in needs)
    if getattr(source, "stage", None):
        text += f" (after stage '{source.stage}')"
    return text


def _stages_section(spec: Any) -> list[str]:
    """Which transfer stages the study trained (once per seed) and which cells started from each."""
    if not getattr(spec, "stages", None):
        return []
    lines = ["## Transfer stages", "", "Each stage is trained once per seed (`stages/` in this folder) and its "
             "weights start every cell that names it.", ""]
    for name, settings in spec.stages.items():
        users = [c.name for c in spec.cells if getattr(c, "stage", None) == name] or ["no cell"]
        lines.append(f"- **{name}**: `{json.dumps(settings)}`; used by: {', '.join(users)}.")
    return lines + [""]


def _data_section(spec: Any) -> list[str]:
    from ..config import load_config
    from ..data.inspect import inspect_data

    config = load_config(None, {**spec.base, **spec.cells[0].settings})
    try:
        report = inspect_data(config.data, tokenizer=None)
    except Exception as exc:  # the data section must never stop a finished study from being reported
        return [f"(data section unavailable: {exc})"]
    lines = ["The data set, as loaded:", "", "| split | rows | positive | neutral | negative |",
             "|---|---|---|---|---|"]
    for s in report["splits"]:
        labels = report["labels"][s]
        lines.append(f"| {s} | {report['rows'][s]} | {labels.get('positive', 0)} | {labels.get('neutral', 0)} | "
                     f"{labels.get('negative', 0)} |")
    lines.append("")
    for o in report["overlap"]:
        a, b = o["splits"]
        lines.append(f"- {o['normalised_sentences']} of {o['distinct_in_second']} distinct {b} sentences also occur "
                     f"in {a}.")
    how = ("carved from train: seeded, stratified, sentence-disjoint" if config.data.validation == "carve"
           else "the shipped split")
    lines.append(f"- Model selection used validation: `{config.data.validation}` ({how}, "
                 f"{config.data.validation_fraction:.0%}); the test split is read once per final run, for the "
                 "before/after evaluation.")
    lines += ["", "What each cell's runs used (first seed; rows after the task's filtering, splitting and limits):", ""]
    for cell in spec.cells:
        run = spec.run_dir(cell, spec.seeds[0])
        if is_run_folder(run):
            rows = read_run_info(run)["rows"]
            lines.append(f"- {cell.name}: train {rows['train']}, validation {rows['validation']}, "
                         f"test {rows['test']}.")
    return lines


def _cell_section(spec: Any, cell: Any, results: list[dict], floors: dict[str, dict], plots: Path) -> list[str]:
    """One cell's section: every metric before, after and as a seed ensemble, per-class F1, plots, floors."""
    entries = [r for r in results if r["slug"] == cell.slug]
    if not entries:
        return [f"## {cell.name}", "", "No finished run yet.", ""]
    lines = [f"## {cell.name}", "", f"Variant: {entries[0]['variant']}; model {entries[0]['model']} "
             f"({entries[0]['method']}); settings: `{json.dumps(cell.settings)}`; inputs at test time: "
             f"{inputs_text(spec, cell)}.", "",
             "| metric | before | after | ensemble of seeds |", "|---|---|---|---|"]
    for metric in dict.fromkeys(r["metric"] for r in entries):
        lines.append(f"| {metric} | {_cell_text(_find(results, cell.slug, 'before', metric))} | "
                     f"{_cell_text(_find(results, cell.slug, 'after', metric))} | "
                     f"{_cell_text(_find(results, cell.slug, 'ensemble', metric))} |")
    if not cell.trains:  # a view or a predicted-input cell: the runs' own tables and plots are under their cell
        return lines + ["", "Per-class scores, plots and examples: see the cell whose runs this reads.", ""]
    lines += _one_class_note(entries[0]["runs"])
    lines += _examples(entries[0]["runs"][0])
    per_class = _per_class(entries[0]["runs"])
    if per_class:
        lines += ["", "Per-class F1 after fine-tuning (mean over seeds): "
                  + ", ".join(f"{label} {f1:.3f}" for label, f1 in per_class.items()) + "."]
    first_run = Path(entries[0]["runs"][0])
    for name in ("confusion_after.png", "learning_curve.png"):
        if (first_run / name).is_file():
            target = plots / f"{cell.slug}-{name}"
            shutil.copy(first_run / name, target)
            lines += ["", f"![{cell.name}: {name[:-4]} (seed {spec.seeds[0]})](plots/{target.name})"]
    floor = floors.get(cell.slug)
    if floor:
        lines += ["", "Floors on the same split: " + "; ".join(
            f"{name.replace('_', ' ')}: " + ", ".join(f"{m} {format_metric(m, v)}" for m, v in metrics.items()
                                                      if m in ("accuracy", "macro_f1", "exact_match", "rouge1"))
            for name, metrics in floor.items()) + "."]
    return lines + [""]


def _headline_table(spec: Any, results: list[dict], floors: dict[str, dict]) -> list[str]:
    lines = [
        "## Headline table", "",
        f"Reference: {spec.reference_name}. Floors are computed on our split. 'Before' is the model before "
        "fine-tuning (the untrained head; zero-shot prompts for instruct; for a cell with a transfer stage, the "
        "stage's model before fine-tuning on this data). ⚠ marks a cell at or below its majority-class floor.", "",
        "| cell | inputs at test time | metric | reference: before | reference: after | floors | ours: before "
        "| ours: after | ours after: macro-F1 (targets: ROUGE-1), 0-1 | ours: ensemble of seeds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in spec.cells:
        metric = _main_metric(results, cell.slug)
        macro = _as_fraction(_find(results, cell.slug, "after", "macro_f1" if metric == "accuracy" else "rouge1"))
        after = _find(results, cell.slug, "after", metric)
        majority = floors.get(cell.slug, {}).get("majority", {}).get(metric)
        flag = " ⚠" if after is not None and majority is not None and after["mean"] <= majority + 1e-9 else ""
        lines.append(
            f"| {cell.name} | {inputs_text(spec, cell)} | {metric} "
            f"| {_reference(cell.reference.get('before'), metric)} | {_reference(cell.reference.get('after'), metric)} "
            f"| {_floor_text(floors.get(cell.slug, {}), metric)} | "
            f"{_cell_text(_find(results, cell.slug, 'before', metric))} | {_cell_text(after)}{flag} | "
            f"{_cell_text(macro)} | {_cell_text(_find(results, cell.slug, 'ensemble', metric))} |"
        )
    return lines + ["", "The reference study reported micro-averaged precision/recall/F1 (equal to accuracy) and "
                    "selected models on a validation split contained in its training split.", ""]


def _as_fraction(entry: dict | None) -> dict | None:
    """ROUGE-1 and token F1 are kept on a 0-100 scale; shown beside macro-F1, they are put on its 0-1 scale."""
    if entry is None or metric_kind(entry["metric"]) not in ("rouge1", "token_f1"):
        return entry
    return {**entry, "metric": "macro_f1", **{k: entry[k] / 100 for k in ("mean", "sd", "ci_low", "ci_high")}}


def _examples(run: str) -> list[str]:
    """20 test sentences of a run, the wrong ones first, drawn as the web page draws them (an HTML block)."""
    saved = read_predictions(Path(run))
    if not saved:
        return []
    info = read_run_info(Path(run))
    rows = pick_examples(build_task(info["task"], info.get("task_options")), saved)
    wrong = sum(not row["correct"] for row in rows)
    return ["", f"<details><summary>Examples: {len(rows)} test sentences of {Path(run).name}, {wrong} wrong, wrong "
                f"first</summary>", "", examples_html(rows), "", "</details>"]


def held_out_entries(spec: Any, results: list[dict]) -> list[dict[str, Any]]:
    """Every training cell's held-out sets over its seeds: in-source (``hold_out``, carved from a source it trains
    on) or cross-source (``test_only``, a source it never trains on), each metric as mean and sd."""
    import statistics

    entries = []
    for cell in (c for c in spec.cells if c.trains):
        runs = next((r["runs"] for r in results if r["slug"] == cell.slug and r["stage"] == "after"), [])
        sets: dict[str, list[dict]] = {}
        kinds: dict[str, str] = {}
        for run in runs:
            report = read_report(Path(run))
            for name, metrics in (report.get("held_out_tests") or {}).items():
                sets.setdefault(name, []).append(metrics)
                never = bool(metrics.get("never_trained_on"))
                kinds[name] = "cross-source (never trained on)" if never else "in-source (held out)"
        for name, reports in sets.items():
            entry: dict[str, Any] = {"cell": cell.name, "slug": cell.slug, "test_set": name, "kind": kinds[name],
                                     "sentences": reports[0].get("n"), "n_seeds": len(reports)}
            for metric in HELD_OUT_METRICS:
                values = [r[metric] for r in reports if r.get(metric) is not None]
                if values:
                    entry[metric] = {"mean": statistics.fmean(values),
                                     "sd": statistics.stdev(values) if len(values) > 1 else 0.0}
            entries.append(entry)
    return entries


def _held_out_section(entries: list[dict[str, Any]]) -> list[str]:
    if not entries:
        return []
    lines = ["## Held-out and cross-source test sets", "",
             "Sentences no run trained on. *In-source*: carved from a source the run trains on (its own "
             "conventions). *Cross-source*: a source the run never trains on; the number that predicts how a user's "
             "own news will go. Pair F1: (target, sentiment) pairs with predicted targets; sentiment: with gold "
             "targets; mixed: sentences whose targets differ in sentiment.", "",
             "| cell | test set | kind | sentences | seeds | " + " | ".join(HELD_OUT_METRICS) + " |",
             "|---|---|---|---:|---:|" + "---:|" * len(HELD_OUT_METRICS)]
    for e in entries:
        cells = [f"{e[m]['mean']:.3f}" + (f" ± {e[m]['sd']:.3f}" if e["n_seeds"] > 1 else "") if m in e else "–"
                 for m in HELD_OUT_METRICS]
        lines.append(f"| {e['cell']} | {e['test_set']} | {e['kind']} | {e['sentences']} | {e['n_seeds']} | "
                     + " | ".join(cells) + " |")
    return lines + [""]


def _one_class_note(runs: list[str]) -> list[str]:
    """A warning for each run that predicted the same class for every test row."""
    notes = []
    for run in runs:
        saved = read_predictions(Path(run))
        if not saved:
            continue
        labels = {row.get("label") for row in saved}
        if len(labels) == 1 and None not in labels:
            notes.append(f"⚠ {Path(run).name} predicts '{labels.pop()}' for every test row: it learnt no more than "
                         "a majority class.")
    return ["", *notes] if notes else []


def write_study_report(spec: Any, results: list[dict], floors: dict[str, dict], output: Path,
                       wall_seconds: float) -> list[Path]:
    """Write report.md, report.html, results.json and the plots for a finished (or partly finished) study."""
    output.mkdir(parents=True, exist_ok=True)
    plots = output / "plots"
    plots.mkdir(exist_ok=True)
    seeds = ", ".join(map(str, spec.seeds))
    lines = [f"# Study: {spec.name}", ""]
    if getattr(spec, "quick", None):
        lines += [f"**Quick preset** (`--quick`: {json.dumps(spec.quick)}): a smoke test of the table's shape, "
                  "not a result; its numbers are not comparable with the reference or the full study.", ""]
    lines += [
        f"Seeds {seeds}; every cell is mean ± sd over seeds with a 95 % t-interval over seeds in brackets "
        "(a single seed shows its bootstrap interval over test rows). 'Ensemble' averages the seeds' "
        "predictions (class probabilities, scores, or a vote on targets), with a bootstrap interval over test "
        f"rows. Wall time of this invocation: {wall_seconds / 60:.1f} min (runs finished earlier were skipped); "
        f"the runs themselves took {_run_minutes(results):.1f} min in all.", "",
    ]
    lines += _headline_table(spec, results, floors)
    held_out = held_out_entries(spec, results)
    lines += _held_out_section(held_out)
    lines += _stages_section(spec)
    for cell in spec.cells:
        lines += _cell_section(spec, cell, results, floors, plots)
    lines += ["## Data", ""] + _data_section(spec)
    text = "\n".join(lines) + "\n"
    (output / "report.md").write_text(text, encoding="utf-8")
    import markdown

    (output / "report.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>finabsa study</title><style>body{font-family:sans-serif;"
        "max-width:75em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "img{max-width:48%}</style>\n" + markdown.markdown(text, extensions=["tables"]), encoding="utf-8")
    (output / "results.json").write_text(json.dumps({
        "study": spec.name, "seeds": spec.seeds, "wall_seconds": round(wall_seconds, 1), "cells": results,
        "held_out": held_out,
        "floors": {slug: {name: {k: v for k, v in m.items() if k in ("accuracy", "macro_f1", "exact_match",
                                                                        "token_f1", "rouge1")}
                          for name, m in f.items()} for slug, f in floors.items()},
    }, indent=2), encoding="utf-8")
    return [output / "report.md", output / "report.html", output / "results.json"]


def _run_minutes(results: list[dict]) -> float:
    """Total duration of the distinct run folders behind the results (from their run.json)."""
    runs = {run for entry in results for run in entry["runs"]}
    seconds = 0.0
    for run in runs:
        if is_run_folder(Path(run)):
            seconds += read_run_info(Path(run)).get("seconds") or 0.0
    return seconds / 60


def _per_class(runs: list[str]) -> dict[str, float]:
    import statistics

    collected: dict[str, list[float]] = {}
    for run in runs:
        report = read_report(Path(run))
        for label, scores in (report["after"].get("per_class") or {}).items():
            collected.setdefault(label, []).append(scores["f1"])
    if len(collected) > 12:
        return {}
    return {label: statistics.fmean(values) for label, values in collected.items()}
