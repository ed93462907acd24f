"""finabsa: aspect-based financial sentiment analysis by parameter-efficient fine-tuning.

The public API mirrors the CLI::

    import finabsa
    result = finabsa.train(finabsa.load_config("configs/sentiment.yaml"))
    predictor = finabsa.load(result.run_dir)
    predictor.predict(["$TSLA breaks out to new highs"])
    pipeline = finabsa.Pipeline({"target": "runs/target", "sentiment": "runs/sentiment"})
    pipeline.analyze(["Tesco shares surge after strong results"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import RunConfig, load_config
from .constants import __version__
from .errors import ConfigError, DataError, FinabsaError, ModelLoadError, RunFolderError, UnknownNameError

__all__ = [
    "ConfigError",
    "DataError",
    "FinabsaError",
    "ModelLoadError",
    "Pipeline",
    "RunConfig",
    "RunFolderError",
    "UnknownNameError",
    "evaluate",
    "load",
    "load_config",
    "resume",
    "train",
    "train_tasks",
    "__version__",
]

if TYPE_CHECKING:
    from .inference.evaluate import evaluate
    from .inference.loading import load
    from .inference.pipeline import Pipeline
    from .training import resume, train, train_tasks

#: Public name -> module that defines it. Heavy modules (torch, transformers) load on first use, so that
#: ``import finabsa`` and ``finabsa --help`` stay fast.
_LAZY = {
    "train": "finabsa.training",
    "train_tasks": "finabsa.training",
    "resume": "finabsa.training",
    "load": "finabsa.inference.loading",
    "Pipeline": "finabsa.inference.pipeline",
    "evaluate": "finabsa.inference.evaluate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'finabsa' has no attribute '{name}'")
