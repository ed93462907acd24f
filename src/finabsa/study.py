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

Besides ordinary cells:

- ``stages`` declares transfer stages (``name: {settings: {...}}``), trained once per seed and cached under
  ``stages/``; a cell with ``stage: NAME`` starts from that stage's weights (``training.init_from``), so several
  cells share one stage run.
- A cell with ``view_of: CELL`` trains nothing: it reports CELL's runs through the metrics named
  ``metric_prefix + accuracy`` etc. (one hierarchical aspect run read at level 1, level 2 and full path).
- A cell with ``predicted_inputs: {model: CELL, target: CELL, aspect: CELL}`` trains nothing: it scores the model
  cell's runs on the test sentences alone, with the target and aspects predicted by the other cells' runs of the
  same seed (what a deployed pipeline sees), instead of the gold ones.
- A cell with ``seeds: [1]`` trains only those of the study's seeds (a costly cell, such as one that leaves a
  source out of training to measure it as a ``test_only`` set).

Every run's held-out sets (``hold_out`` and ``test_only`` sources) are reported in a table of their own: the
in-source and cross-source numbers side by side.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig, learning_differences, load_config, read_yaml_mapping
from .errors import ConfigError
from .run_layout import CONFIG_FILE, is_finished, read_labels, read_predictions, read_report, read_run_info

__all__ = ["StudySpec", "Cell", "load_study", "run_study", "aggregate", "t_interval", "baselines", "seed_ensemble"]

logger = logging.getLogger(__name__)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass
class Cell:
    """One row of the study table: a task variant trained with every seed (or a view of another cell's runs)."""

    name: str
    settings: dict[str, Any]
    reference: dict[str, float] = field(default_factory=dict)
    stage: str | None = None
    view_of: str | None = None
    metric_prefix: str = ""
    predicted_inputs: dict[str, str] = field(default_factory=dict)
    #: The study's seeds this cell trains (None: all of them); e.g. one seed for a costly cross-source cell.
    seeds: list[int] | None = None

    @property
    def slug(self) -> str:
        return _slug(self.name)

    @property
    def trains(self) -> bool:
        return not self.view_of and not self.predicted_inputs


@dataclass
class StudySpec:
    name: str
    seeds: list[int]
    base: dict[str, Any]
    cells: list[Cell]
    output: str
    reference_name: str = "reference study"
    path: str | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The settings ``--quick`` changed (empty for the full study): the report says so at the top.
    quick: dict[str, Any] = field(default_factory=dict)

    def cell(self, name: str) -> Cell:
        return next(c for c in self.cells if c.name == name)

    def run_dir(self, cell: Cell, seed: int) -> Path:
        """Where a cell's run of ``seed`` is (a view's: the viewed cell's)."""
        source = self.cell(cell.view_of) if cell.view_of else cell
        return Path(self.output) / "runs" / source.slug / f"seed-{seed}"

    def stage_dir(self, stage: str, seed: int) -> Path:
        return Path(self.output) / "stages" / _slug(stage) / f"seed-{seed}"


def load_study(path: str | Path, quick: bool = False, output: str | None = None) -> StudySpec:
    """Read and check a study file; ``quick`` applies its ``quick`` section. All problems come in one error."""
    path = Path(path)
    raw = read_yaml_mapping(path, "study", "see configs/study-fiqa.yaml for an example")
    problems: list[str] = []
    known = {"name", "seeds", "base", "cells", "output", "quick", "reference_name", "stages"}
    problems += [f"unknown study key '{k}'; known: {', '.join(sorted(known))}" for k in raw if k not in known]
    base = dict(raw.get("base") or {})
    seeds = raw.get("seeds") or [42]
    quick_settings: dict[str, Any] = {}
    if quick:
        section = raw.get("quick") or {}
        seeds = section.get("seeds", seeds[:1])
        quick_settings = {"seeds": seeds, **(section.get("base") or {})}
        base.update(section.get("base") or {})
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds) or not seeds:
        problems.append(f"seeds must be a non-empty list of integers; found {seeds!r}")
    # --quick wins over a cell's or stage's own settings too (a cell that asks for 10 epochs gets the quick 2).
    quick_base = {k: v for k, v in quick_settings.items() if k != "seeds"}
    cells = []
    for i, entry in enumerate(raw.get("cells") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            problems.append(f"cells[{i}] must be a mapping with a 'name'; found {entry!r}")
            continue
        cell = Cell(name=str(entry["name"]), settings={**dict(entry.get("settings") or {}), **quick_base},
                    reference=dict(entry.get("reference") or {}), stage=entry.get("stage"),
                    view_of=entry.get("view_of"), metric_prefix=str(entry.get("metric_prefix") or ""),
                    predicted_inputs=dict(entry.get("predicted_inputs") or {}),
                    seeds=_cell_seeds(entry.get("seeds"), list(seeds) if isinstance(seeds, list) else [], problems,
                                      str(entry["name"])))
        try:
            _cell_config(base, cell, 0, Path("x")).validate()
        except ConfigError as exc:
            problems += [f"cell '{cell.name}': {p}" for p in exc.problems]
        cells.append(cell)
    stages = dict(raw.get("stages") or {})
    problems += _reference_problems(cells, stages)
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
                     reference_name=str(raw.get("reference_name") or "reference study"), path=str(path),
                     stages={name: {**dict((value or {}).get("settings") or {}), **quick_base}
                             for name, value in stages.items()},
                     quick=quick_settings)


