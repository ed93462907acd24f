"""Re-evaluate a finished run folder, on its own test split or on other data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import DataError

__all__ = ["evaluate"]


def evaluate(
    run_dir: str | Path,
    data: str | None = None,
    data_format: str = "auto",
    split: str = "test",
    max_rows: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score a saved model on ``split`` of ``data`` (default: the data set it was trained on).

    Returns a report mapping with the same metrics as the run's own report (``after`` only).
    """
    import dataclasses

    from .data import load_data
    from .predict import load

    predictor = load(run_dir)
    config = predictor.info["config"]
    task = predictor.task
    source = data if data is not None else config.data.path
    source_config = config.data if data is None else dataclasses.replace(
        config.data, path=data, format=data_format, text_column=None, label_column=None, target_column=None,
        score_column=None, aspect_column=None, split_column=None,
    )
    splits = load_data(source_config)
    task.check_examples([e for rows in splits.values() for e in rows])
    if split not in splits:
        raise DataError(f"the data set has no split '{split}'; it has: {', '.join(sorted(splits))}.")
    examples = [e for e in splits[split] if task.usable(e)]
    if max_rows:
        examples = examples[:max_rows]
    if not examples:
        raise DataError(
            f"split '{split}' has no rows usable by task '{task.describe()}' ({len(splits[split])} before filtering)."
        )
    labels = predictor.labels
    if task.closed_label_set(labels):
        unseen = [e for e in examples if task.gold(e) not in labels]
        if unseen and config.data.unseen_labels == "error":
            raise DataError(
                f"{len(unseen)} row(s) of split '{split}' have labels never seen in training, e.g. "
                f"'{task.gold(unseen[0])}' ({unseen[0].origin}); known labels: {', '.join(labels[:8])}..."
            )
        if unseen and config.data.unseen_labels == "drop":
            examples = [e for e in examples if task.gold(e) in labels]
    metrics, _ = predictor.evaluate(examples, config.evaluation, progress=progress)
    return {
        "run_dir": str(run_dir),
        "task": config.task.name,
        "task_description": task.describe(),
        "model": config.model.name,
        "method": config.adapter.method,
        "data": str(source),
        "split": split,
        "test_rows": len(examples),
        "confidence": config.evaluation.confidence,
        "headline_metrics": list(task.headline_metrics),
        "before": None,
        "after": metrics,
    }
