"""``finabsa study``: run a declared matrix of experiments and report them beside a reference study.

A study file (YAML) declares ``cells`` (one task variant each: task, settings, the reference numbers to compare
with) and ``seeds``; every (cell, seed) pair is one ordinary training run. Finished runs are skipped, so an
interrupted study resumes. The report gives every cell as mean ± sd over seeds with a 95 % t-interval, beside
honest floors (untrained head, majority class, TF-IDF + logistic regression) and the reference numbers.

    name: fiqa-study
    seeds: [1, 2, 3]
    base: {model.name: minilm}              # dotted settings shared by every run
    cells:
      - name: sentiment (sentence)
        settings: {task.name: sentiment}
        reference: {before: 0.26, after: 0.5934}
    quick: {seeds: [1], base: {training.epochs: 2}}   # what --quick changes
"""

from __future__ import annotations

import json
import logging
import math
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig, load_config, read_yaml_mapping
from .errors import ConfigError

__all__ = ["StudySpec", "Cell", "load_study", "run_study", "aggregate", "t_interval", "baselines", "seed_ensemble"]

logger = logging.getLogger(__name__)


@dataclass
class Cell:
    """One row of the study table: a task variant trained with every seed."""

    name: str
    settings: dict[str, Any]
    reference: dict[str, float] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


@dataclass
class StudySpec:
    name: str
    seeds: list[int]
    base: dict[str, Any]
    cells: list[Cell]
    output: str
    reference_name: str = "reference study"
    path: str | None = None


