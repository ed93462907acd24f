"""Shared fixtures: tiny models built in code (no downloads) and small data sets the tests write themselves."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_FIQA = REPO.parent / "shared" / "data" / "fiqa2018"

COMPANIES = ["Tesco", "Barclays", "Glencore", "Apple", "Tesla", "Shell", "Unilever", "Vodafone", "BP", "HSBC",
             "Nokia", "Sainsbury"]
POSITIVE = [("{c} shares surge after strong results", "Stock/Price Action/Bullish", 0.62),
            ("{c} raises dividend as profit jumps", "Corporate/Dividend Policy", 0.55),
            ("${t} breaking out, long here", "Stock/Technical Analysis", 0.48)]
NEGATIVE = [("{c} shares slump on profit warning", "Stock/Price Action/Bearish", -0.58),
            ("{c} fined by regulator over failings", "Corporate/Legal", -0.44),
            ("${t} looks weak, shorting", "Stock/Technical Analysis", -0.41)]
NEUTRAL = [("{c} to report results on Tuesday", "Corporate/Financial", 0.02),
           ("{c} appoints new chairman", "Corporate/Appointment", 0.05)]


def _rows(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = [POSITIVE, NEGATIVE, NEUTRAL][i % 3]
        template, aspect, score = kind[rng.randrange(len(kind))]
        company = COMPANIES[rng.randrange(len(COMPANIES))]
        ticker = company[:4].upper()
        sentence = template.format(c=company, t=ticker)
        target = ticker if "$" in template else company
        rows.append({
            "sentence": f"{sentence} ({i})",
            "snippets": "['x']",
            "target": target,
            "sentiment_score": f"{score + rng.uniform(-0.02, 0.02):.3f}",
            "aspects": str([aspect]),
            "format": "post" if "$" in template else "headline",
            "label": str({0: 0, 1: 2, 2: 1}[i % 3]),
        })
    return rows


def write_split(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A FiQA-layout folder: 60 train rows, 12 validation rows (copied from train, like the real one), 15 test."""
    folder = tmp_path_factory.mktemp("tiny_fiqa")
    train = _rows(60, seed=1)
    write_split(folder / "train.csv", train)
    write_split(folder / "validation.csv", train[:12])
    write_split(folder / "test.csv", _rows(15, seed=2))
    return folder


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from finabsa.models import resolve_model

    return Path(resolve_model("minilm").location)


@pytest.fixture(scope="session")
def tokenizer(minilm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_dir))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, tokenizer) -> Path:
    """A 2-layer, 32-wide BERT with the MiniLM tokenizer, randomly initialised and saved as a model folder."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_bert")
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory, tokenizer) -> Path:
    """A tiny T5 with the MiniLM tokenizer (decoder starts from the pad token, [SEP] ends a target)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_t5")
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_decoder_layers=2,
                      num_heads=2, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id)
    T5ForConditionalGeneration(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def quick_config(data_path: Path, model: Path | str, output: Path, task: str = "sentiment", **sections):
    """A RunConfig for a seconds-long run on tiny data."""
    from finabsa import RunConfig

    options = sections.pop("task_options", {})
    raw = {
        "task": {"name": task, **options},
        "data": {"path": str(data_path), **sections.pop("data", {})},
        "model": {"name": str(model), "max_length": 32},
        "training": {"epochs": 1, "batch_size": 8, "logging_steps": 2, **sections.pop("training", {})},
        "evaluation": {"bootstrap_samples": 50, **sections.pop("evaluation", {})},
        "adapter": {"rank": 4, "alpha": 8, **sections.pop("adapter", {})},
        "output": str(output),
    }
    raw.update(sections)
    return RunConfig.from_dict(raw)


@pytest.fixture(scope="session")
def pipeline_runs(tiny_data, tiny_bert, tmp_path_factory) -> dict[str, Path]:
    """Three tiny trained runs for pipeline tests: target (span), aspect (full path) and a sentiment run whose
    input is the sentence plus target and aspects, so it needs both of the others' predictions."""
    import finabsa

    parent = tmp_path_factory.mktemp("pipeline_runs")
    variants = {
        "target": ("target", {}),
        "aspect": ("aspect", {"level": "full"}),
        "sentiment": ("sentiment", {"pair_template": "{target}; {aspects}"}),
    }
    runs = {}
    for name, (task, options) in variants.items():
        config = quick_config(tiny_data, tiny_bert, parent / name, task=task, task_options=options)
        runs[name] = finabsa.train(config, progress=False).run_dir
    return runs


CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide Llama with a byte-level BPE tokenizer (cased, keeps newlines) and a chat template, both
    built in code from the test sentences: the decoder-LLM path without downloading anything."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_llama")
    specials = ["<|pad|>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = [row["sentence"] for row in _rows(60, 1)] + [
        "target: Tesco\naspect: Stock/Price Action\nsentiment: positive", "Answer with exactly these lines:",
        "the company, asset or ticker the text is about", "Corporate/Dividend Policy Market/Volatility neutral"]
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<|pad|>", eos_token="<|endoftext|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def calibrated_run(tiny_data, tiny_bert, tmp_path_factory):
    """A tiny sentiment run, calibrated (the tiny validation split is large enough with min_rows 5)."""
    import finabsa

    config = quick_config(tiny_data, tiny_bert, tmp_path_factory.mktemp("calibrated") / "run",
                          training={"epochs": 2}, calibration={"min_rows": 5})
    return finabsa.train(config, progress=False)


@pytest.fixture(autouse=True, scope="session")
def _export_cache_in_a_temporary_folder(tmp_path_factory):
    """Run folders exported for an ONNX runtime during tests go to a temporary cache, never to ~/.cache."""
    import os

    from finabsa.inference.export import CACHE_ENV

    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("finabsa-cache"))


# -- test tiers ------------------------------------------------------------------------------------------------
#: Fixtures that train a model (a tiny one, for a few steps): every test that uses one is in the slow tier.
TRAINING_FIXTURES = {"pipeline_runs", "trained_runs", "good_run", "instruct_run", "joint_run", "finished_study",
                     "calibrated_run"}


def pytest_collection_modifyitems(config, items):
    """``pytest -m "not slow"`` runs every test that trains no model: tests that train in their body carry
    ``@pytest.mark.slow``; tests that use a training fixture are marked here."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fast_tests_train_nothing(request, monkeypatch):
    """A test outside the slow tier that starts a training run fails, naming the marker it lacks (so the fast tier
    stays fast as tests are added)."""
    if request.node.get_closest_marker("slow"):
        return

    def refuse(*args, **kwargs):
        raise AssertionError(f"{request.node.nodeid} trains a model: mark it @pytest.mark.slow (or use a fixture "
                             "listed in conftest.TRAINING_FIXTURES)")

    import finabsa.training.loop

    monkeypatch.setattr(finabsa.training.loop, "_run", refuse)
