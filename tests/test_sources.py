"""Loaders for SEntFiN, PhraseBank and any table; every bad input gets one clear message; `finabsa data inspect`."""

from __future__ import annotations

import json

import pytest

import finabsa
from conftest import quick_config, write_split
from finabsa import DataError
from finabsa.cli import main
from finabsa.config import DataConfig
from finabsa.data import detect_format, load_data
from finabsa.data.inspect import inspect_data


def _sentfin(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    write_split(folder / "SEntFiN-v1.1.csv", [
        {"S No.": i + 1, "Title": title, "Decisions": json.dumps(decisions), "Words": len(title.split())}
        for i, (title, decisions) in enumerate(rows)
    ])
    return folder


SENTFIN_ROWS = [
    ("Tesco profit jumps, Sainsbury lags", {"Tesco": "positive", "Sainsbury": "negative"}),
    ("Barclays to hold AGM on Friday", {"Barclays": "neutral"}),
    ("Tesco profit jumps, Sainsbury lags", {"Tesco": "positive", "Sainsbury": "negative"}),
] + [(f"Company {i} shares {'rise' if i % 2 else 'fall'}", {f"Company {i}": "positive" if i % 2 else "negative"})
     for i in range(20)]


def _phrasebank(folder, lines, name="Sentences_AllAgree.txt"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes("\r\n".join(lines).encode("latin-1"))
    return folder


PHRASES = ["Operating profit rose to EUR 13.1 mn .@positive", "Net sales fell 5 % .@negative",
           "The company is based in Espoo , Finland .@neutral", "Café sales were flat .@neutral"]


def test_sentfin_gives_one_example_per_entity(tmp_path):
    folder = _sentfin(tmp_path / "sentfin", SENTFIN_ROWS)
    assert detect_format(folder) == "sentfin"
    examples = load_data(DataConfig(path=str(folder)))["train"]
    assert len(examples) == 25
    assert [(e.target, e.label) for e in examples[:2]] == [("Tesco", "positive"), ("Sainsbury", "negative")]
    assert all(e.dataset == "sentfin" for e in examples)


def test_sentfin_bad_decisions_name_the_row(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    write_split(folder / "SEntFiN-v1.1.csv", [{"S No.": 1, "Title": "x", "Decisions": "{oops", "Words": 1}])
    with pytest.raises(DataError, match=r"SEntFiN-v1.1.csv, row 1, column 'Decisions': expected a JSON object"):
        load_data(DataConfig(path=str(folder)))


def test_phrasebank_reads_latin1_and_agreement_levels(tmp_path):
    folder = _phrasebank(tmp_path / "pb", PHRASES)
    _phrasebank(folder, PHRASES[:2], name="Sentences_50Agree.txt")
    assert detect_format(folder) == "phrasebank"
    examples = load_data(DataConfig(path=str(folder)))["train"]
    assert [e.label for e in examples] == ["positive", "negative", "neutral", "neutral"]
    assert examples[3].sentence == "Café sales were flat ."
    assert len(load_data(DataConfig(path=str(folder), agreement="50"))["train"]) == 2
    with pytest.raises(DataError, match=r"unknown PhraseBank agreement level '80'"):
        load_data(DataConfig(path=str(folder), agreement="80"))


def test_phrasebank_unknown_label(tmp_path):
    folder = _phrasebank(tmp_path / "pb", ["Fine sentence .@bullish"])
    with pytest.raises(DataError, match=r"Sentences_AllAgree.txt, line 1: unknown label 'bullish'"):
        load_data(DataConfig(path=str(folder)))


def test_table_with_column_mapping_and_split_column(tmp_path):
    rows = [{"headline": f"Stock {i} {'up' if i % 2 else 'down'}", "sent": "positive" if i % 2 else "negative",
             "ticker": f"S{i}", "part": "test" if i < 4 else "train"} for i in range(12)]
    write_split(tmp_path / "mine.csv", rows)
    source = DataConfig(path=str(tmp_path / "mine.csv"), text_column="headline", label_column="sent",
                        target_column="ticker", split_column="part")
    splits = load_data(source)
    assert len(splits["test"]) == 4 and len(splits["train"]) == 8
    assert splits["train"][0].label == "negative" and splits["train"][0].target == "S4"


def test_misspelt_column_gets_a_suggestion(tmp_path):
    write_split(tmp_path / "mine.csv", [{"headline": "x", "sentiment": "positive"}])
    with pytest.raises(DataError, match=r"missing column\(s\) 'sentimnet' \(the label, from --label-column\) "
                                        r"\(did you mean 'sentiment'\?\); found: headline, sentiment"):
        load_data(DataConfig(path=str(tmp_path / "mine.csv"), text_column="headline", label_column="sentimnet"))


@pytest.mark.parametrize("content, message", [
    (b"", r"the file is empty \(0 bytes\)"),
    (b"\x00\x01\x02binary\x00", r"looks like a binary file"),
    ("sentence,label\ncaf\xe9,positive\n".encode("latin-1"),
     r"not valid utf-8 text \(byte 0xe9 on line 2\).*--encoding"),
    (b"sentence,label\na,positive\nb,negative,extra\n", r"row 2: has 3 fields but the header has 2"),
    (b"sentence,label\n", r"has a header but zero rows"),
])
def test_bad_files_get_one_clear_message(tmp_path, content, message):
    (tmp_path / "bad.csv").write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_data(DataConfig(path=str(tmp_path / "bad.csv"), label_column="label"))


def test_declared_encoding_reads_latin1(tmp_path):
    (tmp_path / "l1.csv").write_bytes("sentence,label\ncafé up,positive\n".encode("latin-1"))
    examples = load_data(DataConfig(path=str(tmp_path / "l1.csv"), label_column="label", encoding="latin-1"))["train"]
    assert examples[0].sentence == "café up"


def test_split_file_with_zero_rows(tmp_path, tiny_data):
    import shutil

    shutil.copytree(tiny_data, tmp_path / "d")
    (tmp_path / "d" / "test.csv").write_text("sentence,snippets,target,sentiment_score,aspects,format,label\n")
    with pytest.raises(DataError, match=r"test.csv: split 'test' has zero rows"):
        load_data(DataConfig(path=str(tmp_path / "d")))


def test_unknown_sentiment_label_stops_training(tmp_path, tiny_bert):
    write_split(tmp_path / "mine.csv", [{"text": f"s {i}", "label": "bullish" if i == 3 else "positive"}
                                        for i in range(10)])
    config = quick_config(tmp_path / "mine.csv", tiny_bert, tmp_path / "run", data={"label_column": "label"})
    with pytest.raises(DataError, match=r"mine.csv, row 4: unknown sentiment label 'bullish'; expected positive"):
        finabsa.train(config, progress=False)


def test_inspect_reports_leakage_repairs_and_disagreements(tiny_data, tmp_path):
    report = inspect_data(DataConfig(path=str(tiny_data)), tokenizer=None)
    overlap = next(o for o in report["overlap"] if o["splits"] == ["train", "validation"])
    assert overlap["normalised_sentences"] == 12 and overlap["distinct_in_second"] == 12
    assert report["leakage"] and report["rows"] == {"train": 60, "validation": 12, "test": 15}

    pb = _phrasebank(tmp_path / "pb", PHRASES + ["Net sales fell 5 % .@neutral", "@positive"])
    report = inspect_data(DataConfig(path=str(pb)), tokenizer=None)
    assert report["label_disagreements"]["count"] == 1
    assert report["empty_texts"] == 1 and "line 6" in report["unusable_rows"][0]


def test_inspect_cli_writes_report_and_strict_fails_on_leakage(tiny_data, tmp_path, capsys):
    assert main(["data", "inspect", str(tiny_data), "--tokenizer", "none", "--output", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "WARNING leakage: 12 of 12 distinct validation sentences also occur in train" in out
    for name in ("report.md", "report.html", "report.json", "labels.png", "scores.png", "aspects.png"):
        assert (tmp_path / "r" / name).is_file()
    assert main(["data", "inspect", str(tiny_data), "--tokenizer", "none", "--output", str(tmp_path / "r2"),
                 "--strict"]) == 1


def test_inspect_cli_bad_path_is_one_line(capsys, tmp_path):
    assert main(["data", "inspect", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_training_on_sentfin_phrasebank_and_extra_data(tmp_path, tiny_bert, tiny_data):
    sentfin = _sentfin(tmp_path / "sentfin", SENTFIN_ROWS)
    result = finabsa.train(quick_config(sentfin, tiny_bert, tmp_path / "run-sentfin", task="target"), progress=False)
    assert result.report["test_rows"] > 0
    assert any("carved from train as test" in note for note in result.report["data_notes"])

    pb = _phrasebank(tmp_path / "pb", [f"Sentence number {i} here .@{['positive', 'negative', 'neutral'][i % 3]}"
                                       for i in range(30)])
    result = finabsa.train(quick_config(pb, tiny_bert, tmp_path / "run-pb"), progress=False)
    assert set(result.report["labels"]) == {"positive", "neutral", "negative"}

    config = quick_config(tiny_data, tiny_bert, tmp_path / "run-extra", data={"also_train": [str(sentfin)]})
    result = finabsa.train(config, progress=False)
    note = next(n for n in result.report["data_notes"] if n.startswith("extra training data"))
    assert "25 row(s) of sentfin" in note
    assert result.report["test_rows"] == 15
