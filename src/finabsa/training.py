"""The one training loop: every task goes through ``train(config)``.

It loads and splits the data, builds the model with the task's head, evaluates it on the test split before
fine-tuning, fine-tunes it with the Hugging Face ``Trainer`` (so ``accelerate launch`` works unchanged), selects the
best epoch on the carved validation split, evaluates again, and writes the run folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig, extra_source
from .data import load_data, prepare_splits
from .data.records import Example
from .errors import DataError
from .models import build_model, count_parameters, load_tokenizer, resolve_model, save_trained
from .predict import Predictor
from .reporting import markdown_report, plot_confusion, plot_learning_curve
from .runs import RunFolder, git_commit, now, package_versions
from .tasks import Task, build_task

__all__ = ["RunResult", "train", "resume", "load_data_for", "default_output"]

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What ``train`` returns: the finished run folder and its evaluation report."""

    run_dir: Path
    report: dict[str, Any]


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, features: list[dict[str, Any]]):
        self.features = [{k: v for k, v in f.items() if not k.startswith("_")} for f in features]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


class _EpochSeededSampler(torch.utils.data.Sampler):
    """Training order that depends only on the seed and the epoch number (length-grouped or plainly shuffled).

    The Trainer's own samplers draw from the global RNG when an epoch starts, so a run resumed mid-epoch would see
    another order for the rest of that epoch; this one gives the same order again, which is what makes a resumed
    run end like an uninterrupted one. The Trainer (through accelerate) calls ``set_epoch`` before each epoch.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, group_by_length: bool):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.group_by_length = group_by_length
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        from transformers.trainer_pt_utils import get_length_grouped_indices

        generator = torch.Generator()
        generator.manual_seed(self.seed * 100_003 + self.epoch)
        if self.group_by_length:
            return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))
        return iter(torch.randperm(len(self.lengths), generator=generator).tolist())


def _trainer_class() -> type:
    from transformers import Trainer

    class FinabsaTrainer(Trainer):
        """The Hugging Face Trainer with a resumable, epoch-seeded training order."""

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            lengths = [len(feature["input_ids"]) for feature in dataset.features]
            return _EpochSeededSampler(lengths, self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                       self.args.data_seed if self.args.data_seed is not None else self.args.seed,
                                       self.finabsa_group_by_length)

    return FinabsaTrainer


def default_output(config: RunConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    model = Path(config.model.name).name.replace("/", "-")
    return Path("runs") / f"{config.task.name}-{model}-{config.adapter.method}-{stamp}"


def load_data_for(task: Task, config: RunConfig):
    """Load the configured data set and prepare the train/validation/test sets the task can use."""
    splits = load_data(config.data)
    extra = []
    for entry in config.data.also_train:
        for rows in load_data(extra_source(config.data, entry)).values():
            extra.extend(rows)
    for rows in [*splits.values(), extra]:
        task.check_examples(rows)
    return prepare_splits(
        splits,
        usable=task.usable,
        stratify_key=task.stratify_key,
        validation=config.data.validation,
        validation_fraction=config.data.validation_fraction,
        test_fraction=config.data.test_fraction,
        seed=config.data.split_seed,
        max_train_rows=config.data.max_train_rows,
        max_eval_rows=config.data.max_eval_rows,
        task_name=task.describe(),
        extra_train=extra,
    )


def _apply_unseen_label_policy(task: Task, labels: list[str], test: list[Example], policy: str,
                               notes: list[str]) -> list[Example]:
    if not task.closed_label_set(labels):
        return test
    unseen = [e for e in test if task.gold(e) not in labels]
    if not unseen:
        return test
    names = sorted({str(task.gold(e)) for e in unseen})
    if policy == "error":
        raise DataError(
            f"{len(unseen)} test row(s) have label(s) never seen in training: {', '.join(names[:5])}"
            f"{' ...' if len(names) > 5 else ''} (e.g. {unseen[0].origin}). The model cannot predict them; "
            "set data.unseen_labels to 'count' or 'drop', or train on data that has them."
        )
    if policy == "drop":
        notes.append(f"{len(unseen)} test row(s) with labels never seen in training were dropped.")
        return [e for e in test if task.gold(e) in labels]
    notes.append(f"{len(unseen)} test row(s) have labels never seen in training ({len(names)} distinct); they "
                 "count as errors.")
    return test


def _training_arguments(config: RunConfig, task: Task, output_dir: Path, progress: bool) -> Any:
    from transformers import TrainingArguments

    t = config.training
    import inspect

    accepted = inspect.signature(TrainingArguments.__init__).parameters
    checkpointing: dict[str, Any] = {}
    if t.gradient_checkpointing:
        # transformers 5 renamed it activation_checkpointing; non-reentrant needs no input gradients under LoRA.
        name = "activation_checkpointing" if "activation_checkpointing" in accepted else "gradient_checkpointing"
        checkpointing = {name: True, f"{name}_kwargs": {"use_reentrant": False}}
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        # Several processes on a machine without GPUs: accelerate must be told to use CPU (gloo) processes, or
        # each process would train alone on all the data.
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")
    # transformers renamed group_by_length to train_sampling_strategy; accept both generations.
    if "train_sampling_strategy" in accepted:
        sampling = {"train_sampling_strategy": "group_by_length" if t.group_by_length else "random"}
    else:
        sampling = {"group_by_length": t.group_by_length}
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=t.epochs,
        learning_rate=config.resolved_learning_rate(),
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,  # a float below 1 is a ratio of the total steps
        eval_strategy="epoch",
        save_strategy="epoch",
        # Full trainer state (optimizer, scheduler, RNG, data position) so that a killed run can resume exactly.
        save_total_limit=t.keep_checkpoints,
        save_only_model=False,
        load_best_model_at_end=True,
        metric_for_best_model=task.selection_metric,
        greater_is_better=task.selection_greater_is_better,
        logging_steps=t.logging_steps,
        report_to="none",
        seed=t.seed,
        data_seed=t.seed,
        **sampling,
        disable_tqdm=not progress,
        **checkpointing,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def _metrics_logger(path: Path) -> Any:
    from transformers import TrainerCallback

    class JsonlMetrics(TrainerCallback):
        """Append every Trainer log (training loss, learning rate, validation metrics) to metrics.jsonl."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                row = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4), **logs}
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")

    return JsonlMetrics()


