"""Abstention: answers below a probability threshold are labelled 'uncertain' in predict, Pipeline and the API."""

from __future__ import annotations

import json

import pytest

from finabsa.errors import FinabsaError
from finabsa.inference.abstention import check_min_probability, withhold

RECORD = {"text": "Tesco up, BP down",
          "targets": [{"text": "Tesco", "sentiment": {"label": "positive", "probability": 0.91, "score": 0.5}},
                      {"text": "BP", "sentiment": {"label": "negative", "probability": 0.55, "score": -0.2}}],
          "aspect": {"label": "Stock/Price Action", "probability": 0.4, "levels": ["Stock"]}}


def test_answers_below_the_threshold_are_uncertain_and_keep_their_best_label():
    answer = withhold(RECORD, 0.6)
    tesco, bp = (t["sentiment"] for t in answer["targets"])
    assert tesco == RECORD["targets"][0]["sentiment"]
    assert bp == {"label": "uncertain", "best_label": "negative", "probability": 0.55, "score": -0.2}
    assert answer["aspect"]["label"] == "uncertain" and answer["aspect"]["best_label"] == "Stock/Price Action"
    assert RECORD["targets"][1]["sentiment"]["label"] == "negative"  # the input record is left as it was
    assert withhold(RECORD, None) is RECORD


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.2, "0.8", True])
def test_a_threshold_outside_zero_one_is_refused(value):
    with pytest.raises(FinabsaError, match="min_probability must be a number between 0 and 1"):
        check_min_probability(value)


def test_the_cli_refuses_a_threshold_outside_zero_one(capsys):
    from finabsa.cli import main

    assert main(["predict", "runs/none", "Tesco up", "--min-probability", "1.5"]) == 2
    assert "min_probability must be a number between 0 and 1 (exclusive), e.g. 0.8; found 1.5" in \
        capsys.readouterr().err


def test_the_api_takes_a_threshold_per_request(pipeline_runs):
    from fastapi.testclient import TestClient

    import finabsa
    from finabsa.inference.service import create_app

    pipeline = finabsa.Pipeline(pipeline_runs)
    with TestClient(create_app(pipeline)) as client:
        plain = client.post("/v1/analyze", json={"texts": ["Tesco shares surge"]}).json()["results"][0]
        strict = client.post("/v1/analyze", json={"texts": ["Tesco shares surge"],
                                                  "min_probability": 0.999}).json()["results"][0]
        bad = client.post("/v1/analyze", content=json.dumps({"texts": ["x"], "min_probability": 2}),
                          headers={"Content-Type": "application/json"})
    assert plain["sentiment"]["label"] != "uncertain"
    assert strict["sentiment"] == {**plain["sentiment"], "label": "uncertain",
                                   "best_label": plain["sentiment"]["label"]}
    assert bad.status_code == 422 and "min_probability must be a number between 0 and 1" in bad.json()["error"][
        "message"]
    assert finabsa.Pipeline(pipeline_runs, min_probability=0.999).analyze(
        ["Tesco shares surge"])[0]["sentiment"]["label"] == "uncertain"
