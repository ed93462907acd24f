"""The heads transformers already has: one class (or score) per sentence, one tag per token, generated text."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from ...tasks.classification import inverse_frequency
from . import Distillation, Head, LossFunction, register_head

__all__ = ["SequenceClassificationHead", "TokenClassificationHead", "Seq2SeqHead", "CausalLMHead"]


def _logits(outputs: Any) -> Any:
    return outputs["logits"] if isinstance(outputs, dict) else outputs.logits


class _AutoClassHead(Head):
    """A head that a transformers auto class builds from the checkpoint's config."""

    #: The transformers auto class, e.g. ``AutoModelForSequenceClassification``.
    auto_class: ClassVar[str]

    def model_arguments(self, labels: list[str]) -> dict[str, Any]:
        """``from_pretrained`` arguments: the output size, label names and problem type of a classification head."""
        if self.generates:
            return {}
        arguments: dict[str, Any] = {"num_labels": self.spec.size}
        if self.spec.size == len(labels):
            arguments["id2label"] = dict(enumerate(labels))
            arguments["label2id"] = {label: i for i, label in enumerate(labels)}
        if self.spec.problem_type:
            arguments["problem_type"] = self.spec.problem_type
        return arguments

    def load(self, location: str, labels: list[str]) -> Any:
        import transformers

        return getattr(transformers, self.auto_class).from_pretrained(location, **self.model_arguments(labels))


@register_head
class SequenceClassificationHead(_AutoClassHead):
    kind = "sequence-classification"
    auto_class = "AutoModelForSequenceClassification"
    peft_task_type = "SEQ_CLS"

    def lora_settings(self, model: Any) -> dict[str, Any]:
        # A pretrained pooler (BERT's dense + tanh over [CLS]) is trained in full beside the head: sentence-
        # transformer checkpoints such as MiniLM never trained it, and a frozen, untuned pooler held LoRA far below
        # full fine-tuning on aspects (43 % vs 68 % test accuracy in our sweep).
        poolers = [name for name, _ in model.named_modules() if name.split(".")[-1] == "pooler"]
        if not poolers:
            return {}
        return {"modules_to_save": ["pooler"], "exclude_modules": [f"{p}.dense" for p in poolers]}

    def calibrated_outputs(self) -> dict[str, list[tuple[str, int | None, int | None]]]:
        return {} if self.spec.problem_type == "regression" else {"class": [("logits", None, None)]}

    def calibration_pairs(self, outputs: Any, labels: Any) -> dict[str, tuple[Any, Any]]:
        if self.spec.problem_type == "regression":
            return {}
        return {"class": (_logits(outputs), labels.view(-1))}

    def loss(self, train_features: list[dict[str, Any]], labels: list[str], class_weighting: bool,
             distillation: Distillation | None = None) -> LossFunction | None:
        """Inverse-frequency weighted cross-entropy when asked (a regressed score keeps the model's MSE)."""
        if not class_weighting or self.spec.problem_type == "regression":
            return None
        import torch

        weights = torch.tensor(inverse_frequency(Counter(int(f["labels"]) for f in train_features), len(labels)),
                               dtype=torch.float32)

        def weighted_cross_entropy(outputs: Any, targets: Any, num_items_in_batch: Any = None) -> Any:
            logits = _logits(outputs)
            loss = torch.nn.functional.cross_entropy(
                logits.view(-1, logits.shape[-1]), targets.view(-1), weight=weights.to(logits.device),
                reduction="sum",
            )
            denominator = weights.to(logits.device)[targets.view(-1)].sum()
            return loss / denominator.clamp(min=1e-8)

        return weighted_cross_entropy


@register_head
class TokenClassificationHead(_AutoClassHead):
    kind = "token-classification"
    auto_class = "AutoModelForTokenClassification"
    peft_task_type = "TOKEN_CLS"
    pipeline_tag = "token-classification"

    def output_axes(self) -> dict[str, dict[int, str]]:
        return {"logits": {0: "batch", 1: "sequence"}}

    def calibrated_outputs(self) -> dict[str, list[tuple[str, int | None, int | None]]]:
        return {"tags": [("logits", None, None)]}

    def calibration_pairs(self, outputs: Any, labels: Any) -> dict[str, tuple[Any, Any]]:
        logits, tagged = _logits(outputs), labels != -100
        return {"tags": (logits[tagged], labels[tagged])}

    def collator(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(tokenizer)


class _GeneratingHead(_AutoClassHead):
    """A model that writes its answer (no classification head: the frozen method and ONNX export do not apply)."""

    generates = True


@register_head
class Seq2SeqHead(_GeneratingHead):
    kind, auto_class, peft_task_type = "seq2seq", "AutoModelForSeq2SeqLM", "SEQ_2_SEQ_LM"
    pipeline_tag = "text2text-generation"

    def collator(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorForSeq2Seq

        return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)


@register_head
class CausalLMHead(_GeneratingHead):
    """Prompts padded on the right for training and on the left for generation (``CausalCollator``)."""

    kind, auto_class, peft_task_type = "causal-lm", "AutoModelForCausalLM", "CAUSAL_LM"
    pipeline_tag = "text-generation"

    def collator(self, tokenizer: Any) -> Any:
        return CausalCollator(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)


class CausalCollator:
    """Pads a batch: on the right for training (labels present), on the left for generation."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        training = "labels" in features[0]
        batch: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": []}
        if training:
            batch["labels"] = []
        for f in features:
            gap = width - len(f["input_ids"])
            for key, fill in (("input_ids", self.pad), ("attention_mask", 0), ("labels", -100)):
                if key not in batch:
                    continue
                values = list(f[key])
                batch[key].append(values + [fill] * gap if training else [fill] * gap + values)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}
