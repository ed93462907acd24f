"""Calibrated probabilities: temperature scaling fitted on validation, its metrics, its fallbacks, and that every
runtime applies it the same way."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import finabsa
from conftest import quick_config
from finabsa.data.records import Example
from finabsa.models.calibration import Calibration, fit_calibration, fit_temperature
from finabsa.tasks import HeadSpec, build_task
from finabsa.tasks.base import softmax
from finabsa.tasks.metrics import calibration_metrics, coverage_curve


def _synthetic(temperature: float, rows: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / temperature): ``temperature`` is the right answer."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(rows, 3))
    probabilities = softmax(logits / temperature)
    labels = np.array([rng.choice(3, p=p) for p in probabilities])
    return logits, labels


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_the_temperature_is_recovered_from_synthetic_logits(temperature):
    logits, labels = _synthetic(temperature)
    assert fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)


def test_calibration_lowers_the_error_of_over_confident_probabilities():
    logits, labels = _synthetic(2.5)
    before = calibration_metrics(softmax(logits), labels)
    after = calibration_metrics(softmax(logits / fit_temperature(logits, labels)), labels)
    assert before["confidence"] > before["accuracy"] + 0.05  # over-confident, as a fine-tuned model is
    assert after["ece"] < before["ece"] / 3 and after["nll"] < before["nll"] and after["brier"] < before["brier"]
    assert after["accuracy"] == before["accuracy"]  # a temperature never changes the top class


def test_the_coverage_curve_withholds_the_least_confident_answers():
    logits, labels = _synthetic(1.0, rows=2000)
    curve = coverage_curve(softmax(logits), labels, thresholds=(0.0, 0.6, 0.9))
    assert curve[0]["coverage"] == 1.0 and curve[0]["coverage"] > curve[1]["coverage"] > curve[2]["coverage"]
    assert curve[0]["accuracy"] < curve[1]["accuracy"] < curve[2]["accuracy"]


def test_a_head_that_cannot_be_fitted_stays_uncalibrated_and_says_why(caplog):
    spec = HeadSpec("sequence-classification", size=3)
    pairs = {"class": (np.zeros((50, 3)), np.zeros(50, dtype=int))}
    calibration = fit_calibration(pairs, spec, min_rows=30)
    assert calibration.temperatures == {} and "all have one class" in calibration.skipped["class"]
    assert "calibration of head 'class' left out" in caplog.text
    few = fit_calibration({"class": (np.zeros((5, 3)), np.arange(5) % 3)}, spec, min_rows=30)
    assert "5 validation rows, fewer than calibration.min_rows (30)" in few.skipped["class"]


def test_calibration_divides_only_the_columns_of_a_head():
    calibration = Calibration(temperatures={"sentiment": 2.0},
                              outputs={"sentiment": [["sentiment_token", 0, 3]]})
    outputs = {"sentiment_token": torch.ones(1, 2, 4)}
    scaled = calibration.apply(outputs)["sentiment_token"]
    assert torch.equal(scaled[..., :3], torch.full((1, 2, 3), 0.5)) and torch.equal(scaled[..., 3], torch.ones(1, 2))
    assert torch.equal(Calibration(temperatures={"class": 4.0}, outputs={"class": [["logits", None, None]]})
                       .apply(torch.full((2, 3), 8.0)), torch.full((2, 3), 2.0))


# Leaf logits of one sentence over a tree where category A has three leaves and B one. The model's own
# probabilities put B ahead (e^2.5 against 3 e^1); divided by a temperature of 3 they flatten, and A's three leaves
# sum to more than B's one: a top-down reading of the calibrated probabilities would answer A.
TREE_LEAVES = ["A/x/1", "A/x/2", "A/x/3", "B/y/1"]
TREE_LOGITS = [[1.0, 1.0, 1.0, 2.5]]


@pytest.mark.parametrize(("level", "answer"), [("1", "B"), ("2", "B/y"), ("full", "B/y/1")])
def test_calibration_never_changes_the_aspect_trees_answer(level, answer):
    task = build_task("aspect", {"head": "hierarchical", "level": level})
    outputs = torch.tensor(TREE_LOGITS)
    calibrated = Calibration(temperatures={"class": 3.0}, outputs={"class": [["logits", None, None]]}).apply(outputs)
    assert task.decode(calibrated, [{}], [None], TREE_LEAVES, None)[0]["label"].startswith("A")  # the trap
    decoded = task.decode_calibrated(outputs, calibrated, [{}], [None], TREE_LEAVES, None)[0]
    own = task.decode(outputs, [{}], [None], TREE_LEAVES, None)[0]
    assert decoded["label"] == own["label"] == answer and decoded["levels"] == own["levels"]
    # Its probability is the calibrated one: B's leaf under softmax(logits / 3).
    assert decoded["probability"] == pytest.approx(float(softmax(np.array(TREE_LOGITS) / 3.0)[0, 3]), abs=1e-6)
    assert outputs.tolist() == TREE_LOGITS  # the calibrated copy left the model's outputs as they were


def test_calibration_never_changes_the_span_a_target_run_answers():
    # A span's score multiplies its tokens' tag probabilities: flattened by a temperature of 3, the uncertain
    # "Banking" and "Group" pull the three-word name below "Lloyds" alone, which the model itself ranks lower.
    task = build_task("target")
    sentence = [Example(sentence="Lloyds Banking Group shares rise")]
    feature = {"_real": [False, True, True, True, True, True, False],
               "_offsets": [(0, 0), (0, 6), (7, 14), (15, 20), (21, 27), (28, 32), (0, 0)]}
    logits = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, -1.0, 0.6], [0.0, -1.0, 2.5], [4.0, 0.0, 0.0],
                            [4.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    calibrated = Calibration(temperatures={"tags": 3.0}, outputs={"tags": [["logits", None, None]]}).apply(logits)
    tags = ["O", "B", "I"]
    assert task.decode(calibrated, [feature], sentence, tags, None)[0]["target"] == "Lloyds"  # the trap
    own = task.decode(logits, [feature], sentence, tags, None)
    assert task.decode_calibrated(logits, calibrated, [feature], sentence, tags, None) == own
    assert own[0]["target"] == "Lloyds Banking Group"


def test_a_run_fits_on_validation_reports_and_saves_its_calibration(calibrated_run):
    run, report = calibrated_run.run_dir, calibrated_run.report
    saved = json.loads((run / "calibration.json").read_text())
    assert set(saved["temperatures"]) == {"class"} and saved["temperatures"]["class"] > 0
    for split in ("validation", "test"):
        entry = report["calibration"][split]["class"]
        assert set(entry["before"]) >= {"ece", "brier", "nll"}
        assert entry["temperature"] == saved["temperatures"]["class"]
    assert json.loads((run / "run.json").read_text())["calibration"]["temperatures"] == saved["temperatures"]
    assert (run / "reliability_class.png").is_file() and "## Calibration" in (run / "report.md").read_text()
    # The run's own test predictions are the calibrated ones, and a reloaded run answers the same.
    saved_rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    reloaded = finabsa.load(run).predict([row["sentence"] for row in saved_rows])
    assert [round(r["probability"], 6) for r in reloaded] == [round(r["probability"], 6) for r in saved_rows]


def test_torch_and_onnx_apply_the_same_calibration(calibrated_run, tmp_path):
    from finabsa.inference.export import export_run

    folder = export_run(calibrated_run.run_dir, tmp_path / "export", onnx=True)
    assert (folder / "calibration.json").is_file()
    texts = ["Tesco shares surge after strong results", "BP fined by regulator over failings"]
    run = finabsa.load(calibrated_run.run_dir).predict(texts)
    for runtime in ("torch", "onnx"):
        answers = finabsa.load(folder, runtime=runtime).predict(texts)
        assert [a["label"] for a in answers] == [r["label"] for r in run]
        assert [a["probability"] for a in answers] == pytest.approx([r["probability"] for r in run], abs=1e-4)
    uncalibrated = finabsa.load(folder, runtime="onnx")
    uncalibrated.calibration = None
    assert [a["probability"] for a in uncalibrated.predict(texts)] != pytest.approx(
        [r["probability"] for r in run], abs=1e-4)


@pytest.mark.slow
def test_calibration_method_none_turns_it_off(tiny_data, tiny_bert, tmp_path):
    config = quick_config(tiny_data, tiny_bert, tmp_path / "run", calibration={"method": "none"})
    result = finabsa.train(config, progress=False)
    assert not (result.run_dir / "calibration.json").exists() and result.report["calibration"] == {"method": "none"}
    assert finabsa.load(result.run_dir).calibration is None
