"""A task's model: the base checkpoint with the head the task declares, the fine-tuning method, saving and loading.

Tasks describe their head with a ``HeadSpec`` (``finabsa.tasks``); the head plug-in registered for its kind
(``finabsa.models.heads``) builds it, so nothing here knows a head kind: this module adds the fine-tuning method
(LoRA, full, frozen) and the saving, loading and merging that every head shares.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config import AdapterConfig
from ..errors import ConfigError, ModelLoadError
from ..tasks.base import HeadSpec, Task
from .heads import Distillation, LossFunction, head_for
from .hub import ResolvedModel, load_error

__all__ = [
    "HEAD_FILE",
    "load_base_model",
    "build_model",
    "default_target_modules",
    "head_parameter_names",
    "trained_head_parameters",
    "save_trained",
    "load_trained",
    "merged_model",
    "initialise_from",
    "output_axes",
    "count_parameters",
    "training_collator",
    "training_loss",
]

logger = logging.getLogger(__name__)

#: LoRA targets per architecture (``config.model_type``); attention and feed-forward projections.
_TARGET_MODULES = {
    "bert": ["query", "key", "value", "dense"],
    "roberta": ["query", "key", "value", "dense"],
    "xlm-roberta": ["query", "key", "value", "dense"],
    "electra": ["query", "key", "value", "dense"],
    "mpnet": ["q", "k", "v", "o"],
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin"],
    "deberta-v2": ["query_proj", "key_proj", "value_proj", "dense"],
    "t5": ["q", "k", "v", "o"],
    "mt5": ["q", "k", "v", "o"],
    "bart": ["q_proj", "k_proj", "v_proj", "out_proj"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}

HEAD_FILE = "head.safetensors"


def default_target_modules(model_type: str) -> list[str] | None:
    """The LoRA target modules finabsa uses for an architecture, or None when it has no default."""
    return _TARGET_MODULES.get(model_type)


def load_base_model(model: ResolvedModel, head: HeadSpec, labels: list[str], location: str | None = None) -> Any:
    """The checkpoint at ``location`` (default: the resolved model) with the head ``head`` describes."""
    from transformers import logging as hf_logging

    # The "newly initialised classifier" warning is expected for a new head; keep the console for real problems.
    # A per-tensor "Loading weights" bar for a 90 MB model is noise next to the training progress bars.
    previous, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return head_for(head).load(location or model.location, labels)
    except Exception as exc:
        raise load_error(model, exc) from None
    finally:
        hf_logging.set_verbosity(previous)
        if bars:
            hf_logging.enable_progress_bar()


def head_parameter_names(model: Any) -> list[str]:
    """Names of parameters outside the pretrained backbone (the task head)."""
    prefix = getattr(model, "base_model_prefix", "")
    return [n for n, _ in model.named_parameters() if not (prefix and n.startswith(prefix + "."))]


def trained_head_parameters(model: Any) -> list[str]:
    """Names of the trainable parameters that belong to the task head: under LoRA the head copies PEFT trains
    (``modules_to_save``), otherwise the parameters outside the pretrained backbone."""
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    if any(".modules_to_save." in n for n in trainable):
        return [n for n in trainable if ".modules_to_save." in n]
    heads = set(head_parameter_names(model))
    return [n for n in trainable if n in heads]


def build_model(model: ResolvedModel, head: HeadSpec, labels: list[str], adapter: AdapterConfig,
                describe: str = "this task") -> Any:
    """Load the base model with the declared head and prepare it for the configured fine-tuning method."""
    if adapter.method == "frozen" and head_for(head).generates:
        raise ConfigError([f"adapter.method 'frozen' needs a classification head; task '{describe}' has "
                           "none. Use lora or full."])
    base = load_base_model(model, head, labels)
    if adapter.method == "full":
        return base
    if adapter.method == "frozen":
        trainable = set(head_parameter_names(base))
        for name, parameter in base.named_parameters():
            parameter.requires_grad = name in trainable
        return base
    return _with_lora(base, model, head, adapter)


def _with_lora(base: Any, model: ResolvedModel, head: HeadSpec, adapter: AdapterConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    targets = adapter.target_modules or default_target_modules(base.config.model_type)
    if not targets:
        raise ConfigError([
            f"no default LoRA target modules for architecture '{base.config.model_type}'; set "
            "adapter.target_modules (e.g. --target-modules q_proj,v_proj) to the names of its linear layers"
        ])
    plugin = head_for(head)
    config = LoraConfig(
        task_type=plugin.peft_task_type,
        **plugin.lora_settings(base),
        r=adapter.rank,
        lora_alpha=adapter.alpha,  # type: ignore[arg-type]  # peft annotates int; a float scales the same way
        lora_dropout=adapter.dropout,
        target_modules=targets,
        use_dora=adapter.use_dora,
        use_rslora=adapter.use_rslora,
    )
    try:
        return get_peft_model(base, config)
    except ValueError as exc:
        raise ConfigError([f"LoRA could not be applied to '{model.name}': {exc}"]) from None


def count_parameters(model: Any) -> dict[str, int]:
    """``{"total": ..., "trainable": ...}`` parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