def load_study(path: str | Path, quick: bool = False, output: str | None = None) -> StudySpec:
    """Read and check a study file; ``quick`` applies its ``quick`` section. All problems come in one error."""
    path = Path(path)
    raw = read_yaml_mapping(path, "study", "see configs/study-fiqa.yaml for an example")
    problems: list[str] = []
    known = {"name", "seeds", "base", "cells", "output", "quick", "reference_name"}
    problems += [f"unknown study key '{k}'; known: {', '.join(sorted(known))}" for k in raw if k not in known]
    base = dict(raw.get("base") or {})
    seeds = raw.get("seeds") or [42]
    if quick:
        section = raw.get("quick") or {}
        seeds = section.get("seeds", seeds[:1])
        base.update(section.get("base") or {})
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds) or not seeds:
        problems.append(f"seeds must be a non-empty list of integers; found {seeds!r}")
    cells = []
    for i, entry in enumerate(raw.get("cells") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            problems.append(f"cells[{i}] must be a mapping with a 'name'; found {entry!r}")
            continue
        cell = Cell(name=str(entry["name"]), settings=dict(entry.get("settings") or {}),
                    reference=dict(entry.get("reference") or {}))
        try:
            _cell_config(base, cell, 0, Path("x")).validate()
        except ConfigError as exc:
            problems += [f"cell '{cell.name}': {p}" for p in exc.problems]
        cells.append(cell)
    if not cells:
        problems.append("the study declares no cells")
    slugs = [c.slug for c in cells]
    problems += [f"two cells share the name '{s}'" for s in sorted({s for s in slugs if slugs.count(s) > 1})]
    if problems:
        raise ConfigError(problems)
    name = str(raw.get("name") or path.stem)
    default_output = f"reports/{name}{'-quick' if quick else ''}"
    return StudySpec(name=name, seeds=list(seeds), base=base, cells=cells,
                     output=output or raw.get("output") or default_output,
                     reference_name=str(raw.get("reference_name") or "reference study"), path=str(path))


def _cell_config(base: dict[str, Any], cell: Cell, seed: int, run_dir: Path) -> RunConfig:
    overrides = {**base, **cell.settings, "training.seed": seed, "output": str(run_dir)}
    return load_config(None, overrides)


def _complete(run_dir: Path) -> bool:
    info = run_dir / "run.json"
    return info.is_file() and json.loads(info.read_text()).get("status") == "complete"


def _resumable(run_dir: Path, config: RunConfig) -> bool:
    """Whether an interrupted run of exactly this configuration left a checkpoint to continue from."""
    from .training.run_folder import RunFolder

    folder = RunFolder(run_dir, resume=True)
    saved = folder.path / "config.yaml"
    if not saved.is_file() or folder.latest_checkpoint() is None:
        return False
    return load_config(saved).resolved().to_yaml() == config.resolved().to_yaml()


def run_study(spec: StudySpec, progress: bool = False, report_only: bool = False) -> dict[str, Any]:
    """Train every (cell, seed) not yet finished, then aggregate and write the report folder.

    Seeds are the outer loop, so a study stopped early still has every cell filled for the first seeds;
    ``report_only`` writes the report from the runs finished so far without training.
    """
    from .training import resume, train

    output = Path(spec.output)
    started = time.time()
    total = len(spec.cells) * len(spec.seeds)
    done = 0
    for seed in [] if report_only else spec.seeds:
        for cell in spec.cells:
            done += 1
            run_dir = output / "runs" / cell.slug / f"seed-{seed}"
            if _complete(run_dir):
                logger.info("[%d/%d] %s, seed %d: finished earlier, skipped", done, total, cell.name, seed)
                continue
            config = _cell_config(spec.base, cell, seed, run_dir)
            config.overwrite = True  # a leftover unfinished folder of this run is replaced (unless resumable)
            if _resumable(run_dir, config):
                logger.info("[%d/%d] %s, seed %d: resuming an interrupted run", done, total, cell.name, seed)
                resume(run_dir, progress=progress)
                continue
            logger.info("[%d/%d] %s, seed %d: training", done, total, cell.name, seed)
            train(config, progress=progress)
    results = aggregate(spec)
    floors = {cell.slug: baselines(_cell_config(spec.base, cell, spec.seeds[0], output)) for cell in spec.cells}
    for cell in spec.cells:
        runs = next((r["runs"] for r in results if r["slug"] == cell.slug), [])
        ensemble = seed_ensemble(_cell_config(spec.base, cell, spec.seeds[0], output), runs)
        if ensemble:
            results += _ensemble_entries(cell, results, ensemble, runs)
    wall = time.time() - started
    from .reports.study_report import write_study_report

    write_study_report(spec, results, floors, output, wall_seconds=wall)
    return {"output": str(output), "results": results, "wall_seconds": wall}


def t_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """Student-t interval of the mean over seeds (None for a single value)."""
    if len(values) < 2:
        return None
    from scipy import stats

    mean = statistics.fmean(values)
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean - half, mean + half


def _ensemble_entries(cell: Cell, results: list[dict], metrics: dict[str, Any], runs: list[str]) -> list[dict]:
    """Result entries (stage 'ensemble') for the headline metrics of a cell's seed ensemble."""
    template = next(r for r in results if r["slug"] == cell.slug and r["stage"] == "after")
    entries = []
    for metric in dict.fromkeys(r["metric"] for r in results if r["slug"] == cell.slug):
        if metrics.get(metric) is None:
            continue
        low, high = metrics.get(f"{metric}_ci") or (metrics[metric], metrics[metric])
        entries.append({**template, "stage": "ensemble", "metric": metric, "mean": metrics[metric], "sd": 0.0,
                        "ci_low": low, "ci_high": high, "n_seeds": len(runs), "runs": runs,
                        "interval": "bootstrap over test rows"})
    return entries


def aggregate(spec: StudySpec) -> list[dict[str, Any]]:
    """One entry per (cell, stage, metric): mean, sd and 95 % CI over the seeds' reports."""
    entries = []
    for cell in spec.cells:
        reports, runs = [], []
        for seed in spec.seeds:
            run_dir = Path(spec.output) / "runs" / cell.slug / f"seed-{seed}"
            if _complete(run_dir):
                reports.append(json.loads((run_dir / "report.json").read_text()))
                runs.append(str(run_dir))
        if not reports:
            continue
        first = reports[0]
        for stage in ("before", "after"):
            for metric in first["headline_metrics"]:
                values = [r[stage][metric] for r in reports if r.get(stage) and r[stage].get(metric) is not None]
                if not values:
                    continue
                interval = t_interval(values)
                if interval is None:  # one seed: that run's bootstrap interval over test rows, if it has one
                    ci = reports[0][stage].get(f"{metric}_ci")
                    interval = tuple(ci) if ci else (values[0], values[0])
                # Two or three seeds give wide t-intervals; a score cannot leave its range, so clip to it.
                upper = 100.0 if metric in ("token_f1", "rouge1") else 1.0
                lower = -math.inf if metric in ("r2", "pearson") else 0.0
                upper = math.inf if metric in ("mse", "rmse", "mae") else upper
                interval = (max(lower, interval[0]), min(upper, interval[1]))
                entries.append({
                    "cell": cell.name, "slug": cell.slug, "task": first["task"],
                    "variant": first["task_description"], "model": first["model"], "method": first["method"],
                    "stage": stage, "metric": metric, "mean": statistics.fmean(values),
                    "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "ci_low": interval[0], "ci_high": interval[1], "n_seeds": len(values), "runs": runs,
                    "interval": "t over seeds" if len(values) > 1 else "bootstrap over test rows",
                })
    return entries


def seed_ensemble(config: RunConfig, runs: list[str]) -> dict[str, Any] | None:
    """Test metrics of the finished seeds' predictions combined (``Task.ensemble``); None for fewer than 2 seeds.

    Combines the saved test predictions, so it costs no training and reads the test split only as the runs did.
    """
    from .config import EvaluationConfig
    from .data.prepare import load_task_data
    from .tasks import StudyHooks, build_task

    if len(runs) < 2:
        return None
    task = build_task(config.task.name, config.task.options)
    if not isinstance(task, StudyHooks):
        return None
    predictions = [[json.loads(line) for line in (Path(run) / "predictions.jsonl").read_text().splitlines()]
                   for run in runs]
    combined = task.ensemble(predictions)
    if combined is None:
        return None
    test = load_task_data(task, config.data).test
    labels = json.loads((Path(runs[0]) / "labels.json").read_text())
    if task.closed_label_set(labels):
        test = [e for e in test if task.gold(e) in labels] if len(test) != len(combined) else test
    if [e.sentence for e in test] != [row["sentence"] for row in predictions[0]]:
        logger.warning("the saved predictions of %s do not line up with the test split; no ensemble", runs[0])
        return None
    return task.score(test, combined, labels, EvaluationConfig(bootstrap_samples=1000))


def baselines(config: RunConfig) -> dict[str, Any]:
    """Metrics of the task's floors (e.g. majority class, TF-IDF + logistic regression) on the run's own split."""
    from .config import EvaluationConfig
    from .data.prepare import load_task_data
    from .tasks import StudyHooks, build_task

    task = build_task(config.task.name, config.task.options)
    if not isinstance(task, StudyHooks):
        return {}
    data = load_task_data(task, config.data)
    labels = task.build_labels(data.train)
    no_intervals = EvaluationConfig(bootstrap_samples=0)
    return {name: task.score(data.test, predictions, labels, no_intervals)
            for name, predictions in task.baselines(data.train, data.test, labels).items()}