def _cell_seeds(raw: Any, study_seeds: list[int], problems: list[str], name: str) -> list[int] | None:
    """A cell's own seeds: a subset of the study's (with --quick, those of the quick seeds it has, else the first)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(s, int) for s in raw):
        problems.append(f"cell '{name}': seeds must be a non-empty list of integers; found {raw!r}")
        return None
    kept = [s for s in raw if s in study_seeds]
    return kept or study_seeds[:1]


def _reference_problems(cells: list[Cell], stages: dict[str, Any]) -> list[str]:
    """Cells that name a stage or another cell that the study does not declare."""
    names = {c.name for c in cells if c.trains}
    problems = [f"cell '{c.name}': stage '{c.stage}' is not declared under 'stages' (declared: "
                f"{', '.join(stages) or 'none'})" for c in cells if c.stage and c.stage not in stages]
    for cell in cells:
        wanted = ([cell.view_of] if cell.view_of else []) + list(cell.predicted_inputs.values())
        problems += [f"cell '{cell.name}': '{name}' is not a training cell of this study (cells: "
                     f"{', '.join(sorted(names))})" for name in wanted if name not in names]
        providers = _input_providers()
        unknown = set(cell.predicted_inputs) - {MODEL_ROLE, *providers}
        if unknown or (cell.predicted_inputs and MODEL_ROLE not in cell.predicted_inputs):
            problems.append(f"cell '{cell.name}': predicted_inputs takes {MODEL_ROLE} (required) and the tasks that "
                            f"predict a model's inputs ({', '.join(providers)}); found "
                            f"{', '.join(cell.predicted_inputs)}")
    return problems


#: The ``predicted_inputs`` role of the cell whose runs are scored; every other role names the task that predicts
#: an input for it.
MODEL_ROLE = "model"


def _input_providers() -> list[str]:
    """Tasks whose predictions can fill another task's input (``PipelineHooks.provides``), by name."""
    from .tasks import PipelineHooks, build_task, task_names

    providers = []
    for name in task_names():
        task = build_task(name)
        if isinstance(task, PipelineHooks) and task.provides():
            providers.append(name)
    return providers


def _cell_config(base: dict[str, Any], cell: Cell, seed: int, run_dir: Path) -> RunConfig:
    overrides = {**base, **cell.settings, "training.seed": seed, "output": str(run_dir)}
    return load_config(None, overrides)


def _complete(run_dir: Path) -> bool:
    return is_finished(run_dir)


