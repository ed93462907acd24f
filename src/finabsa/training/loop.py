"""The one training loop: every task goes through ``train(config)``, in named steps.

1. **prepare**: load and split the data for the task, build the label list (``finabsa.data.prepare``);
2. **build**: the tokenizer and the base model with the task's head and the fine-tuning method;
3. **evaluate** the model on the test split before fine-tuning;
4. **fit** with the Hugging Face ``Trainer`` (so ``accelerate launch`` works unchanged), selecting the best epoch
   on the carved validation split;
5. **evaluate** again and **save** the run folder: adapter, report, plots, predictions.
"""

from __future__ import annotations

import copy
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import EvaluationConfig, RunConfig, learning_differences, load_config
from ..data.prepare import TrainingData, training_data
from ..models.build import (
    build_model,
    count_parameters,
    initialise_from,
    save_trained,
    training_collator,
    training_loss,
)
from ..models.calibration import Calibration, calibration_report, collect_pairs, fit_calibration
from ..models.heads import Distillation, head_for
from ..models.hub import load_tokenizer, resolve_model
from ..models.predictor import Predictor
from ..reports.examples import pick_examples
from ..reports.model_card import model_card
from ..reports.plots import write_run_plots
from ..reports.run_report import build_report, html_report, markdown_report
from ..run_layout import (
    CALIBRATION_FILE,
    CARD_FILE,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    LABELS_FILE,
    METRICS_FILE,
    MODEL_DIR,
    PREDICTIONS_FILE,
    REPORT_FILE,
    RUN_FILE,
    is_finished,
    read_run_info,
)
from ..tasks import Task, build_task
from .averaging import WeightAverage, weight_average_callback
from .run_folder import RunFolder, git_commit, now, package_versions
from .trainer import (
    ListDataset,
    barrier,
    checkpoint_every,
    keep_metrics_until,
    metrics_logger,
    precision_of,
    staging_arguments,
    step_of,
    trainer_class,
)

__all__ = ["RunResult", "train", "train_tasks", "resume", "default_output"]

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What ``train`` returns: the finished run folder and its evaluation report."""

    run_dir: Path
    report: dict[str, Any]


@dataclass
class _Prepared:
    """Everything a run sets up before its run folder exists (steps 1 and 2)."""

    config: RunConfig
    task: Task
    data: TrainingData
    tokenizer: Any
    model: Any
    parameters: dict[str, int]
    started: float


def default_output(config: RunConfig) -> Path:
    """``runs/<task>-<model>-<method>-<timestamp>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    model = Path(config.model.name).name.replace("/", "-")
    return Path("runs") / f"{config.task.name}-{model}-{config.adapter.method}-{stamp}"


def train(config: RunConfig, progress: bool = True) -> RunResult:
    """Train one task as configured and write its run folder; returns the folder and the report.

    ``finabsa train`` on the command line does exactly this (``train_tasks`` trains several tasks, as
    ``--task sentiment,aspect``). ``config`` is left as it is: the run works on a copy, whose resolved form (with
    the output folder chosen) is saved in the run folder. Under ``accelerate launch`` every process trains its
    share and only the main process writes the run folder.
    """
    config = copy.deepcopy(config).validate()
    prepared = _prepare(config)
    # The folder is created only now, so that a bad model name or data set leaves nothing behind.
    output = Path(config.output) if config.output else default_output(config)
    config.output = str(output)
    staging = output.with_name(output.name + ".partial")
    arguments = staging_arguments(config, prepared.task, staging, progress)
    folder = RunFolder(output, overwrite=config.overwrite, main=arguments.process_index == 0)
    barrier()
    try:
        return _run(folder, prepared, arguments)
    except BaseException:
        logger.error("the run stopped before finishing; its partial state is in %s (resume it with 'finabsa "
                     "train --resume %s')", folder.path, folder.final)
        raise


def train_tasks(config: RunConfig, tasks: Sequence[str], progress: bool = True) -> list[RunResult]:
    """Train several tasks with the same settings, one run folder each (``finabsa train --task a,b``).

    With more than one task, ``config.output`` (default ``runs/all-<timestamp>``) is the parent folder and each
    run is written to ``<output>/<task>``. Every configuration is validated before the first run starts.
    """
    configs = task_configs(config, tasks)
    results = []
    for each in configs:
        logger.info("training task '%s' with %s (%s)", each.task.name, each.model.name, each.adapter.method)
        results.append(train(each, progress=progress))
    return results


