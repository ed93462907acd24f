"""Method pieces of the quality work: the hierarchical aspect head, selection on the test metric, target markers,
training stages and the end-to-end study row."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import finabsa
from conftest import quick_config
from finabsa.data.records import Example
from finabsa.tasks import build_task
from finabsa.tasks.aspect_tree import AspectTree

LEAVES = ["Corporate/Dividend Policy", "Corporate/Legal", "Market/Volatility", "Stock/Price Action",
          "Stock/Price Action/Bearish", "Stock/Price Action/Bullish", "Stock/Technical Analysis"]


def test_tree_groups_leaves_under_their_ancestors():
    tree = AspectTree(LEAVES)
    assert tree.nodes["1"] == ["Corporate", "Market", "Stock"]
    assert tree.nodes["2"] == ["Corporate/Dividend Policy", "Corporate/Legal", "Market/Volatility",
                               "Stock/Price Action", "Stock/Technical Analysis"]
    uniform = np.full((1, len(LEAVES)), 1 / len(LEAVES))
    assert np.allclose(tree.marginals(uniform, "1"), [[2 / 7, 1 / 7, 4 / 7]])


def test_decoding_is_consistent_with_the_tree_even_when_the_best_leaf_disagrees():
    tree = AspectTree(LEAVES)
    # The single most likely leaf is Market/Volatility, but Stock holds more mass: the answer stays under Stock.
    p = np.array([0.0, 0.0, 0.34, 0.0, 0.30, 0.26, 0.10])
    answer = tree.decode(p)
    assert answer["1"][0] == "Stock" and answer["2"][0] == "Stock/Price Action"
    assert answer["full"][0] == "Stock/Price Action/Bearish"
    assert answer["full"][0].startswith(answer["2"][0]) and answer["2"][0].startswith(answer["1"][0])
    assert answer["1"][1] == pytest.approx(0.66)


@pytest.mark.parametrize("seed", range(20))
def test_every_decoded_answer_is_a_path_seen_in_training(seed):
    tree = AspectTree(LEAVES)
    p = np.random.default_rng(seed).dirichlet(np.ones(len(LEAVES)) * 0.3)
    answer = tree.decode(p)
    assert answer["full"][0] in LEAVES
    assert answer["full"][0].startswith(answer["2"][0]) and answer["2"][0].startswith(answer["1"][0])


def test_tree_loss_covers_every_level_and_trains():
    tree = AspectTree(LEAVES)
    logits = torch.zeros(2, len(LEAVES), requires_grad=True)
    targets = torch.tensor([4, 2])
    loss = tree.loss(logits, targets)
    # With uniform logits: -(log 1/7 + log 3/7 + log 4/7) for row 0, -(log 1/7 + log 1/7 + log 1/7) for row 1.
    expected = (-(np.log(1 / 7) + np.log(3 / 7) + np.log(4 / 7)) - 3 * np.log(1 / 7)) / 2 / 3
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 4] < 0


@pytest.mark.slow
def test_hierarchical_run_reports_every_level(tiny_data, tiny_bert, tmp_path):
    config = quick_config(tiny_data, tiny_bert, tmp_path / "run", task="aspect",
                          task_options={"head": "hierarchical", "level": 2})
    report = finabsa.train(config, progress=False).report
    after = report["after"]
    for name in ("level1_accuracy", "level1_macro_f1", "level2_accuracy", "full_accuracy", "full_macro_f1"):
        assert 0 <= after[name] <= 1
    assert after["accuracy"] == after["level2_accuracy"]
    assert report["task_description"] == "aspect (hierarchical, level 2)"
    saved = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    for row in saved:
        l1, l2, full = row["levels"]
        assert full.startswith(l2) and l2.startswith(l1) and row["label"] == l2


def test_flat_and_hierarchical_agree_on_what_gold_is():
    example = Example(sentence="x", aspects=("Stock/Price Action/Bullish",))
    assert build_task("aspect", {"level": 1}).gold(example) == "Stock"
    assert build_task("aspect", {"level": 1, "head": "hierarchical"}).gold(example) == "Stock/Price Action/Bullish"
    with pytest.raises(finabsa.ConfigError, match="head must be one of flat, hierarchical"):
        finabsa.load_config(None, {"task.name": "aspect", "task.head": "tree"}).validate()


@pytest.mark.slow
def test_targets_are_selected_on_the_decoded_span_exact_match(tiny_data, tiny_bert, tmp_path):
    """The validation metric that picks the best epoch is the test's own metric, through the same decoding."""
    from finabsa.config import EvaluationConfig
    from finabsa.data.prepare import training_data

    config = quick_config(tiny_data, tiny_bert, tmp_path / "run", task="target", training={"epochs": 2})
    result = finabsa.train(config, progress=False)
    predictor = finabsa.load(result.run_dir)
    validation = training_data(predictor.task, config.data).validation
    decoded = predictor.task.score(validation, predictor.predict_examples(validation), predictor.labels,
                                   EvaluationConfig(bootstrap_samples=0))["exact_match"]
    assert result.report["training"]["best_validation_exact_match"] == round(decoded, 4)
    logged = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["eval_exact_match"] for row in logged if "eval_exact_match" in row]  # logged every epoch


