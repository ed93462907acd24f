from __future__ import annotations

import csv

import pytest

from conftest import SHARED_FIQA
from finabsa import DataError, UnknownNameError
from finabsa.data import Example
from finabsa.tasks import build_task, find_target_spans, get_task, render_template, task_names
from finabsa.tasks.target import snap_to_words


def test_registry_lists_the_three_tasks():
    assert {"sentiment", "aspect", "target"} <= set(task_names())
    with pytest.raises(UnknownNameError, match=r"unknown task 'aspekt'.*Did you mean 'aspect'\?"):
        get_task("aspekt")


@pytest.mark.skipif(not SHARED_FIQA.is_dir(), reason="shared data not present")
def test_default_thresholds_reproduce_the_data_label_column():
    task = build_task("sentiment")
    names = {"0": "positive", "1": "neutral", "2": "negative"}
    with (SHARED_FIQA / "train.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all(task.class_of_score(float(r["sentiment_score"])) == names[r["label"]] for r in rows)


def test_sentiment_thresholds_are_configurable():
    task = build_task("sentiment", {"positive_threshold": 0.5, "negative_threshold": -0.5})
    assert [task.class_of_score(s) for s in (0.6, 0.3, -0.6)] == ["positive", "neutral", "negative"]


@pytest.mark.parametrize("level, expected", [(1, "Stock"), (2, "Stock/Price Action"),
                                             ("full", "Stock/Price Action/Bullish")])
def test_aspect_levels(level, expected):
    example = Example(sentence="s", aspects=("Stock/Price Action/Bullish",))
    assert build_task("aspect", {"level": level}).label_of(example) == expected


def test_templates_fill_fields_and_name_what_is_missing():
    example = Example(sentence="Tesco up", target="Tesco", aspects=("Stock/Price Action/Bullish",))
    assert render_template("{target}; {aspect_l2}", example) == "Tesco; Stock/Price Action"
    with pytest.raises(DataError, match=r"needs target, but the input 'Tesco up' has none"):
        render_template("{target}", Example(sentence="Tesco up"))


@pytest.mark.parametrize("sentence, target, expected", [
    ("Still short $LNG from $11.70", "LNG", ["LNG"]),
    ("tesco and TESCO", "Tesco", ["tesco", "TESCO"]),
    ("AB InBev ups offer for SABMiller", "SAB Miller", ["SABMiller"]),
    ("Randgold profit hit by poor gold price", "Rangold", ["Randgold"]),
    ("Buffett's Company Reports Drop", "Berkshire Hathaway Inc.", []),
    ("Nestlé raises outlook", "Nestlé", ["Nestlé"]),
])
def test_find_target_spans(sentence, target, expected):
    assert [sentence[a:b] for a, b in find_target_spans(sentence, target)] == expected


def test_span_labels_mark_begin_and_inside_tokens(tokenizer):
    task = build_task("target")
    example = Example(sentence="Royal Mail chairman set to step down", target="Royal Mail")
    feature = task.encode([example], tokenizer, task.build_labels([]), 32, with_labels=True)[0]
    tokens = tokenizer.convert_ids_to_tokens(feature["input_ids"])
    tagged = {t: tag for t, tag in zip(tokens, feature["labels"])}
    assert tagged["royal"] == 1 and tagged["mail"] == 2 and tagged["chairman"] == 0 and tagged["[CLS]"] == -100


def test_span_decoding_returns_original_casing(tokenizer):
    import torch

    task = build_task("target")
    example = Example(sentence="Still short $LNG from here", target="LNG")
    feature = task.encode([example], tokenizer, task.build_labels([]), 32, with_labels=True)[0]
    logits = torch.full((1, len(feature["input_ids"]), 3), -5.0)
    for j, tag in enumerate(feature["labels"]):
        logits[0, j, max(tag, 0)] = 5.0
    prediction = task.decode(logits, [feature], [example], task.build_labels([]), tokenizer)[0]
    assert prediction["target"] == "LNG" and (prediction["start"], prediction["end"]) == (13, 16)


@pytest.mark.parametrize("sentence, piece, expected", [
    ("Royal Mail chairman set to step down", "Mai", "Mail"),              # a sub-word piece widens to its word
    ("CompaniesDiageo stays neutral", "Diageo", "Diageo"),                  # a glued section label stays out
    ("Industry NewsWolseley confident", "Wols", "Wolseley"),
    ("AstraZeneca teams with Daiichi", "Astra", "AstraZeneca"),             # the end still widens over a capital
    ("France's TotalEnergies fell", "Energies", "TotalEnergies"),           # a name's parts meet so: one word
    ("GlaxoSmithKline rose", "Kline", "GlaxoSmithKline"),
    ("an agreement ofCramo with", "Cramo", "Cramo"),                        # a lost space stays a boundary
    ("News FeedFTSE 100 movers", "FTSE", "FTSE"),
    ("Companies Thetrainline.com announces IPO", "Thetrainline", "Thetrainline.com"),   # its web domain joins it
    ("Shares of Apple. In other news", "Apple", "Apple"),                   # a full stop and a new sentence do not
    ("Shares of E.ON rose", "E.", "E.ON"),                                  # a dotted initial goes on to its name
    ("J.P. Morgan fell", "J.P.", "J.P."),                                   # an initial before a space ends there
    ("Shares of Apple.Tesla", "Apple.", "Apple."),                          # a word, not an initial, ends at its dot
])
def test_decoded_spans_snap_to_the_names_conventions(sentence, piece, expected):
    start = sentence.index(piece)
    a, b = snap_to_words(sentence, start, start + len(piece))
    assert sentence[a:b] == expected


def test_frozen_is_refused_for_generation():
    from finabsa import ConfigError
    from finabsa.config import AdapterConfig
    from finabsa.models import ResolvedModel, build_model

    task = build_task("target", {"method": "generate"})
    with pytest.raises(ConfigError, match=r"'frozen' needs a classification head"):
        build_model(ResolvedModel("x", "x", False), task.head([]), [], AdapterConfig(method="frozen"),
                    describe=task.describe())


def test_classification_floors_are_majority_and_tfidf():
    train = [Example(sentence=f"shares surge {i}", score=0.5) for i in range(6)]
    train += [Example(sentence=f"shares slump {i}", score=-0.5) for i in range(3)]
    test = [Example(sentence="shares slump again", score=-0.4)]
    task = build_task("sentiment")
    floors = task.baselines(train, test, task.build_labels(train))
    assert floors["majority"] == [{"label": "positive"}]
    assert floors["tfidf_logreg"] == [{"label": "negative"}]
    assert build_task("sentiment", {"mode": "regression"}).baselines(train, test, task.build_labels(train)) == {}


def test_target_floor_takes_cashtag_then_capitalised_word():
    task = build_task("target")
    test = [Example(sentence="long $TSLA here", target="TSLA"), Example(sentence="shares of Tesco up", target="x")]
    assert task.baselines([], test, []) == {"first_cashtag_or_capitalised": [{"target": "TSLA"}, {"target": "Tesco"}]}


def test_only_classification_has_a_closed_label_set():
    assert build_task("aspect").closed_label_set(["a", "b"])
    assert not build_task("sentiment", {"mode": "regression"}).closed_label_set(["positive", "neutral", "negative"])
    assert not build_task("target").closed_label_set(["O", "B", "I"])
