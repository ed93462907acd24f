"""Data layer: the canonical ``Example`` record, loaders, and split preparation."""

from .fiqa import default_data_path, detect_format, load_fiqa, load_fiqa_official, load_fiqa_splits, read_table
from .records import Example, parse_aspects, parse_score, repair_text, truncate_aspect
from .splits import RunData, carve, normalise_sentence, prepare_splits, sentence_overlap

__all__ = [
    "Example",
    "RunData",
    "carve",
    "default_data_path",
    "detect_format",
    "load_fiqa",
    "load_fiqa_official",
    "load_fiqa_splits",
    "normalise_sentence",
    "parse_aspects",
    "parse_score",
    "prepare_splits",
    "read_table",
    "repair_text",
    "sentence_overlap",
    "truncate_aspect",
]