def task_configs(config: RunConfig, tasks: Sequence[str]) -> list[RunConfig]:
    """One validated configuration per task name, each with the settings of ``config``."""
    parent = Path(config.output) if config.output else Path("runs") / time.strftime("all-%Y%m%d-%H%M%S")
    configs = []
    for name in tasks:
        each = config.with_overrides({"task.name": name})
        if len(tasks) > 1:
            each.output = str(parent / name)
        configs.append(each.validate())
    return configs


def resume(run_dir: str | Path, progress: bool = True) -> RunResult:
    """Continue an interrupted run from its latest checkpoint (``finabsa train --resume RUN_DIR``).

    The configuration is the one saved in the run's staging folder; model, optimizer, scheduler, RNG states and
    the position in the epoch come from the checkpoint, so the run ends as an uninterrupted one would.
    """
    from ..errors import RunFolderError

    folder = RunFolder.for_resume(run_dir)
    checkpoint = folder.latest_checkpoint()
    if checkpoint is None:
        raise RunFolderError(
            f"'{folder.path}' has no checkpoint yet (the run stopped before its first save); train it again, "
            "with --overwrite."
        )
    config = load_config(folder.path / CONFIG_FILE)
    config.output = str(folder.final)
    prepared = _prepare(config.validate())
    arguments = staging_arguments(config, prepared.task, folder.path, progress)
    folder.main = arguments.process_index == 0
    logger.info("resuming %s from %s", folder.final, checkpoint.name)
    try:
        return _run(folder, prepared, arguments, checkpoint=checkpoint)
    except BaseException:
        logger.error("the run stopped before finishing; its partial state is in %s", folder.path)
        raise


# -- the steps ------------------------------------------------------------------------------------------------
def _prepare(config: RunConfig) -> _Prepared:
    """Steps 1 and 2: data, labels, tokenizer and model; everything before the run folder exists."""
    from transformers import set_seed

    task = build_task(config.task.name, config.task.options)
    if config.training.distill_from:
        # Before the seed is set: a teacher trained now must not change the student's initial weights. Before the
        # clock starts: its training is not this run's preparation.
        config.training.distill_from = [str(teacher_run(Path(source))) for source in config.training.distill_from]
    started = time.time()
    set_seed(config.training.seed)
    data = training_data(task, config.data)
    base = resolve_model(config.model.name)
    tokenizer = load_tokenizer(base)
    if config.training.distill_from:
        data.notes.append(_attach_soft_targets(config, task, data))
    model = build_model(base, task.head(data.labels), data.labels, config.adapter, describe=task.describe())
    if config.training.init_from:
        data.notes.append(_initialise(model, config))
    return _Prepared(config, task, data, tokenizer, model, count_parameters(model), started)


def teacher_run(source: Path) -> Path:
    """The run folder of a distillation teacher. ``source`` is a finished run folder, or the teacher's YAML
    configuration: a stage trained once, at its ``output`` folder, and reused by every later student."""
    from ..errors import ConfigError

    if source.suffix.lower() not in (".yaml", ".yml"):
        return source
    teacher = load_config(source)
    if not teacher.output:
        raise ConfigError([f"training.distill_from: the teacher's configuration '{source}' has no output folder; "
                           "give it one (output: runs/NAME), so that its run is trained once and then reused."])
    folder = Path(teacher.output)
    if not is_finished(folder):
        train_or_resume(teacher, f"teacher stage '{source}' (later students reuse it)")
    return folder


def train_or_resume(config: RunConfig, label: str, progress: bool = True,
                    log: logging.Logger = logger) -> Path:
    """Train ``config`` into its ``output`` folder, or continue an interrupted run of exactly this configuration
    there; a leftover unfinished folder of another configuration is replaced. For runs that later runs reuse: the
    study's cells and transfer stages, a distillation teacher. ``log`` is the caller's logger, which says which of
    the two happened, under ``label``."""
    run_dir = Path(str(config.output))
    config.overwrite = True
    if resumable(run_dir, config):
        log.info("%s: resuming an interrupted run", label)
        return resume(run_dir, progress=progress).run_dir
    log.info("%s: training", label)
    return train(config, progress=progress).run_dir


