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
from .errors import ConfigError, DataError, FinabsaError, ModelLoadError, RunFolderError, UnknownNameError

__version__ = "0.1.0"

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
    "__version__",
]

if TYPE_CHECKING:
    from .evaluate_run import evaluate
    from .pipeline import Pipeline
    from .predict import load
    from .training import resume, train


def __getattr__(name: str) -> Any:
    # Heavy modules (torch, transformers) load on first use, so `import finabsa` and `finabsa --help` stay fast.
    if name == "train":
        from .training import train

        return train
    if name == "resume":
        from .training import resume

        return resume
    if name == "load":
        from .predict import load

        return load
    if name == "Pipeline":
        from .pipeline import Pipeline

        return Pipeline
    if name == "evaluate":
        from .evaluate_run import evaluate

        return evaluate
    raise AttributeError(f"module 'finabsa' has no attribute '{name}'")
