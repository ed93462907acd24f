"""Weight averaging: an exponential moving average (EMA) of the trained weights, the model that is evaluated,
selected and saved in place of the last step's weights (``training.weight_average_decay``).

Fine-tuning on a few thousand sentences moves the weights in noisy steps: the validation score of single epochs
dips and recovers by a point or more. The average of the weights over the last few hundred steps sits in a flatter
part of the loss surface than any one of them (Polyak averaging; "mean teacher", Tarvainen & Valpola 2017), which
tends to hold up better on text unlike the training sentences, at no cost to the model that is served.

The training weights stay the ones the optimizer moves; the average is swapped in only to be evaluated, and each
checkpoint keeps it beside the training weights (``weight_average.safetensors``), so that a resumed run continues
the same average and the best epoch's average is the model the run ends with.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from ..run_layout import AVERAGE_FILE

__all__ = ["WeightAverage", "weight_average_callback"]


class WeightAverage:
    """An exponential moving average of a model's trainable parameters.

    After optimiser step ``t`` (1-based) every averaged parameter becomes ``d * average + (1 - d) * weight`` with
    ``d = min(decay, (1 + t) / (10 + t))``: early steps, whose weights are far from where training ends, weigh
    less in the average than a plain ``decay`` would give them.
    """

    def __init__(self, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"weight averaging needs a decay in (0, 1); found {decay}")
        self.decay = decay
        self.shadow: dict[str, torch.Tensor] = {}

    @staticmethod
    def _averaged(model: Any) -> Iterator[tuple[str, torch.nn.Parameter]]:
        # Only what training moves: frozen weights are their own average.
        return ((name, p) for name, p in model.named_parameters() if p.requires_grad)

    def _pairs(self, model: Any) -> Iterator[tuple[torch.nn.Parameter, torch.Tensor]]:
        """Each averaged parameter with its average, moved to the parameter's device (an average read from a
        checkpoint comes to the CPU)."""
        for name, p in self._averaged(model):
            if self.shadow[name].device != p.device:
                self.shadow[name] = self.shadow[name].to(p.device)
            yield p, self.shadow[name]

    def start(self, model: Any) -> None:
        """Begin the average at the model's current weights. It is kept in float32 whatever the weights' type: in
        half precision a step's share (1 - decay) of a weight would round away."""
        self.shadow = {name: p.detach().float().clone() for name, p in self._averaged(model)}

    def decay_at(self, step: int) -> float:
        """The decay applied after optimiser step ``step`` (1-based)."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: Any, step: int) -> None:
        """Move the average toward the model's weights after optimiser step ``step``."""
        if not self.shadow:
            self.start(model)
        decay = self.decay_at(step)
        for p, average in self._pairs(model):
            average.mul_(decay).add_(p.detach().float(), alpha=1 - decay)

    @contextmanager
    def swapped_in(self, model: Any) -> Iterator[None]:
        """The average in the model's parameters for the duration of the block; the training weights after it."""
        if not self.shadow:
            yield
            return
        kept = [p.detach().clone() for _, p in self._averaged(model)]
        self.copy_into(model)
        try:
            yield
        finally:
            with torch.no_grad():
                for (_, p), weights in zip(self._averaged(model), kept):
                    p.copy_(weights)

    @torch.no_grad()
    def copy_into(self, model: Any) -> None:
        """Make the average the model's weights for good (the end of training)."""
        for p, average in self._pairs(model):
            p.copy_(average)

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file({name: t.contiguous() for name, t in self.shadow.items()}, str(Path(folder) / AVERAGE_FILE))

    def load(self, folder: Path) -> bool:
        """Read the average a checkpoint folder kept; False when it has none."""
        from safetensors.torch import load_file

        path = Path(folder) / AVERAGE_FILE
        if not path.is_file():
            return False
        self.shadow = load_file(str(path))
        return True


def weight_average_callback(average: WeightAverage, resume_from: Path | None = None) -> Any:
    """The Trainer callback that keeps ``average``: started at the first step (or read from the checkpoint a
    resumed run continues from), moved after every optimiser step, written into every checkpoint."""
    from transformers import TrainerCallback

    class KeepWeightAverage(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if resume_from is None or not average.load(resume_from):
                average.start(model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            average.update(model, state.global_step)

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                average.save(Path(args.output_dir) / f"checkpoint-{state.global_step}")

    return KeepWeightAverage()
