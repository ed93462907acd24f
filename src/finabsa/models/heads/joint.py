"""The joint head: one encoder pass, three heads (target tags, the sentence's aspect, sentiment per target), with
the collator and the loss that train them.

The sentiment of a target is read from the pooled representation of its span: ``W · mean_t(tanh(P h_t))``, plus
``S · sentence`` when the task asks for sentence context (off by default: with it, the targets of one sentence
tended to share the sentence's label). Because the mean comes after the per-token part, the graph outputs the
per-token part (``sentiment_token``) and the sentence part (``sentiment_sentence``); pooling over a span is a mean
over its token rows (``finabsa.tasks.joint.pooling``, one implementation): with gold spans in the loss here,
with predicted spans in the task's decoding. So one forward pass (and one ONNX graph) serves every target a
sentence names, whatever spans the tagger finds.

Saved as the encoder's own files (loadable with plain transformers) plus ``joint_heads.safetensors``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers.utils import ModelOutput

from ...data.labels import SENTIMENT_LABELS
from ...tasks.aspect_tree import AspectTree
from ...tasks.classification import inverse_frequency
from ...tasks.joint.pooling import SENTIMENT_OUTPUTS, SOURCE_IDS, pool_targets
from . import Distillation, Head, LossFunction, register_head

__all__ = ["JointHead", "JointModel", "JointOutput", "JointCollator", "JointLoss", "HEADS_FILE", "OUTPUT_AXES"]

HEADS_FILE = "joint_heads.safetensors"
logger = logging.getLogger(__name__)
#: The graph's outputs in order, with their dynamic axes (what ONNX export declares).
OUTPUT_AXES = {
    "tag_logits": {0: "batch", 1: "sequence"},
    "aspect_logits": {0: "batch"},
    "sentiment_token": {0: "batch", 1: "sequence"},
    "sentiment_sentence": {0: "batch"},
    "sentence_sentiment": {0: "batch"},
}


@dataclass
class JointOutput(ModelOutput):
    """What the joint model returns (the loss is computed by the task from these)."""

    loss: torch.Tensor | None = None
    tag_logits: torch.Tensor | None = None
    aspect_logits: torch.Tensor | None = None
    sentiment_token: torch.Tensor | None = None
    sentiment_sentence: torch.Tensor | None = None
    sentence_sentiment: torch.Tensor | None = None


class JointModel(nn.Module):
    """A pretrained encoder with a tagger, an aspect head on the mean-pooled sentence, and the span sentiment head."""

    #: The encoder's attribute name: parameters outside it are the heads (what the frozen method trains).
    base_model_prefix = "encoder"
    main_input_name = "input_ids"
    #: The head modules (trained in full beside LoRA and saved with the adapter).
    HEAD_MODULES = ("tagger", "aspect_head", "sentiment_token", "sentiment_sentence", "sentence_sentiment",
                    "sentiment_context", "source_embedding")

    def __init__(self, encoder: Any, num_tags: int, num_aspects: int, dropout: float = 0.1, context_window: int = 0,
                 sources: int = 0, default_source: int = 0):
        super().__init__()
        hidden = encoder.config.hidden_size
        self.context_window = context_window
        self.encoder = encoder
        self.config = encoder.config
        self.dropout = nn.Dropout(dropout)
        self.tagger = nn.Linear(hidden, num_tags)
        self.aspect_head = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Dropout(dropout),
                                         nn.Linear(hidden, max(num_aspects, 1)))
        self.sentiment_token = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Dropout(dropout),
                                             nn.Linear(hidden, SENTIMENT_OUTPUTS))
        self.sentiment_sentence = nn.Linear(hidden, SENTIMENT_OUTPUTS)
        # Each token's sentiment part may read its neighbours (``context_window`` tokens each side): "Sainsbury"
        # in "Tesco surges while Sainsbury slumps" then carries "slumps". A residual convolution, zero at the start,
        # so training begins from the span-only model.
        self.sentiment_context: nn.Conv1d | None = None
        if context_window:
            self.sentiment_context = nn.Conv1d(hidden, hidden, 2 * context_window + 1, padding=context_window)
            nn.init.zeros_(self.sentiment_context.weight)
            nn.init.zeros_(self.sentiment_context.bias)  # type: ignore[arg-type]  # Conv1d has a bias here
        # The sentence's own sentiment (3 classes): the answer for a target the user names that the text does not
        # contain, trained on sentences whose targets agree.
        self.sentence_sentiment = nn.Linear(hidden, len(SENTIMENT_LABELS))
        # Source conventions (``task.source_conventions``): one vector per training source added to every input
        # token, like a segment embedding, so that the encoder learns what each source calls a target and what
        # its "neutral" means. Zero at the start (training begins from the unconditioned model); a text of unknown
        # source reads as ``default_source``.
        self.default_source = default_source
        self.source_embedding: nn.Embedding | None = None
        if sources > 1:
            self.source_embedding = nn.Embedding(sources, hidden)
            nn.init.zeros_(self.source_embedding.weight)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, source_ids: torch.Tensor | None = None,
                labels: Any = None) -> JointOutput:
        # ``labels`` is accepted (and left to the task's loss) so that the Trainer sees a model that takes labels.
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        inputs: dict[str, torch.Tensor] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.source_embedding is not None:
            inputs = {"inputs_embeds": self._with_source(input_ids, source_ids), "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.dropout(self.encoder(**inputs).last_hidden_state)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        sentence = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        tokens = hidden
        if self.sentiment_context is not None:
            masked = hidden * mask
            tokens = hidden + self.sentiment_context(masked.transpose(1, 2)).transpose(1, 2)
        return JointOutput(tag_logits=self.tagger(hidden), aspect_logits=self.aspect_head(sentence),
                           sentiment_token=self.sentiment_token(tokens),
                           sentiment_sentence=self.sentiment_sentence(sentence),
                           sentence_sentiment=self.sentence_sentiment(sentence))

    def _with_source(self, input_ids: torch.Tensor, source_ids: torch.Tensor | None) -> torch.Tensor:
        """The word embeddings of ``input_ids`` plus each row's source vector (the default one without
        ``source_ids``: a constant, so an exported graph takes the same inputs as without conventions)."""
        assert self.source_embedding is not None
        words = self.encoder.get_input_embeddings()(input_ids)
        if source_ids is None:
            source_ids = torch.full((1,), self.default_source, dtype=torch.long, device=input_ids.device)
        return words + self.source_embedding(source_ids).unsqueeze(1)

    def get_input_embeddings(self) -> nn.Module:
        """The encoder's word embeddings (what explanations attribute to)."""
        return self.encoder.get_input_embeddings()

    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        self.encoder.gradient_checkpointing_enable(**kwargs)

    def head_state(self) -> dict[str, torch.Tensor]:
        return {name: tensor.detach().contiguous() for name, tensor in self.state_dict().items()
                if not name.startswith(self.base_model_prefix + ".")}

    def save_pretrained(self, folder: str | Path, **kwargs: Any) -> None:
        """The encoder as plain transformers files, and the heads in ``joint_heads.safetensors``."""
        from safetensors.torch import save_file

        self.encoder.save_pretrained(str(folder), **kwargs)
        save_file(self.head_state(), str(Path(folder) / HEADS_FILE))

    @classmethod
    def from_pretrained(cls, location: str, num_tags: int, num_aspects: int, context_window: int = 0,
                        sources: int = 0, default_source: int = 0) -> JointModel:
        """The encoder at ``location`` with new heads, or the saved heads when ``location`` holds them."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        model = cls(AutoModel.from_pretrained(location), num_tags, num_aspects, context_window=context_window,
                    sources=sources, default_source=default_source)
        heads = Path(location) / HEADS_FILE
        if heads.is_file():
            missing = model.load_state_dict(load_file(str(heads)), strict=False).missing_keys
            if any(key.startswith("sentence_sentiment.") for key in missing):
                logger.warning("%s has no sentence-level sentiment head (trained by an earlier finabsa): a given "
                               "target the text does not contain gets an untrained answer; train the run again",
                               location)
        return model


@register_head
class JointHead(Head):
    """finabsa's own model; PEFT wraps it as a custom model (no task type), its heads trained in full."""

    kind = "joint"
    #: Its targets are spans of the text: the Hub's closest pipeline.
    pipeline_tag = "token-classification"

    def load(self, location: str, labels: list[str]) -> JointModel:
        return JointModel.from_pretrained(location, num_tags=int(self.spec.settings["tags"]),
                                          num_aspects=self.spec.size,
                                          context_window=int(self.spec.settings.get("context_window", 0)),
                                          sources=int(self.spec.settings.get("sources", 0)),
                                          default_source=int(self.spec.settings.get("default_source", 0)))

    def lora_settings(self, model: Any) -> dict[str, Any]:
        # The joint model reads token states, not the pooler: leave it out; its heads train in full.
        poolers = [name for name, _ in model.named_modules() if name.split(".")[-1] == "pooler"]
        heads = [name for name in model.HEAD_MODULES if getattr(model, name) is not None]
        return {"modules_to_save": heads, "exclude_modules": [f"{p}.dense" for p in poolers]}

    def output_axes(self) -> dict[str, dict[int, str]]:
        return dict(OUTPUT_AXES)

    def collator(self, tokenizer: Any) -> JointCollator:
        return JointCollator(tokenizer)

    def calibrated_outputs(self) -> dict[str, list[tuple[str, int | None, int | None]]]:
        # Pooling is a mean, so dividing the class columns of both sentiment parts divides the pooled logits.
        classes = len(SENTIMENT_LABELS)
        return {"tags": [("tag_logits", None, None)], "aspect": [("aspect_logits", None, None)],
                "sentiment": [("sentiment_token", 0, classes), ("sentiment_sentence", 0, classes)],
                "sentence": [("sentence_sentiment", None, None)]}

    def calibration_pairs(self, outputs: Any, labels: Any) -> dict[str, tuple[Any, Any]]:
        classes = len(SENTIMENT_LABELS)
        loss = JointLoss(None, None, 0.0, bool(self.spec.settings["sentence_context"]))
        pooled, counts = loss.pool(outputs, labels["target_ids"], labels["classes"].shape[1])
        targeted = (labels["classes"] >= 0) & (counts > 0)
        tagged, aspects, sentences = labels["tags"] != -100, labels["aspect"] >= 0, labels["sentence"] >= 0
        pairs = {"tags": (outputs["tag_logits"][tagged], labels["tags"][tagged]),
                 "sentiment": (pooled[targeted][:, :classes], labels["classes"][targeted]),
                 "sentence": (outputs["sentence_sentiment"][sentences], labels["sentence"][sentences])}
        if self.spec.size:
            pairs["aspect"] = (outputs["aspect_logits"][aspects], labels["aspect"][aspects])
        return {name: pair for name, pair in pairs.items() if len(pair[1])}

    def loss(self, train_features: list[dict[str, Any]], labels: list[str], class_weighting: bool,
             distillation: Distillation | None = None) -> LossFunction | None:
        counts = Counter(c for f in train_features for c in f["labels"]["classes"] if c >= 0)
        weights = inverse_frequency(counts, len(SENTIMENT_LABELS)) if class_weighting and counts else None
        return JointLoss(AspectTree(labels) if labels else None, weights, float(self.spec.settings["score_weight"]),
                         bool(self.spec.settings["sentence_context"]), distillation)


