"""Exported models answer like the run they came from: merged and ONNX fp32 exactly (labels), int8 within a stated
tolerance; export folders plug into predict and the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import finabsa
from finabsa.cli import main
from finabsa.constants import RUNTIMES
from finabsa.errors import FinabsaError
from finabsa.inference.export import export_run
from finabsa.inference.pipeline import Pipeline
from finabsa.run_layout import adapter_hash

SENTENCES = ["Tesco shares surge after strong results", "$HSBC looks weak, shorting", "Glencore appoints new chairman",
             "BP fined by regulator over failings", "Vodafone to report results on Tuesday", "Nokia raises dividend"]
#: int8 dynamic quantisation perturbs probabilities; on the tiny random models here by well under this much.
INT8_PROBABILITY_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def exports(pipeline_runs, tmp_path_factory):
    parent = tmp_path_factory.mktemp("exports")
    return {name: export_run(pipeline_runs[name], parent / name, onnx=True, int8=True)
            for name in ("aspect", "target")}


def test_export_folder_layout_and_plain_transformers_loading(exports):
    from transformers import AutoModelForSequenceClassification

    folder = exports["aspect"]
    for name in ("config.json", "model.safetensors", "finabsa.json", "model.onnx", "model.int8.onnx",
                 "tokenizer.json"):
        assert (folder / name).is_file(), name
    info = json.loads((folder / "finabsa.json").read_text())
    assert info["runtimes"] == ["torch", "onnx", "onnx-int8"] and info["source_method"] == "lora"
    model = AutoModelForSequenceClassification.from_pretrained(str(folder))
    assert model.config.id2label[0] == info["labels"][0]


@pytest.mark.parametrize("task, key", [("aspect", "label"), ("target", "target")])
def test_merged_and_onnx_agree_with_the_adapter(pipeline_runs, exports, task, key):
    reference = finabsa.load(pipeline_runs[task]).predict(SENTENCES)
    merged = finabsa.load(pipeline_runs[task], merge=True).predict(SENTENCES)
    exported = {runtime: finabsa.load(exports[task], runtime=runtime).predict(SENTENCES) for runtime in RUNTIMES}
    for candidate in (merged, exported["torch"], exported["onnx"]):
        assert [p[key] for p in candidate] == [p[key] for p in reference]
    if task == "aspect":
        for runtime in ("torch", "onnx"):
            assert np.allclose([p["probability"] for p in exported[runtime]],
                               [p["probability"] for p in reference], atol=1e-4)
        int8 = [p["probabilities"] for p in exported["onnx-int8"]]
        fp32 = [p["probabilities"] for p in reference]
        gaps = [abs(a[label] - b[label]) for a, b in zip(int8, fp32) for label in a]
        assert max(gaps) < INT8_PROBABILITY_TOLERANCE
    else:
        # Span targets: the int8 answer overlaps the fp32 one (same tokens, or a neighbouring word boundary).
        assert all(p["target"] for p in exported["onnx-int8"])


def test_pipeline_runs_on_export_folders(pipeline_runs, exports):
    runs = {"target": exports["target"], "aspect": exports["aspect"], "sentiment": pipeline_runs["sentiment"]}
    onnx = Pipeline(runs, runtime="onnx").analyze(SENTENCES)
    torch_records = Pipeline(pipeline_runs).analyze(SENTENCES)
    assert [r["aspect"]["label"] for r in onnx] == [r["aspect"]["label"] for r in torch_records]
    assert [r["sentiment"]["label"] for r in onnx] == [r["sentiment"]["label"] for r in torch_records]
    described = Pipeline(runs, runtime="onnx").describe()["models"]
    assert described["aspect"]["runtime"] == "onnx"
    assert described["sentiment"]["runtime"] == "onnx"  # a run folder: exported into the cache on the way


def test_export_cli_and_runtime_errors(pipeline_runs, exports, tmp_path, capsys):
    assert main(["export", str(pipeline_runs["aspect"]), "--output", str(tmp_path / "merged")]) == 0
    assert (tmp_path / "merged" / "model.safetensors").is_file() and not (tmp_path / "merged" / "model.onnx").exists()
    assert main(["predict", str(tmp_path / "merged"), "Shell up", "--runtime", "onnx"]) == 2
    assert "has no onnx model (it has: torch); export with --onnx" in capsys.readouterr().err
    assert main(["predict", str(exports["aspect"]), "Shell up", "--runtime", "onnx-int8"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == "Shell up"


def test_a_run_folder_on_onnx_is_exported_once_into_the_cache_keyed_by_its_adapter(pipeline_runs, exports,
                                                                                    tmp_path, monkeypatch, capsys):
    import finabsa.inference.export as export_module

    monkeypatch.setenv(export_module.CACHE_ENV, str(tmp_path / "cache"))
    assert main(["predict", str(pipeline_runs["aspect"]), "Shell up", "--runtime", "onnx-int8"]) == 0
    from_cache = json.loads(capsys.readouterr().out)
    assert main(["predict", str(exports["aspect"]), "Shell up", "--runtime", "onnx-int8"]) == 0
    assert from_cache == json.loads(capsys.readouterr().out)  # the same model as 'finabsa export' writes
    cached = list((tmp_path / "cache" / "exports").iterdir())
    key = adapter_hash(Path(pipeline_runs["aspect"]) / "model")
    assert [p.name for p in cached if p.is_dir()] == [f"aspect-{key}"]

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged run was exported again")

    monkeypatch.setattr(export_module, "export_run", refuse)
    pipeline = Pipeline({"aspect": pipeline_runs["aspect"]}, runtime="onnx")  # from the cache, not exported again
    assert pipeline.describe()["models"]["aspect"]["runtime"] == "onnx"


@pytest.mark.slow
def test_generative_targets_are_not_exported_to_onnx(tiny_data, tiny_t5, tmp_path):
    from conftest import quick_config

    run = finabsa.train(quick_config(tiny_data, tiny_t5, tmp_path / "gen", task="target",
                                     task_options={"method": "generate"}), progress=False).run_dir
    with pytest.raises(FinabsaError, match="ONNX export covers encoder tasks"):
        export_run(run, tmp_path / "gen-export", onnx=True)
    merged = export_run(run, tmp_path / "gen-merged")
    answer = finabsa.load(merged).predict(["Shell up"])[0]["target"]
    assert answer == finabsa.load(run).predict(["Shell up"])[0]["target"]
