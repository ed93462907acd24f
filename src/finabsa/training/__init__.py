"""Training: the one loop every task goes through (``loop``), the Trainer as finabsa drives it (``trainer``), and
the run folder it writes (``run_folder``)."""

from .loop import RunResult, default_output, resumable, resume, task_configs, train, train_or_resume, train_tasks

__all__ = ["RunResult", "default_output", "resume", "resumable", "task_configs", "train", "train_or_resume",
           "train_tasks"]
