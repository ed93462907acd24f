"""Instruction tuning of a decoder LLM: one chat prompt per sentence, a short structured answer for all tasks.

The model (any causal LM: SmolLM2 offline, Llama/Qwen/Mistral-style models on the hub) reads a chat prompt that
asks for the sentence's target, aspect and sentiment, and answers in fixed ``key: value`` lines::

    target: Tesco
    aspect: Stock/Price Action
    sentiment: positive

One adapter learns every requested field at once (multi-task) or one field. The loss covers only the answer tokens.
Answers are parsed strictly: a missing line, or a label outside the training label set, counts as wrong and is
reported with its raw text. ``constrained: true`` picks the class fields by the likelihood of each allowed label
instead, which cannot produce an invalid label (one forward pass per candidate label, so it is slower).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from ..data.labels import ASPECT_LEVELS, NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD, SENTIMENT_LABELS
from ..data.records import Example
from .aspect import AspectOptions, AspectTask
from .base import HeadSpec, Task, choice_problems, register_task
from .hooks import PipelineHooks
from .metrics import classification_metrics, target_metrics
from .sentiment import SentimentOptions, SentimentTask

__all__ = ["InstructTask", "InstructOptions", "parse_answer", "FIELDS"]

FIELDS = ("target", "aspect", "sentiment")
#: The answer's fields by name (lines of the written answer, not the tasks of the same names).
TARGET, ASPECT, SENTIMENT = FIELDS
INVALID = "(invalid)"
_HINTS = {
    "target": "the company, asset or ticker the text is about",
    "aspect": "its aspect category, e.g. Stock/Price Action",
    "sentiment": "positive, neutral or negative, toward the target",
}


@dataclass
class InstructOptions:
    fields: list[str] = field(default_factory=lambda: list(FIELDS), metadata={
        "help": "Answers the model writes, in order: any of target, aspect, sentiment (several: multi-task)."})
    aspect_level: str = field(default="2", metadata={"help": "Aspect depth of the aspect answer: 1, 2 or full."})
    positive_threshold: float = field(default=POSITIVE_THRESHOLD, metadata={"help": "Scores above this are "
                                                                                    "positive."})
    negative_threshold: float = field(default=NEGATIVE_THRESHOLD, metadata={"help": "Scores below this are "
                                                                                    "negative."})
    system_prompt: str = field(
        default="You analyse financial news headlines and microblog posts.",
        metadata={"help": "System message of the chat prompt."},
    )
    max_new_tokens: int = field(default=40, metadata={"help": "Longest answer generated."})
    constrained: bool = field(default=False, metadata={
        "help": "Choose aspect and sentiment by each allowed label's likelihood (never invalid; slower)."})

    def __post_init__(self) -> None:
        self.aspect_level = str(self.aspect_level)
        if isinstance(self.fields, str):
            self.fields = [f.strip() for f in self.fields.split(",") if f.strip()]


def parse_answer(text: str, fields: list[str]) -> tuple[dict[str, str], list[str]]:
    """``key: value`` lines -> values per field, and the problems found (missing or repeated fields)."""
    values: dict[str, str] = {}
    problems = []
    for line in text.splitlines():
        match = re.match(r"\s*([A-Za-z]+)\s*[:=]\s*(.*?)\s*$", line)
        if not match:
            continue
        key, value = match.group(1).lower(), match.group(2).strip().strip("\"'`")
        if key in fields:
            if key in values:
                problems.append(f"'{key}' answered twice")
                continue
            values[key] = value
    problems += [f"no '{name}' line" for name in fields if not values.get(name)]
    return values, problems


@register_task
class InstructTask(Task, PipelineHooks):
    """Decoder LLM answering target, aspect and sentiment in one structured reply (instruction tuning)."""

    name = "instruct"
    Options = InstructOptions
    data_needs = ("a target (--target-column), aspect paths (--aspect-column) and a sentiment score or "
                  "label, as its fields ask")
    #: The raw answer text: identical raw text means identical parsed answers.
    answer_key: ClassVar[str] = "raw"

    @classmethod
    def check_options(cls, options: InstructOptions) -> list[str]:
        problems = []
        if not isinstance(options.fields, list) or not options.fields:
            return [f"task 'instruct' fields must be a non-empty list of {', '.join(FIELDS)}; found {options.fields!r}"]
        unknown = [f for f in options.fields if f not in FIELDS]
        if unknown:
            problems.append(f"task 'instruct' fields: unknown {', '.join(map(str, unknown))}; choose from "
                            f"{', '.join(FIELDS)}")
        problems += choice_problems(cls.name, "aspect_level", options.aspect_level, ASPECT_LEVELS)
        if options.max_new_tokens < 1:
            problems.append(f"task 'instruct' max_new_tokens must be >= 1; found {options.max_new_tokens}")
        return problems

    def describe(self) -> str:
        return f"instruct ({', '.join(self.options.fields)})"

    # -- gold answers ------------------------------------------------------------------------------------------
    def _sentiment(self, example: Example) -> str | None:
        return self._sentiment_task.label_of(example)

    def _aspect(self, example: Example) -> str | None:
        return self._aspect_task.label_of(example)

    def __init__(self, options: InstructOptions | None = None):
        super().__init__(options)
        # The class answers are labelled exactly as the encoder tasks label them (thresholds, aspect depth).
        self._sentiment_task = SentimentTask(SentimentOptions(positive_threshold=self.options.positive_threshold,
                                                              negative_threshold=self.options.negative_threshold))
        self._aspect_task = AspectTask(AspectOptions(level=self.options.aspect_level))

    def gold(self, example: Example) -> dict[str, str | None]:
        values = {"target": (example.target or "").strip() or None, "aspect": self._aspect(example),
                  "sentiment": self._sentiment(example)}
        return {name: values[name] for name in self.options.fields}

    def usable(self, example: Example) -> bool:
        return all(value for value in self.gold(example).values())

    def stratify_key(self, example: Example) -> str:
        gold = self.gold(example)
        return str(gold.get("sentiment") or gold.get("aspect", "").split("/")[0])

    def build_labels(self, train: list[Example]) -> list[str]:
        """The allowed class answers, as ``field:label`` (what a valid answer may name)."""
        labels = []
        if ASPECT in self.options.fields:
            labels += [f"aspect:{a}" for a in sorted({self._aspect(e) for e in train if self._aspect(e)})]
        if SENTIMENT in self.options.fields:
            labels += [f"sentiment:{s}" for s in SENTIMENT_LABELS]
        return labels

    def head(self, labels: list[str]) -> HeadSpec:
        return HeadSpec("causal-lm")

    @staticmethod
    def allowed(labels: list[str], name: str) -> list[str]:
        prefix = f"{name}:"
        return [label[len(prefix):] for label in labels if label.startswith(prefix)]

    # -- prompts -----------------------------------------------------------------------------------------------
    def prompt(self, example: Example, tokenizer: Any) -> str:
        lines = "\n".join(f"{name}: {_HINTS[name]}" for name in self.options.fields)
        user = f"Text: {example.sentence}\n\nAnswer with exactly these lines:\n{lines}"
        if getattr(tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.options.system_prompt}, {"role": "user", "content": user}]
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"{self.options.system_prompt}\n\n{user}\n\nAnswer:\n"

    def answer(self, example: Example) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self.gold(example).items())

    def encode(self, examples, tokenizer, labels, max_length, with_labels):
        features = []
        for example in examples:
            prompt_ids = tokenizer(self.prompt(example, tokenizer), add_special_tokens=False)["input_ids"]
            room = max_length - (self.options.max_new_tokens if not with_labels else 0)
            if with_labels:
                answer_ids = tokenizer(self.answer(example), add_special_tokens=False)["input_ids"]
                answer_ids = answer_ids + [tokenizer.eos_token_id]
                room = max(8, max_length - len(answer_ids))
            prompt_ids = prompt_ids[-room:]  # keep the end: the answer format comes last
            feature: dict[str, Any] = {"input_ids": list(prompt_ids), "attention_mask": [1] * len(prompt_ids)}
            if with_labels:
                feature["input_ids"] += answer_ids
                feature["attention_mask"] += [1] * len(answer_ids)
                feature["labels"] = [-100] * len(prompt_ids) + answer_ids  # loss on the answer only
            features.append(feature)
        return features

    # -- prediction --------------------------------------------------------------------------------------------
    def forward(self, model, batch, tokenizer):
        generated = model.generate(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
            max_new_tokens=self.options.max_new_tokens, do_sample=False, num_beams=1,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        )
        texts = tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        return {"texts": texts, "model": model, "batch": batch}

    def decode(self, outputs, features, examples, labels, tokenizer):
        predictions = []
        for text in outputs["texts"]:
            values, problems = parse_answer(text, self.options.fields)
            for name in ("aspect", "sentiment"):
                allowed = self.allowed(labels, name)
                if name in self.options.fields and values.get(name) and allowed and values[name] not in allowed:
                    problems.append(f"{name} '{values[name]}' is not a known label")
            predictions.append({**{name: values.get(name, "") for name in self.options.fields},
                                "raw": text, "valid": not problems, "problems": problems})
        if self.options.constrained:
            self._choose_by_likelihood(predictions, outputs["model"], outputs["batch"], labels, tokenizer)
        return predictions

    def _choose_by_likelihood(self, predictions, model, batch, labels, tokenizer) -> None:
        """Replace class answers by the allowed label the model finds most likely after the answer so far."""
        import torch

        with torch.no_grad():
            self._choose_with(torch, predictions, model, batch, labels, tokenizer)

    def _choose_with(self, torch: Any, predictions, model, batch, labels, tokenizer) -> None:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        prompts = [ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"])]
        for name in ("aspect", "sentiment"):
            allowed = self.allowed(labels, name)
            if name not in self.options.fields or not allowed:
                continue
            position = self.options.fields.index(name)
            for prediction, prompt in zip(predictions, prompts):
                before = "\n".join(f"{f}: {prediction[f]}" for f in self.options.fields[:position])
                prefix = prompt + tokenizer((before + "\n" if before else "") + f"{name}:",
                                            add_special_tokens=False)["input_ids"]
                candidates = [tokenizer(" " + label + "\n", add_special_tokens=False)["input_ids"] for label in allowed]
                width = max(len(prefix) + len(c) for c in candidates)
                ids = torch.full((len(candidates), width), pad, dtype=torch.long)
                mask = torch.zeros_like(ids)
                for row, candidate in enumerate(candidates):
                    sequence = prefix + candidate
                    ids[row, : len(sequence)] = torch.tensor(sequence)
                    mask[row, : len(sequence)] = 1
                log_probs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
                scores = []
                for row, candidate in enumerate(candidates):
                    positions = range(len(prefix) - 1, len(prefix) - 1 + len(candidate))
                    scores.append(sum(log_probs[row, p, token].item() for p, token in zip(positions, candidate)))
                best = max(range(len(allowed)), key=scores.__getitem__)
                prediction[name] = allowed[best]
                prediction["problems"] = [p for p in prediction["problems"] if not p.startswith(f"{name} ")
                                          and p != f"no '{name}' line"]
                prediction["valid"] = not prediction["problems"]

    # -- scoring ----------------------------------------------------------------------------------------------
    @property
    def headline_metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        names = {"target": ("target_exact_match", "target_rouge1"), "aspect": ("aspect_accuracy",),
                 "sentiment": ("sentiment_accuracy", "sentiment_macro_f1")}
        return (*[m for f in self.options.fields for m in names[f]], "invalid_answers")

    def score(self, examples, predictions, labels, evaluation):
        metrics: dict[str, Any] = {}
        gold = [self.gold(e) for e in examples]
        kwargs = {"bootstrap_samples": evaluation.bootstrap_samples, "confidence": evaluation.confidence}
        for name in self.options.fields:
            truth = [g[name] for g in gold]
            answered = [p.get(name) or "" for p in predictions]
            if name == TARGET:
                part = target_metrics(truth, answered, **kwargs)
            else:
                allowed = self.allowed(labels, name) or sorted(set(truth))
                # Every unusable answer is one "(invalid)" class: wrong, without inventing a class per typo.
                answered = [a if a in allowed else INVALID for a in answered]
                part = classification_metrics(truth, answered, allowed, **kwargs)
            metrics.update({f"{name}_{key}": value for key, value in part.items()})
        invalid = [p for p in predictions if not p.get("valid", True)]
        metrics["invalid_answers"] = len(invalid)
        metrics["invalid_answer_examples"] = [
            {"sentence": e.sentence, "raw": p["raw"], "problems": p["problems"]}
            for e, p in zip(examples, predictions) if not p.get("valid", True)
        ][:20]
        return metrics

    # -- pipeline ---------------------------------------------------------------------------------------------
    def provides(self) -> tuple[str, ...]:
        return ("target", "marked_sentence") if TARGET in self.options.fields else ()

    def fill(self, example: Example, prediction: dict[str, Any]) -> Example:
        if example.target or not prediction.get("target"):
            return example
        return replace(example, target=prediction["target"])

    def render_answer(self, prediction: dict[str, Any]) -> str:
        return "; ".join(f"{field}: {prediction.get(field)}" for field in self.options.fields)

    def is_correct(self, gold: Any, prediction: dict[str, Any]) -> bool:
        """Every field right (case-insensitive)."""
        return all(str(prediction.get(field, "")).strip().lower() == str(value).strip().lower()
                   for field, value in gold.items())

    def record(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """The record's own ``targets`` / ``aspect`` / ``sentiment`` fields, filled from the written answer."""
        record: dict[str, Any] = {}
        if TARGET in self.options.fields:
            record["targets"] = [{"text": prediction["target"], "start": None, "end": None, "score": None}] \
                if prediction.get("target") else []
        if ASPECT in self.options.fields:
            record["aspect"] = {"label": prediction["aspect"] or None, "level": self.options.aspect_level,
                                "probability": None}
        if SENTIMENT in self.options.fields:
            record["sentiment"] = {"label": prediction["sentiment"] or None, "probability": None}
        if not prediction.get("valid", True):
            record["notes"] = [f"LLM answer: {p}" for p in prediction["problems"]]
        return record