def save_trained(model: Any, tokenizer: Any, folder: Path, method: str) -> list[str]:
    """Write what is needed to rebuild the trained model into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    if method == "frozen":
        from safetensors.torch import save_file

        names = set(head_parameter_names(model))
        state = {n: p.detach().contiguous() for n, p in model.named_parameters() if n in names}
        save_file(state, str(folder / HEAD_FILE))
    else:
        # LoRA: adapter weights plus the head (PEFT's modules_to_save); full: the whole model.
        model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return sorted(p.name for p in folder.iterdir())


def load_trained(folder: Path, base: ResolvedModel, head: HeadSpec, labels: list[str], method: str) -> Any:
    """Rebuild a trained model saved by ``save_trained``; the result is in eval mode."""
    if method == "full":
        model = load_base_model(base, head, labels, location=str(folder))
    elif method == "frozen":
        from safetensors.torch import load_file

        model = load_base_model(base, head, labels)
        state = load_file(str(folder / HEAD_FILE))
        missing = set(head_parameter_names(model)) - set(state)
        if missing:
            raise ModelLoadError(f"{folder / HEAD_FILE} lacks head weights {sorted(missing)}; the run folder is "
                                 "from another model or damaged.")
        model.load_state_dict(state, strict=False)
    else:
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_base_model(base, head, labels), str(folder))
    model.eval()
    return model


def merged_model(model: Any) -> Any:
    """The model with LoRA folded into its weights (a plain transformers model); other models are returned as is."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    return model.eval()


def output_axes(head: HeadSpec) -> dict[str, dict[int, str]]:
    """The outputs of a model with ``head`` (names in order) and their dynamic axes, as ONNX export declares them."""
    return head_for(head).output_axes()


def training_collator(task: Task, head: HeadSpec, tokenizer: Any) -> Any:
    """The collator that pads a task's features: the task's own when it has one, else its head's."""
    return task.collator(tokenizer) or head_for(head).collator(tokenizer)


def training_loss(task: Task, head: HeadSpec, train_features: list[dict[str, Any]], labels: list[str],
                  class_weighting: bool, distillation: Distillation | None = None) -> LossFunction | None:
    """The Trainer's ``compute_loss_func``: the task's own when it has one (the aspect tree), else its head's
    (class-weighted cross-entropy, the joint losses, with a teacher's soft targets); None keeps the model's own."""
    return (task.loss_function(train_features, labels, class_weighting)
            or head_for(head).loss(train_features, labels, class_weighting, distillation))


def initialise_from(model: Any, folder: Path, method: str) -> dict[str, int]:
    """Copy the weights a finished run saved in ``folder`` (its ``model/``) into ``model``, built the same way.

    Weights whose shape differs (a 3-class head into a 1-output regression head) are left as they are. Returns
    how many tensors were copied and skipped.
    """
    from safetensors.torch import load_file

    if method == "lora":
        from peft import get_peft_model_state_dict, set_peft_model_state_dict

        current, saved = get_peft_model_state_dict(model), load_file(str(folder / "adapter_model.safetensors"))
    else:
        current = dict(model.state_dict())
        saved = load_file(str(folder / (HEAD_FILE if method == "frozen" else "model.safetensors")))
    fitting = {k: v for k, v in saved.items() if k in current and tuple(current[k].shape) == tuple(v.shape)}
    if not fitting:
        raise ModelLoadError(f"none of the weights in '{folder}' fit this model; train the stage with the same base "
                             "model and method.")
    if method == "lora":
        # PEFT expects every adapter and head tensor: the ones that do not fit keep their current values.
        set_peft_model_state_dict(model, {**{k: v.detach().clone() for k, v in current.items()}, **fitting})
    else:
        model.load_state_dict(fitting, strict=False)
    return {"copied": len(fitting), "skipped": len(saved) - len(fitting)}
