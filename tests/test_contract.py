"""The contract every task variant must meet, written once: train a few steps -> save -> load -> same predictions."""

from __future__ import annotations

import json

import pytest

import finabsa
from conftest import quick_config

VARIANTS = [
    pytest.param("sentiment", {}, {}, "tiny_bert", id="sentiment-classes-lora"),
    pytest.param("sentiment", {"mode": "regression"}, {}, "tiny_bert", id="sentiment-regression-lora"),
    pytest.param("sentiment", {"pair_template": "{target}; {aspects}"}, {}, "tiny_bert", id="sentiment-pair"),
    pytest.param("aspect", {"level": 1}, {}, "tiny_bert", id="aspect-l1-lora"),
    pytest.param("aspect", {"level": "full"}, {"method": "full"}, "tiny_bert", id="aspect-full-fullft"),
    pytest.param("sentiment", {}, {"method": "frozen"}, "tiny_bert", id="sentiment-frozen"),
    pytest.param("target", {"method": "span"}, {}, "tiny_bert", id="target-span-lora"),
    pytest.param("target", {"method": "generate"}, {}, "tiny_t5", id="target-generate-lora"),
    pytest.param("target", {"method": "generate"}, {"method": "full"}, "tiny_t5", id="target-generate-full"),
    pytest.param("instruct", {"max_new_tokens": 8}, {}, "tiny_llama", id="instruct-lora"),
    pytest.param("joint", {}, {}, "tiny_bert", id="joint-lora"),
    pytest.param("joint", {}, {"method": "full"}, "tiny_bert", id="joint-fullft"),
    pytest.param("joint", {}, {"method": "frozen"}, "tiny_bert", id="joint-frozen"),
    pytest.param("joint", {"context_window": 2}, {}, "tiny_bert", id="joint-context-lora"),
]

RUN_FILES = ["config.yaml", "run.json", "labels.json", "metrics.jsonl", "report.json", "report.md",
             "predictions.jsonl", "model"]


@pytest.mark.slow
@pytest.mark.parametrize("task, options, adapter, model_fixture", VARIANTS)
def test_train_save_load_predicts_identically(task, options, adapter, model_fixture, request, tiny_data, tmp_path):
    model = request.getfixturevalue(model_fixture)
    config = quick_config(tiny_data, model, tmp_path / "run", task=task, task_options=options, adapter=adapter)
    if task == "instruct":
        config.model.max_length = 384  # the tiny byte-level tokenizer spends many tokens on the prompt
    result = finabsa.train(config, progress=False)

    run_dir = result.run_dir
    assert run_dir == tmp_path / "run" and not (tmp_path / "run.partial").exists()
    for name in RUN_FILES:
        assert (run_dir / name).exists(), f"{name} missing from the run folder"
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "complete" and info["seed"] == 42 and info["versions"]["torch"]
    assert result.report["before"] is not None and result.report["after"] is not None
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("loss" in row for row in steps) and any("eval_loss" in row for row in steps)

    saved = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    predictor = finabsa.load(run_dir)
    reloaded = predictor.predict([{"sentence": row["sentence"], "target": _target(row, tiny_data),
                                   "aspects": _aspects(row, tiny_data)} for row in saved])
    answer = predictor.task.render_answer  # the task renders its own answer
    assert [answer(p) for p in reloaded] == [answer(row) for row in saved]
    key = predictor.task.answer_key  # and declares the field that holds it
    assert [p.get(key) for p in reloaded] == [row.get(key) for row in saved]
    if "probability" in saved[0]:
        assert [round(p["probability"], 5) for p in reloaded] == [round(r["probability"], 5) for r in saved]


def _test_rows(data):
    import csv

    with (data / "test.csv").open() as handle:
        return {row["sentence"]: row for row in csv.DictReader(handle)}


def _target(row, data):
    return _test_rows(data)[row["sentence"]]["target"]


def _aspects(row, data):
    return _test_rows(data)[row["sentence"]]["aspects"]


@pytest.mark.slow
def test_lora_run_folder_holds_adapter_not_full_weights(tiny_data, tiny_bert, tmp_path):
    result = finabsa.train(quick_config(tiny_data, tiny_bert, tmp_path / "run"), progress=False)
    model_dir = result.run_dir / "model"
    assert (model_dir / "adapter_config.json").is_file()
    assert (model_dir / "adapter_model.safetensors").is_file()
    assert not (model_dir / "model.safetensors").exists()
    from safetensors import safe_open

    with safe_open(str(model_dir / "adapter_model.safetensors"), "pt") as handle:
        keys = list(handle.keys())
    assert any("lora_" in k for k in keys) and any("classifier" in k for k in keys)


@pytest.mark.slow
def test_shipped_minilm_trains_on_a_handful_of_rows(tiny_data, minilm_dir, tmp_path):
    config = quick_config(tiny_data, "minilm", tmp_path / "run", data={"max_train_rows": 16, "max_eval_rows": 8})
    result = finabsa.train(config, progress=False)
    assert result.report["after"]["n"] == 8
    assert finabsa.load(result.run_dir).predict(["$TSLA breaks out"])[0]["label"] in {"positive", "neutral",
                                                                                      "negative"}
