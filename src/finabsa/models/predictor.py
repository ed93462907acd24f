"""Batched prediction with a task's model: the one code path used for evaluation, ``predict`` and the pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..data.records import Example, as_example
from ..tasks.base import Evaluation, Task
from .build import training_collator
from .calibration import Calibration
from .text_parts import OffsetsOf, read_in_parts

__all__ = ["Predictor"]


class Predictor:
    """A task's model ready to predict: tokenizer, model in eval mode, label list, and the task plug-in.

    ``model`` is a PyTorch module or an ONNX Runtime session behind the same call (``finabsa.inference``).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        task: Task,
        labels: list[str],
        max_length: int = 128,
        batch_size: int = 64,
        run_dir: Path | None = None,
        info: dict[str, Any] | None = None,
        calibration: Calibration | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.task = task
        self.labels = list(labels)
        self.max_length = max_length
        self.batch_size = batch_size
        self.run_dir = run_dir
        self.info = info or {}
        #: Temperatures applied to the model's outputs before decoding (calibrated probabilities), or None.
        self.calibration = calibration

    def predict(self, inputs: Iterable[str | dict | Example], progress: bool = False) -> list[dict[str, Any]]:
        """Predict for sentences, mappings or Examples; one result dict per input, in input order, starting with
        the input's ``text`` (as ``finabsa predict`` prints it). A text over ``max_length`` tokens is read in
        parts split at sentence boundaries and answered in one record (``finabsa.models.text_parts``), never cut."""
        examples = [as_example(item, i) for i, item in enumerate(inputs)]
        return read_in_parts(examples, lambda batch: self._records(batch, progress), *self.token_budget())

    def _records(self, examples: list[Example], progress: bool) -> list[dict[str, Any]]:
        predictions = self.predict_examples(examples, progress=progress)
        return [{"text": example.sentence, **prediction} for example, prediction in zip(examples, predictions)]

    def token_budget(self) -> tuple[OffsetsOf, int]:
        """A text's token offsets (special tokens left out) and the most tokens a text may have to be read whole:
        ``max_length`` less room for the special tokens."""
        tokenizer = self.tokenizer

        def offsets_of(text: str) -> list[tuple[int, int]]:
            encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            return [tuple(pair) for pair in encoded["offset_mapping"]]

        # Two special tokens, and one more: an input of exactly max_length tokens reads as cut (the tokenizer's
        # truncation makes exactly that many).
        return offsets_of, max(8, self.max_length - 3)

    @torch.no_grad()
    def predict_examples(self, examples: list[Example], progress: bool = False, desc: str = "predict",
                         decode: Callable[..., list[dict]] | None = None) -> list[dict]:
        """One prediction per example, in order; ``decode`` (the task's ``decode`` signature) replaces the task's
        decoding, e.g. to read a teacher's soft targets."""
        if not examples:
            return []
        was_training = self.model.training
        self.model.eval()
        features = self.task.encode(examples, self.tokenizer, self.labels, self.max_length, with_labels=False)
        # Sorting by length wastes little padding; results are put back in input order below.
        order = sorted(range(len(examples)), key=lambda i: len(features[i]["input_ids"]))
        collate = training_collator(self.task, self.task.head(self.labels), self.tokenizer)
        device = next(self.model.parameters()).device
        results: list[dict[str, Any] | None] = [None] * len(examples)
        batches = range(0, len(order), self.batch_size)
        for start in tqdm(batches, desc=desc, disable=not progress, leave=False):
            index = order[start : start + self.batch_size]
            batch_features = [features[i] for i in index]
            batch = collate([{k: v for k, v in f.items() if not k.startswith("_")} for f in batch_features])
            batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
            outputs = self.task.forward(self.model, batch, self.tokenizer)
            batch_examples = [examples[i] for i in index]
            if self.calibration is None:
                decoded = (decode or self.task.decode)(outputs, batch_features, batch_examples, self.labels,
                                                       self.tokenizer)
            elif decode is not None:  # a replaced decoding (a teacher's soft targets) reads the calibrated outputs
                decoded = decode(self.calibration.apply(outputs), batch_features, batch_examples, self.labels,
                                 self.tokenizer)
            else:
                decoded = self.task.decode_calibrated(outputs, self.calibration.apply(outputs), batch_features,
                                                      batch_examples, self.labels, self.tokenizer)
            for i, prediction in zip(index, decoded):
                if len(features[i]["input_ids"]) >= self.max_length:
                    # The tokenizer cut the input at max_length: the answer saw only its beginning.
                    prediction["truncated"] = (f"input cut to its first {self.max_length} tokens: the rest was not "
                                               "read; predict (finabsa predict, Predictor.predict, a pipeline, "
                                               "serve) reads all of it in parts split at sentence boundaries, and "
                                               "--documents answers it per entity")
                results[i] = prediction
        if was_training:
            self.model.train()
        return results  # type: ignore[return-value]

    def evaluate(self, examples: list[Example], evaluation: Evaluation, progress: bool = False,
                 desc: str = "evaluate") -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Predict ``examples`` and score them; returns ``(metrics, predictions)``."""
        predictions = self.predict_examples(examples, progress=progress, desc=desc)
        return self.task.score(examples, predictions, self.labels, evaluation), predictions
