"""The joint model: one encoder pass, three heads (target tags, the sentence's aspect, sentiment per target).

The sentiment of a target is read from the pooled representation of its span: ``W · mean_t(tanh(P h_t))``, plus
``S · sentence`` when the task asks for sentence context (off by default: with it, the targets of one sentence
tended to share the sentence's label). Because the mean comes after the per-token part, the graph outputs the
per-token part (``sentiment_token``) and the sentence part (``sentiment_sentence``); pooling over a span is a mean
over its token rows, done by the task with gold spans in training and predicted spans at inference. So one forward
pass (and one ONNX graph) serves every target a sentence names, whatever spans the tagger finds.

Saved as the encoder's own files (loadable with plain transformers) plus ``joint_heads.safetensors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers.utils import ModelOutput

__all__ = ["JointModel", "JointOutput", "HEADS_FILE", "OUTPUT_AXES", "SENTIMENT_OUTPUTS"]

HEADS_FILE = "joint_heads.safetensors"
#: Sentiment outputs per target: three class logits (positive, neutral, negative) and one score (tanh -> [-1, 1]).
SENTIMENT_OUTPUTS = 4
#: The graph's outputs in order, with their dynamic axes (what ONNX export declares).
OUTPUT_AXES = {
    "tag_logits": {0: "batch", 1: "sequence"},
    "aspect_logits": {0: "batch"},
    "sentiment_token": {0: "batch", 1: "sequence"},
    "sentiment_sentence": {0: "batch"},
}


@dataclass
class JointOutput(ModelOutput):
    """What the joint model returns (the loss is computed by the task from these)."""

    loss: torch.Tensor | None = None
    tag_logits: torch.Tensor | None = None
    aspect_logits: torch.Tensor | None = None
    sentiment_token: torch.Tensor | None = None
    sentiment_sentence: torch.Tensor | None = None


class JointModel(nn.Module):
    """A pretrained encoder with a tagger, an aspect head on the mean-pooled sentence, and the span sentiment head."""

    #: The encoder's attribute name: parameters outside it are the heads (what the frozen method trains).
    base_model_prefix = "encoder"
    main_input_name = "input_ids"
    #: The head modules (trained in full beside LoRA and saved with the adapter).
    HEAD_MODULES = ("tagger", "aspect_head", "sentiment_token", "sentiment_sentence")

    def __init__(self, encoder: Any, num_tags: int, num_aspects: int, dropout: float = 0.1):
        super().__init__()
        hidden = encoder.config.hidden_size
        self.encoder = encoder
        self.config = encoder.config
        self.dropout = nn.Dropout(dropout)
        self.tagger = nn.Linear(hidden, num_tags)
        self.aspect_head = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Dropout(dropout),
                                         nn.Linear(hidden, max(num_aspects, 1)))
        self.sentiment_token = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Dropout(dropout),
                                             nn.Linear(hidden, SENTIMENT_OUTPUTS))
        self.sentiment_sentence = nn.Linear(hidden, SENTIMENT_OUTPUTS)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: Any = None) -> JointOutput:
        # ``labels`` is accepted (and left to the task's loss) so that the Trainer sees a model that takes labels.
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.dropout(self.encoder(**inputs).last_hidden_state)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        sentence = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return JointOutput(tag_logits=self.tagger(hidden), aspect_logits=self.aspect_head(sentence),
                           sentiment_token=self.sentiment_token(hidden),
                           sentiment_sentence=self.sentiment_sentence(sentence))

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
    def from_pretrained(cls, location: str, num_tags: int, num_aspects: int) -> JointModel:
        """The encoder at ``location`` with new heads, or the saved heads when ``location`` holds them."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        model = cls(AutoModel.from_pretrained(location), num_tags, num_aspects)
        heads = Path(location) / HEADS_FILE
        if heads.is_file():
            model.load_state_dict(load_file(str(heads)), strict=False)
        return model
