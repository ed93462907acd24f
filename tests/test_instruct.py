"""The decoder-LLM route (instruction tuning) on a tiny Llama built in code: prompts, answer-only loss, strict
parsing, constrained decoding, run folders, the pipeline."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import finabsa
from conftest import quick_config
from finabsa.data.records import Example
from finabsa.errors import ConfigError
from finabsa.models.build import training_collator
from finabsa.tasks import build_task
from finabsa.tasks.instruct import FIELDS, parse_answer

EXAMPLE = Example(sentence="Tesco shares surge after strong results", target="Tesco", score=0.6,
                  aspects=("Stock/Price Action/Bullish",))


@pytest.fixture(scope="module")
def llama_tokenizer(tiny_llama):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_llama))


@pytest.fixture(scope="module")
def instruct_run(tiny_data, tiny_llama, tmp_path_factory):
    config = quick_config(tiny_data, tiny_llama, tmp_path_factory.mktemp("instruct") / "run", task="instruct",
                          task_options={"max_new_tokens": 12})
    config.model.max_length = 384  # the tiny byte-level tokenizer spends many tokens on the prompt
    return finabsa.train(config, progress=False)


def test_parse_answer_is_strict():
    values, problems = parse_answer("target: Tesco\naspect: Stock/Price Action\nsentiment: positive", list(FIELDS))
    assert values == {"target": "Tesco", "aspect": "Stock/Price Action", "sentiment": "positive"} and not problems
    values, problems = parse_answer("Sentiment = 'negative'\nsome chatter\ntarget: BP", list(FIELDS))
    assert values == {"sentiment": "negative", "target": "BP"} and problems == ["no 'aspect' line"]
    _, problems = parse_answer("target: A\ntarget: B", ["target"])
    assert problems == ["'target' answered twice"]


value = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                max_size=30).map(str.strip).filter(lambda v: v and v.strip("\"'`") == v)


@settings(max_examples=80, deadline=None)
@given(st.fixed_dictionaries({name: value for name in FIELDS}))
def test_any_answer_written_in_the_format_parses_back(values):
    text = "\n".join(f"{name}: {values[name]}" for name in FIELDS)
    assert parse_answer(text, list(FIELDS)) == (values, [])


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_to_known_fields_or_problems(text):
    values, problems = parse_answer(text, list(FIELDS))
    assert set(values) <= set(FIELDS) and all(isinstance(p, str) for p in problems)
    assert len(problems) >= len([f for f in FIELDS if not values.get(f)])


def test_loss_covers_only_the_answer(llama_tokenizer):
    task = build_task("instruct")
    (feature,) = task.encode([EXAMPLE], llama_tokenizer, [], 1024, with_labels=True)
    answer = [t for t in feature["labels"] if t != -100]
    assert llama_tokenizer.decode(answer) == ("target: Tesco\naspect: Stock/Price Action\nsentiment: positive"
                                              "<|endoftext|>")
    prompt = llama_tokenizer.decode(feature["input_ids"][: len(feature["input_ids"]) - len(answer)])
    assert prompt.startswith("<|system|>\n") and prompt.endswith("<|assistant|>\n") and EXAMPLE.sentence in prompt
    (bare,) = task.encode([EXAMPLE], llama_tokenizer, [], 1024, with_labels=False)
    assert "labels" not in bare and bare["input_ids"] == feature["input_ids"][: len(bare["input_ids"])]


def test_collator_pads_right_for_training_and_left_for_generation(llama_tokenizer):
    task = build_task("instruct", {"fields": ["sentiment"]})
    short = Example(sentence="BP up", score=0.5)
    features = task.encode([EXAMPLE, short], llama_tokenizer, [], 1024, with_labels=True)
    collate = training_collator(task, task.head([]), llama_tokenizer)  # the causal-LM head's collator
    batch = collate(features)
    assert batch["attention_mask"][1, 0] == 1 and batch["attention_mask"][1, -1] == 0
    assert (batch["labels"][1][batch["attention_mask"][1] == 0] == -100).all()
    prompts = collate(task.encode([EXAMPLE, short], llama_tokenizer, [], 256, False))
    assert prompts["attention_mask"][1, 0] == 0 and prompts["attention_mask"][1, -1] == 1


def test_options_are_checked():
    with pytest.raises(ConfigError, match="fields: unknown price"):
        finabsa.load_config(None, {"task.name": "instruct", "task.fields": ["sentiment", "price"]}).validate()


def test_instruct_run_folder_reports_zero_shot_and_after(instruct_run):
    report = instruct_run.report
    assert report["headline_metrics"] == ["target_exact_match", "target_rouge1", "aspect_accuracy",
                                          "sentiment_accuracy", "sentiment_macro_f1", "invalid_answers"]
    for stage in ("before", "after"):
        assert 0 <= report[stage]["sentiment_accuracy"] <= 1 and 0 <= report[stage]["target_exact_match"] <= 1
    rows = [json.loads(line) for line in (instruct_run.run_dir / "predictions.jsonl").read_text().splitlines()]
    assert {"raw", "valid", "problems", "target", "aspect", "sentiment"} <= set(rows[0])
    assert report["after"]["invalid_answers"] == sum(not row["valid"] for row in rows)
    assert "| sentiment_accuracy |" in (instruct_run.run_dir / "report.md").read_text()


def test_instruct_run_reloads_to_identical_answers(instruct_run):
    rows = [json.loads(line) for line in (instruct_run.run_dir / "predictions.jsonl").read_text().splitlines()]
    predictor = finabsa.load(instruct_run.run_dir)
    again = predictor.predict([row["sentence"] for row in rows])
    assert [p["raw"] for p in again] == [row["raw"] for row in rows]


def test_constrained_decoding_never_gives_an_invalid_label(instruct_run):
    predictor = finabsa.load(instruct_run.run_dir)
    predictor.task.options.constrained = True
    answers = predictor.predict(["Tesco shares surge", "BP fined by regulator", "Nokia appoints chairman"])
    sentiments = predictor.task.allowed(predictor.labels, "sentiment")
    aspects = predictor.task.allowed(predictor.labels, "aspect")
    assert all(a["sentiment"] in sentiments and a["aspect"] in aspects for a in answers)


def test_invalid_answers_are_counted_with_their_text(llama_tokenizer):
    from types import SimpleNamespace

    task = build_task("instruct", {"fields": ["sentiment"]})
    labels = task.build_labels([EXAMPLE])
    raw = ["sentiment: positive", "sentiment: bullish!", "no idea"]
    predictions = task.decode({"texts": raw}, [], [EXAMPLE] * 3, labels, llama_tokenizer)
    assert [p["valid"] for p in predictions] == [True, False, False]
    metrics = task.score([EXAMPLE] * 3, predictions, labels, SimpleNamespace(bootstrap_samples=0, confidence=0.95))
    assert metrics["invalid_answers"] == 2 and metrics["sentiment_accuracy"] == pytest.approx(1 / 3)
    assert metrics["invalid_answer_examples"][0]["raw"] == "sentiment: bullish!"
    assert "not a known label" in metrics["invalid_answer_examples"][0]["problems"][0]


def test_pipeline_takes_an_instruct_run(instruct_run):
    from finabsa.inference.pipeline import Pipeline

    record = Pipeline({"instruct": instruct_run.run_dir}).analyze(["Tesco shares surge"])[0]
    assert {"text", "targets", "aspect", "sentiment"} <= set(record)
    assert record["aspect"]["level"] == "2"


def test_lora_targets_attention_and_mlp_of_llama(tiny_llama):
    from finabsa.config import AdapterConfig
    from finabsa.models import build_model, resolve_model

    model = build_model(resolve_model(str(tiny_llama)), build_task("instruct").head([]), [], AdapterConfig(rank=2))
    names = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, p in model.named_parameters()
             if p.requires_grad and "lora_A" in n}
    assert names == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert isinstance(next(model.parameters()), torch.Tensor)