def resumable(run_dir: Path, config: RunConfig) -> bool:
    """Whether an interrupted run of this configuration (folders and checkpoint cadence aside) left a checkpoint
    to continue from."""
    folder = RunFolder(run_dir, resume=True)
    saved = folder.path / CONFIG_FILE
    if not saved.is_file() or folder.latest_checkpoint() is None:
        return False
    return not learning_differences(load_config(saved), config)


def _attach_soft_targets(config: RunConfig, task: Task, data: TrainingData) -> str:
    """Knowledge distillation: the teacher runs' soft targets for every training sentence, kept on the examples
    (``meta["soft"]``) for the task to encode; several teachers' are averaged. Returns the note for the report."""
    from dataclasses import replace

    import torch

    from ..errors import ConfigError
    from ..tasks import DistillationHooks

    if not isinstance(task, DistillationHooks):
        raise ConfigError([f"training.distill_from: task '{task.describe()}' cannot learn from a teacher's soft "
                           "targets; distillation is implemented by tasks with DistillationHooks (the joint task)."])
    temperature, teachers = config.training.distill_temperature, list(config.training.distill_from or [])
    started = time.time()
    # Loading a teacher draws random numbers (its heads are built before their weights are read): forked, so that
    # the student's initial weights depend on its seed alone, not on how many teachers it has.
    with torch.random.fork_rng(devices=[]):
        per_teacher = [_teacher_soft_targets(Path(teacher), task, data, temperature) for teacher in teachers]
    soft = per_teacher[0] if len(per_teacher) == 1 else [
        task.ensemble_soft_targets(list(each), example) for each, example in zip(zip(*per_teacher), data.train)]
    data.train = [replace(e, meta={**e.meta, "soft": s}) for e, s in zip(data.train, soft)]
    unlabelled = sum(1 for e in data.train if e.meta.get("unlabelled"))
    named = " and ".join(f"'{teacher}'" for teacher in teachers)
    note = (f"distilled from {named}{' (their soft targets averaged)' if len(teachers) > 1 else ''} (weight "
            f"{config.training.distill_weight}, temperature {temperature}): soft targets for {len(data.train)} "
            f"training sentences, {unlabelled} of them unlabelled, in {time.time() - started:.0f} s.")
    logger.info(note)
    return note


def _teacher_soft_targets(run_dir: Path, task: Task, data: TrainingData, temperature: float) -> list[dict]:
    """One teacher run's soft targets for every training sentence (the teacher is freed afterwards)."""
    from ..errors import RunFolderError
    from ..models.saved_runs import load_run
    from ..tasks import DistillationHooks

    teacher = load_run(run_dir)
    if teacher.task.name != task.name or not isinstance(teacher.task, DistillationHooks):
        raise RunFolderError(f"training.distill_from: '{run_dir}' is a run of task '{teacher.task.name}'; a "
                             f"teacher must be a finished run of task '{task.name}'.")
    hooks = teacher.task
    return teacher.predict_examples(
        data.train, desc=f"soft targets of {run_dir.name}",
        decode=lambda outputs, features, examples, labels, _: hooks.soft_targets(outputs, features, examples,
                                                                                 labels, temperature))


def _initialise(model: Any, config: RunConfig) -> str:
    """Start from a finished run's weights (a transfer stage); returns the note for the report."""
    from ..errors import RunFolderError

    stage = Path(config.training.init_from)
    if not is_finished(stage):
        raise RunFolderError(f"training.init_from: '{stage}' is not a finished run folder (no run.json with status "
                             "complete); train the stage first, or point at a finished run.")
    info = read_run_info(stage)
    wanted = (config.model.name, config.adapter.method)
    if (info.get("base_model"), info.get("method")) != wanted:
        raise RunFolderError(
            f"training.init_from: '{stage}' was trained with {info.get('base_model')} ({info.get('method')}); this "
            f"run uses {wanted[0]} ({wanted[1]}). A stage must use the same base model and method."
        )
    counts = initialise_from(model, stage / MODEL_DIR, config.adapter.method)
    logger.info("initialised from %s: %d tensors copied, %d left (shape differs)", stage, counts["copied"],
                counts["skipped"])
    return (f"started from the weights of '{stage}' ({info.get('task_description')}, {info['rows']['train']} "
            f"training rows): {counts['copied']} tensors copied, {counts['skipped']} not (shape differs).")


