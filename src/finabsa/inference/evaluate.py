"""Re-evaluate a finished run folder, on its own test split or on other data (``finabsa evaluate``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..data.fiqa import default_data_path
from ..data.prepare import scoring_examples
from ..data.sources import SOURCE_KEYS, load_data
from ..errors import ConfigError
from ..reports.run_report import build_report
from .loading import load

__all__ = ["evaluate"]


def evaluate(
    run_dir: str | Path,
    data: str | None = None,
    data_format: str = "auto",
    split: str | None = None,
    max_rows: int | None = None,
    progress: bool = False,
    **source: Any,
) -> dict[str, Any]:
    """Score a saved model on ``split`` of ``data`` (default: the data set it was trained on).

    ``split="all"`` scores every row of every split. The default is ``test``; a file of one's own with no split
    column (so no test split) is scored whole, and the report's notes say so.
    ``source`` takes the data section's source keys for ``data`` (``text_column``, ``label_column``,
    ``score_column``, ``target_column``, ``aspect_column``, ``split_column``, ``encoding``, ``agreement``).
    Returns a report mapping with the same metrics as the run's own report (``after`` only). ``max_rows`` scores a
    seeded sample of that many rows.
    """
    predictor = load(run_dir)
    config = predictor.info["config"]
    task = predictor.task
    unknown = sorted(set(source) - set(SOURCE_KEYS))
    if unknown:
        raise ConfigError([f"evaluate: unknown source setting(s) {', '.join(unknown)}; known: "
                           f"{', '.join(SOURCE_KEYS)}"])
    columns = {f"{role}_column": None for role in ("text", "label", "target", "score", "aspect", "split")}
    source_config = config.data if data is None else dataclasses.replace(
        config.data, path=data, format=data_format, **{**columns, **source})
    notes: list[str] = []
    splits = load_data(source_config)
    if split is None:
        split = "test"
        if data is not None and split not in splits and not source_config.split_column:
            split = "all"
            notes.append(f"'{data}' has no split column, so every row was scored (--split all); give "
                         "--split-column to score one split.")
    examples = scoring_examples(task, splits, split, predictor.labels, config.data.unseen_labels,
                                notes, max_rows=max_rows, seed=config.data.split_seed)
    metrics, _ = predictor.evaluate(examples, config.evaluation, progress=progress)
    report = build_report(task, config, predictor.labels, len(examples), None, metrics, data_notes=notes)
    scored = data or config.data.path or str(default_data_path())
    return {"run_dir": str(run_dir), "data": str(scored), "split": split, "rows_scored": len(examples), **report}