@pytest.mark.slow
def test_a_study_trains_each_stage_once_and_reads_views_and_predicted_inputs(tiny_data, tiny_bert, tmp_path,
                                                                             caplog):
    import yaml

    from finabsa.study import load_study, run_study

    base = {"model.name": str(tiny_bert), "data.path": str(tiny_data), "training.epochs": 1,
            "training.batch_size": 8, "model.max_length": 32, "adapter.rank": 4, "evaluation.bootstrap_samples": 0}
    regression = {"task.name": "sentiment", "task.mode": "regression", "task.pair_template": "{target}; {aspects}"}
    spec = {
        "name": "staged", "seeds": [1], "base": base,
        "stages": {"domain": {"settings": {"task.name": "sentiment", "training.epochs": 1}}},
        "cells": [
            {"name": "sentiment", "settings": {"task.name": "sentiment"}, "stage": "domain"},
            {"name": "regression", "settings": regression, "stage": "domain"},
            {"name": "aspects", "settings": {"task.name": "aspect", "task.head": "hierarchical", "task.level": 2}},
            {"name": "aspects at level 1", "view_of": "aspects", "metric_prefix": "level1_",
             "settings": {"task.name": "aspect", "task.level": 1}},
            {"name": "targets", "settings": {"task.name": "target"}},
            {"name": "end to end", "settings": regression,
             "predicted_inputs": {"model": "regression", "target": "targets", "aspect": "aspects"}},
        ],
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    study = load_study(tmp_path / "study.yaml", output=str(tmp_path / "out"))
    with caplog.at_level("INFO", logger="finabsa.study"):
        result = run_study(study)
    stage_runs = [m for m in caplog.messages if m.startswith("stage 'domain'")]
    assert stage_runs == ["stage 'domain', seed 1: training"]  # trained once, for the first cell that needed it
    out = tmp_path / "out"
    for cell in ("sentiment", "regression"):
        notes = json.loads((out / "runs" / cell / "seed-1" / "report.json").read_text())["data_notes"]
        assert any("started from the weights of" in note and "stages/domain/seed-1" in note for note in notes)
    assert not (out / "runs" / "aspects-at-level-1").exists() and not (out / "runs" / "end-to-end").exists()

    entries = {(r["slug"], r["stage"], r["metric"]): r["mean"] for r in result["results"]}
    hierarchical = json.loads((out / "runs" / "aspects" / "seed-1" / "report.json").read_text())["after"]
    assert entries[("aspects-at-level-1", "after", "accuracy")] == hierarchical["level1_accuracy"]
    derived = json.loads((out / "derived" / "end-to-end" / "seed-1.json").read_text())
    assert derived["after"]["accuracy"] == entries[("end-to-end", "after", "accuracy")]
    assert "predicted" in derived["task_description"] and derived["before"] is None
    report = (out / "report.md").read_text()
    assert "sentence + predicted aspects + predicted target" in report and "## Transfer stages" in report


def test_study_refuses_unknown_stage_and_cell_references(tiny_data, tiny_bert, tmp_path):
    import yaml

    from finabsa.study import load_study

    spec = {"name": "bad", "seeds": [1], "base": {"model.name": str(tiny_bert), "data.path": str(tiny_data)},
            "cells": [{"name": "a", "settings": {"task.name": "sentiment"}, "stage": "nowhere"},
                      {"name": "b", "view_of": "missing", "settings": {"task.name": "aspect"}}]}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(finabsa.ConfigError, match=r"stage 'nowhere' is not declared(.|\n)*'missing' is not a "
                                                   r"training cell"):
        load_study(tmp_path / "study.yaml")