def _run(folder: RunFolder, prepared: _Prepared, arguments: Any, checkpoint: Path | None = None) -> RunResult:
    """Steps 3 to 5 inside the run folder: evaluate, fit, evaluate, save."""
    config, task, data = prepared.config, prepared.task, prepared.data
    progress = not arguments.disable_tqdm
    run_info = _start_folder(folder, prepared, arguments, checkpoint)
    predictor = Predictor(prepared.model, prepared.tokenizer, task, data.labels, config.model.max_length,
                          config.training.eval_batch_size)
    before = None
    if config.evaluation.before:
        before, _ = predictor.evaluate(data.test, config.evaluation, progress=progress, desc="test, before fine-tuning")
    trainer, outcome, seconds = _fit(folder, prepared, arguments, checkpoint)
    prepared.model = predictor.model = trainer.model
    predictor.calibration, calibration_summary = _calibrate(prepared)
    after, predictions = predictor.evaluate(data.test, config.evaluation, progress=progress,
                                            desc="test, after fine-tuning")
    held_out = {name: {**predictor.evaluate(rows, config.evaluation, progress=progress,
                                            desc=f"held-out test '{name}'")[0],
                       "never_trained_on": name in data.never_trained}
                for name, rows in data.extra_tests.items()}
    if not folder.main:  # other processes of a multi-process run: the main process writes the folder
        barrier()
        return RunResult(run_dir=folder.final, report={})
    training = _training_summary(prepared, trainer, outcome, seconds)
    if predictor.calibration is not None:
        folder.write_json(CALIBRATION_FILE, predictor.calibration.to_dict())
    run_info["calibration"] = {"method": prepared.config.calibration.method,
                               **(predictor.calibration.to_dict() if predictor.calibration else {})}
    return _save(folder, prepared, run_info, before, after, predictions, training, held_out, calibration_summary)


def _start_folder(folder: RunFolder, prepared: _Prepared, arguments: Any, checkpoint: Path | None) -> dict[str, Any]:
    """Write the resolved configuration, the label list and ``run.json`` (status ``running``)."""
    config, task, data = prepared.config, prepared.task, prepared.data
    folder.write_text(CONFIG_FILE, config.resolved().to_yaml())
    folder.write_json(LABELS_FILE, data.labels)
    run_info: dict[str, Any] = {
        "status": "running",
        "task": config.task.name,
        "task_description": task.describe(),
        "task_options": task.resolved_options(),
        "base_model": config.model.name,
        "method": config.adapter.method,
        "seed": config.training.seed,
        "split_seed": config.data.split_seed,
        "argv": list(sys.argv),
        "started": now(),
        "git_commit": git_commit(),
        "versions": package_versions(),
        "rows": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
        "processes": arguments.world_size,
        "precision": precision_of(arguments),
    }
    if checkpoint is not None:
        previous = read_run_info(folder.path) if (folder.path / RUN_FILE).is_file() else {}
        run_info["started"] = previous.get("started", run_info["started"])
        run_info["resumed"] = [*previous.get("resumed", []), {"at": now(), "from_checkpoint": checkpoint.name}]
    folder.write_json(RUN_FILE, run_info)
    logger.info("run folder (being written): %s", folder.path)
    return run_info


