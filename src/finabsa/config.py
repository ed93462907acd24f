"""Typed run configuration.

One ``RunConfig`` object feeds the YAML presets, the CLI flags and the Python API. Each field carries its default
and a one-line help text (``metadata["help"]``) that the CLI shows. ``RunConfig.validate()`` collects every problem
into a single ``ConfigError`` instead of failing on the first one.

Task options are owned by the task plug-in (see ``finabsa.tasks``): ``TaskConfig`` keeps the task name plus a
free-form ``options`` mapping that the plug-in turns into its own typed options dataclass and validates.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .constants import DATA_FORMATS, DEFAULT_LEARNING_RATES, METHODS, PRECISIONS, setting
from .data.source_config import DataConfig
from .errors import ConfigError

__all__ = [
    "DataConfig",
    "ModelConfig",
    "AdapterConfig",
    "TrainingConfig",
    "EvaluationConfig",
    "CalibrationConfig",
    "CALIBRATION_METHODS",
    "TaskConfig",
    "RunConfig",
    "load_config",
    "learning_differences",
    "NOT_LEARNING",
    "read_yaml_mapping",
    "SECTIONS",
]

VALIDATION_SOURCES = ("carve", "shipped")
UNSEEN_LABEL_POLICIES = ("count", "drop", "error")


_help = setting


@dataclass
class ModelConfig:
    """Which pretrained checkpoint to start from."""

    name: str = _help(
        "Base model: an alias (minilm, mpnet), a local model folder, or a Hugging Face hub id.",
            flag="--model", default="minilm"
    )
    max_length: int = _help("Truncate inputs to this many tokens (batches are padded dynamically).",
        flag="--max-length", default=128)


@dataclass
class AdapterConfig:
    """How the model is fine-tuned."""

    method: str = _help("lora (default), full fine-tuning, or frozen (train only the head).",
        flag="--method", default="lora")
    rank: int = _help("LoRA rank r.", flag="--rank", default=16)
    alpha: float = _help("LoRA alpha (scaling = alpha / r, or alpha / sqrt(r) with rslora).",
        flag="--alpha", default=32.0)
    dropout: float = _help("LoRA dropout.", default=0.1)
    target_modules: list[str] | None = _help(
        "Module names to adapt; default depends on the architecture (e.g. query/key/value/dense for BERT).",
        flag="--target-modules", default=None,
    )
    use_dora: bool = _help("Weight-decomposed LoRA (DoRA).", default=False)
    use_rslora: bool = _help("Rank-stabilised LoRA scaling.", default=False)


@dataclass
class TrainingConfig:
    """The training loop (Hugging Face Trainer) settings."""

    epochs: float = _help("Maximum number of epochs (early stopping may end sooner).", flag="--epochs", default=10.0)
    learning_rate: float | None = _help(
        "Peak learning rate; default by method: lora 5e-4, full 5e-5, frozen 2e-3.",
        flag="--learning-rate", default=None,
    )
    head_learning_rate: float | None = _help(
        "Peak learning rate of the task head (the new layers above the pretrained model); null: learning_rate. "
        "Full fine-tuning moves the pretrained weights at a small rate (5e-5) at which a new head learns slowly.",
        flag="--head-learning-rate", default=None,
    )
    batch_size: int = _help("Training batch size per device.", flag="--batch-size", default=16)
    eval_batch_size: int = _help("Batch size for validation, test and prediction.", default=64)
    weight_decay: float = _help("AdamW weight decay.", default=0.01)
    warmup_ratio: float = _help("Fraction of steps spent on linear warm-up.", default=0.1)
    early_stopping_patience: int | None = _help(
        "Stop after this many evaluations without improvement on the validation split (null: never).", default=3
    )
    class_weighting: bool = _help("Weight the loss by inverse class frequency (classification tasks).", default=False)
    init_from: str | None = _help(
        "A finished run folder (same base model and method) whose trained weights start this run: a transfer "
        "stage, e.g. sentiment on SEntFiN before FiQA. Head weights are taken where their shape fits.",
        flag="--init-from", default=None,
    )
    distill_from: list[str] | None = _help(
        "A finished run of the same task (a larger teacher, e.g. MPNet) whose soft targets this run also learns "
        "from, on its training sentences and on data.also_train entries marked unlabelled; or the teacher's YAML "
        "configuration, a stage trained once at its output folder and reused by later runs. Several teachers (a "
        "list, or A,B) are an ensemble: their soft targets are averaged.", flag="--distill-from",
        default=None)
    distill_weight: float = _help("Weight of the distillation loss beside the loss on gold labels.", default=1.0)
    distill_temperature: float = _help("Softmax temperature of the teacher's and the student's distributions.",
                                       default=2.0)
    weight_average_decay: float | None = _help(
        "Keep an exponential moving average of the trained weights (this decay per optimiser step; 0.999 averages "
        "over about the last thousand steps) and evaluate, select and save it instead of the last step's weights; "
        "null: off. Same model size and serving cost.", flag="--weight-average-decay", default=None)
    gradient_accumulation_steps: int = _help("Accumulate gradients over this many batches.", default=1)
    logging_steps: int = _help("Log training metrics every this many steps.", default=10)
    seed: int = _help("Seed for model initialisation, dropout and data order.", flag="--seed", default=42)
    group_by_length: bool = _help("Batch inputs of similar length together to waste less padding.", default=True)
    checkpoint_minutes: float = _help(
        "Save a resumable checkpoint (weights, optimizer, scheduler, RNG states, data position) once this many "
        "minutes of training have passed since the last one, besides each epoch end (0: off). 'finabsa train "
        "--resume RUN_DIR' continues from it. By time, not steps: a fully fine-tuned MiniLM's checkpoint takes "
        "about 2 s to write on 2 CPU cores, and every 50 steps that was 14 % of its training time. One process "
        "only (several processes save at epoch ends and by checkpoint_steps).", default=10.0,
    )
    checkpoint_steps: int = _help(
        "Also save a resumable checkpoint every this many optimiser steps (0: off).", default=0,
    )
    keep_checkpoints: int = _help("How many recent checkpoints to keep (the best one is kept too).", default=2)
    gradient_checkpointing: bool = _help(
        "Recompute activations in the backward pass: less memory, about 30 % slower (large models).", default=False
    )
    precision: str = _help(
        "Arithmetic of training's forward and backward passes: fp32; bf16, mixed precision (weights, gradients and "
        "optimizer state stay fp32; matrix products run in bfloat16), about 1.3x faster where the hardware has "
        "bfloat16 (CPUs with AVX512-BF16 or AMX, GPUs from Ampere on) and far slower on CPUs without it; auto: bf16 "
        "where the hardware has it, else fp32. Validation during training runs in that precision; the test, "
        "calibration, the saved model and prediction in fp32. run.json records the precision used.",
        flag="--precision", default="fp32",
    )


@dataclass
class EvaluationConfig:
    """What the evaluation report contains."""

    before: bool = _help("Also evaluate the model before fine-tuning (untrained head / zero-shot).", default=True)
    bootstrap_samples: int = _help("Bootstrap resamples for confidence intervals (0 disables them).", default=1000)
    confidence: float = _help("Confidence level of the bootstrap intervals.", default=0.95)


#: Calibration methods: temperature scaling per classification head, or none.
CALIBRATION_METHODS = ("temperature", "none")


@dataclass
class CalibrationConfig:
    """Probabilities a user can threshold: fitted on the validation split after training, never on test."""

    method: str = _help("temperature (one temperature per classification head, fitted on validation) or none.",
                        default="temperature")
    bins: int = _help("Confidence bins of the expected calibration error and the reliability diagrams.", default=15)
    min_rows: int = _help("Fewest validation rows (targets, tokens) a head needs to be calibrated; fewer: none, "
                          "with a warning.", default=30)


@dataclass
class TaskConfig:
    """The task plug-in and its options (see ``finabsa tasks`` for each task's options)."""

    name: str = _help("Task: sentiment, aspect, target or instruct (see finabsa tasks).", default="sentiment")
    options: dict[str, Any] = _help("Task-specific options, validated by the task plug-in.", default_factory=dict)


@dataclass
class RunConfig:
    """Everything that defines one training run; saved, resolved, into the run folder."""

    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    output: str | None = _help(
        "Run folder to write; default runs/<task>-<model>-<method>-<timestamp>.", default=None
    )
    overwrite: bool = _help("Replace an existing run folder instead of refusing.", default=False)

    # ----------------------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunConfig:
        """Build a config from nested mappings (e.g. parsed YAML); unknown keys are reported, not ignored."""
        problems: list[str] = []
        config = _build(cls, data or {}, "", problems)
        if problems:
            raise ConfigError(problems)
        return config

    def to_dict(self) -> dict[str, Any]:
        """Plain nested mapping (YAML/JSON-serialisable)."""
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    def with_overrides(self, overrides: dict[str, Any]) -> RunConfig:
        """Return a copy with dotted keys (``training.epochs``) replaced; values given as strings are YAML-parsed."""
        data = self.to_dict()
        problems: list[str] = []
        for dotted, value in overrides.items():
            if isinstance(value, str):
                value = _parse_scalar(value)
            _set_dotted(data, dotted, value, problems)
        config = RunConfig.from_dict(data)
        if problems:
            # Report the bad overrides together with whatever else is wrong, not one at a time.
            try:
                config.validate()
            except ConfigError as exc:
                problems.extend(exc.problems)
            raise ConfigError(problems)
        return config

    def validate(self) -> RunConfig:
        """Check every field; raise one ``ConfigError`` that lists all problems. Returns self for chaining."""
        problems = [
            *_data_problems(self.data),
            *_model_problems(self.model, self.adapter),
            *_training_problems(self.training, self.evaluation),
            *_task_problems(self.task),
            *_distillation_problems(self.data, self.training),
            *_calibration_problems(self.calibration),
        ]
        if problems:
            raise ConfigError(problems)
        return self

    def resolved_learning_rate(self) -> float:
        """The learning rate actually used: the configured one, else the method's default."""
        if self.training.learning_rate is not None:
            return self.training.learning_rate
        return DEFAULT_LEARNING_RATES[self.adapter.method]

    def resolved(self) -> RunConfig:
        """A copy with every default that depends on other settings filled in (what the run folder saves)."""
        data = self.to_dict()
        data["training"]["learning_rate"] = self.resolved_learning_rate()
        return RunConfig.from_dict(data)


#: Settings that decide where a run is written and when it saves, not what it learns: a finished or interrupted
#: run is the same run whatever they are (a run interrupted before the checkpoint defaults changed, from every 50
#: steps to every 10 minutes, still resumes; a study does not retrain a run for them).
NOT_LEARNING = ("output", "overwrite", "training.checkpoint_minutes", "training.checkpoint_steps",
                "training.keep_checkpoints")


def learning_differences(saved: RunConfig, wanted: RunConfig) -> list[str]:
    """The settings (dotted, ``name: saved -> wanted``) in which two configs would train differently, both
    resolved; empty when a run of ``saved`` is a run of ``wanted``. Folders and checkpoint cadence are left out
    (``NOT_LEARNING``)."""
    before, after = _flat(saved.resolved().to_dict()), _flat(wanted.resolved().to_dict())
    return [f"{key}: {before.get(key)!r} -> {after.get(key)!r}" for key in sorted(before.keys() | after.keys())
            if key not in NOT_LEARNING and before.get(key) != after.get(key)]


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# -- validation, one section at a time ----------------------------------------------------------------------------
def _data_problems(d: DataConfig) -> list[str]:
    from .data.sources import extra_source

    problems = []
    if d.format not in DATA_FORMATS:
        problems.append(f"data.format must be one of {', '.join(DATA_FORMATS)}; found '{d.format}'")
    for i, extra in enumerate(d.also_train):
        try:
            extra_source(d, extra)
        except ConfigError as exc:
            problems.extend(f"data.also_train[{i}]: {p}" for p in exc.problems)
    if d.validation not in VALIDATION_SOURCES:
        problems.append(f"data.validation must be one of {VALIDATION_SOURCES}; found '{d.validation}'")
    if d.unseen_labels not in UNSEEN_LABEL_POLICIES:
        problems.append(f"data.unseen_labels must be one of {UNSEEN_LABEL_POLICIES}; found '{d.unseen_labels}'")
    for name in ("validation_fraction", "test_fraction"):
        value = getattr(d, name)
        if not 0 < value < 0.5:
            problems.append(f"data.{name} must be between 0 and 0.5 (exclusive); found {value}")
    for name in ("max_train_rows", "max_eval_rows"):
        value = getattr(d, name)
        if value is not None and value < 1:
            problems.append(f"data.{name} must be a positive number of rows or null; found {value}")
    if not isinstance(d.source_repeat, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for k, v in d.source_repeat.items()):
        problems.append(f"data.source_repeat maps a source name to a whole number of times >= 1, e.g. {{fiqa: 3}}; "
                        f"found {d.source_repeat!r}")
    return problems


def _model_problems(m: ModelConfig, a: AdapterConfig) -> list[str]:
    problems = []
    if m.max_length < 8:
        problems.append(f"model.max_length must be at least 8 tokens; found {m.max_length}")
    if a.method not in METHODS:
        problems.append(f"adapter.method must be one of {METHODS}; found '{a.method}'")
    if a.rank < 1:
        problems.append(f"adapter.rank must be >= 1; found {a.rank}")
    if a.alpha <= 0:
        problems.append(f"adapter.alpha must be > 0; found {a.alpha}")
    if not 0 <= a.dropout < 1:
        problems.append(f"adapter.dropout must be in [0, 1); found {a.dropout}")
    return problems


def _calibration_problems(c: CalibrationConfig) -> list[str]:
    problems = []
    if c.method not in CALIBRATION_METHODS:
        problems.append(f"calibration.method must be one of {', '.join(CALIBRATION_METHODS)}; found '{c.method}'")
    if c.bins < 2:
        problems.append(f"calibration.bins must be >= 2; found {c.bins}")
    if c.min_rows < 2:
        problems.append(f"calibration.min_rows must be >= 2; found {c.min_rows}")
    return problems


def _distillation_problems(d: DataConfig, t: TrainingConfig) -> list[str]:
    """Unlabelled data trains only through a teacher: it needs ``training.distill_from``."""
    unlabelled = [i for i, entry in enumerate(d.also_train) if isinstance(entry, dict) and entry.get("unlabelled")]
    if unlabelled and not t.distill_from:
        return [f"data.also_train[{unlabelled[0]}] is unlabelled: its sentences train only through a teacher's soft "
                "targets; set training.distill_from (--distill-from) to a finished run of the teacher, or drop the "
                "entry"]
    return []


def _training_problems(t: TrainingConfig, e: EvaluationConfig) -> list[str]:
    problems = []
    if t.epochs <= 0 or not math.isfinite(t.epochs):
        problems.append(f"training.epochs must be > 0; found {t.epochs}")
    if t.learning_rate is not None and not 0 < t.learning_rate < 1:
        problems.append(f"training.learning_rate must be in (0, 1); found {t.learning_rate}")
    if t.head_learning_rate is not None and not 0 < t.head_learning_rate < 1:
        problems.append(f"training.head_learning_rate must be in (0, 1) or null; found {t.head_learning_rate}")
    for name in ("batch_size", "eval_batch_size", "gradient_accumulation_steps", "logging_steps"):
        if getattr(t, name) < 1:
            problems.append(f"training.{name} must be >= 1; found {getattr(t, name)}")
    if t.checkpoint_steps < 0:
        problems.append(f"training.checkpoint_steps must be >= 0 (0: off); found {t.checkpoint_steps}")
    if not t.checkpoint_minutes >= 0 or not math.isfinite(t.checkpoint_minutes):
        problems.append(f"training.checkpoint_minutes must be >= 0 (0: off); found {t.checkpoint_minutes}")
    if t.precision not in PRECISIONS:
        problems.append(f"training.precision must be one of {', '.join(PRECISIONS)}; found '{t.precision}' (bf16 "
                        "is mixed precision; fp16 is not offered: its loss scaling does not run on CPUs)")
    if t.keep_checkpoints < 1:
        problems.append(f"training.keep_checkpoints must be >= 1; found {t.keep_checkpoints}")
    if not 0 <= t.warmup_ratio < 1:
        problems.append(f"training.warmup_ratio must be in [0, 1); found {t.warmup_ratio}")
    if t.early_stopping_patience is not None and t.early_stopping_patience < 1:
        problems.append(f"training.early_stopping_patience must be >= 1 or null; found {t.early_stopping_patience}")
    if t.weight_average_decay is not None and not 0 < t.weight_average_decay < 1:
        problems.append(f"training.weight_average_decay must be in (0, 1) (e.g. 0.999) or null (off); found "
                        f"{t.weight_average_decay}")
    if t.distill_weight < 0 or not math.isfinite(t.distill_weight):
        problems.append(f"training.distill_weight must be >= 0; found {t.distill_weight}")
    if not t.distill_temperature > 0:
        problems.append(f"training.distill_temperature must be > 0; found {t.distill_temperature}")
    if e.bootstrap_samples < 0:
        problems.append(f"evaluation.bootstrap_samples must be >= 0; found {e.bootstrap_samples}")
    if not 0 < e.confidence < 1:
        problems.append(f"evaluation.confidence must be in (0, 1); found {e.confidence}")
    return problems


def _task_problems(task: TaskConfig) -> list[str]:
    from .tasks import get_task, task_names

    if task.name in task_names():
        return get_task(task.name).options_problems(task.options)
    import difflib

    close = difflib.get_close_matches(task.name, task_names(), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return [f"task.name must be one of {', '.join(task_names())}; found '{task.name}'{hint}"]


def read_yaml_mapping(path: str | Path, kind: str, missing_hint: str) -> dict[str, Any]:
    """Parse a YAML file whose top level is a mapping; a missing file, bad YAML or another shape is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{kind} file '{path}' does not exist; {missing_hint}"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([f"{kind} file '{path}' is not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{kind} file '{path}' must hold a mapping at the top; found {type(data).__name__}"])
    return data


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Load a YAML preset (or the defaults when ``path`` is None) and apply dotted overrides."""
    data = {} if path is None else read_yaml_mapping(path, "config", "give the path of a YAML file (see configs/)")
    config = RunConfig.from_dict(data)
    if overrides:
        config = config.with_overrides(overrides)
    return config


# ------------------------------------------------------------------------------------------------------------------
def _parse_scalar(text: str) -> Any:
    """YAML-parse a flag value (``3`` -> 3, ``[a, b]`` -> list, ``{fiqa: 3}`` -> mapping); a template such as
    ``{target}`` reads as a mapping of names to nothing, and stays text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, dict) and None in value.values() else value


def _set_dotted(data: dict[str, Any], dotted: str, value: Any, problems: list[str]) -> None:
    parts = dotted.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        if part == "task" and i == 0 and parts[1] != "name" and parts[1] != "options":
            # ``task.level=2`` is shorthand for ``task.options.level=2``.
            node = node["task"].setdefault("options", {})
            continue
        if not isinstance(node.get(part), dict):
            problems.append(f"unknown setting '{dotted}': '{part}' is not a section")
            return
        node = node[part]
    key = parts[-1]
    if node is not data.get("task", {}).get("options") and key not in node:
        problems.append(f"unknown setting '{dotted}'; known keys here: {', '.join(sorted(node))}")
        return
    node[key] = value


def _build(cls: type, data: Any, prefix: str, problems: list[str]) -> Any:
    if cls is TaskConfig:
        return _build_task(data, prefix, problems)
    if not isinstance(data, dict):
        problems.append(f"'{prefix.rstrip('.') or 'config'}' must be a mapping; found {data!r}")
        return cls()
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"unknown setting '{prefix}{key}'; known: {', '.join(known)}")
            continue
        f = known[key]
        sub = SECTIONS.get(key) if cls is RunConfig else None
        if sub is not None:
            kwargs[key] = _build(sub, value, f"{prefix}{key}.", problems)
        else:
            kwargs[key] = _coerce(value, f, f"{prefix}{key}", problems)
    return cls(**kwargs)


def _build_task(data: Any, prefix: str, problems: list[str]) -> TaskConfig:
    if isinstance(data, str):
        return TaskConfig(name=data)
    if not isinstance(data, dict):
        problems.append(f"'task' must be a task name or a mapping; found {data!r}")
        return TaskConfig()
    data = dict(data)
    name = data.pop("name", TaskConfig().name)
    options = dict(data.pop("options", None) or {})
    options.update(data)  # ``task: {name: aspect, level: 2}`` is the short form of ``options: {level: 2}``
    return TaskConfig(name=str(name), options=options)


def _coerce(value: Any, f: dataclasses.Field, where: str, problems: list[str]) -> Any:
    """Light type checking for scalar fields: ints for floats are fine, strings for numbers are not."""
    annotation = str(f.type)
    if value is None:
        if "None" not in annotation:
            problems.append(f"'{where}' must not be null")
        return value
    if annotation.startswith("float") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    expected = {"int": int, "float": float, "bool": bool, "str": str}
    base = annotation.split(" ")[0].split("|")[0].strip()
    if base in expected:
        kind = expected[base]
        if base == "float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if base == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"'{where}' must be {base}; found {value!r}")
    if base.startswith("list") and not isinstance(value, list):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        problems.append(f"'{where}' must be a list; found {value!r}")
    return value


#: The sections of a ``RunConfig`` and their dataclasses.
SECTIONS: dict[str, type] = {
    "task": TaskConfig,
    "data": DataConfig,
    "model": ModelConfig,
    "adapter": AdapterConfig,
    "training": TrainingConfig,
    "evaluation": EvaluationConfig,
    "calibration": CalibrationConfig,
}
