from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from conftest import SHARED_FIQA, write_split
from finabsa import DataError
from finabsa.data import (
    carve,
    default_data_path,
    load_fiqa,
    normalise_sentence,
    parse_aspects,
    parse_score,
    prepare_splits,
    repair_text,
)
from finabsa.tasks import build_task

needs_shared = pytest.mark.skipif(not SHARED_FIQA.is_dir(), reason="../shared/data/fiqa2018 not present")


@needs_shared
def test_shipped_split_folder_loads_with_repairs(caplog):
    with caplog.at_level(logging.WARNING):
        splits = load_fiqa(SHARED_FIQA)
    assert {name: len(rows) for name, rows in splits.items()} == {"train": 961, "validation": 102, "test": 150}
    assert sum(e.meta["repaired"] for rows in splits.values() for e in rows) == 19
    assert not any("Ã" in e.sentence for rows in splits.values() for e in rows)
    assert "train.csv, row 133, column 'aspects': repaired malformed aspects" in caplog.text
    first = splits["train"][0]
    assert first.target == "LNG" and first.score == -0.543
    assert first.aspects == ("Stock/Price Action/Volatility/Short Selling",)


@needs_shared
def test_official_json_gives_one_example_per_target():
    splits = load_fiqa(SHARED_FIQA / "official")
    assert len(splits["train"]) == 1173
    assert len({e.sentence for e in splits["train"]}) <= 1111
    assert len(splits["test"]) == 192 and all(e.score is None for e in splits["test"])


@needs_shared
def test_default_path_resolves_without_flags(monkeypatch):
    monkeypatch.delenv("FINABSA_DATA", raising=False)
    assert default_data_path() == SHARED_FIQA.resolve()


def test_environment_variable_wins(monkeypatch, tiny_data):
    monkeypatch.setenv("FINABSA_DATA", str(tiny_data))
    assert default_data_path() == tiny_data
    assert len(load_fiqa()["train"]) == 60


def test_missing_path_explains_how_to_point_at_data(tmp_path):
    with pytest.raises(DataError, match=r"data path '.*nowhere' does not exist.*FINABSA_DATA"):
        load_fiqa(tmp_path / "nowhere")


def test_missing_columns_name_expected_and_found(tmp_path):
    write_split(tmp_path / "train.csv", [{"sentense": "a", "target": "b"}])
    with pytest.raises(DataError, match=r"train.csv: missing column\(s\) 'sentence' \(the text; set --text-column\) "
                                        r"\(did you mean 'sentense'\?\); found: sentense, target"):
        load_fiqa(tmp_path)
    with pytest.raises(DataError, match=r"train.csv: missing column\(s\) 'sentence' .*'sentiment_score' \(score in "
                                        r"\[-1, 1\]\), 'aspects' .*; found: sentense, target"):
        load_fiqa(tmp_path, fmt="fiqa-splits")


def test_unreadable_cells_name_file_row_and_column(tmp_path):
    row = {"sentence": "s", "target": "t", "sentiment_score": "0.2", "aspects": "['A/B']"}
    write_split(tmp_path / "train.csv", [row, {**row, "sentiment_score": "high"}])
    with pytest.raises(DataError, match=r"train.csv, row 2, column 'sentiment_score': sentiment score 'high'"):
        load_fiqa(tmp_path)


def test_empty_file_is_reported(tmp_path):
    (tmp_path / "train.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"train.csv: the file is empty \(0 bytes\)"):
        load_fiqa(tmp_path)


def test_jsonl_and_parquet_split_files(tmp_path):
    rows = [{"sentence": "Tesco up", "target": "Tesco", "sentiment_score": 0.5, "aspects": "['Stock/Price Action']"}]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    import pandas as pd

    pd.DataFrame(rows).to_parquet(tmp_path / "test.parquet")
    splits = load_fiqa(tmp_path)
    assert splits["train"][0].score == 0.5 and splits["test"][0].aspects == ("Stock/Price Action",)


@pytest.mark.parametrize("cell, expected", [
    ("['Market/Volatility']", ("Market/Volatility",)),
    ("['Market/Volatility]", ("Market/Volatility",)),
    ("['Stock/Price Action/Bullish', 'Corporate/M&A']", ("Stock/Price Action/Bullish", "Corporate/M&A")),
    (["Stock/ Coverage /"], ("Stock/Coverage",)),
    ("", ()),
])
def test_parse_aspects(cell, expected):
    assert parse_aspects(cell, "here") == expected


def test_unparseable_aspects_raise():
    with pytest.raises(DataError, match=r"here: cannot parse the aspects value"):
        parse_aspects("{not a list", "here")


def test_score_range_is_checked():
    assert parse_score("", "x") is None
    with pytest.raises(DataError, match=r"x: sentiment score 3.0 is outside \[-1, 1\]"):
        parse_score("3", "x")


def test_mojibake_is_repaired_and_garbage_rejected():
    assert repair_text("win Ã\x82Â£100m contract", "x") == ("win £100m contract", True)
    with pytest.raises(DataError, match=r"x: the text .* could not be repaired"):
        repair_text("broken \ufffd text", "x")


def test_carve_is_seeded_stratified_and_sentence_disjoint(tiny_data):
    examples = load_fiqa(tiny_data)["train"]
    duplicated = examples + [examples[0].with_split("train")]  # same sentence twice
    key = lambda e: "pos" if e.score > 0.1 else "neg" if e.score < -0.1 else "neu"  # noqa: E731
    kept, carved = carve(duplicated, 0.2, seed=3, key=key)
    assert {normalise_sentence(e.sentence) for e in kept}.isdisjoint(normalise_sentence(e.sentence) for e in carved)
    assert len(kept) + len(carved) == len(duplicated)
    assert Counter(map(key, carved)) == {"pos": 4, "neg": 4, "neu": 4}
    assert carve(duplicated, 0.2, seed=3, key=key)[1] == carved
    assert carve(duplicated, 0.2, seed=4, key=key)[1] != carved


def test_prepare_splits_carves_validation_and_keeps_test(tiny_data):
    task = build_task("sentiment")
    data = prepare_splits(load_fiqa(tiny_data), usable=task.usable, stratify_key=task.stratify_key, seed=1)
    assert len(data.test) == 15 and len(data.train) + len(data.validation) == 60
    assert any("carved from train" in note for note in data.notes)
    shipped = prepare_splits(load_fiqa(tiny_data), usable=task.usable, stratify_key=task.stratify_key,
                             validation="shipped")
    assert any("12 of its 12 sentences are also in train" in note for note in shipped.notes)


def test_source_without_labelled_test_gets_a_carved_one(tiny_data, tmp_path):
    import csv

    with (tiny_data / "train.csv").open() as handle:
        write_split(tmp_path / "train.csv", list(csv.DictReader(handle)))
    task = build_task("aspect", {"level": 1})
    data = prepare_splits(load_fiqa(tmp_path), usable=task.usable, stratify_key=task.stratify_key)
    assert data.test and any("no labelled test split" in note for note in data.notes)


def test_empty_after_filtering_is_an_error(tmp_path):
    write_split(tmp_path / "train.csv", [{"sentence": "s", "target": "", "sentiment_score": "", "aspects": ""}])
    task = build_task("target")
    with pytest.raises(DataError, match=r"the training split has no usable rows for task 'target \(span\)'"):
        prepare_splits(load_fiqa(tmp_path), usable=task.usable, stratify_key=task.stratify_key,
                       task_name="target (span)")
