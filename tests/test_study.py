"""The study matrix runner on a tiny model: runs, skips finished runs, resumes, aggregates over seeds."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import yaml

from finabsa import ConfigError
from finabsa.cli import main
from finabsa.study import load_study, run_study, t_interval

REPO = Path(__file__).resolve().parents[1]


def _study_file(tmp_path, tiny_data, tiny_bert, **extra):
    spec = {
        "name": "tiny",
        "seeds": [1, 2],
        "base": {"model.name": str(tiny_bert), "data.path": str(tiny_data), "training.epochs": 1,
                 "training.batch_size": 8, "model.max_length": 32, "adapter.rank": 4,
                 "evaluation.bootstrap_samples": 20},
        "cells": [
            {"name": "sentiment (sentence)", "settings": {"task.name": "sentiment"},
             "reference": {"before": 0.26, "after": 0.5934}},
            {"name": "target (span)", "settings": {"task.name": "target"}, "reference": {"after": 0.8}},
        ],
        "quick": {"seeds": [1], "base": {"data.max_train_rows": 20}},
        **extra,
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory, tiny_data, tiny_bert):
    tmp_path = tmp_path_factory.mktemp("study")
    spec = load_study(_study_file(tmp_path, tiny_data, tiny_bert), output=str(tmp_path / "out"))
    result = run_study(spec)
    return spec, result, tmp_path / "out"


def test_study_writes_report_results_and_every_run(finished_study):
    spec, result, out = finished_study
    for cell in ("sentiment-sentence", "target-span"):
        for seed in (1, 2):
            assert (out / "runs" / cell / f"seed-{seed}" / "report.json").is_file()
    for name in ("report.md", "report.html", "results.json"):
        assert (out / name).is_file()
    report = (out / "report.md").read_text()
    assert "| sentiment (sentence) | sentence | accuracy | 26.00 % | 59.34 % |" in report
    assert "## Headline table" in report and "± " in report
    assert "majority" in report and "tfidf logreg" in report and "first cashtag or capitalised" in report
    assert "## Data" in report and "Model selection used validation: `carve`" in report
    assert (out / "plots" / "sentiment-sentence-confusion_after.png").is_file()


def test_aggregation_is_mean_sd_and_t_interval_over_seeds(finished_study):
    spec, result, out = finished_study
    results = json.loads((out / "results.json").read_text())["cells"]
    entry = next(r for r in results if r["slug"] == "sentiment-sentence" and r["stage"] == "after"
                 and r["metric"] == "accuracy")
    values = [json.loads((Path(run) / "report.json").read_text())["after"]["accuracy"] for run in entry["runs"]]
    assert entry["n_seeds"] == 2 and len(entry["runs"]) == 2
    assert entry["mean"] == pytest.approx(statistics.fmean(values))
    assert entry["sd"] == pytest.approx(statistics.stdev(values))
    low, high = t_interval(values)
    assert (entry["ci_low"], entry["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert {"task", "variant", "model", "method", "metric", "mean", "sd", "ci_low", "ci_high", "n_seeds",
            "runs"} <= set(entry)


def test_t_interval_matches_the_textbook():
    low, high = t_interval([0.5, 0.6, 0.7])
    assert (low + high) / 2 == pytest.approx(0.6)
    assert high - 0.6 == pytest.approx(4.302653 * 0.1 / 3 ** 0.5, rel=1e-5)
    assert t_interval([0.5]) is None


@pytest.mark.slow
def test_finished_runs_are_skipped_and_unfinished_ones_rerun(finished_study, caplog):
    spec, _, out = finished_study
    kept = out / "runs" / "sentiment-sentence" / "seed-1" / "run.json"
    redo = out / "runs" / "target-span" / "seed-2"
    stamp = kept.stat().st_mtime
    info = json.loads((redo / "run.json").read_text())
    (redo / "run.json").write_text(json.dumps({**info, "status": "running"}))  # as if killed mid-run
    with caplog.at_level("INFO", logger="finabsa.study"):
        run_study(spec)
    assert kept.stat().st_mtime == stamp
    assert json.loads((redo / "run.json").read_text())["status"] == "complete"
    assert caplog.text.count("finished earlier, skipped") == 3


def test_report_only_trains_nothing(finished_study, tmp_path):
    spec, _, out = finished_study
    stamps = {p: p.stat().st_mtime for p in (out / "runs").rglob("run.json")}
    (out / "report.md").unlink()
    run_study(spec, report_only=True)
    assert (out / "report.md").is_file()
    assert {p: p.stat().st_mtime for p in (out / "runs").rglob("run.json")} == stamps


def test_finished_runs_trained_otherwise_than_the_file_now_says_are_refused(finished_study, tmp_path, tiny_data,
                                                                            tiny_bert):
    _, _, out = finished_study
    path = _study_file(tmp_path, tiny_data, tiny_bert)
    raw = yaml.safe_load(path.read_text())
    raw["cells"][0]["settings"]["training.learning_rate"] = 0.5
    raw["base"]["training.checkpoint_minutes"] = 3  # when a run saves is not what it learns: not stale
    path.write_text(yaml.safe_dump(raw))
    changed = load_study(path, output=str(out))
    stamps = {p: p.stat().st_mtime for p in (out / "runs").rglob("run.json")}
    for report_only in (False, True):
        with pytest.raises(ConfigError, match=r"2 finished run\(s\) .* otherwise than the study file") as info:
            run_study(changed, report_only=report_only)
        message = str(info.value)
        assert "sentiment-sentence/seed-1: training.learning_rate: 0.0005 -> 0.5" in message
        assert "rm -rf" in message and "target-span" not in message
    assert {p: p.stat().st_mtime for p in (out / "runs").rglob("run.json")} == stamps


@pytest.mark.slow
def test_a_cell_whose_stage_changed_or_was_trained_again_is_refused(tmp_path, tiny_data, tiny_bert):
    stage = {"settings": {"task.name": "sentiment", "data.max_train_rows": 40}}
    path = _study_file(tmp_path, tiny_data, tiny_bert, seeds=[1], stages={"s": stage})
    raw = yaml.safe_load(path.read_text())
    raw["cells"] = [{**raw["cells"][0], "stage": "s"}]
    path.write_text(yaml.safe_dump(raw))
    spec = load_study(path, output=str(tmp_path / "out"))
    run_study(spec)
    run_study(spec, report_only=True)  # as trained: nothing stale
    stage_info = tmp_path / "out" / "stages" / "s" / "seed-1" / "run.json"
    info = json.loads(stage_info.read_text())
    stage_info.write_text(json.dumps({**info, "finished": "2999-01-01T00:00:00+00:00"}))  # trained again since
    with pytest.raises(ConfigError, match=r"(?s)1 finished run\(s\).*sentiment-sentence/seed-1: it started from an "
                                          r"earlier run of stage 's'"):
        run_study(spec)
    stage_info.write_text(json.dumps(info))
    raw["stages"]["s"]["settings"]["data.max_train_rows"] = 50
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"2 finished run\(s\)") as caught:
        run_study(load_study(path, output=str(tmp_path / "out")))
    assert "stages/s/seed-1: data.max_train_rows: 40 -> 50" in str(caught.value)
    assert "sentiment-sentence/seed-1: it started from an earlier run of stage 's'" in str(caught.value)


def test_quick_applies_the_quick_section(tmp_path, tiny_data, tiny_bert):
    spec = load_study(_study_file(tmp_path, tiny_data, tiny_bert), quick=True)
    assert spec.seeds == [1] and spec.base["data.max_train_rows"] == 20 and spec.output == "reports/tiny-quick"


def test_study_file_problems_come_together(tmp_path, tiny_data, tiny_bert):
    path = _study_file(tmp_path, tiny_data, tiny_bert, seeds="one", colour="blue")
    raw = yaml.safe_load(path.read_text())
    raw["cells"].append({"name": "bad", "settings": {"task.name": "aspect", "task.level": 9}})
    raw["cells"].append({"name": "Sentiment (sentence)", "settings": {"task.name": "sentiment"}})
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"4 problem") as info:
        load_study(path)
    text = str(info.value)
    assert "unknown study key 'colour'" in text and "seeds must be a non-empty list" in text
    assert "cell 'bad': task 'aspect' level must be one of" in text and "two cells share the name" in text


def test_shipped_study_presets_are_valid():
    spec = load_study(REPO / "configs" / "study-fiqa.yaml")
    assert spec.seeds == [1, 2, 3] and len(spec.cells) == 15 and list(spec.stages) == ["sentfin-sentiment"]
    joint = next(c.name for c in spec.cells if c.name.startswith("joint (targets"))
    assert [c.view_of for c in spec.cells if c.name.startswith("joint, read")] == [joint] * 5
    # One answer per reference aspect cell: the flat level-2 head is compared in its own study file.
    assert sum(c.settings.get("task.name") == "aspect" and not c.view_of for c in spec.cells) == 1
    assert "joint, read at the sentiment of its own best target" in [c.name for c in spec.cells]
    # The two cross-source cells train one seed each and hold a source out as a test_only set.
    cross = [c for c in spec.cells if c.seeds]
    assert [c.seeds for c in cross] == [[1], [1]]
    assert all(any(e.get("test_only") for e in c.settings["data.also_train"]) for c in cross)
    assert load_study(REPO / "configs" / "study-fiqa.yaml", quick=True).seeds == [1]
    assert load_study(REPO / "configs" / "study-fiqa-mpnet.yaml").base["model.name"] == "mpnet"
    heads = load_study(REPO / "configs" / "study-aspect-heads.yaml")
    assert [c.settings.get("task.head", "flat") for c in heads.cells if not c.view_of] == ["flat", "hierarchical"]


@pytest.mark.slow
def test_study_cli_quick(tmp_path, tiny_data, tiny_bert, capsys):
    path = _study_file(tmp_path, tiny_data, tiny_bert)
    assert main(["study", str(path), "--quick", "--output", str(tmp_path / "q")]) == 0
    out = capsys.readouterr().out
    assert "## Headline table" in out and "target (span)" in out
    assert (tmp_path / "q" / "runs" / "target-span" / "seed-1").is_dir()
    assert not (tmp_path / "q" / "runs" / "target-span" / "seed-2").exists()


def test_seed_ensemble_is_reported_beside_the_mean(finished_study):
    _, _, out = finished_study
    results = json.loads((out / "results.json").read_text())["cells"]
    for slug, metric in (("sentiment-sentence", "accuracy"), ("target-span", "exact_match")):
        entry = next(r for r in results if r["slug"] == slug and r["stage"] == "ensemble" and r["metric"] == metric)
        assert entry["n_seeds"] == 2 and 0 <= entry["ci_low"] <= entry["mean"] <= entry["ci_high"] <= 1
    assert "| ours: ensemble of seeds |" in (out / "report.md").read_text()


def test_task_ensembles_soft_vote_average_and_majority():
    from finabsa.tasks import build_task

    sentiment = build_task("sentiment")
    first = [{"probabilities": {"positive": 0.6, "neutral": 0.1, "negative": 0.3}}]
    second = [{"probabilities": {"positive": 0.2, "neutral": 0.1, "negative": 0.7}}]
    combined = sentiment.ensemble([first, second])[0]
    assert combined["label"] == "negative" and combined["probability"] == pytest.approx(0.5)
    regression = build_task("sentiment", {"mode": "regression"})
    assert regression.ensemble([[{"score": 0.3}], [{"score": -0.1}]])[0] == {"label": "neutral",
                                                                              "score": pytest.approx(0.1)}
    target = build_task("target")
    votes = [[{"target": "BP", "score": 0.2}], [{"target": "bp", "score": 0.3}], [{"target": "Shell", "score": 0.9}]]
    assert target.ensemble(votes)[0]["target"] == "BP"


@pytest.mark.slow
def test_study_resumes_an_interrupted_run_of_the_same_configuration(tmp_path, tiny_data, tiny_bert, monkeypatch):
    import finabsa
    from finabsa.study import _cell_config
    from finabsa.training import resumable as _resumable
    from test_faults import _interrupt_after_checkpoint, _Stop

    spec = load_study(_study_file(tmp_path, tiny_data, tiny_bert, seeds=[1]), output=str(tmp_path / "out"))
    cell = spec.cells[0]
    run_dir = tmp_path / "out" / "runs" / cell.slug / "seed-1"
    config = _cell_config({**spec.base, "training.checkpoint_steps": 2}, cell, 1, run_dir)
    config.overwrite = True
    _interrupt_after_checkpoint(monkeypatch, step=2)
    with pytest.raises(_Stop):
        finabsa.train(config, progress=False)
    monkeypatch.undo()
    assert _resumable(run_dir, config)
    # When checkpoints are written does not change what the run learns: it still resumes.
    cadence = _cell_config({**spec.base, "training.checkpoint_steps": 0, "training.checkpoint_minutes": 3}, cell, 1,
                           run_dir)
    cadence.overwrite = True
    assert _resumable(run_dir, cadence)
    changed = _cell_config({**spec.base, "training.checkpoint_steps": 2, "training.epochs": 2}, cell, 1, run_dir)
    changed.overwrite = True
    assert not _resumable(run_dir, changed)


def test_data_section_uses_the_default_data_set_when_the_study_names_none(tmp_path, tiny_data, tiny_bert, monkeypatch):
    from finabsa.reports.study_report import _data_section

    monkeypatch.setenv("FINABSA_DATA", str(tiny_data))
    path = _study_file(tmp_path, tiny_data, tiny_bert)
    spec = load_study(path, output=str(tmp_path / "out"))
    spec.base.pop("data.path")
    text = "\n".join(_data_section(spec))
    assert "unavailable" not in text and "| train |" in text and "Model selection used validation" in text


def test_report_only_without_finished_runs_says_so(tmp_path, tiny_data, tiny_bert, capsys):
    path = _study_file(tmp_path, tiny_data, tiny_bert)
    assert main(["study", str(path), "--report-only", "--output", str(tmp_path / "empty")]) == 2
    assert "no finished runs under" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "report.md").exists()


def test_quick_settings_win_over_cell_and_stage_settings(tmp_path, tiny_data, tiny_bert):
    path = _study_file(tmp_path, tiny_data, tiny_bert, stages={"s": {"settings": {"data.max_train_rows": 3000}}})
    spec_data = yaml.safe_load(path.read_text())
    spec_data["cells"][0]["settings"]["data.max_train_rows"] = 500
    path.write_text(yaml.safe_dump(spec_data))
    quick = load_study(path, quick=True)
    assert quick.cells[0].settings["data.max_train_rows"] == 20 and quick.stages["s"]["data.max_train_rows"] == 20
    assert load_study(path).cells[0].settings["data.max_train_rows"] == 500


def test_a_cell_trains_its_own_seeds_and_held_out_sets_get_their_table(tmp_path, tiny_data, tiny_bert):
    from finabsa.reports.study_report import _held_out_section, held_out_entries

    path = _study_file(tmp_path, tiny_data, tiny_bert)
    spec = yaml.safe_load(path.read_text())
    spec["cells"][1]["seeds"] = [2]
    path.write_text(yaml.safe_dump(spec))
    study = load_study(path, output=str(tmp_path / "out"))
    assert [c.seeds for c in study.cells] == [None, [2]]
    assert load_study(path, quick=True).cells[1].seeds == [1]  # --quick keeps the first seed when none is left
    spec["cells"][1]["seeds"] = "two"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="seeds must be a non-empty list of integers; found 'two'"):
        load_study(path)
    runs = []
    for seed, f1 in ((1, 0.5), (2, 0.7)):
        run = tmp_path / f"run-{seed}"
        run.mkdir()
        (run / "report.json").write_text(json.dumps({
            "held_out_tests": {"sentfin": {"n": 40, "pair_f1": f1, "never_trained_on": True},
                               "official": {"n": 9, "pair_f1": 0.6, "never_trained_on": False}}}))
        runs.append(str(run))
    results = [{"slug": study.cells[0].slug, "stage": "after", "runs": runs}]
    entries = held_out_entries(study, results)
    sentfin = next(e for e in entries if e["test_set"] == "sentfin")
    assert sentfin["kind"] == "cross-source (never trained on)" and sentfin["n_seeds"] == 2
    assert sentfin["pair_f1"]["mean"] == pytest.approx(0.6) and sentfin["pair_f1"]["sd"] == pytest.approx(0.1414, 1e-3)
    assert next(e for e in entries if e["test_set"] == "official")["kind"] == "in-source (held out)"
    assert any("| sentfin | cross-source (never trained on) | 40 | 2 | 0.600 ± 0.141 |" in line
               for line in _held_out_section(entries))