def run_study(spec: StudySpec, progress: bool = False, report_only: bool = False) -> dict[str, Any]:
    """Train every (cell, seed) not yet finished, then aggregate and write the report folder.

    Seeds are the outer loop, so a study stopped early still has every cell filled for the first seeds;
    ``report_only`` writes the report from the runs finished so far without training.
    """
    output = Path(spec.output)
    started = time.time()
    _refuse_stale_runs(spec)
    training_cells = [cell for cell in spec.cells if cell.trains]
    total = sum(len(cell.seeds or spec.seeds) for cell in training_cells)
    done = 0
    for seed in [] if report_only else spec.seeds:
        for cell in training_cells:
            if cell.seeds is not None and seed not in cell.seeds:
                continue
            done += 1
            _run_cell(spec, cell, seed, f"[{done}/{total}] {cell.name}, seed {seed}", progress)
    results = aggregate(spec)
    if report_only and not results:
        raise ConfigError([f"no finished runs under '{output / 'runs'}' to report on; run the study without "
                           "--report-only first (runs finished earlier are kept and skipped)."])
    floors = {cell.slug: baselines(_cell_config(spec.base, cell, spec.seeds[0], output)) for cell in spec.cells}
    for cell in training_cells:
        runs = next((r["runs"] for r in results if r["slug"] == cell.slug), [])
        ensemble = seed_ensemble(_cell_config(spec.base, cell, spec.seeds[0], output), runs)
        if ensemble:
            results += _ensemble_entries(cell, results, ensemble, runs)
    wall = time.time() - started
    from .reports.study_report import write_study_report

    write_study_report(spec, results, floors, output, wall_seconds=wall)
    return {"output": str(output), "results": results, "wall_seconds": wall}


def _run_cell(spec: StudySpec, cell: Cell, seed: int, label: str, progress: bool) -> None:
    """Train (or resume) one cell's run of one seed, after its stage; a finished run is skipped."""
    run_dir = spec.run_dir(cell, seed)
    if _complete(run_dir):
        logger.info("%s: finished earlier, skipped", label)
        return
    if cell.stage:
        _train_stage(spec, cell.stage, seed, progress)
    from .training import train_or_resume

    train_or_resume(_run_config(spec, cell, seed), label, progress, log=logger)


def _run_config(spec: StudySpec, cell: Cell, seed: int) -> RunConfig:
    """The configuration of a training cell's run of ``seed``, starting from its stage's run when it has one."""
    config = _cell_config(spec.base, cell, seed, spec.run_dir(cell, seed))
    if cell.stage:
        config.training.init_from = str(spec.stage_dir(cell.stage, seed))
    return config


def _stage_config(spec: StudySpec, stage: str, seed: int) -> RunConfig:
    return load_config(None, {**spec.base, **spec.stages[stage], "training.seed": seed,
                              "output": str(spec.stage_dir(stage, seed))})


def _train_stage(spec: StudySpec, stage: str, seed: int, progress: bool) -> None:
    """The run of a transfer stage for ``seed``, trained on first use and reused by every cell after."""
    if not _complete(spec.stage_dir(stage, seed)):
        from .training import train_or_resume

        train_or_resume(_stage_config(spec, stage, seed), f"stage '{stage}', seed {seed}", progress, log=logger)


def _refuse_stale_runs(spec: StudySpec) -> None:
    """Refuse a study whose report folder holds finished runs (or stages) trained otherwise than the study file
    now says: with other settings, or from an earlier run of their stage. They would be skipped, and the report
    would show what the file no longer describes."""
    runs = [(cell, seed) for cell in spec.cells if cell.trains for seed in cell.seeds or spec.seeds]
    stale: dict[Path, list[str]] = {}
    for stage, seed in dict.fromkeys((cell.stage, seed) for cell, seed in runs if cell.stage):
        stale.update(_changed(spec.stage_dir(stage, seed), _stage_config(spec, stage, seed)))
    for cell, seed in runs:
        run_dir = spec.run_dir(cell, seed)
        if cell.stage and _complete(run_dir):
            stage_dir = spec.stage_dir(cell.stage, seed)
            if stage_dir in stale or not _complete(stage_dir) or _finished_after(stage_dir, run_dir):
                stale[run_dir] = [f"it started from an earlier run of stage '{cell.stage}' (changed, trained again "
                                  "or removed since)"]
        for where, differences in _changed(run_dir, _run_config(spec, cell, seed)).items():
            stale.setdefault(where, []).extend(differences)
    if stale:
        listed = "".join(f"\n      {run_dir}: {'; '.join(reasons)}" for run_dir, reasons in stale.items())
        raise ConfigError([
            f"study '{spec.name}': {len(stale)} finished run(s) in {spec.output} were trained otherwise than the "
            f"study file now says (settings: in the run -> in the file); they would be skipped and reported as if "
            f"they were the file's:{listed}\n    to retrain them as the file says, delete them (rm -rf "
            f"{' '.join(map(str, stale))}) and run the study again; to keep them, restore those settings in the "
            "study file."])


