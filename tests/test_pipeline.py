"""The three-task pipeline: one record per sentence, the same answers as each run's own predict, clear load errors,
and streaming prediction over files."""

from __future__ import annotations

import csv
import io
import json
import sys

import pytest

import finabsa
from finabsa.cli import main
from finabsa.errors import FinabsaError, RunFolderError
from finabsa.inference.pipeline import Pipeline, read_pipeline_file
from finabsa.inference.streams import BadRow, flatten_record, read_inputs

SENTENCES = ["Tesco shares surge after strong results", "$HSBC looks weak, shorting",
             "Glencore appoints new chairman", "BP fined by regulator over failings",
             "Vodafone to report results on Tuesday today after a long and busy quarter of trading"]


@pytest.fixture(scope="module")
def pipeline(pipeline_runs):
    return Pipeline(pipeline_runs, batch_size=2)


def test_records_have_every_task_in_input_order(pipeline):
    records = pipeline.analyze(SENTENCES)
    assert [r["text"] for r in records] == SENTENCES
    assert pipeline.tasks.index("sentiment") > max(pipeline.tasks.index("target"), pipeline.tasks.index("aspect"))
    for record in records:
        assert set(record) == {"text", "targets", "aspect", "sentiment"}
        target = record["targets"][0]
        assert record["text"][target["start"]:target["end"]] == target["text"] and 0 < target["score"] <= 1
        assert record["aspect"]["level"] == "full" and 0 < record["aspect"]["probability"] <= 1
        assert record["sentiment"]["label"] in {"positive", "neutral", "negative"}


def test_batch_size_and_length_sorting_do_not_change_answers(pipeline_runs, pipeline):
    one_by_one = Pipeline(pipeline_runs, batch_size=1).analyze(SENTENCES)
    assert _rounded(one_by_one) == _rounded(pipeline.analyze(SENTENCES))
    assert _rounded(pipeline.analyze(SENTENCES[::-1])) == _rounded(one_by_one[::-1])


def _rounded(records):
    return json.loads(json.dumps(records), parse_float=lambda x: round(float(x), 4))


def test_pipeline_equals_each_runs_own_predict(pipeline_runs, pipeline):
    records = pipeline.analyze(SENTENCES)
    targets = finabsa.load(pipeline_runs["target"]).predict(SENTENCES)
    aspects = finabsa.load(pipeline_runs["aspect"]).predict(SENTENCES)
    # The sentiment run was trained on "{target}; {aspects}": fed the other runs' predictions, as the pipeline does.
    sentiments = finabsa.load(pipeline_runs["sentiment"]).predict(
        [{"sentence": s, "target": t["target"], "aspects": [a["label"]]}
         for s, t, a in zip(SENTENCES, targets, aspects)]
    )
    for record, target, aspect, sentiment in zip(records, targets, aspects, sentiments):
        assert record["targets"][0]["text"] == target["target"]
        assert record["aspect"]["label"] == aspect["label"]
        assert record["aspect"]["probability"] == pytest.approx(aspect["probability"], abs=1e-5)
        assert record["sentiment"]["label"] == sentiment["label"]
        assert record["sentiment"]["probability"] == pytest.approx(sentiment["probability"], abs=1e-5)


def test_any_subset_of_tasks_and_given_fields(pipeline_runs):
    only_target = Pipeline({"target": pipeline_runs["target"]})
    assert set(only_target.analyze(["Shell up"])[0]) == {"text", "targets"}
    given = Pipeline({"sentiment": pipeline_runs["sentiment"], "target": pipeline_runs["target"],
                      "aspect": pipeline_runs["aspect"]})
    record = given.analyze([{"text": "Shell up", "target": "Shell"}])[0]
    assert record["sentiment"] is not None


@pytest.mark.parametrize("runs, message", [
    ({}, "at least one task"),
    ({"sentimnet": "x"}, "unknown task.*sentimnet"),
    ({"aspect": "TARGET_RUN"}, "trained for task 'target'; map 'target' to it"),
    ({"sentiment": "SENTIMENT_RUN"}, r"reads aspects, target in its input template.*add a run"),
    ({"target": "/nonexistent/run"}, "does not exist"),
])
def test_load_errors_say_what_to_fix(pipeline_runs, runs, message):
    paths = {"TARGET_RUN": pipeline_runs["target"], "SENTIMENT_RUN": pipeline_runs["sentiment"]}
    runs = {task: paths.get(run, run) for task, run in runs.items()}
    with pytest.raises((FinabsaError, RunFolderError), match=message):
        Pipeline(runs)


