"""Weight averaging (``training.weight_average_decay``): the average follows its formula, is swapped in only to be
evaluated, and a run ends with the average its validation chose."""

from __future__ import annotations

import json

import pytest
import torch

import finabsa
from conftest import quick_config
from finabsa.config import EvaluationConfig, RunConfig
from finabsa.data.prepare import training_data
from finabsa.errors import ConfigError
from finabsa.tasks import build_task
from finabsa.training.averaging import WeightAverage


def _toy() -> torch.nn.Module:
    model = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), torch.nn.Linear(1, 1, bias=False))
    model[1].weight.requires_grad_(False)  # frozen: not averaged, never touched
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.0, 0.0]]))
        model[1].weight.fill_(5.0)
    return model


def test_the_average_follows_its_formula_and_is_swapped_in_only_for_the_block(tmp_path):
    model, average = _toy(), WeightAverage(decay=0.5)
    average.start(model)
    expected = torch.zeros(1, 2)
    for step, value in enumerate([1.0, 2.0, 4.0], start=1):
        with torch.no_grad():
            model[0].weight.fill_(value)
        average.update(model, step)
        decay = min(0.5, (1 + step) / (10 + step))  # 0.18, 0.25, 0.31: early steps weigh less
        expected = decay * expected + (1 - decay) * value
    assert average.decay_at(1) == pytest.approx(2 / 11) and average.decay_at(10_000) == 0.5
    assert torch.allclose(average.shadow["0.weight"], expected)
    assert set(average.shadow) == {"0.weight"}

    with average.swapped_in(model):
        assert torch.allclose(model[0].weight, expected)
    assert torch.equal(model[0].weight, torch.full((1, 2), 4.0))  # the training weights, exactly
    assert torch.equal(model[1].weight, torch.full((1, 1), 5.0))

    average.save(tmp_path)
    again = WeightAverage(decay=0.5)
    assert again.load(tmp_path) and torch.equal(again.shadow["0.weight"], average.shadow["0.weight"])
    assert not WeightAverage(decay=0.5).load(tmp_path / "elsewhere")
    again.copy_into(model)
    assert torch.allclose(model[0].weight, expected)


@pytest.mark.parametrize("decay", ["0", "1", "1.5"])
def test_a_decay_outside_zero_to_one_is_a_config_problem(decay):
    with pytest.raises(ConfigError, match=r"training.weight_average_decay must be in \(0, 1\) \(e.g. 0.999\) or "
                                          rf"null \(off\); found {float(decay)}"):
        RunConfig().with_overrides({"training.weight_average_decay": decay}).validate()
    assert RunConfig().with_overrides({"training.weight_average_decay": "0.999"}).validate()


@pytest.mark.slow
def test_a_weight_averaged_run_ends_with_the_average_its_validation_chose(tiny_data, tiny_bert, tmp_path):
    training = {"epochs": 3, "batch_size": 8, "learning_rate": 0.005, "logging_steps": 1}
    plain = finabsa.train(quick_config(tiny_data, tiny_bert, tmp_path / "plain", training=training),
                          progress=False)
    config = quick_config(tiny_data, tiny_bert, tmp_path / "averaged",
                          training={**training, "weight_average_decay": 0.9})
    averaged = finabsa.train(config, progress=False)
    assert averaged.report["training"]["weight_average_decay"] == 0.9

    # The optimizer's path is the same (same seed, same training losses); what validation scored is not, and
    # neither is the model each run ends with.
    logs = [[json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
            for run in (plain, averaged)]
    losses = [[row["loss"] for row in log if "loss" in row] for log in logs]
    validation = [[row["eval_loss"] for row in log if "eval_loss" in row] for log in logs]
    assert losses[0] == losses[1] and len(validation[0]) == len(validation[1]) == 3
    assert all(a != pytest.approx(b, abs=1e-6) for a, b in zip(*validation))
    weights = [finabsa.load(run.run_dir).model.state_dict() for run in (plain, averaged)]
    assert any(not torch.equal(weights[0][name], weights[1][name]) for name in weights[0])

    # What validation scored at the chosen epoch is the model the run folder holds.
    task = build_task(config.task.name, config.task.options)
    data = training_data(task, config.data)
    predictor = finabsa.load(averaged.run_dir)
    scores = task.score(data.validation, predictor.predict_examples(data.validation), data.labels,
                        EvaluationConfig(bootstrap_samples=0))
    best = averaged.report["training"][f"best_validation_{task.selection_metric}"]
    assert scores[task.selection_metric] == pytest.approx(best, abs=1e-4)
