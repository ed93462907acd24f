"""Optional task hooks, apart from the core ``Task`` interface.

- ``PipelineHooks``: a task whose run can sit in a ``Pipeline`` (several tasks on the same sentences) says which
  input fields it needs, which it can fill for the tasks after it, and what its part of the record looks like.
- ``StudyHooks``: a task that a study compares with simple floors and combines over seeds.
- ``DistillationHooks``: a task whose model can learn from a teacher's soft targets (knowledge distillation).
- ``ExplanationHooks``: a task whose answers can be explained by attributions to the input's word pieces.

Both carry defaults, so a task opts in by inheriting the mixin and overriding what differs.
"""

from __future__ import annotations

from typing import Any

from ..data.records import Example
from .base import template_fields

__all__ = ["PipelineHooks", "StudyHooks", "DistillationHooks", "ExplanationHooks"]


class PipelineHooks:
    """What a pipeline asks of a task: its inputs, what it provides, and its part of the record."""

    name: str

    def input_templates(self) -> tuple[str, ...]:
        """The input templates this task renders (their fields are what it needs besides the sentence)."""
        return ()

    def needs(self) -> set[str]:
        """Template fields the input uses that a plain sentence lacks (e.g. ``target``)."""
        return {f for f in template_fields(*self.input_templates()) if f not in ("sentence", "dataset")}

    def provides(self) -> tuple[str, ...]:
        """Template fields this task's prediction can fill for the tasks after it in a pipeline."""
        return ()

    def fill(self, example: Example, prediction: dict[str, Any]) -> Example:
        """The example with the fields of ``provides`` filled from ``prediction`` (kept when already given)."""
        return example

    def record(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """This task's fields of a pipeline record (merged into it), e.g. ``{"sentiment": {...}}``; a ``notes``
        list among them is added to the record's notes."""
        return {self.name: prediction}

    def unanswered_record(self) -> dict[str, Any]:
        """The record's fields when this task got no input (an earlier task found nothing to fill its template)."""
        return {self.name: None}


class StudyHooks:
    """What a study asks of a task besides training it: floors to compare with, and seed ensembles."""

    def baselines(self, train: list[Example], test: list[Example], labels: list[str]) -> dict[str, list[dict]]:
        """Predictions of simple floors (name -> one prediction dict per test example), scored like the model's."""
        return {}

    def ensemble(self, predictions: list[list[dict[str, Any]]]) -> list[dict[str, Any]] | None:
        """Combine several models' predictions for the same examples (e.g. seeds); None when not supported."""
        return None


class DistillationHooks:
    """What knowledge distillation asks of a task: a teacher's soft targets for each example, which the student's
    ``encode`` reads back from ``example.meta["soft"]`` (character offsets, so teacher and student may tokenise
    differently), and which its head's loss compares with the student's distributions."""

    def soft_targets(self, outputs: Any, features: list[dict[str, Any]], examples: list[Example],
                     labels: list[str], temperature: float) -> list[dict[str, Any]]:
        """The teacher's distributions (softened by ``temperature``) for one batch, one JSON-able dict each."""
        raise NotImplementedError

    def ensemble_soft_targets(self, per_teacher: list[dict[str, Any]], example: Example) -> dict[str, Any]:
        """Several teachers' soft targets of one example made one (an ensemble of teachers: their mean)."""
        raise NotImplementedError


class ExplanationHooks:
    """What explanations ask of a task: which answers of a prediction to explain, and the model's score of each
    (the pre-softmax logit that Integrated Gradients attributes to the word pieces)."""

    def explained_answers(self, prediction: dict[str, Any], feature: dict[str, Any],
                          labels: list[str]) -> list[tuple[dict[str, Any], list[int] | None, int]]:
        """Each answer to explain: the dict that receives its ``reasons``, the token indices it reads (None: the
        whole input) and the index of its class among the model's outputs."""
        raise NotImplementedError

    def answer_score(self, outputs: Any, tokens: list[int] | None, index: int) -> Any:
        """The model's score of one answer (a tensor with one value per batch row) from its outputs."""
        raise NotImplementedError