def test_pipeline_file_resolves_relative_folders(pipeline_runs, tmp_path):
    parent = pipeline_runs["target"].parent
    file = parent / "pipeline.yaml"
    file.write_text("target: target\naspect: aspect\nsentiment: sentiment\n")
    assert read_pipeline_file(file) == {name: parent / name for name in ("target", "aspect", "sentiment")}
    bad = tmp_path / "bad.yaml"
    bad.write_text("target: 3\n")
    with pytest.raises(FinabsaError, match="'target' must name a run folder"):
        read_pipeline_file(bad)


# -- streaming CLI ----------------------------------------------------------------------------------------------
def _pipeline_file(pipeline_runs, tmp_path):
    file = tmp_path / "pipeline.yaml"
    file.write_text("".join(f"{task}: {path}\n" for task, path in pipeline_runs.items()))
    return file


def test_predict_pipeline_csv_in_csv_out(pipeline_runs, tmp_path):
    source = tmp_path / "headlines.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title"])
        writer.writerows([[1, SENTENCES[0]], [2, ""], [3, SENTENCES[1]]])
    out = tmp_path / "records.csv"
    status = main(["predict", "--pipeline", str(_pipeline_file(pipeline_runs, tmp_path)), str(source),
                   "--text-column", "title", "--output-format", "csv", "--output", str(out), "--quiet"])
    assert status == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["text"] for r in rows] == [SENTENCES[0], "", SENTENCES[1]]
    assert {"target_text", "target_start", "aspect_label", "sentiment_label", "sentiment_probability"} <= set(rows[0])
    assert rows[1]["error"] == "headlines.csv, row 3: column 'title' is empty" and rows[0]["error"] == ""


def test_predict_pipeline_jsonl_from_stdin_with_bad_lines(pipeline_runs, tmp_path, capsys, monkeypatch):
    stdin = f'{SENTENCES[0]}\n{{"text": "{SENTENCES[2]}"}}\n{{not json\n\n{{"text": ""}}\n'
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["predict", "--pipeline", str(_pipeline_file(pipeline_runs, tmp_path))]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines[:2]] == [SENTENCES[0], SENTENCES[2]]
    assert "sentiment" in lines[0] and "error" not in lines[0]
    assert lines[2]["error"].startswith("stdin, line 3: not valid JSON")
    assert lines[3]["error"] == "stdin, line 4: blank line: no text to analyse"  # output lines match input lines
    assert "has no text" in lines[4]["error"]


def test_read_inputs_formats_and_errors(tmp_path):
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"text": "a b"}\n[1]\n')
    items = list(read_inputs(str(jsonl)))
    assert items[0] == {"text": "a b"} and isinstance(items[1], BadRow) and "found list" in items[1].message
    tsv = tmp_path / "in.tsv"
    tsv.write_text("headline\tx\nShell up\t1\n")
    assert list(read_inputs(str(tsv))) == [{"text": "Shell up", "_input": {"x": "1"}}]
    with pytest.raises(FinabsaError, match="has none of the columns text, sentence.*--text-column"):
        list(read_inputs(str(tsv), input_format="csv"))
    with pytest.raises(FinabsaError, match="does not exist"):
        list(read_inputs(str(tmp_path / "missing.txt")))


def test_flatten_record_for_csv():
    record = {"text": "t", "targets": [{"text": "BP", "start": 0}], "aspect": {"label": "A/B", "level": "2"},
              "sentiment": None}
    assert flatten_record(record) == {"text": "t", "target_text": "BP", "target_start": 0, "targets": "BP",
                                      "aspect_label": "A/B", "aspect_level": "2", "sentiment": None}
    assert flatten_record({"targets": []}) == {"target_text": "", "targets": ""}
    several = {"targets": [{"text": "Barclays", "sentiment": {"label": "positive"}},
                           {"text": "Lloyds", "sentiment": {"label": "negative"}}]}
    assert flatten_record(several)["targets"] == "Barclays: positive; Lloyds: negative"


def test_shipped_pipeline_file_names_the_three_study_runs():
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "configs" / "pipeline-fiqa.yaml"
    runs = read_pipeline_file(shipped)
    assert set(runs) == {"target", "aspect", "sentiment"}
    assert all("reports/study-fiqa/runs" in path.as_posix() for path in runs.values())