class JointCollator:
    """Pads the token inputs (the tokenizer's padding) and the label tensors of the three heads."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        labels = [f["labels"] for f in features if "labels" in f]
        sources = [f[SOURCE_IDS] for f in features if SOURCE_IDS in f]
        batch = self.tokenizer.pad([{k: v for k, v in f.items() if k not in ("labels", SOURCE_IDS)}
                                    for f in features], return_tensors="pt")
        if sources:
            batch[SOURCE_IDS] = torch.tensor(sources)
        if labels:
            length = batch["input_ids"].shape[1]
            left = self.tokenizer.padding_side == "left"

            def pad(rows: list[list[int]]) -> torch.Tensor:
                return torch.tensor([[-100] * (length - len(r)) + r if left else r + [-100] * (length - len(r))
                                     for r in rows])

            soft = [row.get("soft") for row in labels]
            batch["labels"] = {
                **({"soft": _soft_batch(soft, length, left)} if any(soft) else {}),
                "tags": pad([row["tags"] for row in labels]),
                "target_ids": pad([row["target_ids"] for row in labels]),
                "classes": torch.tensor([row["classes"] for row in labels]),
                "scores": torch.tensor([row["scores"] for row in labels], dtype=torch.float32),
                "aspect": torch.tensor([row["aspect"] for row in labels]),
                "sentence": torch.tensor([row["sentence"] for row in labels]),
            }
        return batch


def _soft_batch(rows: list[dict[str, Any] | None], length: int, left: bool) -> dict[str, torch.Tensor]:
    """A teacher's soft targets of a batch as tensors (zeros where a row has none: masked in the loss)."""
    template = next(row for row in rows if row)
    width = len(template["aspect"])
    targets = len(template["classes"])
    classes = len(SENTIMENT_LABELS)

    def fit(values: list, fill: Any) -> list:
        gap = [fill] * (length - len(values))
        return gap + values if left else values + gap

    return {
        "tags": torch.tensor([fit(row["tags"], [0.0] * classes) if row else [[0.0] * classes] * length
                              for row in rows]),
        "target_ids": torch.tensor([fit(row["target_ids"], 0) if row else [0] * length for row in rows]),
        "classes": torch.tensor([row["classes"] if row else [[0.0] * classes] * targets for row in rows]),
        "aspect": torch.tensor([row["aspect"] if row else [0.0] * width for row in rows]),
        "sentence": torch.tensor([row["sentence"] if row else [0.0] * classes for row in rows]),
    }