def _changed(run_dir: Path, config: RunConfig) -> dict[Path, list[str]]:
    """``{run_dir: the settings that differ}`` for a finished run trained otherwise than ``config``; else empty."""
    if not _complete(run_dir):
        return {}
    differences = learning_differences(load_config(run_dir / CONFIG_FILE), config)
    return {run_dir: differences} if differences else {}


def _finished_after(stage_dir: Path, run_dir: Path) -> bool:
    """Whether the stage's run finished after ``run_dir`` started (the stage was trained again since)."""
    from datetime import datetime

    stage, run = read_run_info(stage_dir), read_run_info(run_dir)
    if not (stage.get("finished") and run.get("started")):
        return False
    return datetime.fromisoformat(stage["finished"]) > datetime.fromisoformat(run["started"])


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
        reports, runs = _cell_reports(spec, cell)
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


def _cell_reports(spec: StudySpec, cell: Cell) -> tuple[list[dict], list[str]]:
    """The report of each finished seed of a cell (a view's read through its prefix), and the run folders."""
    reports, runs = [], []
    for seed in spec.seeds:
        run_dir = spec.run_dir(cell, seed)
        if cell.predicted_inputs:
            report = predicted_input_report(spec, cell, seed)
            run_dir = spec.run_dir(spec.cell(cell.predicted_inputs[MODEL_ROLE]), seed)
        elif _complete(run_dir):
            report = _view(read_report(run_dir), cell.metric_prefix)
        else:
            report = None
        if report is not None:
            reports.append(report)
            runs.append(str(run_dir))
    return reports, runs


def _view(report: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A run's report as read through ``prefix``: ``level1_accuracy`` becomes the view's ``accuracy``."""
    if not prefix:
        return report
    names = [m[len(prefix):] for m in report["headline_metrics"] if m.startswith(prefix)]
    view = {**report, "headline_metrics": names,
            "task_description": f"{report['task_description']}, read at {prefix.rstrip('_')}"}
    for stage in ("before", "after"):
        view[stage] = {n: report[stage].get(prefix + n) for n in names} if report.get(stage) else None
    return view


def predicted_input_report(spec: StudySpec, cell: Cell, seed: int) -> dict[str, Any] | None:
    """The model cell's run of ``seed`` scored on test sentences alone, its target and aspects predicted by the
    target and aspect cells' runs of the same seed (cached in ``derived/``); None until those runs finished."""
    cache = Path(spec.output) / "derived" / cell.slug / f"seed-{seed}.json"
    runs = {role: spec.run_dir(spec.cell(name), seed) for role, name in cell.predicted_inputs.items()}
    if not all(_complete(run) for run in runs.values()):
        return None
    if cache.is_file():
        return json.loads(cache.read_text())
    from .data.prepare import training_data
    from .inference.loading import load
    from .inference.pipeline import Pipeline
    from .reports.run_report import build_report

    model = load(runs[MODEL_ROLE])
    task, config = model.task, model.info["config"]
    test = training_data(task, config.data).test
    pipeline = Pipeline({**{role: run for role, run in runs.items() if role != MODEL_ROLE}, task.name: model},
                        merge=False)
    bare = [dataclasses.replace(e, target=None, aspects=()) for e in test]
    predicted = pipeline.predict_tasks(bare)[task.name]
    unanswered = sum(p is None for p in predicted)
    predicted = [p or {"label": "(no input found)", "score": 0.0, "probability": 0.0} for p in predicted]
    metrics = task.score(test, predicted, model.labels, config.evaluation)
    inputs = ", ".join(f"{role} from '{name}'" for role, name in cell.predicted_inputs.items() if role != MODEL_ROLE)
    report = build_report(task, config, model.labels, len(test), None, metrics,
                          data_notes=[f"test inputs: the sentence only; {inputs} (same seed); {unanswered} "
                                      "sentence(s) got no input and count as wrong."])
    report["task_description"] = f"{task.describe()}, predicted inputs"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(report, indent=2, default=str))
    return report


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
    predictions = [read_predictions(Path(run)) for run in runs]
    combined = task.ensemble(predictions)
    if combined is None:
        return None
    test = load_task_data(task, config.data).test
    labels = read_labels(Path(runs[0]))
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

