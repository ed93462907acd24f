"""The Ray Data engine on local Ray with 2 CPUs (offline): records identical to streaming ``predict``, shards with
bad rows, folders, globs and parquet, the Python API on a ``ray.data.Dataset``, and its errors."""

from __future__ import annotations

import json
import sys

import pytest

from finabsa.cli import main
from finabsa.errors import FinabsaError
from finabsa.inference.ray_engine import (
    PipelineSpec,
    RayOptions,
    import_ray,
    input_files,
    predict_corpus,
    predict_dataset,
    read_records,
)

ROWS = ['{"text": "Tesco shares surge after strong results", "id": 1}', "", "{not json",
        '{"id": 4, "note": "no text"}', '{"text": "Barclays shares fall", "target": "Barclays PLC", "id": 5}',
        "BP fined over spill", '{"sentence": "Glencore appoints new chairman", "source": "wire"}']


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def pipeline_file(pipeline_runs, tmp_path_factory):
    path = tmp_path_factory.mktemp("ray_pipeline") / "pipeline.yaml"
    path.write_text("".join(f"{task}: {folder}\n" for task, folder in pipeline_runs.items()))
    return path


def streamed(capsys, *args) -> list[dict]:
    assert main(["predict", *args, "--quiet"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_records_are_identical_to_streaming_predict_bad_rows_included(local_ray, pipeline_file, tmp_path, capsys):
    source = tmp_path / "news.jsonl"
    source.write_text("\n".join(ROWS) + "\n")
    assert main(["predict", "--pipeline", str(pipeline_file), "--engine", "ray", str(source), "--output",
                 str(tmp_path / "out"), "--actors", "2", "--quiet"]) == 0
    capsys.readouterr()
    expected = streamed(capsys, "--pipeline", str(pipeline_file), str(source))
    assert read_records(tmp_path / "out") == expected
    errors = [r["error"] for r in expected if "error" in r]
    assert len(errors) == 4 and "blank line" in errors[0] and "not valid JSON" in errors[1]
    assert "has no text" in errors[2] and "line 6: not valid JSON" in errors[3]  # JSON lines: plain text is bad


def test_a_folder_or_glob_of_csv_shards_with_a_bad_row(local_ray, pipeline_runs, tmp_path, capsys):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.csv").write_text("id,headline\n1,Tesco shares surge\n2,\n3,BP fined over spill\n")
    (shards / "b.csv").write_text("id,headline\n4,Glencore appoints new chairman\n")
    for source, out in ((shards, "from-folder"), (str(shards / "*.csv"), "from-glob")):
        written = predict_corpus(str(source), str(tmp_path / out), PipelineSpec(str(pipeline_runs["aspect"])),
                                 RayOptions(actors=1), progress=False)
        records = read_records(tmp_path / out)
        assert written == len(records) == 4
        assert [r["input"]["id"] for r in records] == ["1", "2", "3", "4"]
        assert "column 'headline' is empty" in records[1]["error"] and "aspect" not in records[1]
        assert all(r["aspect"]["label"] for r in records if "error" not in r)
    expected = [r for f in ("a.csv", "b.csv")
                for r in streamed(capsys, "--pipeline", str(pipeline_runs["aspect"]), str(shards / f))]
    assert read_records(tmp_path / "from-glob") == expected


def test_parquet_columns_pass_through_with_their_types(local_ray, pipeline_runs, tmp_path, capsys):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": [10, 11, 12], "text": ["Tesco shares surge", None, "BP fined over spill"],
                      "published": [datetime.datetime(2026, 12, 1, 9, 30)] * 3})
    pq.write_table(table, tmp_path / "news.parquet")
    predict_corpus(str(tmp_path / "news.parquet"), str(tmp_path / "out"), PipelineSpec(str(pipeline_runs["aspect"])),
                   progress=False)
    written = pq.read_table(tmp_path / "out")
    assert written.schema.field("id").type == pa.int64() and written.schema.field("published").type.unit == "us"
    records = read_records(tmp_path / "out")
    assert [r["id"] for r in records] == [10, 11, 12] and "is empty" in records[1]["error"]
    streamed_records = streamed(capsys, "--pipeline", str(pipeline_runs["aspect"]), str(tmp_path / "news.parquet"))
    assert records[1]["error"] == "column 'text' is empty"  # streaming also names the row: "news.parquet, row 2"
    strip = [{k: v for k, v in r.items() if k not in ("id", "published", "input", "error")} for r in records]
    assert strip == [{k: v for k, v in r.items() if k not in ("input", "error")} for r in streamed_records]
    assert streamed_records[0]["input"]["id"] == 10  # streaming carries the same columns under "input"


def test_predict_dataset_takes_and_returns_a_ray_dataset(local_ray, pipeline_runs):
    dataset = local_ray.data.from_items([{"headline": "Tesco shares surge", "desk": "uk"},
                                         {"headline": "$TSLA breaking out", "desk": "us"}])
    records = predict_dataset(dataset, PipelineSpec(str(pipeline_runs["target"])), text_column="headline")
    rows = records.take_all()
    assert [row["text"] for row in rows] == ["Tesco shares surge", "$TSLA breaking out"]
    assert [row["desk"] for row in rows] == ["uk", "us"]
    assert all(json.loads(row["targets"][0])["text"] for row in rows)


def test_documents_on_ray_match_streaming_documents(local_ray, pipeline_runs, tmp_path, capsys):
    source = tmp_path / "articles.jsonl"
    source.write_text(json.dumps({"text": "Tesco shares surge. BP fined over spill. Shell flat.", "id": 1}) + "\n")
    predict_corpus(str(source), str(tmp_path / "out"), PipelineSpec(str(pipeline_runs["target"]), documents=True),
                   progress=False)
    expected = streamed(capsys, str(pipeline_runs["target"]), "--documents", str(source))
    assert read_records(tmp_path / "out") == expected and len(expected[0]["sentences"]) == 3


def test_without_ray_the_flag_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(FinabsaError, match=r"--engine ray needs Ray Data.*pip install 'finabsa\[ray\]'"):
        import_ray()


def test_ray_input_and_option_errors(tmp_path):
    with pytest.raises(FinabsaError, match="no input files at .*give a file, a folder of shards or a glob"):
        input_files(str(tmp_path / "*.parquet"))
    assert RayOptions(actors=0, cpus_per_actor=0).problems() == ["--actors must be >= 1; found 0",
                                                                 "--cpus-per-actor must be > 0; found 0"]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.parquet").write_text("x")
    (tmp_path / "in.txt").write_text("Tesco up\n")
    pytest.importorskip("ray")
    with pytest.raises(FinabsaError, match="output folder .* exists and is not empty"):
        predict_corpus(str(tmp_path / "in.txt"), str(tmp_path / "out"), PipelineSpec("runs/none"))


def test_gpu_actors_need_the_torch_runtime_and_the_command_names_what_it_takes(tmp_path, capsys):
    pytest.importorskip("ray")
    assert main(["predict", "runs/joint", "--engine", "ray", str(tmp_path), "--output", str(tmp_path / "o"),
                 "--gpus-per-actor", "1", "--runtime", "onnx"]) == 2
    assert "--gpus-per-actor runs the models on PyTorch" in capsys.readouterr().err
    assert main(["predict", "runs/joint", "--engine", "ray"]) == 2
    assert "takes RUN_DIR (or --pipeline FILE), one INPUT" in capsys.readouterr().err