def _kl(teacher: torch.Tensor, student_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) per row, the student's logits softened by ``temperature``."""
    log_student = torch.log_softmax(student_logits.float() / temperature, dim=-1)
    return (teacher * (torch.log(teacher.clamp(min=1e-8)) - log_student)).sum(-1)


class JointLoss:
    """The Trainer's ``compute_loss_func``: tag, aspect-tree, pooled-sentiment and sentence-level losses, each over
    the sentences (or targets) that have its labels; with a teacher, the KL divergence to its soft targets for
    every head, weighted and scaled by the squared temperature (Hinton et al.)."""

    def __init__(self, tree: AspectTree | None, class_weights: list[float] | None, score_weight: float,
                 sentence_context: bool, distillation: Distillation | None = None):
        self.tree = tree
        self.class_weights = class_weights
        self.score_weight = score_weight
        self.sentence_context = sentence_context
        self.distillation = distillation

    def pool(self, outputs: Any, target_ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sentiment outputs of targets 1..k (``target_ids`` marks each token with its target's number),
        ``batch x k x 4``, and each target's token count."""
        ids = torch.arange(1, k + 1, device=target_ids.device).view(1, k, 1)
        members = (target_ids.unsqueeze(1) == ids).float()  # batch x targets x tokens
        return pool_targets(outputs["sentiment_token"].float(), outputs["sentiment_sentence"].float(), members,
                            self.sentence_context)

    def __call__(self, outputs: Any, labels: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        import torch.nn.functional as F

        tag_logits = outputs["tag_logits"]
        total = tag_logits.sum() * 0.0  # keeps the graph when a batch has no labels for a head
        if (labels["tags"] != -100).any():
            total = total + F.cross_entropy(tag_logits.reshape(-1, tag_logits.shape[-1]).float(),
                                            labels["tags"].reshape(-1), ignore_index=-100)
        has_aspect = labels["aspect"] >= 0
        if self.tree is not None and has_aspect.any():
            total = total + self.tree.loss(outputs["aspect_logits"][has_aspect], labels["aspect"][has_aspect])
        weight = None if self.class_weights is None else torch.tensor(self.class_weights, device=tag_logits.device)
        has_sentence = labels["sentence"] >= 0
        if has_sentence.any():
            total = total + F.cross_entropy(outputs["sentence_sentiment"][has_sentence].float(),
                                            labels["sentence"][has_sentence], weight=weight)
        pooled, counts = self.pool(outputs, labels["target_ids"], labels["classes"].shape[1])
        valid = (labels["classes"] >= 0) & (counts > 0)
        if valid.any():
            classes = len(SENTIMENT_LABELS)
            total = total + F.cross_entropy(pooled[valid][:, :classes], labels["classes"][valid], weight=weight)
            scored = valid & ~torch.isnan(labels["scores"])
            if scored.any():
                total = total + self.score_weight * F.mse_loss(torch.tanh(pooled[scored][:, classes]),
                                                               labels["scores"][scored])
        if self.distillation is not None and "soft" in labels:
            total = total + self.distillation.weight * self.soft_loss(outputs, labels["soft"])
        return total

    def soft_loss(self, outputs: Any, soft: dict[str, torch.Tensor]) -> torch.Tensor:
        """The KL divergence from the teacher's soft targets, summed over the heads, times temperature²."""
        temperature = self.distillation.temperature if self.distillation else 1.0
        parts = []
        tagged = soft["tags"].sum(-1) > 0
        if tagged.any():
            parts.append(_kl(soft["tags"][tagged], outputs["tag_logits"][tagged], temperature).mean())
        pooled, counts = self.pool(outputs, soft["target_ids"], soft["classes"].shape[1])
        targeted = (soft["classes"].sum(-1) > 0) & (counts > 0)
        if targeted.any():
            logits = pooled[targeted][:, : len(SENTIMENT_LABELS)]
            parts.append(_kl(soft["classes"][targeted], logits, temperature).mean())
        aspects = soft["aspect"].sum(-1) > 0
        if self.tree is not None and aspects.any():
            parts.append(_kl(soft["aspect"][aspects], outputs["aspect_logits"][aspects], temperature).mean())
        sentences = soft["sentence"].sum(-1) > 0
        if sentences.any():
            parts.append(_kl(soft["sentence"][sentences], outputs["sentence_sentiment"][sentences], temperature).mean())
        total = outputs["tag_logits"].sum() * 0.0  # keeps the graph when no head has soft targets in this batch
        for part in parts:
            total = total + part
        return total * temperature**2
