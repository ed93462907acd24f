"""Training options that change how fast a run goes, not what it learns: mixed precision (``training.precision``)
and checkpoints by time (``training.checkpoint_minutes``)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

import finabsa
from conftest import quick_config
from finabsa import ConfigError, RunConfig
from finabsa.training.trainer import checkpoint_every, training_precision


@pytest.mark.parametrize(("setting", "native", "expected"), [
    ("fp32", True, "fp32"),
    ("fp32", False, "fp32"),
    ("auto", True, "bf16"),
    ("auto", False, "fp32"),
    ("bf16", True, "bf16"),
    ("bf16", False, "bf16"),  # asked for: honoured, with a warning that it will be slow
])
def test_precision_resolves_auto_by_the_hardware(setting, native, expected):
    assert training_precision(setting, native=lambda: native) == expected


def test_bf16_without_native_support_warns_that_it_is_slow(caplog):
    with caplog.at_level("WARNING"):
        training_precision("bf16", native=lambda: False)
    assert "several times slower" in caplog.text


def test_unknown_precision_and_negative_minutes_are_reported_together():
    config = RunConfig.from_dict({"training": {"precision": "fp16", "checkpoint_minutes": -1}})
    with pytest.raises(ConfigError, match=r"2 problem") as info:
        config.validate()
    assert "training.precision must be one of fp32, bf16, auto; found 'fp16'" in str(info.value)
    assert "training.checkpoint_minutes must be >= 0 (0: off); found -1" in str(info.value)


def _steps(callback, steps: int, times: list[float], clock: list[float], world_size: int = 1) -> list[int]:
    """Drive ``callback`` through ``steps`` optimiser steps, the clock reading ``times[i]`` at step i + 1, and
    return the steps at which it asked for a checkpoint (a save resets the clock, as the Trainer's would)."""
    args, saved = SimpleNamespace(world_size=world_size), []
    callback.on_train_begin(args, None, None)
    for step in range(1, steps + 1):
        clock[0] = times[step - 1]
        control = SimpleNamespace(should_save=False)
        callback.on_step_end(args, SimpleNamespace(global_step=step), control)
        if control.should_save:
            saved.append(step)
            callback.on_save(args, None, control)
    return saved


def test_checkpoints_come_by_time_and_by_steps():
    clock = [0.0]
    every_minute = checkpoint_every(0, minutes=1.0, clock=lambda: clock[0])
    # 20 s a step: a checkpoint at 60 s, then 60 s after that one.
    assert _steps(every_minute, 10, [20.0 * i for i in range(1, 11)], clock) == [3, 6, 9]
    every_four_steps = checkpoint_every(4, minutes=0.0, clock=lambda: clock[0])
    assert _steps(every_four_steps, 10, [1000.0 * i for i in range(1, 11)], clock) == [4, 8]
    both = checkpoint_every(4, minutes=1.0, clock=lambda: clock[0])
    assert _steps(both, 8, [10, 20, 30, 40, 70, 80, 100, 140], clock) == [4, 7, 8]


def test_the_clock_rule_is_off_across_several_processes():
    clock = [0.0]
    callback = checkpoint_every(0, minutes=1.0, clock=lambda: clock[0])
    assert _steps(callback, 5, [100.0 * i for i in range(1, 6)], clock, world_size=2) == []


@pytest.mark.slow
def test_a_bf16_run_trains_records_its_precision_and_reloads_to_its_own_predictions(tiny_data, tiny_bert, tmp_path):
    config = quick_config(tiny_data, tiny_bert, tmp_path / "run", task="aspect", training={"precision": "bf16"})
    result = finabsa.train(config, progress=False)
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["precision"] == "bf16"
    assert result.report["training"]["precision"] == "bf16"
    # Training ran in bf16; the test predictions and a reloaded model both run in fp32, so they agree exactly.
    saved = [json.loads(line) for line in (result.run_dir / "predictions.jsonl").read_text().splitlines()]
    predictor = finabsa.load(result.run_dir)
    reloaded = predictor.predict([row["sentence"] for row in saved])
    key = predictor.task.answer_key
    assert [p[key] for p in reloaded] == [row[key] for row in saved]
    assert [round(p["probability"], 5) for p in reloaded] == [round(row["probability"], 5) for row in saved]
