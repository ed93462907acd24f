"""Reasons a user can read: the word pieces that pushed an answer most, by Integrated Gradients (Captum).

For each answer a task explains (``ExplanationHooks``: a target's sentiment, a sentence's label), Integrated
Gradients (Sundararajan et al., 2017) integrates the gradient of the answer's score (its pre-softmax logit) along
the straight line from a baseline input (every word piece replaced by padding, the special tokens kept) to the
input, in the space of the word embeddings (``captum.attr.LayerIntegratedGradients``). A word piece's attribution
says how much it moved the score; the attributions add up to the score's difference between the input and the
baseline (completeness), up to the integration error Captum reports. An answer gets ``reasons``: the pieces that
pushed it toward its label most, strongest first.

Gradients need the PyTorch model: an ONNX runtime cannot explain, and says so. An explained text costs about
``steps`` forward and backward passes per answer (see ``docs/serving.md`` for the measured cost).
"""

from __future__ import annotations

from typing import Any

import torch

from ..data.records import Example
from ..errors import FinabsaError
from ..models.predictor import Predictor
from ..models.text_parts import read_in_parts
from ..tasks import ExplanationHooks

__all__ = ["explain_predictions", "explain_records", "integrated_gradients", "DEFAULT_STEPS", "DEFAULT_REASONS"]

#: Integration steps (Captum's default is 50; 32 keeps the integration error small on these models).
DEFAULT_STEPS = 32
#: Word pieces given as an answer's reasons.
DEFAULT_REASONS = 5


def _embeddings(model: Any) -> torch.nn.Module:
    """The word-embedding layer of a model (a transformers model, a PEFT wrapper, or the joint model)."""
    for candidate in (model, getattr(model, "get_base_model", lambda: None)()):
        if candidate is not None and hasattr(candidate, "get_input_embeddings"):
            return candidate.get_input_embeddings()
    raise FinabsaError(f"cannot find the word embeddings of {type(model).__name__} to explain its answers.")


def integrated_gradients(predictor: Predictor, batch: dict[str, torch.Tensor], tokens: list[int] | None, index: int,
                         steps: int = DEFAULT_STEPS) -> tuple[torch.Tensor, float, float]:
    """Per word piece attributions of one answer's score for a one-row ``batch``; with the integration error
    (``delta``) and the score's difference between the input and the baseline (what the attributions add up to)."""
    from captum.attr import LayerIntegratedGradients

    task, model = predictor.task, predictor.model
    assert isinstance(task, ExplanationHooks)
    special = set(predictor.tokenizer.all_special_ids) - {predictor.tokenizer.pad_token_id}
    ids = batch["input_ids"]
    baseline = torch.where(torch.isin(ids, torch.tensor(sorted(special))), ids,
                           torch.full_like(ids, predictor.tokenizer.pad_token_id or 0))
    extra = {k: v for k, v in batch.items() if k != "input_ids"}

    def score(input_ids: torch.Tensor, *_: Any) -> torch.Tensor:
        rows = input_ids.shape[0]
        inputs = {k: v.expand(rows, *v.shape[1:]) for k, v in extra.items()}
        return task.answer_score(model(input_ids=input_ids, **inputs), tokens, index)

    method = LayerIntegratedGradients(score, _embeddings(model))
    with torch.enable_grad():
        attributions, delta = method.attribute(ids, baselines=baseline, n_steps=steps, return_convergence_delta=True,
                                               internal_batch_size=steps)
        with torch.no_grad():
            difference = float(score(ids) - score(baseline))
    return attributions.sum(-1)[0].detach(), float(delta.abs().max()), difference


def explain_records(predictor: Predictor, inputs: list[Any]) -> list[dict[str, Any]]:
    """``predictor.predict(inputs)`` with every explained answer's ``reasons`` (a long text explained part by part,
    as it is read)."""
    from ..data.records import as_example

    examples = [as_example(item, i) for i, item in enumerate(inputs)]
    return read_in_parts(examples, lambda batch: explain_predictions(predictor, batch, predictor.predict(batch)),
                         *predictor.token_budget())


def explain_predictions(predictor: Predictor, examples: list[Example], predictions: list[dict[str, Any]],
                        steps: int = DEFAULT_STEPS, reasons: int = DEFAULT_REASONS) -> list[dict[str, Any]]:
    """``predictions`` with ``reasons`` on every answer its task explains: the word pieces (text, character offsets,
    attribution) that pushed the answer toward its label most."""
    task = predictor.task
    if not isinstance(task, ExplanationHooks):
        raise FinabsaError(f"task '{task.describe()}' cannot explain its answers; explanations cover the joint, "
                           "sentiment and aspect tasks.")
    if not isinstance(predictor.model, torch.nn.Module):
        raise FinabsaError("explanations need gradients, which the ONNX runtimes do not give: explain with the run "
                           "folder or an export folder on --runtime torch.")
    from ..models.build import training_collator

    features = task.encode(examples, predictor.tokenizer, predictor.labels, predictor.max_length, with_labels=False)
    collate = training_collator(task, task.head(predictor.labels), predictor.tokenizer)
    predictor.model.eval()
    for example, feature, prediction in zip(examples, features, predictions):
        batch = collate([{k: v for k, v in feature.items() if not k.startswith("_")}])
        for answer, tokens, index in task.explained_answers(prediction, feature, predictor.labels):
            attributions, _, _ = integrated_gradients(predictor, batch, tokens, index, steps)
            text = feature.get("_text", example.sentence)
            pieces = [(float(attributions[j]), start, end) for j, (start, end) in enumerate(feature["_offsets"])
                      if end > start and float(attributions[j]) > 0]
            answer["reasons"] = [{"text": text[start:end], "start": start, "end": end,
                                  "attribution": float(f"{weight:.4g}")}
                                 for weight, start, end in sorted(pieces, reverse=True)[:reasons]]
    return predictions
