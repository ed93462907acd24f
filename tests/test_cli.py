"""The real CLI on a handful of rows: files written, predictions out, and clear errors without tracebacks."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest

from finabsa.cli import main

QUICK = ["--epochs", "1", "--batch-size", "8", "--max-length", "32", "--rank", "4", "--quiet",
         "--set", "evaluation.bootstrap_samples=20"]


@pytest.fixture(scope="module")
def trained_runs(tiny_data, tiny_bert, tmp_path_factory):
    parent = tmp_path_factory.mktemp("cli") / "all"
    status = main(["train", "--task", "sentiment,target", "--data", str(tiny_data), "--model", str(tiny_bert),
                   "--output", str(parent), *QUICK])
    assert status == 0
    return parent


def test_train_writes_one_run_folder_per_task_and_a_summary(trained_runs, capsys):
    for task in ("sentiment", "target"):
        run = trained_runs / task
        for name in ("config.yaml", "run.json", "labels.json", "metrics.jsonl", "report.json", "report.md",
                     "predictions.jsonl", "learning_curve.png", "model"):
            assert (run / name).exists(), f"{task}: {name} missing"
    assert (trained_runs / "sentiment" / "confusion_after.png").is_file()
    assert (trained_runs / "sentiment" / "confusion_before.png").is_file()
    report = (trained_runs / "sentiment" / "report.md").read_text()
    assert "| metric | before fine-tuning | after fine-tuning | change |" in report
    assert "carved from train" in report


def test_predict_reads_arguments_and_stdin(trained_runs, capsys, monkeypatch):
    assert main(["predict", str(trained_runs / "sentiment"), "Tesco shares surge", "BP fined"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["Tesco shares surge", "BP fined"]
    assert all(line["label"] in {"positive", "neutral", "negative"} for line in lines)

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"sentence": "Shell up", "target": "Shell"}\nNokia down\n'))
    assert main(["predict", str(trained_runs / "target")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and all("target" in line and "start" in line for line in lines)


def test_evaluate_matches_the_run_report(trained_runs, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(trained_runs / "sentiment"), "--output", str(out)]) == 0
    evaluated = json.loads(out.read_text())["after"]
    recorded = json.loads((trained_runs / "sentiment" / "report.json").read_text())["after"]
    assert evaluated["accuracy"] == recorded["accuracy"] and evaluated["macro_f1"] == recorded["macro_f1"]


def test_existing_run_folder_is_not_overwritten(trained_runs, tiny_data, tiny_bert, capsys):
    status = main(["train", "--task", "sentiment", "--data", str(tiny_data), "--model", str(tiny_bert),
                   "--output", str(trained_runs / "sentiment"), *QUICK])
    assert status == 2
    assert "already exists; choose another --output, or pass --overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "/nonexistent/fiqa"], r"data path '/nonexistent/fiqa' does not exist"),
    (["train", "--task", "sentimnt"], r"did you mean 'sentiment'"),
    (["train", "--model", "minilmm", "--max-train-rows", "4"], r"unknown model alias 'minilmm'.*Did you mean 'minilm'"),
    (["predict", "/nonexistent/run", "x"], r"run folder '/nonexistent/run' does not exist"),
    (["train", "--set", "epochs"], r"--set expects KEY=VALUE"),
])
def test_errors_are_one_clear_line_without_traceback(argv, message, capsys, tiny_data, monkeypatch, tmp_path):
    import re

    monkeypatch.setenv("FINABSA_DATA", str(tiny_data))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err
    assert not (tmp_path / "runs").exists(), "a failed start must not leave a run folder behind"


def test_incomplete_run_folder_names_missing_files(trained_runs, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(trained_runs / "sentiment", broken)
    shutil.rmtree(broken / "model")
    (broken / "labels.json").unlink()
    assert main(["predict", str(broken), "x"]) == 2
    assert "is incomplete: missing labels.json, model" in capsys.readouterr().err


def test_unseen_test_label_policy_error(tiny_data, tiny_bert, tmp_path, capsys):
    import csv

    folder = tmp_path / "data"
    shutil.copytree(tiny_data, folder)
    rows = list(csv.DictReader((folder / "test.csv").open()))
    rows[0]["aspects"] = "['Economy/Trade']"
    with (folder / "test.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    status = main(["train", "--task", "aspect", "--data", str(folder), "--model", str(tiny_bert), "--output",
                   str(tmp_path / "run"), "--set", "data.unseen_labels=error", *QUICK])
    assert status == 2
    assert "1 test row(s) have label(s) never seen in training: Economy/Trade" in capsys.readouterr().err


def test_help_teaches_with_examples():
    out = subprocess.run([sys.executable, "-m", "finabsa", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "examples:" in out.stdout and "--max-train-rows" in out.stdout and "--set KEY=VALUE" in out.stdout
