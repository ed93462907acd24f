"""Models a user can share: model cards in the Hub's format, push (dry run, no token), loading by Hub id."""

from __future__ import annotations

import shutil

import pytest

import finabsa
from finabsa.cli import main


def test_the_run_folders_card_parses_as_a_hub_model_card(calibrated_run):
    from huggingface_hub import ModelCard, metadata_load

    card_file = calibrated_run.run_dir / "README.md"
    metadata = metadata_load(card_file)
    assert metadata["library_name"] == "finabsa" and metadata["license"] == "apache-2.0"
    assert metadata["pipeline_tag"] == "text-classification" and "finabsa" in metadata["tags"]
    assert metadata["datasets"] and metadata["base_model"]
    results = metadata["model-index"][0]["results"]
    accuracy = next(m for r in results for m in r["metrics"] if m["name"] == "accuracy")
    assert accuracy["value"] == pytest.approx(calibrated_run.report["after"]["accuracy"], abs=1e-4)
    card = ModelCard.load(card_file)
    assert card.data.to_dict()["library_name"] == "finabsa"
    for section in ("## Intended use", "## Training data and heads", "## Limitations", "## How to load"):
        assert section in card.text
    assert "calibrated on the validation split" in card.text


def test_a_model_that_learned_from_non_commercial_data_carries_that_licence_on_its_card(tmp_path):
    from huggingface_hub import metadata_load

    from finabsa.reports.model_card import model_card

    info = {"task": "joint", "base_model": "minilm", "method": "full", "seed": 42}
    plain = {"data": {"path": "../shared/data/fiqa2018", "also_train": [{"path": "../shared/data/sentfin"}]}}
    with_phrasebank = {"data": {**plain["data"], "also_train": [
        {"path": "../shared/data/sentfin"}, {"path": "../shared/data/financial_phrasebank", "unlabelled": True}]}}
    cards = {}
    for name, config in (("plain", plain), ("phrasebank", with_phrasebank)):
        card = model_card(info, config, {"after": {}}, ["Market"], name, "token-classification")
        (tmp_path / f"{name}.md").write_text(card, encoding="utf-8")
        cards[name] = (metadata_load(tmp_path / f"{name}.md")["license"], card)
    assert cards["plain"][0] == "apache-2.0" and "Training data licence" not in cards["plain"][1]
    assert cards["phrasebank"][0] == "cc-by-nc-sa-3.0"
    assert "Training data licence: Financial PhraseBank, CC BY-NC-SA 3.0" in cards["phrasebank"][1]
    assert "targets of these kinds only" not in cards["plain"][1]
    options = {"source_conventions": ["fiqa", "sentfin"], "answer_as": "sentfin", "answer_kinds": ["company", "index"]}
    card = model_card({**info, "task_options": options}, plain, {"after": {}}, ["Market"], "kinds",
                      "token-classification")
    assert "answers your text as 'sentfin' does. Your text is answered with targets of these kinds only: company, " \
           "index" in card


def test_an_export_folder_has_its_card_too(calibrated_run, tmp_path):
    from huggingface_hub import metadata_load

    from finabsa.inference.export import export_run

    folder = export_run(calibrated_run.run_dir, tmp_path / "export")
    assert metadata_load(folder / "README.md")["library_name"] == "finabsa"


def test_push_dry_run_lists_the_files_and_the_card_without_a_network(calibrated_run, capsys):
    assert main(["push", str(calibrated_run.run_dir), "--repo-id", "my-team/tiny-sentiment", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "would upload" in printed and "  model/adapter_model.safetensors" in printed and "library_name" in printed
    assert "checkpoints" not in printed


def test_a_push_without_a_token_says_how_to_log_in(calibrated_run, monkeypatch, capsys):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert main(["push", str(calibrated_run.run_dir), "--repo-id", "my-team/tiny-sentiment"]) == 2
    assert "no Hugging Face token: log in with 'hf auth login' (or set HF_TOKEN)" in capsys.readouterr().err
    assert main(["push", str(calibrated_run.run_dir), "--repo-id", "not a repo", "--dry-run"]) == 2
    assert "--repo-id must read ORG/NAME" in capsys.readouterr().err


def _hub_cache(root, repo_id: str, folder) -> None:
    """``folder`` laid out as the Hub's cache lays out a downloaded model repository."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(folder, repo / "snapshots" / commit)


def test_a_pushed_run_loads_by_its_hub_id_from_the_cache_offline(calibrated_run, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub

    _hub_cache(tmp_path / "hub", "my-team/tiny-sentiment", calibrated_run.run_dir)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    texts = ["Tesco shares surge after strong results"]
    assert finabsa.load("my-team/tiny-sentiment").predict(texts) == finabsa.load(calibrated_run.run_dir).predict(texts)
    pipeline_file = tmp_path / "pipeline.yaml"
    pipeline_file.write_text("sentiment: my-team/tiny-sentiment\n")
    assert finabsa.Pipeline.from_file(pipeline_file).analyze(texts)[0]["sentiment"]["label"]
    with pytest.raises(finabsa.FinabsaError, match="the Hub's cache holds no copy of it"):
        finabsa.load("my-team/never-pushed")


def test_a_mistyped_local_folder_is_not_taken_for_a_hub_id(tmp_path, monkeypatch, capsys):
    from finabsa.inference.share import looks_like_hub_id

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert looks_like_hub_id("my-team/finabsa-joint")
    assert not looks_like_hub_id("runs/typo") and not looks_like_hub_id("configs/pipeline.yaml")
    assert main(["predict", "runs/typo", "Tesco up"]) == 2
    assert "run folder 'runs/typo' does not exist" in capsys.readouterr().err


def test_serve_takes_a_run_folder_and_target_objects(calibrated_run):
    from fastapi.testclient import TestClient

    from finabsa.inference.service import create_app

    pipeline = finabsa.Pipeline.from_path(calibrated_run.run_dir)
    assert pipeline.tasks == ["sentiment"]
    with TestClient(create_app(pipeline)) as client:
        answer = client.post("/v1/analyze", json={"texts": [{"text": "Tesco shares surge", "target": "Tesco"},
                                                            "BP fined"]})
        bad = client.post("/v1/analyze", json={"texts": [{"text": "x", "company": "BP"}]})
    assert answer.status_code == 200 and [r["text"] for r in answer.json()["results"]] == ["Tesco shares surge",
                                                                                          "BP fined"]
    assert bad.status_code == 422 and "an object with a string 'text' and, optionally, a string 'target'" in \
        bad.json()["error"]["message"]
