"""Property-based tests: loaders, the aspect-path parser and the BIO span encoder/decoder never fail in unexpected
ways on arbitrary input, and encode -> decode gives back the target."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from finabsa.data.records import Example, parse_aspects
from finabsa.data.tables import read_table
from finabsa.errors import FinabsaError
from finabsa.inference.streams import BadRow, read_inputs
from finabsa.tasks.target import SpanTargetTask, TargetOptions, find_target_spans

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# -- aspect paths ---------------------------------------------------------------------------------------------
segment = st.text(alphabet=string.ascii_letters + " &-éü", min_size=1, max_size=12).filter(lambda s: s.strip())
path = st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/".join(p.strip() for p in parts))


@FAST
@given(st.lists(path, min_size=1, max_size=3))
def test_aspect_lists_round_trip(paths):
    expected = tuple("/".join(part.strip() for part in p.split("/") if part.strip()) for p in paths)
    assert parse_aspects(str(paths), "fuzz") == expected


@FAST
@given(st.text(max_size=60))
def test_any_aspect_cell_parses_or_raises_a_data_error(cell):
    try:
        result = parse_aspects(cell, "fuzz")
    except FinabsaError as exc:
        assert "fuzz" in str(exc)
    else:
        assert isinstance(result, tuple) and all(isinstance(p, str) and p for p in result)


# -- table loaders ---------------------------------------------------------------------------------------------
cell_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_load_as_a_table_or_raise_a_finabsa_error(tmp_path_factory, content):
    file = Path(tmp_path_factory.mktemp("fuzz")) / "data.csv"
    file.write_bytes(content)
    try:
        rows = read_table(file)
    except FinabsaError:
        return
    assert isinstance(rows, list) and all(isinstance(row, dict) for row in rows)


@FAST
@given(st.lists(st.one_of(cell_text, st.just("{"), st.just('{"text": 1}'), st.just("[]")), max_size=12))
def test_prediction_inputs_are_items_or_bad_rows(tmp_path_factory, lines):
    file = Path(tmp_path_factory.mktemp("fuzz")) / "in.txt"
    file.write_text("\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines), encoding="utf-8")
    for item in read_inputs(str(file)):
        assert isinstance(item, (str, dict, BadRow))


# -- BIO spans ---------------------------------------------------------------------------------------------------
word = st.text(alphabet=string.ascii_letters + "éöß", min_size=1, max_size=8)
target_word = st.one_of(word, word.map(lambda w: "$" + w.upper()), st.sampled_from(["TSLA", "$TSLA", "Müller",
                                                                                     "Société Générale", "BP"]))


@pytest.fixture(scope="module")
def span_task():
    return SpanTargetTask(TargetOptions())


@FAST
@given(before=st.lists(word, max_size=5), after=st.lists(word, max_size=5), target=target_word,
       repeat=st.booleans())
def test_bio_encode_then_decode_returns_the_target(span_task, tokenizer, before, after, target, repeat):
    sentence = " ".join([*before, target, *after, *( [target] if repeat else [])])
    assume(len(tokenizer(sentence)["input_ids"]) < 120)
    example = Example(sentence=sentence, target=target)
    spans = find_target_spans(sentence, target)
    assert spans and sentence[spans[0][0]:spans[0][1]].lower() == target.lower()
    (feature,) = span_task.encode([example], tokenizer, ["O", "B", "I"], 128, with_labels=True)
    # A model that predicts the gold tags with certainty must decode to the target itself.
    tags = feature["labels"]
    probabilities = np.full((len(tags), 3), 1e-6)
    for i, tag in enumerate(tags):
        probabilities[i, tag if tag >= 0 else 0] = 1.0
    decoded = span_task._best_span(probabilities, feature, example)
    assert decoded["target"].lower() == target.lower()
    assert sentence[decoded["start"]:decoded["end"]] == decoded["target"]


@FAST
@given(st.text(max_size=40), st.text(max_size=12))
def test_find_target_spans_are_inside_the_sentence(sentence, target):
    for start, end in find_target_spans(sentence, target):
        assert 0 <= start < end <= len(sentence)