def _fit(folder: RunFolder, prepared: _Prepared, arguments: Any, checkpoint: Path | None) -> tuple[Any, Any, float]:
    """Step 4: fine-tune with the Trainer (resuming from ``checkpoint`` when given); the best epoch is restored."""
    from transformers import EarlyStoppingCallback

    config, task, data, tokenizer = prepared.config, prepared.task, prepared.data, prepared.tokenizer
    encode = lambda rows: task.encode(rows, tokenizer, data.labels, config.model.max_length, with_labels=True)  # noqa: E731
    train_features, valid_features = encode(data.train), encode(data.validation)
    head = task.head(data.labels)
    metrics_file = folder.path / METRICS_FILE
    if folder.main:
        keep_metrics_until(metrics_file, step_of(str(checkpoint)) if checkpoint else 0)
    average = WeightAverage(config.training.weight_average_decay) if config.training.weight_average_decay else None
    # The average's callback comes before the checkpoint one: each checkpoint gets its average before anything
    # else reacts to the save.
    callbacks = [metrics_logger(metrics_file),
                 *([weight_average_callback(average, checkpoint)] if average else []),
                 checkpoint_every(config.training.checkpoint_steps, config.training.checkpoint_minutes)]
    if config.training.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience))
    trainer = trainer_class()(
        model=prepared.model,
        args=arguments,
        data_collator=training_collator(task, head, tokenizer),
        train_dataset=ListDataset(train_features),
        eval_dataset=ListDataset(valid_features),
        processing_class=tokenizer,
        compute_metrics=None if task.selection_metric == "loss" else _validation_scorer(prepared),
        compute_loss_func=training_loss(task, head, train_features, data.labels, config.training.class_weighting,
                                        _distillation(config)),
        callbacks=callbacks,
        head_learning_rate=config.training.head_learning_rate,
        weight_average=average,
    )
    if arguments.disable_tqdm:
        from transformers.trainer_callback import PrinterCallback

        # Without progress bars the Trainer prints every log dict; metrics.jsonl already keeps them.
        trainer.remove_callback(PrinterCallback)
    started = time.time()
    outcome = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.time() - started
    if arguments.bf16:
        # accelerate wrapped the model's forward in bf16 autocast for training (validation ran in it too); what is
        # tested, calibrated and saved runs in fp32, as a reloaded model does.
        trainer.model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    if average is not None:
        _keep_average(trainer, average)
    barrier()  # every process has loaded the best checkpoint before it is deleted
    if folder.main:
        shutil.rmtree(folder.path / CHECKPOINTS_DIR, ignore_errors=True)
    return trainer, outcome, seconds


def _keep_average(trainer: Any, average: WeightAverage) -> None:
    """End a weight-averaged run with the average of its best epoch (the one validation chose), or the last
    average when no epoch was chosen."""
    best = trainer.state.best_model_checkpoint
    if best and not average.load(Path(best)):
        logger.warning("the best checkpoint %s kept no weight average; the run ends with the last one", best)
    average.copy_into(trainer.model)


def _calibrate(prepared: _Prepared) -> tuple[Calibration | None, dict[str, Any]]:
    """Temperatures fitted on the validation split, one per classification head (``calibration.method``), and
    the report of what they do on validation and test (ECE, Brier, NLL before and after). The test split is only
    scored, never fitted on."""
    config, task, data, tokenizer = prepared.config, prepared.task, prepared.data, prepared.tokenizer
    head = task.head(data.labels)
    if config.calibration.method == "none":
        return None, {"method": "none"}
    if not head_for(head).calibrated_outputs():
        return None, {"method": "none", "reason": f"task '{task.describe()}' has no class probabilities to calibrate"}
    collate = training_collator(task, head, tokenizer)

    def pairs(rows: list[Any]) -> dict[str, Any]:
        scorable = [e for e in rows if task.usable_for_training(e)
                    and (not task.closed_label_set(data.labels) or task.gold(e) in data.labels)]
        features = task.encode(scorable, tokenizer, data.labels, config.model.max_length, with_labels=True)
        return collect_pairs(prepared.model, head, features, collate, config.training.eval_batch_size)

    validation = pairs(data.validation)
    calibration = fit_calibration(validation, head, config.calibration.min_rows)
    bins = config.calibration.bins
    report = {"method": config.calibration.method, "temperatures": calibration.temperatures,
              "skipped": calibration.skipped, "validation": calibration_report(validation, calibration, bins),
              "test": calibration_report(pairs(data.test), calibration, bins)}
    for name, temperature in calibration.temperatures.items():
        before, after = (report["validation"][name][stage]["ece"] for stage in ("before", "after"))
        logger.info("calibration: head '%s' temperature %.3f; validation ECE %.3f -> %.3f", name, temperature,
                    before, after)
    return (calibration if calibration.temperatures else None), report


