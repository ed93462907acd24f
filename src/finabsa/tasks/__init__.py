"""Task plug-ins, registered by name. Importing this package registers the built-in tasks."""

from . import aspect, instruct, joint, sentiment, target  # noqa: F401  (registration side effect)
from .aspect import AspectTask
from .base import HeadSpec, Task, get_task, register_task, render_template, task_names
from .hooks import DistillationHooks, ExplanationHooks, PipelineHooks, StudyHooks
from .instruct import InstructTask
from .joint import JointTask
from .sentiment import SentimentTask
from .target import BIO_LABELS, TargetTask, find_target_spans

__all__ = [
    "AspectTask",
    "BIO_LABELS",
    "DistillationHooks",
    "ExplanationHooks",
    "HeadSpec",
    "InstructTask",
    "JointTask",
    "PipelineHooks",
    "SentimentTask",
    "StudyHooks",
    "TargetTask",
    "Task",
    "build_task",
    "find_target_spans",
    "get_task",
    "register_task",
    "render_template",
    "task_names",
]


def build_task(name: str, options: dict | None = None) -> Task:
    """Instantiate the task registered as ``name`` with its (raw) options."""
    return get_task(name).from_options(options)
