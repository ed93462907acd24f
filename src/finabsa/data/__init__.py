"""Data layer: the canonical ``Example`` record, loaders, and split preparation."""

from .fiqa import default_data_path, load_fiqa_official, load_fiqa_splits
from .log import LoadEvent, LoadLog
from .records import Example, parse_aspects, parse_score, repair_text, truncate_aspect
from .sources import FORMATS, detect_format, load_data, load_fiqa
from .splits import RunData, carve, normalise_sentence, prepare_splits, sentence_overlap
from .tables import read_table

__all__ = [
    "Example",
    "FORMATS",
    "LoadEvent",
    "LoadLog",
    "load_data",
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
