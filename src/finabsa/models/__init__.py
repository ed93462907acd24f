"""Pretrained models: where they come from (``hub``), a task's model built from them (``build``), and the batched
``Predictor`` that every evaluation and prediction goes through (``predictor``)."""

from .build import (
    build_model,
    count_parameters,
    default_target_modules,
    load_base_model,
    load_trained,
    merged_model,
    save_trained,
    trained_head_parameters,
)
from .hub import MODEL_ALIASES, ResolvedModel, cache_dir, load_tokenizer, resolve_model

__all__ = [
    "MODEL_ALIASES",
    "ResolvedModel",
    "build_model",
    "cache_dir",
    "count_parameters",
    "default_target_modules",
    "load_base_model",
    "load_tokenizer",
    "load_trained",
    "merged_model",
    "resolve_model",
    "save_trained",
    "trained_head_parameters",
]