def _checkpoint_every(steps: int) -> Any:
    from transformers import TrainerCallback

    class CheckpointEvery(TrainerCallback):
        """Ask the Trainer for a resumable checkpoint every ``steps`` optimiser steps (epoch ends save anyway)."""

        def on_step_end(self, args, state, control, **kwargs):
            if steps and state.global_step % steps == 0:
                control.should_save = True
            return control

    return CheckpointEvery()


def _barrier() -> None:
    """Wait for every process of a multi-process run (``accelerate launch``, ``torchrun``); no-op in one process."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _staging_arguments(config: RunConfig, task: Task, folder_path: Path, progress: bool) -> Any:
    """Training arguments for a run staged in ``folder_path``. Reading ``process_index`` sets up the process
    group when several processes were launched, so it is known which one writes the run folder."""
    args = _training_arguments(config, task, folder_path / "checkpoints", progress)
    args.process_index  # noqa: B018 - initialises torch.distributed under a multi-process launcher
    return args


def train(config: RunConfig, progress: bool = True) -> RunResult:
    """Train one task as configured and write its run folder; returns the folder and the report.

    ``finabsa train`` on the command line does exactly this. Under ``accelerate launch`` every process trains its
    share and only the main process writes the run folder.
    """
    config.validate()
    prepared = _prepare(config)
    # The folder is created only now, so that a bad model name or data set leaves nothing behind.
    output = Path(config.output) if config.output else default_output(config)
    config.output = str(output)
    staging = output.with_name(output.name + ".partial")
    arguments = _staging_arguments(config, prepared.task, staging, progress)
    folder = RunFolder(output, overwrite=config.overwrite, main=arguments.process_index == 0)
    _barrier()
    try:
        return _train_into(folder, prepared, arguments)
    except BaseException:
        logger.error("the run stopped before finishing; its partial state is in %s (resume it with 'finabsa "
                     "train --resume %s')", folder.path, folder.final)
        raise


def resume(run_dir: str | Path, progress: bool = True) -> RunResult:
    """Continue an interrupted run from its latest checkpoint (``finabsa train --resume RUN_DIR``).

    The configuration is the one saved in the run's staging folder; model, optimizer, scheduler, RNG states and
    the position in the epoch come from the checkpoint, so the run ends as an uninterrupted one would.
    """
    from .config import load_config
    from .errors import RunFolderError

    folder = RunFolder.for_resume(run_dir)
    checkpoint = folder.latest_checkpoint()
    if checkpoint is None:
        raise RunFolderError(
            f"'{folder.path}' has no checkpoint yet (the run stopped before its first save); train it again, "
            "with --overwrite."
        )
    config = load_config(folder.path / "config.yaml")
    config.output = str(folder.final)
    prepared = _prepare(config.validate())
    arguments = _staging_arguments(config, prepared.task, folder.path, progress)
    folder.main = arguments.process_index == 0
    logger.info("resuming %s from %s", folder.final, checkpoint.name)
    try:
        return _train_into(folder, prepared, arguments, checkpoint=checkpoint)
    except BaseException:
        logger.error("the run stopped before finishing; its partial state is in %s", folder.path)
        raise


def _prepare(config: RunConfig) -> _Prepared:
    """Data, labels, tokenizer and model of a run: everything before the run folder exists."""
    from transformers import set_seed

    started = time.time()
    task = build_task(config.task.name, config.task.options)
    set_seed(config.training.seed)
    data = load_data_for(task, config)
    labels = task.build_labels(data.train)
    notes = list(data.notes)
    test = _apply_unseen_label_policy(task, labels, data.test, config.data.unseen_labels, notes)

    train_examples = [e for e in data.train if task.usable_for_training(e)]
    valid_examples = [e for e in data.validation if task.usable_for_training(e)]
    if task.closed_label_set(labels):
        valid_examples = [e for e in valid_examples if task.gold(e) in labels]
    skipped = len(data.train) - len(train_examples)
    if skipped:
        notes.append(f"{skipped} training row(s) were left out: {task.training_exclusion_reason}.")
    if not train_examples or not valid_examples:
        raise DataError(f"no usable training or validation rows remain for task '{task.describe()}'.")

    base = resolve_model(config.model.name)
    tokenizer = load_tokenizer(base)
    model = build_model(base, task, labels, config.adapter)
    parameters = count_parameters(model)
    return _Prepared(config, task, labels, test, train_examples, valid_examples, notes, tokenizer, model,
                     parameters, started)


@dataclass
class _Prepared:
    """Everything ``train`` set up before the run folder exists."""

    config: RunConfig
    task: Task
    labels: list[str]
    test: list[Example]
    train_examples: list[Example]
    valid_examples: list[Example]
    notes: list[str]
    tokenizer: Any
    model: Any
    parameters: dict[str, int]
    started: float


def _train_into(folder: RunFolder, prepared: _Prepared, arguments: Any, checkpoint: Path | None = None) -> RunResult:
    from transformers import EarlyStoppingCallback

    config, task, labels, test = prepared.config, prepared.task, prepared.labels, prepared.test
    train_examples, valid_examples, notes = prepared.train_examples, prepared.valid_examples, prepared.notes
    tokenizer, model, parameters, started = prepared.tokenizer, prepared.model, prepared.parameters, prepared.started
    progress = not arguments.disable_tqdm

    folder.write_text("config.yaml", config.to_yaml())
    folder.write_json("labels.json", labels)
    run_info: dict[str, Any] = {
        "status": "running",
        "task": config.task.name,
        "task_description": task.describe(),
        "task_options": task.resolved_options(),
        "base_model": config.model.name,
        "method": config.adapter.method,
        "seed": config.training.seed,
        "split_seed": config.data.split_seed,
        "argv": __import__("sys").argv,
        "started": now(),
        "git_commit": git_commit(),
        "versions": package_versions(),
        "rows": {"train": len(train_examples), "validation": len(valid_examples), "test": len(test)},
        "processes": arguments.world_size,
    }
    if checkpoint is not None:
        saved_info = folder.path / "run.json"
        previous = json.loads(saved_info.read_text(encoding="utf-8")) if saved_info.is_file() else {}
        run_info["started"] = previous.get("started", run_info["started"])
        run_info["resumed"] = [*previous.get("resumed", []), {"at": now(), "from_checkpoint": checkpoint.name}]
    folder.write_json("run.json", run_info)
    logger.info("run folder (being written): %s", folder.path)

    predictor = Predictor(model, tokenizer, task, labels, config.model.max_length, config.training.eval_batch_size)

    before = None
    if config.evaluation.before:
        before, _ = predictor.evaluate(test, config.evaluation, progress=progress, desc="test, before fine-tuning")

    train_features = task.encode(train_examples, tokenizer, labels, config.model.max_length, with_labels=True)
    valid_features = task.encode(valid_examples, tokenizer, labels, config.model.max_length, with_labels=True)
    metrics_file = folder.path / "metrics.jsonl"
    if folder.main:
        _keep_metrics_until(metrics_file, _step_of(str(checkpoint)) if checkpoint else 0)
    callbacks = [_metrics_logger(metrics_file), _checkpoint_every(config.training.checkpoint_steps)]
    if config.training.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience))
    trainer = _trainer_class()(
        model=model,
        args=arguments,
        data_collator=task.collator(tokenizer),
        train_dataset=_ListDataset(train_features),
        eval_dataset=_ListDataset(valid_features),
        processing_class=tokenizer,
        compute_metrics=None if task.selection_metric == "loss" else (lambda p: task.trainer_metrics(p, labels)),
        compute_loss_func=task.loss_function(train_features, labels, config.training.class_weighting),
        callbacks=callbacks,
    )
    trainer.finabsa_group_by_length = config.training.group_by_length
    if not progress:
        from transformers.trainer_callback import PrinterCallback

        # Without progress bars the Trainer prints every log dict; metrics.jsonl already keeps them.
        trainer.remove_callback(PrinterCallback)
    train_started = time.time()
    outcome = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_seconds = time.time() - train_started
    model = trainer.model
    _barrier()  # every process has loaded the best checkpoint before it is deleted
    if folder.main:
        shutil.rmtree(folder.path / "checkpoints", ignore_errors=True)

    predictor.model = model
    after, predictions = predictor.evaluate(test, config.evaluation, progress=progress, desc="test, after fine-tuning")
    if not folder.main:  # other processes of a multi-process run: the main process writes the folder
        _barrier()
        return RunResult(run_dir=folder.final, report={})
    saved = save_trained(model, tokenizer, folder.path / "model", config.adapter.method)

    plots = []
    for stage, metrics in (("before", before), ("after", after)):
        if metrics and "confusion_matrix" in metrics:
            name = f"confusion_{stage}.png"
            plot_confusion(metrics["confusion_matrix"], folder.path / name,
                           f"{task.describe()}, {stage} fine-tuning")
            plots.append(name)
    curve = plot_learning_curve(metrics_file, folder.path / "learning_curve.png", task.selection_metric)
    if curve:
        plots.append(curve.name)

    best_metric = trainer.state.best_metric
    report = {
        "task": config.task.name,
        "task_description": task.describe(),
        "model": config.model.name,
        "method": config.adapter.method,
        "labels": labels,
        "test_rows": len(test),
        "confidence": config.evaluation.confidence,
        "headline_metrics": list(task.headline_metrics),
        "before": before,
        "after": after,
        "plots": plots,
        "training": {
            "epochs_run": round(trainer.state.epoch or 0, 2),
            "steps": trainer.state.global_step,
            "best_validation_" + task.selection_metric: None if best_metric is None else round(best_metric, 4),
            "best_checkpoint_step": _step_of(trainer.state.best_model_checkpoint),
            "train_seconds": round(train_seconds, 1),
            "train_loss": round(outcome.training_loss, 4),
            "learning_rate": config.resolved_learning_rate(),
            "trainable_parameters": f"{parameters['trainable']:,} of {parameters['total']:,}",
            "rows": f"train {len(train_examples)}, validation {len(valid_examples)}, test {len(test)}",
        },
        "data_notes": notes,
    }
    folder.write_json("report.json", report)
    folder.write_text("report.md", markdown_report(report))
    folder.write_jsonl(
        "predictions.jsonl",
        [{"sentence": e.sentence, "gold": task.gold(e), **p} for e, p in zip(test, predictions)],
    )
    run_info.update(status="complete", finished=now(), seconds=round(time.time() - started, 1), model_files=saved)
    folder.write_json("run.json", run_info)
    run_dir = folder.finish()
    _barrier()
    logger.info("run folder written: %s", run_dir)
    return RunResult(run_dir=run_dir, report=report)


def _keep_metrics_until(metrics_file: Path, step: int) -> None:
    """Drop logged rows after ``step`` (a resumed run logs them again), or start an empty log for a new run."""
    rows = []
    if step and metrics_file.is_file():
        rows = [line for line in metrics_file.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
    metrics_file.write_text("".join(line + "\n" for line in rows), encoding="utf-8")


def _step_of(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    try:
        return int(Path(checkpoint).name.rsplit("-", 1)[-1])
    except ValueError:
        return None
