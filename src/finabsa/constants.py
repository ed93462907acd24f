"""Names shared by the configuration, the command line and the library, in one place.

This module imports nothing heavy, so that ``finabsa --help`` can offer the same choices the library checks.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

__all__ = ["__version__", "setting", "DATA_FORMATS", "METHODS", "RUNTIMES", "INPUT_FORMATS", "OUTPUT_FORMATS",
           "DEFAULT_LEARNING_RATES", "PRECISIONS"]

__version__ = "0.1.0"

#: Data formats ``data.format`` accepts (``auto`` detects one of the others from the files).
DATA_FORMATS = ("auto", "fiqa-splits", "fiqa-official", "hub", "sentfin", "phrasebank", "table")

#: Fine-tuning methods (``adapter.method``).
METHODS = ("lora", "full", "frozen")

#: Arithmetic of training (``training.precision``): fp32, bf16 mixed precision, or bf16 where the hardware has it.
PRECISIONS = ("fp32", "bf16", "auto")

#: Default peak learning rate of each method, used when ``training.learning_rate`` is not set.
DEFAULT_LEARNING_RATES = {"lora": 5e-4, "full": 5e-5, "frozen": 2e-3}

#: Inference runtimes: PyTorch, or ONNX Runtime on an export folder (fp32 or dynamic int8).
RUNTIMES = ("torch", "onnx", "onnx-int8")

#: Input formats of ``finabsa predict`` files, and its output formats.
INPUT_FORMATS = ("auto", "text", "jsonl", "csv", "tsv", "parquet")
OUTPUT_FORMATS = ("jsonl", "csv")


def setting(text: str, flag: str | None = None, **kwargs: Any) -> Any:
    """A config dataclass field with its help text and, for the common settings, the command-line flag that sets it
    (``finabsa.cli`` builds its flags from these)."""
    metadata = {"help": text, **({"flag": flag} if flag else {})}
    return field(metadata=metadata, **kwargs)
