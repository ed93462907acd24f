"""The Hugging Face ``Trainer`` as finabsa drives it: arguments, a resumable sampler, callbacks, process sync."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..config import RunConfig
from ..models.build import trained_head_parameters
from ..tasks import Task
from .averaging import WeightAverage

__all__ = ["ListDataset", "EpochSeededSampler", "trainer_class", "with_head_groups", "training_arguments",
           "staging_arguments", "metrics_logger", "checkpoint_every", "barrier", "keep_metrics_until", "step_of",
           "training_precision", "native_bf16", "precision_of"]

logger = logging.getLogger(__name__)


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, features: list[dict[str, Any]]):
        self.features = [{k: v for k, v in f.items() if not k.startswith("_")} for f in features]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


class EpochSeededSampler(torch.utils.data.Sampler):
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


def trainer_class() -> type:
    """The Hugging Face ``Trainer`` with a resumable, epoch-seeded training order."""
    from transformers import Trainer

    class FinabsaTrainer(Trainer):
        """The Hugging Face Trainer with a resumable, epoch-seeded training order, the task head's own peak
        learning rate when ``head_learning_rate`` is given, and the weights' average evaluated in place of the
        last step's weights when ``weight_average`` is given."""

        def __init__(self, *args: Any, head_learning_rate: float | None = None,
                     weight_average: WeightAverage | None = None, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.head_learning_rate = head_learning_rate
            self.weight_average = weight_average

        def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, float]:
            # With weight averaging, what is scored (and so selected, and stopped early on) is the average.
            if self.weight_average is None:
                return super().evaluate(*args, **kwargs)
            with self.weight_average.swapped_in(self.model):
                return super().evaluate(*args, **kwargs)

        def create_optimizer(self, model=None):
            fresh = self.optimizer is None
            optimizer = super().create_optimizer(model)
            if fresh and self.head_learning_rate is not None:
                with_head_groups(optimizer, self.model if model is None else model, self.head_learning_rate)
            return optimizer

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            lengths = [len(feature["input_ids"]) for feature in dataset.features]
            return EpochSeededSampler(lengths, self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                      self.args.data_seed if self.args.data_seed is not None else self.args.seed,
                                      _groups_by_length(self.args))

    return FinabsaTrainer


def with_head_groups(optimizer: torch.optim.Optimizer, model: Any, head_learning_rate: float) -> None:
    """Split each parameter group of ``optimizer`` into the task head's parameters (at ``head_learning_rate``)
    and the rest (at the group's rate); the schedule that follows scales both alike (warm-up, decay)."""
    names = set(trained_head_parameters(model))
    head = {id(p) for n, p in model.named_parameters() if n in names}
    groups = []
    for group in optimizer.param_groups:
        for params, rate in (([p for p in group["params"] if id(p) not in head], group["lr"]),
                             ([p for p in group["params"] if id(p) in head], head_learning_rate)):
            if params:
                groups.append({**group, "params": params, "lr": rate})
    optimizer.param_groups = groups


def _groups_by_length(args: Any) -> bool:
    return getattr(args, "train_sampling_strategy", None) == "group_by_length" or bool(
        getattr(args, "group_by_length", False))


def native_bf16() -> bool:
    """Whether this machine multiplies bfloat16 matrices natively: a GPU that supports it, or a CPU with
    AVX512-BF16 or AMX (oneDNN's own check). Elsewhere bf16 is emulated, several times slower than fp32."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN: no native path
        return False


def training_precision(setting: str, native: Callable[[], bool] = native_bf16) -> str:
    """The precision a run trains in for ``training.precision``: ``auto`` is bf16 where the hardware has it."""
    if setting == "auto":
        return "bf16" if native() else "fp32"
    if setting == "bf16" and not native():
        logger.warning("training.precision is bf16 but this machine has no native bfloat16 arithmetic: training "
                       "will be several times slower than in fp32 (training.precision: auto picks fp32 here)")
    return setting


def precision_of(args: Any) -> str:
    """The precision training arguments train in (``fp32`` or ``bf16``), as run.json and the report record it."""
    return "bf16" if getattr(args, "bf16", False) else "fp32"


def training_arguments(config: RunConfig, task: Task, output_dir: Path, progress: bool) -> Any:
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
    # Mixed precision through accelerate: autocast around forward and loss, fp32 weights and optimizer state.
    # On a machine without a GPU the Trainer accepts bf16 only when told it runs on the CPU.
    precision: dict[str, bool] = {}
    if training_precision(t.precision) == "bf16":
        precision = {"bf16": True, "use_cpu": not torch.cuda.is_available()}
    # transformers renamed group_by_length to train_sampling_strategy; accept both generations. The Trainer reads
    # it for the evaluation order, and ``trainer_class`` for the (epoch-seeded) training order.
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
        **precision,
    )


def metrics_logger(path: Path) -> Any:
    from transformers import TrainerCallback

    class JsonlMetrics(TrainerCallback):
        """Append every Trainer log (training loss, learning rate, validation metrics) to metrics.jsonl."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                row = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4), **logs}
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")

    return JsonlMetrics()


def checkpoint_every(steps: int, minutes: float = 0.0, clock: Callable[[], float] = time.monotonic) -> Any:
    """Ask the Trainer for a resumable checkpoint every ``steps`` optimiser steps and once ``minutes`` of training
    have passed since the last checkpoint (0 turns either off; epoch ends save anyway). The clock rule holds in a
    single process only: processes that each read their own clock could disagree on whether to save."""
    from transformers import TrainerCallback

    class CheckpointEvery(TrainerCallback):
        def __init__(self) -> None:
            self.last_save = clock()

        def on_train_begin(self, args, state, control, **kwargs):
            self.last_save = clock()

        def on_step_end(self, args, state, control, **kwargs):
            if steps and state.global_step % steps == 0:
                control.should_save = True
            if minutes and args.world_size == 1 and clock() - self.last_save >= minutes * 60:
                control.should_save = True
            return control

        def on_save(self, args, state, control, **kwargs):
            self.last_save = clock()

    return CheckpointEvery()


def barrier() -> None:
    """Wait for every process of a multi-process run (``accelerate launch``, ``torchrun``); no-op in one process."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def staging_arguments(config: RunConfig, task: Task, folder_path: Path, progress: bool) -> Any:
    """Training arguments for a run staged in ``folder_path``. Reading ``process_index`` sets up the process
    group when several processes were launched, so it is known which one writes the run folder."""
    args = training_arguments(config, task, folder_path / "checkpoints", progress)
    args.process_index  # noqa: B018 - initialises torch.distributed under a multi-process launcher
    return args

def keep_metrics_until(metrics_file: Path, step: int) -> None:
    """Drop logged rows after ``step`` (a resumed run logs them again), or start an empty log for a new run."""
    rows = []
    if step and metrics_file.is_file():
        rows = [line for line in metrics_file.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
    metrics_file.write_text("".join(line + "\n" for line in rows), encoding="utf-8")


def step_of(checkpoint: str | None) -> int | None:
    """The step number of a ``checkpoint-STEP`` folder name."""
    if not checkpoint:
        return None
    try:
        return int(Path(checkpoint).name.rsplit("-", 1)[-1])
    except ValueError:
        return None
