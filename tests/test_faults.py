"""Fault tolerance: resume after an interruption ends where an uninterrupted run ends, failures leave earlier runs
untouched, pickle files are refused, and a 2-process run writes the same run folder as a single process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

import finabsa
from conftest import quick_config
from finabsa.cli import main
from finabsa.errors import RunFolderError
from finabsa.run_layout import AVERAGE_FILE

TRAINING = {"epochs": 2, "batch_size": 8, "checkpoint_steps": 3, "logging_steps": 1}


class _Stop(Exception):
    """Stands for a crash (a kill, a full disk) right after a checkpoint was written."""


def _interrupt_after_checkpoint(monkeypatch, step: int) -> None:
    from transformers import TrainerCallback

    import finabsa.training.loop as training

    original = training.checkpoint_every

    class Crash(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise _Stop(f"stopped at step {step}")

    def callbacks(*args):
        original_callback = original(*args)
        crash = Crash()

        class Both(type(original_callback)):
            def on_save(self, *a, **k):
                return crash.on_save(*a, **k)

        return Both()

    monkeypatch.setattr(training, "checkpoint_every", callbacks)


@pytest.mark.slow
@pytest.mark.parametrize("averaging", [{}, {"weight_average_decay": 0.9}], ids=["plain", "weight-averaged"])
def test_resumed_run_ends_like_an_uninterrupted_one(tiny_data, tiny_bert, tmp_path, monkeypatch, averaging):
    training = {**TRAINING, **averaging}
    whole = finabsa.train(quick_config(tiny_data, tiny_bert, tmp_path / "whole", training=training), progress=False)

    _interrupt_after_checkpoint(monkeypatch, step=6)
    with pytest.raises(_Stop):
        finabsa.train(quick_config(tiny_data, tiny_bert, tmp_path / "cut", training=training), progress=False)
    monkeypatch.undo()
    partial = tmp_path / "cut.partial"
    assert partial.is_dir() and not (tmp_path / "cut").exists()
    assert (partial / "checkpoints" / "checkpoint-6" / "optimizer.pt").is_file()
    # A weight-averaged run keeps its average in the checkpoint, to continue it.
    assert (partial / "checkpoints" / "checkpoint-6" / AVERAGE_FILE).is_file() == bool(averaging)
    with pytest.raises(RunFolderError, match="incomplete|does not exist"):
        finabsa.load(tmp_path / "cut")

    resumed = finabsa.resume(tmp_path / "cut", progress=False)
    assert resumed.report["after"]["accuracy"] == whole.report["after"]["accuracy"]
    assert resumed.report["after"]["macro_f1"] == pytest.approx(whole.report["after"]["macro_f1"], abs=1e-9)
    assert resumed.report["training"]["steps"] == whole.report["training"]["steps"]
    info = json.loads((resumed.run_dir / "run.json").read_text())
    assert info["resumed"][0]["from_checkpoint"] == "checkpoint-6"
    steps = [json.loads(line)["step"] for line in (resumed.run_dir / "metrics.jsonl").read_text().splitlines()]
    whole_steps = [json.loads(line)["step"] for line in (whole.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == whole_steps  # no step logged twice
    whole_predictions = (whole.run_dir / "predictions.jsonl").read_text().splitlines()
    resumed_predictions = (resumed.run_dir / "predictions.jsonl").read_text().splitlines()
    labels = [json.loads(line)["label"] for line in resumed_predictions]
    assert labels == [json.loads(line)["label"] for line in whole_predictions]
    # The model itself, weight for weight (a weight average restarted at the resume would end elsewhere); LoRA's
    # untouched copy of the head it replaces (``original_module``) is drawn anew and never used.
    weights = [finabsa.load(run).model.state_dict() for run in (whole.run_dir, resumed.run_dir)]
    used = [name for name in weights[0] if ".original_module." not in name]
    assert used and all(torch.allclose(weights[0][name], weights[1][name], atol=1e-6) for name in used)


@pytest.mark.slow
def test_resume_errors_say_what_to_do(tiny_data, tiny_bert, tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no interrupted run at" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "x"), "--epochs", "3"]) == 2
    assert "drop --epochs" in capsys.readouterr().err
    done = finabsa.train(quick_config(tiny_data, tiny_bert, tmp_path / "done"), progress=False).run_dir
    with pytest.raises(RunFolderError, match="already finished; there is nothing to resume"):
        finabsa.resume(done)


@pytest.mark.slow
def test_a_failed_rerun_leaves_the_earlier_run_untouched(tiny_data, tiny_bert, tmp_path, monkeypatch, caplog):
    config = quick_config(tiny_data, tiny_bert, tmp_path / "run")
    first = finabsa.train(config, progress=False).run_dir
    before = finabsa.load(first).predict(["Tesco shares surge"])

    import finabsa.training.loop as training

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(training, "save_trained", disk_full)
    rerun = quick_config(tiny_data, tiny_bert, tmp_path / "run", overwrite=True)
    with pytest.raises(OSError, match="No space left"):
        finabsa.train(rerun, progress=False)
    assert "partial state is in" in caplog.text and "run.partial" in caplog.text
    assert finabsa.load(first).predict(["Tesco shares surge"]) == before


@pytest.mark.slow
def test_pickle_files_in_a_run_folder_are_refused(tiny_data, tiny_bert, tmp_path):
    run = finabsa.train(quick_config(tiny_data, tiny_bert, tmp_path / "run"), progress=False).run_dir
    (run / "model" / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(RunFolderError, match=r"pickle-based file\(s\) \(model/pytorch_model.bin\).*refuses"):
        finabsa.load(run)


@pytest.mark.slow
def test_two_process_cpu_run_writes_the_same_folder_as_one_process(tiny_data, tiny_bert, tmp_path):
    common = ["-m", "finabsa", "train", "--task", "sentiment", "--data", str(tiny_data), "--model", str(tiny_bert),
              "--epochs", "2", "--batch-size", "8", "--max-length", "32", "--rank", "4", "--quiet",
              "--set", "evaluation.bootstrap_samples=20"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, *common, "--output", str(tmp_path / "one")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-2000:]
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable))
    launched = subprocess.run(
        [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
         "no", "--dynamo_backend", "no", *common, "--output", str(tmp_path / "two")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    one, two = tmp_path / "one", tmp_path / "two"
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())
    assert not (tmp_path / "two.partial").exists()
    assert json.loads((one / "run.json").read_text())["processes"] == 1
    assert json.loads((two / "run.json").read_text())["processes"] == 2
    keys = {key for line in (one / "metrics.jsonl").read_text().splitlines() for key in json.loads(line)}
    keys_two = {key for line in (two / "metrics.jsonl").read_text().splitlines() for key in json.loads(line)}
    assert {"eval_accuracy", "eval_macro_f1", "train_runtime"} <= keys_two and keys_two <= keys
    # Twice the processes, the same batch size per process: half the optimiser steps per epoch.
    steps_one = max(json.loads(line)["step"] for line in (one / "metrics.jsonl").read_text().splitlines())
    steps_two = max(json.loads(line)["step"] for line in (two / "metrics.jsonl").read_text().splitlines())
    assert steps_two < steps_one
    assert set(json.loads((two / "report.json").read_text())["after"]) == set(
        json.loads((one / "report.json").read_text())["after"])
    assert finabsa.load(two).predict(["Tesco shares surge"])[0]["label"] in {"positive", "neutral", "negative"}