def _distillation(config: RunConfig) -> Distillation | None:
    if not config.training.distill_from:
        return None
    return Distillation(config.training.distill_weight, config.training.distill_temperature)


def _validation_scorer(prepared: _Prepared) -> Any:
    """The Trainer's ``compute_metrics``: the task's own test metrics on the validation split, predicted and decoded
    by the same ``Predictor`` as the test (a decoded span's exact match for targets, not a tag-sequence match)."""
    config, task, data = prepared.config, prepared.task, prepared.data
    predictor = Predictor(prepared.model, prepared.tokenizer, task, data.labels, config.model.max_length,
                          config.training.eval_batch_size)
    no_intervals = EvaluationConfig(bootstrap_samples=0)

    def scores(_: Any) -> dict[str, float]:
        metrics = task.score(data.validation, predictor.predict_examples(data.validation), data.labels, no_intervals)
        return {name: float(value) for name, value in metrics.items()
                if isinstance(value, (int, float)) and not isinstance(value, bool)}

    return scores


def _training_summary(prepared: _Prepared, trainer: Any, outcome: Any, seconds: float) -> dict[str, Any]:
    """The report's ``training`` section: what the Trainer did and with which settings."""
    config, task, data, parameters = prepared.config, prepared.task, prepared.data, prepared.parameters
    best_metric = trainer.state.best_metric
    return {
        "epochs_run": round(trainer.state.epoch or 0, 2),
        "steps": trainer.state.global_step,
        "best_validation_" + task.selection_metric: None if best_metric is None else round(best_metric, 4),
        "best_checkpoint_step": step_of(trainer.state.best_model_checkpoint),
        "train_seconds": round(seconds, 1),
        "train_loss": round(outcome.training_loss, 4),
        "learning_rate": config.resolved_learning_rate(),
        "precision": precision_of(trainer.args),
        **({"weight_average_decay": config.training.weight_average_decay}
           if config.training.weight_average_decay else {}),
        "trainable_parameters": f"{parameters['trainable']:,} of {parameters['total']:,}",
        "rows": f"train {len(data.train)}, validation {len(data.validation)}, test {len(data.test)}",
    }


def _save(folder: RunFolder, prepared: _Prepared, run_info: dict[str, Any], before: dict | None, after: dict,
          predictions: list[dict[str, Any]], training: dict[str, Any], held_out: dict[str, Any],
          calibration: dict[str, Any]) -> RunResult:
    """Step 5: adapter, plots, report, test predictions; then rename the finished folder into place."""
    config, task, data = prepared.config, prepared.task, prepared.data
    saved = save_trained(prepared.model, prepared.tokenizer, folder.path / MODEL_DIR, config.adapter.method)
    plots = write_run_plots(folder.path, task.describe(), before, after, folder.path / METRICS_FILE,
                            task.selection_metric, calibration)
    report = build_report(task, config, data.labels, len(data.test), before, after, plots=plots, training=training,
                          data_notes=data.notes, calibration=calibration,
                          **({"held_out_tests": held_out} if held_out else {}))
    rows = [{"sentence": e.sentence, "gold": task.gold(e), **p} for e, p in zip(data.test, predictions)]
    examples = pick_examples(task, rows)
    folder.write_json(REPORT_FILE, report)
    folder.write_text("report.md", markdown_report(report, examples))
    folder.write_text("report.html", html_report(report, examples))
    folder.write_jsonl(PREDICTIONS_FILE, rows)
    run_info.update(status="complete", finished=now(), seconds=round(time.time() - prepared.started, 1),
                    model_files=saved)
    folder.write_json(RUN_FILE, run_info)
    folder.write_text(CARD_FILE, model_card(run_info, config.resolved().to_dict(), report, data.labels,
                                            folder.final.name, head_for(task.head(data.labels)).pipeline_tag))
    run_dir = folder.finish()
    barrier()
    logger.info("run folder written: %s", run_dir)
    return RunResult(run_dir=run_dir, report=report)
