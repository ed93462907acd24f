"""The joint task: every target of a sentence, its sentiment and the aspect from one encoder pass.

Tiny models and a small multi-target table written here: multi-span decoding, per-target pooling (training and
inference pool the same way), head masking, the record format, reload identity, export parity, and the errors for
data the joint model cannot use.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import finabsa
from conftest import quick_config, write_split
from finabsa.data.entity_kinds import ENTITY_KINDS
from finabsa.data.grouping import group_by_sentence, merge_sources
from finabsa.data.records import Example, Mention
from finabsa.errors import DataError
from finabsa.inference.export import export_run
from finabsa.models.build import training_loss
from finabsa.models.calibration import Calibration
from finabsa.models.heads import head_for
from finabsa.models.heads.joint import JointCollator
from finabsa.tasks import build_task
from finabsa.tasks.joint import membership, pool_targets, span_sentiment
from finabsa.tasks.joint.decoding import best_spans, decode_spans
from finabsa.tasks.joint.distillation import ensemble_soft_targets
from finabsa.tasks.target import tokens_in_spans

PAIRS = [("{a} shares surge while {b} slumps on profit warning", 0.6, -0.5, "Stock/Price Action"),
         ("{a} raises dividend, {b} cuts jobs", 0.5, -0.4, "Corporate/Dividend Policy"),
         ("{a} and {b} to report results on Tuesday", 0.02, 0.03, "Corporate/Financial")]
COMPANIES = ["Tesco", "Barclays", "Glencore", "Lloyds", "Shell", "Unilever", "Vodafone", "HSBC", "Nokia", "Sainsbury"]
SENTENCES = ["Barclays rises, Lloyds falls after stress test", "$TSLA breaking out", "Tesco to report results"]


def _table(path: Path, n: int, seed: int, extra: list[dict] | None = None) -> Path:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        template, score_a, score_b, aspect = PAIRS[i % 3]
        a, b = rng.sample(COMPANIES, 2)
        sentence = f"{template.format(a=a, b=b)} ({i})"
        rows.append({"sentence": sentence, "target": a, "sentiment_score": score_a, "aspects": str([aspect])})
        rows.append({"sentence": sentence, "target": b, "sentiment_score": score_b, "aspects": str([aspect])})
    return write_split(path, rows + (extra or []))


@pytest.fixture(scope="module")
def joint_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("joint_data")
    _table(folder / "train.csv", 45, seed=1)
    _table(folder / "test.csv", 9, seed=2)
    return folder


@pytest.fixture(scope="module")
def joint_run(joint_data, tiny_bert, tmp_path_factory) -> Path:
    config = quick_config(joint_data, tiny_bert, tmp_path_factory.mktemp("joint") / "run", task="joint",
                          training={"epochs": 2})
    return finabsa.train(config, progress=False).run_dir


def _feature(tokenizer, sentence: str):
    task = build_task("joint")
    return task, task.encode([Example(sentence=sentence)], tokenizer, [], 32, with_labels=False)[0]


def _tag_probabilities(feature, spans: list[tuple[int, int]]) -> np.ndarray:
    """Tag probabilities that mark the tokens of ``spans`` (character ranges) B, I, ... and the rest O."""
    probabilities = np.tile([0.9, 0.05, 0.05], (len(feature["_offsets"]), 1))
    for start, end in spans:
        inside = [j for j, (s, e) in enumerate(feature["_offsets"]) if feature["_real"][j] and s < end and e > start]
        for position, j in enumerate(inside):
            probabilities[j] = [0.05, 0.9, 0.05] if position == 0 else [0.05, 0.05, 0.9]
    return probabilities


def _decode(task, probabilities, feature):
    return decode_spans(probabilities, feature, SENTENCES[0], task.options.max_span_tokens, task.options.min_targets)


def test_multi_span_decoding_finds_every_target_and_joins_word_pieces(tokenizer):
    task, feature = _feature(tokenizer, SENTENCES[0])
    spans = _decode(task, _tag_probabilities(feature, [(0, 8), (16, 22)]), feature)
    assert [(s["text"], s["start"], s["end"]) for s in spans] == [("Barclays", 0, 8), ("Lloyds", 16, 22)]
    # Two pieces of one word tagged B, B are one target, not two.
    probabilities = _tag_probabilities(feature, [(16, 22)])
    pieces = [j for j, (s, e) in enumerate(feature["_offsets"]) if feature["_real"][j] and s >= 16 and e <= 22]
    assert len(pieces) >= 2, "the test needs a word split into pieces"
    probabilities[pieces[1]] = [0.05, 0.9, 0.05]
    assert [s["text"] for s in _decode(task, probabilities, feature)] == ["Lloyds"]


def test_mentions_of_one_entity_are_one_target_named_as_first_written(tokenizer):
    sentence = "Barclays PLC said Barclays's staff and BARCLAYS bonds rose, while Lloyds fell"
    task, feature = _feature(tokenizer, sentence)
    marked = [(0, 12), (18, 26), (39, 47), (66, 72)]
    spans = decode_spans(_tag_probabilities(feature, marked), feature, sentence, task.options.max_span_tokens,
                         task.options.min_targets)
    assert [(s["text"], s["start"]) for s in spans] == [("Barclays PLC", 0), ("Lloyds", 66)]
    every_mention = tokens_in_spans(feature["_offsets"], feature["_real"], marked[:3])
    assert sorted(spans[0]["tokens"]) == sorted(every_mention), "its sentiment pools every mention"


def test_a_company_named_again_by_its_first_words_is_one_target(tokenizer):
    sentence = "Exxon Mobil Corp and Chevron Corp fell, though Exxon's results beat estimates"
    task, feature = _feature(tokenizer, sentence)
    marked = [(0, 16), (21, 33), (47, 52)]
    spans = decode_spans(_tag_probabilities(feature, marked), feature, sentence, task.options.max_span_tokens,
                         task.options.min_targets)
    assert [s["text"] for s in spans] == ["Exxon Mobil Corp", "Chevron Corp"]
    assert sorted(spans[0]["tokens"]) == sorted(tokens_in_spans(feature["_offsets"], feature["_real"],
                                                                [marked[0], marked[2]]))


@pytest.mark.parametrize("sentence, marked, expected", [
    # A short name the text defines in brackets, then uses: one target, its sentiment pooled over all three.
    ("Standard Chartered (StanChart) cut jobs and StanChart shares fell", ["Standard Chartered", "StanChart",
                                                                          "StanChart"], ["Standard Chartered"]),
    # Defined but untagged in its brackets: the later mention still joins the name.
    ("Bank of America Corp (BofA) raised its dividend, and BofA shares rose", ["Bank of America Corp", "BofA"],
     ["Bank of America Corp"]),
    # A ticker written beside its company, then used alone.
    ("Apple Inc <AAPL.O> rose; AAPL options were busy", ["Apple Inc", "<AAPL.O>", "AAPL"], ["Apple Inc"]),
    # Brackets that follow no target define nothing; a company's bracketed name is not another company's.
    ("Tesla (the carmaker) and Ford (Detroit) rose, Detroit said", ["Tesla", "Ford", "Detroit"],
     ["Tesla", "Ford", "Detroit"]),
])
def test_a_name_the_text_writes_beside_a_target_is_that_target(tokenizer, sentence, marked, expected):
    task, feature = _feature(tokenizer, sentence)
    spans, position = [], 0
    for part in marked:
        start = sentence.index(part, position)
        spans.append((start, start + len(part)))
        position = start + len(part)
    decoded = decode_spans(_tag_probabilities(feature, spans), feature, sentence, task.options.max_span_tokens,
                           task.options.min_targets)
    assert [s["text"] for s in decoded] == expected
    if len(expected) == 1:
        assert sorted(decoded[0]["tokens"]) == sorted(tokens_in_spans(feature["_offsets"], feature["_real"], spans))


def test_a_name_written_against_a_hyphen_after_capitals_is_no_slug(tokenizer):
    sentence = "IBM-Red Hat deal closes"
    task, feature = _feature(tokenizer, sentence)
    spans = decode_spans(_tag_probabilities(feature, [(0, 3), (4, 11)]), feature, sentence,
                         task.options.max_span_tokens, task.options.min_targets)
    assert [s["text"] for s in spans] == ["IBM", "Red Hat"]


@pytest.mark.parametrize("sentence, marked", [
    ("NEW YORK, Jan 5 (Reuters) - Apple Inc shares rose", ["NEW", "Reuters", "Apple Inc"]),
    ("SAN FRANCISCO/NEW YORK (Reuters) - Apple Inc shares rose", ["NEW", "Reuters", "Apple Inc"]),
    ("Nasdaq-listed Apple Inc shares rose", ["Nasdaq", "Apple Inc"]),
    ("US STOCKS-Apple Inc shares rose", ["US STOCKS", "Apple Inc"]),
    ("REFILE-UPDATE 4-Apple Inc shares rose", ["UPDATE", "Apple Inc"]),
])
def test_a_dateline_a_slug_or_a_listing_names_no_target(tokenizer, sentence, marked):
    """Where a story was filed, the wire's slugs before its headline and where a company lists are not what the news
    is about."""
    task, feature = _feature(tokenizer, sentence)
    marked = [(sentence.index(part), sentence.index(part) + len(part)) for part in marked]
    spans = decode_spans(_tag_probabilities(feature, marked), feature, sentence, task.options.max_span_tokens,
                         task.options.min_targets)
    assert [s["text"] for s in spans] == ["Apple Inc"]


def test_entity_threshold_marks_a_token_whose_target_tags_reach_it(tokenizer):
    sentence = "Ford recalls cars, a blow for the rival of General Motors and Tesla"
    task, feature = _feature(tokenizer, sentence)
    probabilities = _tag_probabilities(feature, [(0, 4), (43, 57)])
    tesla = [j for j, (s, e) in enumerate(feature["_offsets"]) if feature["_real"][j] and s >= 62]
    for position, j in enumerate(tesla):  # O 0.6 > B 0.3: the most probable tag leaves Tesla out
        probabilities[j] = [0.6, 0.3, 0.1] if position == 0 else [0.6, 0.1, 0.3]
    decode = lambda threshold: [s["text"] for s in decode_spans(  # noqa: E731
        probabilities, feature, sentence, 12, 1, entity_threshold=threshold)]
    assert decode(0.0) == decode(0.5) == ["Ford", "General Motors"]
    assert decode(0.4) == ["Ford", "General Motors", "Tesla"]
    with pytest.raises(finabsa.ConfigError, match=r"entity_threshold must be in \[0, 1\) \(0: the most probable "
                                                  r"tag\); found 1.5"):
        finabsa.config.load_config(None, {"task.name": "joint", "task.entity_threshold": 1.5}).validate()


def test_a_sentence_with_no_tagged_span_still_answers_min_targets(tokenizer):
    task, feature = _feature(tokenizer, SENTENCES[0])
    nothing = np.tile([0.9, 0.05, 0.05], (len(feature["_offsets"]), 1))
    assert len(_decode(task, nothing, feature)) == 1
    task.options.min_targets = 0
    assert _decode(task, nothing, feature) == []


@pytest.mark.parametrize("sentence_context", [True, False])
def test_training_and_inference_pool_a_target_the_same_way(tokenizer, sentence_context):
    from types import SimpleNamespace

    task = build_task("joint", {"sentence_context": sentence_context})
    example = Example(sentence=SENTENCES[0], mentions=(Mention("Barclays", score=0.5), Mention("Lloyds", score=-0.4)),
                      aspects=("Stock/Price Action",))
    labels = ["Stock/Price Action"]
    features = task.encode([example], tokenizer, labels, 32, with_labels=True)
    batch = JointCollator(tokenizer)([{k: v for k, v in f.items() if not k.startswith("_")} for f in features])
    generator = torch.Generator().manual_seed(0)
    length = batch["input_ids"].shape[1]
    outputs = SimpleNamespace(tag_logits=torch.randn(1, length, 3, generator=generator),
                              aspect_logits=torch.randn(1, 1, generator=generator),
                              sentiment_token=torch.randn(1, length, 4, generator=generator),
                              sentiment_sentence=torch.randn(1, 4, generator=generator),
                              sentence_sentiment=torch.randn(1, 3, generator=generator))
    # What the loss trains on (gold spans) ...
    pooled, counts = training_loss(task, task.head(labels), features, labels, False).pool(
        vars(outputs), batch["labels"]["target_ids"], 8)
    # ... and what decoding answers for the same targets given as input.
    given = task.decode(outputs, features, [example], labels, tokenizer)[0]["given_targets"]
    for k in range(len(example.mentions)):
        tokens = [j for j, t in enumerate(features[0]["labels"]["target_ids"]) if t == k + 1]
        assert counts[0, k] == len(tokens) > 0
        expected = torch.softmax(pooled[0, k, :3], -1).max().item()
        assert given[k]["sentiment"]["probability"] == pytest.approx(expected, abs=1e-6)
        assert given[k]["sentiment"]["score"] == pytest.approx(torch.tanh(pooled[0, k, 3]).item(), abs=1e-6)
    first = [j for j, t in enumerate(features[0]["labels"]["target_ids"]) if t == 1]
    span_only, _ = pool_targets(outputs.sentiment_token[0].numpy(), np.zeros(4, dtype=np.float32),
                                membership([first], length), sentence_context=False)
    alone = span_sentiment(span_only[0])
    assert (alone == given[0]["sentiment"]) is (not sentence_context)


def test_heads_are_masked_for_rows_that_lack_their_labels(tokenizer):
    task = build_task("joint")
    headline = Example(sentence="Tesco up, BP down", mentions=(Mention("Tesco", label="positive"),
                                                              Mention("BP", label="negative")))
    unlocated = Example(sentence="Shares rally", mentions=(Mention("Nokia", score=0.3),),
                        aspects=("Stock/Price Action",))
    features = task.encode([headline, unlocated], tokenizer, ["Stock/Price Action"], 32, with_labels=True)
    first, second = (f["labels"] for f in features)
    assert first["aspect"] == -100 and second["aspect"] == 0  # no aspects on the headline
    assert first["classes"][:2] == [0, 2] and all(np.isnan(first["scores"][:2]))  # classes, no score
    assert set(second["tags"]) == {-100} and second["classes"][0] == -100  # its target is not in the sentence
    assert {1, 2} <= set(first["tags"])
    batch = JointCollator(tokenizer)([{k: v for k, v in f.items() if not k.startswith("_")} for f in features])
    length = batch["input_ids"].shape[1]
    outputs = {"tag_logits": torch.zeros(2, length, 3, requires_grad=True),
               "aspect_logits": torch.zeros(2, 1, requires_grad=True),
               "sentiment_token": torch.zeros(2, length, 4, requires_grad=True),
               "sentiment_sentence": torch.zeros(2, 4, requires_grad=True),
               "sentence_sentiment": torch.zeros(2, 3, requires_grad=True)}
    labels = ["Stock/Price Action"]
    loss = training_loss(task, task.head(labels), features, labels, class_weighting=True)(outputs, batch["labels"])
    loss.backward()
    assert torch.isfinite(loss) and outputs["sentiment_token"].grad[1].abs().sum() == 0  # masked row: no gradient
    note = task.training_notes([headline, unlocated])[0]
    assert "target tags on 1 of 2 sentences; aspect on 1; sentiment on 2 targets" in note


def test_rows_are_grouped_per_sentence_across_sources():
    main = [Example("Tesco up, BP down", target="Tesco", score=0.4, origin="a, row 1")]
    extra = [Example("Tesco up, BP down", target="BP", score=-0.3, origin="b, row 1"),
             Example("Tesco up, BP down", target="tesco", score=0.9, origin="b, row 2"),
             Example("Shell flat", target="Shell", label="neutral", dataset="sentfin", origin="c, row 1")]
    grouped_main, grouped_extra = merge_sources(main, extra)
    assert [m.text for m in grouped_main[0].mentions] == ["Tesco", "BP"]
    assert grouped_main[0].mentions[0].score == 0.4  # the first row naming a target wins
    assert [e.sentence for e in grouped_extra] == ["Shell flat"]
    assert len(group_by_sentence(main + extra)) == 2


def test_joint_run_reports_every_head_and_reloads_identically(joint_run):
    report = json.loads((joint_run / "report.json").read_text())
    for key in ("pair_f1", "target_f1", "target_exact_match", "sentiment_accuracy", "aspect_level2_accuracy",
                "aspect_full_accuracy", "head_mean_f1"):
        assert 0.0 <= report["after"][key] <= 1.0, key
    assert any("heads trained:" in note for note in report["data_notes"])
    # The reloaded model answers the test sentences exactly as the run did when it evaluated them.
    saved = [json.loads(line) for line in (joint_run / "predictions.jsonl").read_text().splitlines()]
    predictor = finabsa.load(joint_run)
    reloaded = predictor.predict([row["sentence"] for row in saved])
    answer = predictor.task.render_answer
    assert [answer(row) for row in reloaded] == [answer(row) for row in saved]
    assert [row["targets"] for row in reloaded] == [row["targets"] for row in saved]
    assert [row["aspect"] for row in reloaded] == [row["aspect"] for row in saved]


def test_calibration_changes_the_joint_models_probabilities_never_its_answers(joint_run):
    predictor = finabsa.load(joint_run)
    heads = head_for(predictor.task.head(predictor.labels))
    outputs = {name: [list(o) for o in where] for name, where in heads.calibrated_outputs().items()}
    sentences = [row["sentence"] for row in
                 (json.loads(line) for line in (joint_run / "predictions.jsonl").read_text().splitlines())]
    predictor.calibration = None
    own = predictor.predict(sentences)
    # Temperatures far from 1 flatten every head (a tree or a span ranking read from them would change).
    predictor.calibration = Calibration(temperatures={name: 25.0 for name in outputs}, outputs=outputs)
    calibrated = predictor.predict(sentences)

    def answers(record):
        return ([(t["text"], t["start"], t["score"], t["sentiment"]["label"]) for t in record["targets"]],
                record["aspect"]["label"], record["aspect"]["levels"])

    assert [answers(r) for r in calibrated] == [answers(r) for r in own]
    # A sentiment's probability is its head's largest: flattened, it falls; the aspect's changes too.
    assert all(c["sentiment"]["probability"] < o["sentiment"]["probability"]
               for r, k in zip(own, calibrated) for o, c in zip(r["targets"], k["targets"]))
    assert all(k["aspect"]["probability"] != pytest.approx(r["aspect"]["probability"]) for r, k in zip(own, calibrated))


def test_a_joint_run_alone_is_a_pipeline_with_the_record_format(joint_run):
    record = finabsa.Pipeline({"joint": joint_run}).analyze([SENTENCES[0]])[0]
    assert set(record) == {"text", "targets", "aspect"}
    assert record["targets"], "min_targets=1 answers at least one target"
    for target in record["targets"]:
        assert set(target) == {"text", "start", "end", "score", "kind", "sentiment"}
        assert SENTENCES[0][target["start"]:target["end"]] == target["text"]
        assert target["kind"] in ENTITY_KINDS
        assert set(target["sentiment"]) == {"label", "probability", "score"}
        assert -1.0 <= target["sentiment"]["score"] <= 1.0
    assert set(record["aspect"]) == {"label", "level", "levels", "probability"} and len(record["aspect"]["levels"]) == 3


def test_export_is_one_graph_that_answers_like_the_run(joint_run, tmp_path):
    import onnx

    folder = export_run(joint_run, tmp_path / "export", onnx=True, int8=True)
    graph = onnx.load(str(folder / "model.int8.onnx")).graph
    assert [o.name for o in graph.output] == ["tag_logits", "aspect_logits", "sentiment_token", "sentiment_sentence",
                                              "sentence_sentiment"]
    run = finabsa.load(joint_run)
    reference, render = run.predict(SENTENCES), run.task.render_answer
    for runtime, tolerance in (("torch", 1e-5), ("onnx", 1e-4), ("onnx-int8", 0.05)):
        answers = finabsa.load(folder, runtime=runtime).predict(SENTENCES)
        if runtime != "onnx-int8":
            assert [render(a) for a in answers] == [render(r) for r in reference], runtime
        for answer, expected in zip(answers, reference):
            assert answer["aspect"]["probability"] == pytest.approx(expected["aspect"]["probability"], abs=tolerance)
            if [t["text"] for t in answer["targets"]] == [t["text"] for t in expected["targets"]]:
                for got, want in zip(answer["targets"], expected["targets"]):
                    assert got["sentiment"]["score"] == pytest.approx(want["sentiment"]["score"], abs=tolerance)


def test_held_out_sets_are_carved_from_extra_sources_and_reported(joint_data, tiny_bert, tmp_path):
    extra = _table(tmp_path / "extra" / "more.csv", 30, seed=5)
    config = quick_config(joint_data, tiny_bert, tmp_path / "run", task="joint",
                          data={"also_train": [{"path": str(extra), "hold_out": 0.3}]})
    from finabsa.data.prepare import training_data
    from finabsa.data.splits import normalise_sentence

    data = training_data(build_task("joint"), config.validate().data)
    held = {normalise_sentence(e.sentence) for e in data.extra_tests["more"]}
    assert held and not held & {normalise_sentence(e.sentence) for e in data.train + data.validation}
    assert all(len(e.mentions) == 2 for e in data.extra_tests["more"])


def test_rows_with_no_label_for_any_head_are_refused_by_file_and_row(tiny_bert, tmp_path):
    folder = tmp_path / "phrasebank_like"
    folder.mkdir()
    (folder / "train.csv").write_text("sentence,label\nProfit rose,positive\nSales fell,negative\n")
    config = quick_config(folder / "train.csv", tiny_bert, tmp_path / "run", task="joint",
                          data={"label_column": "label"})
    with pytest.raises(DataError, match=r"train.csv, row 1: gives no label the joint model trains on"):
        finabsa.train(config, progress=False)


def test_sentence_rows_train_the_sentence_level_head_when_asked(tokenizer):
    task = build_task("joint", {"sentence_rows": True})
    row = Example(sentence="Profit rose sharply", label="positive")
    assert task.usable(row) and not build_task("joint").usable(row)
    (feature,) = task.encode([row], tokenizer, ["Stock"], 32, with_labels=True)
    assert feature["labels"]["sentence"] == 0 and set(feature["labels"]["tags"]) == {-100}
    assert "sentence-level sentiment (for given targets the text does not contain) on 1 sentences" in \
        task.training_notes([row])[0]


def test_targets_that_do_not_occur_in_their_sentence_are_refused(tiny_bert, tmp_path):
    rows = [{"sentence": f"Shares rally on day {i}", "target": "Nokia", "sentiment_score": 0.3, "aspects": ""}
            for i in range(10)]
    path = _table(tmp_path / "bad" / "train.csv", 3, seed=1, extra=rows)
    config = quick_config(path, tiny_bert, tmp_path / "run", task="joint")
    with pytest.raises(DataError, match=r"targets do not occur in their sentence \(e.g. train.csv, row \d+, column "
                                        r"'target': 'Nokia'"):
        finabsa.train(config, progress=False)


def test_evaluate_groups_the_scored_rows_per_sentence_like_training(joint_run, joint_data):
    report = finabsa.evaluate(joint_run)
    assert report["rows_scored"] == 9  # 18 (sentence, target) rows of 9 sentences
    assert report["after"]["target_gold"] == 18 and 0.0 <= report["after"]["pair_f1"] <= 1.0


def test_the_service_answers_joint_records(joint_run):
    from fastapi.testclient import TestClient

    from finabsa.inference.service import create_app

    with TestClient(create_app(finabsa.Pipeline({"joint": joint_run}))) as client:
        answer = client.post("/v1/analyze", json={"texts": SENTENCES[:2]})
        models = client.get("/v1/models").json()
    assert answer.status_code == 200, answer.text
    records = answer.json()["results"]
    assert [r["text"] for r in records] == SENTENCES[:2]
    assert all(r["targets"] and "sentiment" in r["targets"][0] and r["aspect"]["levels"] for r in records)
    assert "joint" in json.dumps(models)


def test_a_given_target_always_gets_an_answer_and_says_how_it_was_found(joint_run):
    predictor = finabsa.load(joint_run)
    records = predictor.predict([{"text": "Barclays shares fall after results", "target": "Barclays PLC"},
                                 {"text": "Shares rally across Europe", "target": "Glencore"}])
    found, missing = (record["given_targets"][0] for record in records)
    assert found["located"] is True and found["match"] == "alias" and (found["start"], found["end"]) == (0, 8)
    assert missing["located"] is False and "not found in the text" in missing["note"]
    for answer in (found, missing):
        assert answer["sentiment"]["label"] in ("positive", "neutral", "negative")
        assert 0.0 < answer["sentiment"]["probability"] <= 1.0 and -1.0 <= answer["sentiment"]["score"] <= 1.0
    assert all("pairs" not in record for record in records)  # internal fields stay out of the records


def test_a_test_only_source_is_scored_and_never_trained_on(joint_data, tmp_path):
    from finabsa.config import load_config
    from finabsa.data.prepare import training_data

    other = _table(tmp_path / "other" / "train.csv", 12, seed=7).parent
    config = load_config(None, {"task.name": "joint", "data.path": str(joint_data),
                                "data.also_train": [{"path": str(other), "test_only": True, "max_rows": 5}]})
    data = training_data(build_task("joint"), config.data)
    held = data.extra_tests["other"]
    assert len(held) == 5 and not {e.sentence for e in held} & {e.sentence for e in data.train}
    assert any("never trains on (test_only)" in note for note in data.notes)
    with pytest.raises(finabsa.ConfigError, match="test_only holds out the whole source: drop hold_out"):
        load_config(None, {"task.name": "joint", "data.path": str(joint_data),
                           "data.also_train": [{"path": str(other), "test_only": True, "hold_out": 0.5}]}).validate()


def _tag_distributions(run: Path, sentences: list[str]) -> list[np.ndarray]:
    """The tag distribution of every real token of each sentence, as the run's model answers it."""
    from finabsa.tasks.base import softmax

    predictor = finabsa.load(run)

    def tags(outputs, features, examples, labels, tokenizer):
        logits = outputs.tag_logits.float().numpy()
        return [softmax(logits[i])[[j for j, ok in enumerate(f["_real"]) if ok]] for i, f in enumerate(features)]

    return predictor.predict_examples([Example(sentence=s) for s in sentences], decode=tags)


@pytest.mark.slow
def test_a_student_distilled_from_a_teacher_moves_toward_it(joint_run, joint_data, tiny_bert, tmp_path):
    rng = random.Random(11)
    rows = []
    for i in range(30):
        a, b = rng.sample(COMPANIES, 2)
        rows.append({"sentence": f"Update: {PAIRS[i % 3][0].format(a=a, b=b)} [{i}]", "target": a,
                     "sentiment_score": 0.0, "aspects": "[]"})
    unlabelled = write_split(tmp_path / "unlabelled" / "train.csv", rows).parent
    probe = [f"{a} shares surge while {b} slumps on profit warning" for a, b in (("Tesco", "Nokia"), ("HSBC", "BP"))]
    students = {}
    # The weighted student learns from an ensemble of two teachers, the same run twice: their mean is that run.
    for weight, teachers in ((0.0, [str(joint_run)]), (5.0, [str(joint_run), str(joint_run)])):
        config = quick_config(joint_data, tiny_bert, tmp_path / f"student-{weight}", task="joint",
                              training={"epochs": 2, "distill_from": teachers, "distill_weight": weight,
                                        "seed": 3},
                              data={"also_train": [{"path": str(unlabelled), "unlabelled": True}]})
        result = finabsa.train(config, progress=False)
        assert any("distilled from" in note and "30 of them unlabelled" in note
                   for note in result.report["data_notes"])
        assert any("soft targets averaged" in note for note in result.report["data_notes"]) == (len(teachers) > 1)
        students[weight] = result.run_dir
    teacher = _tag_distributions(joint_run, probe)

    def divergence(run: Path) -> float:
        student = _tag_distributions(run, probe)
        return float(np.mean([(t * (np.log(t) - np.log(s))).sum(-1).mean() for t, s in zip(teacher, student)]))

    assert divergence(students[5.0]) < divergence(students[0.0])


@pytest.mark.slow
def test_a_teacher_given_as_a_configuration_is_trained_once_and_then_reused(joint_data, tiny_bert, tmp_path):
    teacher = quick_config(joint_data, tiny_bert, tmp_path / "teacher", task="joint")
    teacher.save(tmp_path / "teacher.yaml")
    students = [quick_config(joint_data, tiny_bert, tmp_path / f"student-{i}", task="joint",
                             training={"distill_from": str(tmp_path / "teacher.yaml")}) for i in range(2)]
    first = finabsa.train(students[0], progress=False)
    trained = (tmp_path / "teacher" / "run.json").stat().st_mtime_ns
    second = finabsa.train(students[1], progress=False)
    assert (tmp_path / "teacher" / "run.json").stat().st_mtime_ns == trained  # reused, not trained again
    for result in (first, second):
        assert any(f"distilled from '{tmp_path / 'teacher'}'" in note for note in result.report["data_notes"])
    teacher.output = None
    teacher.save(tmp_path / "nameless.yaml")
    nameless = quick_config(joint_data, tiny_bert, tmp_path / "student-3", task="joint",
                            training={"distill_from": str(tmp_path / "nameless.yaml")})
    with pytest.raises(finabsa.ConfigError, match="has no output folder; give it one"):
        finabsa.train(nameless, progress=False)


def test_an_ensemble_of_teachers_averages_their_soft_targets_on_the_first_teachers_tokens():
    sentence = "Tesco rises"
    first = {"tags": [[0, 5, 0.2, 0.7, 0.1], [6, 11, 0.9, 0.05, 0.05]],
             "targets": [{"spans": [[0, 5]], "probs": [0.6, 0.2, 0.2]}],
             "aspect": {"labels": ["Stock", "Corporate"], "probs": [0.8, 0.2]}, "sentence": [0.5, 0.3, 0.2]}
    # The second teacher splits "Tesco" in two word pieces, found a second target, and knows other aspect labels.
    second = {"tags": [[0, 3, 0.0, 1.0, 0.0], [3, 5, 0.0, 0.0, 1.0], [6, 11, 0.7, 0.15, 0.15]],
              "targets": [{"spans": [[0, 5]], "probs": [0.2, 0.4, 0.4]}, {"spans": [[6, 11]], "probs": [0, 0, 1]}],
              "aspect": {"labels": ["Market"], "probs": [1.0]}, "sentence": [0.1, 0.5, 0.4]}
    ensemble = ensemble_soft_targets([first, second], sentence)
    np.testing.assert_allclose(ensemble["tags"], [[0, 5, 0.1, 0.85, 0.05], [6, 11, 0.8, 0.1, 0.1]])
    assert [t["spans"] for t in ensemble["targets"]] == [[[0, 5]]]  # the first teacher's targets
    np.testing.assert_allclose(ensemble["targets"][0]["probs"], [0.4, 0.3, 0.3])
    assert ensemble["aspect"]["labels"] == ["Stock", "Corporate"]  # the second's labels differ: not averaged
    np.testing.assert_allclose(ensemble["aspect"]["probs"], [0.8, 0.2])
    np.testing.assert_allclose(ensemble["sentence"], [0.3, 0.4, 0.3])
    twice = ensemble_soft_targets([first, first], sentence)  # a teacher twice is that teacher
    np.testing.assert_allclose(twice["tags"], first["tags"])
    np.testing.assert_allclose(twice["targets"][0]["probs"], first["targets"][0]["probs"])


def test_one_teacher_or_several_come_as_a_path_or_a_comma_separated_list():
    from finabsa.config import load_config

    one = load_config(None, {"training.distill_from": "configs/joint-teacher.yaml"})
    assert one.training.distill_from == ["configs/joint-teacher.yaml"]
    several = load_config(None, {"training.distill_from": "runs/a,runs/b"})
    assert several.training.distill_from == ["runs/a", "runs/b"]


def test_unlabelled_data_needs_a_teacher(joint_data):
    from finabsa.config import load_config

    with pytest.raises(finabsa.ConfigError, match="is unlabelled: its sentences train only through a teacher"):
        load_config(None, {"task.name": "joint", "data.path": str(joint_data),
                           "data.also_train": [{"path": str(joint_data), "unlabelled": True}]}).validate()


def test_integrated_gradients_add_up_to_the_score_difference(joint_run):
    from finabsa.inference.explain import integrated_gradients
    from finabsa.models.build import training_collator

    predictor = finabsa.load(joint_run)
    example = Example(sentence=SENTENCES[0])
    (feature,) = predictor.task.encode([example], predictor.tokenizer, predictor.labels, 32, with_labels=False)
    batch = training_collator(predictor.task, predictor.task.head(predictor.labels), predictor.tokenizer)(
        [{k: v for k, v in feature.items() if not k.startswith("_")}])
    tokens = [j for j, (start, end) in enumerate(feature["_offsets"]) if feature["_real"][j] and end <= 8]
    attributions, delta, difference = integrated_gradients(predictor, batch, tokens, 0, steps=64)
    assert float(attributions.sum()) == pytest.approx(difference, abs=max(0.05 * abs(difference), 1e-3))
    assert delta < max(0.05 * abs(difference), 1e-3)


def test_explained_records_say_which_word_pieces_pushed_each_target(joint_run, tmp_path, capsys):
    from finabsa.cli import main
    from finabsa.inference.explain import explain_records

    record = explain_records(finabsa.load(joint_run), [SENTENCES[0]])[0]
    for target in record["targets"]:
        assert target["reasons"], "every explained target names at least one word piece"
        for reason in target["reasons"]:
            assert SENTENCES[0][reason["start"]:reason["end"]] == reason["text"] and reason["attribution"] > 0
        weights = [r["attribution"] for r in target["reasons"]]
        assert weights == sorted(weights, reverse=True)
    folder = export_run(joint_run, tmp_path / "export", onnx=True)
    assert main(["predict", str(folder), "--runtime", "onnx", "--explain", "BP fined"]) == 2
    assert "--explain needs gradients, which the onnx runtime does not give" in capsys.readouterr().err
    from fastapi.testclient import TestClient

    from finabsa.inference.service import create_app

    with TestClient(create_app(finabsa.Pipeline({"joint": folder}, runtime="onnx"))) as client:
        refused = client.post("/v1/analyze", json={"texts": ["BP fined"], "explain": True})
    assert refused.status_code == 422 and "needs gradients" in refused.json()["error"]["message"]
    with TestClient(create_app(finabsa.Pipeline({"joint": joint_run}))) as client:
        explained = client.post("/v1/analyze", json={"texts": [SENTENCES[0]], "explain": True}).json()
    assert all(target["reasons"] for target in explained["results"][0]["targets"])


def test_documents_through_the_pipeline_the_cli_and_the_service(joint_run, tmp_path, capsys):
    from fastapi.testclient import TestClient

    from finabsa.cli import main
    from finabsa.inference.service import create_app
    from finabsa.models.text_parts import split_sentences

    news = ("Barclays PLC shares fell 3% after the U.S. regulator fined the bank. Lloyds rose, while Barclays said it "
            "would appeal. Johnson & Johnson <JNJ.N> gained 1.5% after the F.D.A. approval.")

    pipeline = finabsa.Pipeline({"joint": joint_run})
    answers = pipeline.analyze_documents([news, "Tesco shares surge"])
    assert [len(a["sentences"]) for a in answers] == [3, 1]
    sentence_records = pipeline.analyze([s.text for s in split_sentences(news)])
    assert [s["targets"] for s in answers[0]["sentences"]] == [r["targets"] for r in sentence_records]
    for entity in answers[0]["entities"]:
        assert all(news[m["start"]:m["end"]] == m["text"] for m in entity["mentions"])
    long_sentence = " ".join(["Tesco"] * 400)
    (cut,) = pipeline.analyze_documents([long_sentence])
    assert cut["sentences_cut"] == 1 and len(cut["sentences"]) > 1
    assert " ".join(s["text"] for s in cut["sentences"]) == long_sentence  # split to fit, nothing dropped
    # Sentence mode reads a text over max_length in parts split at sentence boundaries: one record, nothing cut.
    long_text = " ".join([news] * 6)
    (whole,) = pipeline.analyze([long_text])
    assert whole["text"] == long_text and any("read in" in note and "parts split at sentence boundaries" in note
                                              for note in whole["notes"])
    assert not any("cut to its first" in note for note in whole["notes"])
    assert all(long_text[t["start"]:t["end"]] == t["text"] for t in whole["targets"])
    first_part = pipeline.analyze([news])[0]["targets"]
    assert whole["targets"][:len(first_part)] == first_part  # the first part answers as the text alone does
    (alone,) = finabsa.load(joint_run).predict([long_text])  # a run loaded on its own reads it the same way
    assert "truncated" not in alone and [(t["text"], t["start"], t["sentiment"]["label"]) for t in alone["targets"]] \
        == [(t["text"], t["start"], t["sentiment"]["label"]) for t in whole["targets"]]

    source = tmp_path / "news.jsonl"
    source.write_text(json.dumps({"text": news, "id": 7}) + "\n")
    assert main(["predict", str(joint_run), "--documents", str(source), "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["input"] == {"id": 7} and printed["entities"] == answers[0]["entities"]

    with TestClient(create_app(pipeline)) as client:
        served = client.post("/v1/documents", json={"documents": [news]})
        refused = client.post("/v1/documents", json={"documents": [3]})
    assert served.status_code == 200 and served.json()["results"][0]["entities"] == json.loads(
        json.dumps(answers[0]["entities"]))
    assert refused.status_code == 422 and "documents[0] must be a string" in refused.json()["error"]["message"]


@pytest.mark.slow
def test_source_conventions_read_each_loaded_source_with_its_own_vector(joint_data, tiny_bert, tmp_path):
    """Loaded rows carry their source; each listed source trains its own input vector; a user's text (no source)
    reads as ``answer_as``, in PyTorch, after reloading and in the exported graph alike."""
    from finabsa.tasks.joint.pooling import SOURCE_IDS

    extra = _table(tmp_path / "extra" / "more.csv", 30, seed=5)
    main = "fiqa"  # the split folder's layout is the FiQA split's: its loader names its rows' source
    config = quick_config(joint_data, tiny_bert, tmp_path / "run", task="joint", training={"epochs": 2},
                          task_options={"source_conventions": [main, "more"], "answer_as": "more"},
                          data={"also_train": [{"path": str(extra), "hold_out": 0.3}]})
    run = finabsa.train(config, progress=False).run_dir
    report = json.loads((run / "report.json").read_text())
    note = next(n for n in report["data_notes"] if n.startswith("source conventions:"))
    assert f"{main} " in note and "more " in note and "answer as 'more'" in note and "not listed" not in note
    predictor = finabsa.load(run)
    task = predictor.task
    loaded = [Example("Tesco shares surge", meta={"source": main}), Example("Tesco shares surge",
                                                                             meta={"source": "more"})]
    features = task.encode([*loaded, Example("Tesco shares surge")], predictor.tokenizer, [], 32, with_labels=False)
    assert [f[SOURCE_IDS] for f in features] == [0, 1, 1]
    # PEFT keeps the untrained original beside the trained copy of a module it saves in full.
    weights = next(p for name, p in predictor.model.named_parameters()
                   if "source_embedding" in name and "original_module" not in name)
    assert weights.abs().sum() > 0 and not torch.allclose(weights[0], weights[1]), "each source trained its vector"
    # The two conventions answer the same sentence differently (scores), the user's text as the 'more' one.
    as_main, as_more, unknown = predictor.predict_examples([*loaded, Example("Tesco shares surge")])
    score = lambda p: [t["sentiment"]["score"] for t in p["targets"]]  # noqa: E731
    assert score(unknown) == score(as_more) and as_main != as_more
    exported = finabsa.load(export_run(run, tmp_path / "export", onnx=True), runtime="onnx")
    assert [round(s, 4) for s in score(exported.predict(["Tesco shares surge"])[0])] == \
        [round(s, 4) for s in score(unknown)]
    with pytest.raises(finabsa.ConfigError, match="answer_as must be one of source_conventions"):
        quick_config(joint_data, tiny_bert, tmp_path / "bad", task="joint",
                     task_options={"source_conventions": [main, "more"], "answer_as": "sentfin"}).validate()


def test_a_convention_can_answer_only_its_best_targets(tokenizer):
    """``targets_per_sentence`` keeps a convention's best-scoring targets (in the order written); a text read with
    another convention, or of unknown source, keeps every target the tags mark."""
    from types import SimpleNamespace

    task = build_task("joint", {"source_conventions": ["fiqa", "sentfin"], "answer_as": "sentfin",
                                "targets_per_sentence": {"fiqa": 1}})
    examples = [Example(SENTENCES[0], meta={"source": source}) for source in ("fiqa", "sentfin", None)]
    features = task.encode(examples, tokenizer, [], 32, with_labels=False)
    tags = _tag_probabilities(features[0], [(0, 8), (16, 22)])
    barclays = [j for j, (s, e) in enumerate(features[0]["_offsets"]) if features[0]["_real"][j] and e <= 8]
    tags[barclays[0]] = [0.3, 0.6, 0.1]  # Barclays tagged less surely than Lloyds
    length = len(features[0]["_offsets"])
    outputs = SimpleNamespace(tag_logits=np.log(np.stack([tags] * 3)), aspect_logits=np.zeros((3, 0)),
                              sentiment_token=np.zeros((3, length, 4)), sentiment_sentence=np.zeros((3, 4)),
                              sentence_sentiment=np.zeros((3, 3)))
    read = task.decode(outputs, features, examples, [], tokenizer)
    assert [[t["text"] for t in p["targets"]] for p in read] == [["Lloyds"], ["Barclays", "Lloyds"],
                                                                 ["Barclays", "Lloyds"]]
    spans = [{"text": t, "score": score} for t, score in (("a", 0.5), ("b", 0.9), ("c", 0.7))]
    assert [s["text"] for s in best_spans(spans, 2)] == ["b", "c"] and best_spans(spans, 5) == spans


def test_a_text_of_unknown_source_is_answered_with_the_kinds_asked_for(tokenizer):
    """``answer_kinds`` drops a regulator (and any kind not asked for) from a user's text, while a text of a listed
    source keeps its convention's every target; each answered target says its kind."""
    from types import SimpleNamespace

    task = build_task("joint", {"source_conventions": ["fiqa", "sentfin"], "answer_as": "sentfin",
                                "answer_kinds": ["company", "index"]})
    sentence = "Sebi fines Tesco as the Sensex falls"
    examples = [Example(sentence, meta={"source": source}) for source in ("sentfin", None)]
    features = task.encode(examples, tokenizer, [], 32, with_labels=False)
    length = len(features[0]["_offsets"])
    tags = _tag_probabilities(features[0], [(0, 4), (11, 16), (24, 30)])
    outputs = SimpleNamespace(tag_logits=np.log(np.stack([tags] * 2)), aspect_logits=np.zeros((2, 0)),
                              sentiment_token=np.zeros((2, length, 4)), sentiment_sentence=np.zeros((2, 4)),
                              sentence_sentiment=np.zeros((2, 3)))
    as_sentfin, unknown = task.decode(outputs, features, examples, [], tokenizer)
    assert [(t["text"], t["kind"]) for t in as_sentfin["targets"]] == [("Sebi", "policy"), ("Tesco", "company"),
                                                                       ("Sensex", "index")]
    assert [t["text"] for t in unknown["targets"]] == ["Tesco", "Sensex"]


@pytest.mark.parametrize("kinds", [["company", "regulator"], "company"])
def test_answer_kinds_names_only_kinds_it_knows(joint_data, tiny_bert, tmp_path, kinds):
    with pytest.raises(finabsa.ConfigError, match=r"answer_kinds must be a list of kinds of \['company', 'index'"):
        quick_config(joint_data, tiny_bert, tmp_path / "bad", task="joint",
                     task_options={"answer_kinds": kinds}).validate()


@pytest.mark.parametrize("caps, message", [
    ({"sentfin": 1}, "targets_per_sentence names 'sentfin', which is not one of source_conventions"),
    ({"fiqa": 0}, "the most targets for 'fiqa' must be a whole number >= 1; found 0"),
    ([1], "targets_per_sentence must map a convention to a number of targets"),
])
def test_targets_per_sentence_is_checked_against_the_conventions(joint_data, tiny_bert, tmp_path, caps, message):
    with pytest.raises(finabsa.ConfigError, match=message):
        quick_config(joint_data, tiny_bert, tmp_path / "bad", task="joint",
                     task_options={"source_conventions": ["fiqa", "more"], "targets_per_sentence": caps}).validate()


def test_an_extra_source_can_give_validation_sentences(joint_data, tmp_path):
    from finabsa.config import load_config
    from finabsa.data.prepare import training_data
    from finabsa.data.splits import normalise_sentence

    extra = _table(tmp_path / "extra" / "more.csv", 30, seed=5)
    config = load_config(None, {"task.name": "joint", "data.path": str(joint_data),
                                "data.also_train": [{"path": str(extra), "hold_out": 0.2, "validation": 0.2}]})
    data = training_data(build_task("joint"), config.data)
    carved = [e for e in data.validation if e.meta["source"] == "more"]
    assert len(carved) == 5 and any(e.meta["source"] == "fiqa" for e in data.validation)
    sentences = lambda rows: {normalise_sentence(e.sentence) for e in rows}  # noqa: E731
    assert not sentences(carved) & (sentences(data.train) | sentences(data.extra_tests["more"]))
    assert any("model selection reads this source too" in note for note in data.notes)
    with pytest.raises(finabsa.ConfigError, match="validation carves labelled training sentences"):
        load_config(None, {"task.name": "joint", "data.path": str(joint_data),
                           "data.also_train": [{"path": str(extra), "test_only": True, "validation": 0.2}]}).validate()


def test_contrast_sentences_and_paragraphs_join_training_sentences_and_keep_each_targets_own():
    from finabsa.data.spans import find_target_spans
    from finabsa.tasks.joint.contrast import contrast_sentences, paragraphs

    def sentence(text: str, label: str, *names: str, source: str = "sentfin") -> Example:
        return Example(text, dataset=source, meta={"source": source},
                       mentions=tuple(Mention(name, label=label) for name in names))

    train = [sentence("Tesco shares surge after strong results", "positive", "Tesco"),
             sentence("Sainsbury slumps on profit warning", "negative", "Sainsbury"),
             sentence("Barclays and Lloyds rally", "positive", "Barclays", "Lloyds"),
             sentence("Glencore to report results on Tuesday", "neutral", "Glencore"),
             sentence("$TSLA breaking out", "positive", "TSLA", source="fiqa"),
             sentence("Tesco falls", "negative", "Tesco")]
    made = contrast_sentences(train, share=2.0, seed=3)
    assert len(made) == round(2.0 * len(train)) and made == contrast_sentences(train, share=2.0, seed=3)
    for example in made:
        labels = {m.label for m in example.mentions}
        assert len(labels) == 2 and example.meta["contrast"] and not example.aspects, example.sentence
        assert all(find_target_spans(example.sentence, m.text, 0.8) for m in example.mentions), example.sentence
        assert example.meta["source"] == "sentfin", "a fiqa sentence (the only one of its source) joins nothing"
        names = [m.text.lower() for m in example.mentions]
        assert len(names) == len(set(names)), "a target named in both halves is never joined"
    assert any(" while " in e.sentence or ", but " in e.sentence or "; " in e.sentence for e in made)

    paragraphs_made = paragraphs(train, share=1.0, seed=3)
    assert len(paragraphs_made) == len(train) and paragraphs_made == paragraphs(train, share=1.0, seed=3)
    for example in paragraphs_made:
        sentences = example.sentence.split(". ")
        assert 2 <= len(sentences) <= 3 and example.meta["paragraph"] and not example.aspects, example.sentence
        assert all(sentence[:1].isupper() or sentence[:1] == "$" for sentence in sentences), "sentences as written"
        by_name = {m.text: m.label for m in example.mentions}
        assert len(by_name) == len(example.mentions) and example.meta["source"] == "sentfin"
        for original in train:  # every target keeps the label of the sentence it came from
            if original.sentence in example.sentence:
                assert all(by_name[m.text] == m.label for m in original.mentions)


def test_swapped_sentences_rename_every_target_and_keep_their_labels():
    import re

    from finabsa.tasks.joint.swap import swapped_sentences

    def sentence(text: str, *targets: tuple[str, str], source: str = "sentfin") -> Example:
        return Example(text, target=targets[0][0], dataset=source, meta={"source": source}, origin=text,
                       aspects=("Stock/Price Action",) if source == "fiqa" else (),
                       mentions=tuple(Mention(name, label=label) for name, label in targets))

    train = [sentence("Tesco shares surge while Sainsbury slumps", ("Tesco", "positive"), ("Sainsbury", "negative")),
             sentence("Barclays falls; Barclays cuts jobs", ("Barclays", "negative")),
             sentence("$TSLA breaking out", ("TSLA", "positive"), source="fiqa"),
             sentence("Gold prices firm up", ("gold", "positive")),
             sentence("Buy AAPL on dips", ("AAPL", "positive")),
             sentence("sugar stocks slump", ("sugar stocks", "negative")),
             sentence("Lloyds and Unilever rise", ("Lloyds", "positive"), ("Unilever", "positive")),
             # Targets that overlap ("Bank" inside "Bank of America") or that the text writes otherwise are left.
             sentence("Bank of America beats estimates", ("Bank of America", "positive"), ("Bank", "positive")),
             sentence("Glencore to report results", ("Glencor", "neutral"))]
    originals = {e.origin: e for e in train}
    made = swapped_sentences(train, share=1.0, seed=3)
    assert made == swapped_sentences(train, share=1.0, seed=3), "seeded: the same run makes the same sentences"
    assert len(swapped_sentences(train, share=0.25, seed=3)) == 2 and swapped_sentences(train, 0.0, 3) == []
    assert len(made) >= 5
    for example in made:
        original = originals[example.origin.removesuffix(" (names swapped)")]
        assert original.sentence not in ("Bank of America beats estimates", "Glencore to report results")
        assert example.meta["swapped"] and example.meta["source"] == original.meta["source"] and not example.aspects
        assert [m.label for m in example.mentions] == [m.label for m in original.mentions], "labels are kept"
        assert example.target == example.mentions[0].text
        new_names = [m.text for m in example.mentions]
        assert len({n.lower() for n in new_names}) == len(new_names)
        back = example.sentence
        for old, new in zip(original.mentions, example.mentions):
            assert new.text.lower() != old.text.lower() and new.text.lower() not in original.sentence.lower()
            # The name keeps its shape: a ticker for a ticker, a lower-case term for a term, a name for a name.
            assert new.text.isupper() == old.text.isupper() and new.text[:1].islower() == old.text[:1].islower()
            found = re.findall(r"(?<!\w)" + re.escape(new.text) + r"(?!\w)", example.sentence)
            assert len(found) == len(re.findall(re.escape(old.text), original.sentence, flags=re.IGNORECASE))
            back = back.replace(new.text, old.text)
        assert back.lower() == original.sentence.lower(), "only the names change"


def test_made_sentence_shares_are_checked_together():
    from finabsa.config import load_config

    settings = {"task.name": "joint", "task.contrast_share": 1.5, "task.paragraph_share": 2, "task.swap_share": -0.1}
    with pytest.raises(finabsa.ConfigError, match=r"(?s)contrast_share must be between 0 and 1; found 1.5.*"
                                                  r"paragraph_share must be between 0 and 1; found 2.*"
                                                  r"swap_share must be between 0 and 1; found -0.1"):
        load_config(None, settings).validate()
    load_config(None, {**settings, "task.contrast_share": 0.1, "task.paragraph_share": 0.1,
                       "task.swap_share": 0.2}).validate()


def test_the_joint_task_selects_its_best_epoch_by_the_metric_it_is_told(tmp_path):
    from finabsa.config import load_config
    from finabsa.training.trainer import training_arguments

    assert build_task("joint").selection_metric == "head_mean_f1"
    config = load_config(None, {"task.name": "joint", "task.selection": "pair_f1"})
    task = build_task("joint", config.task.options)
    args = training_arguments(config, task, tmp_path, progress=False)
    assert task.selection_metric == "pair_f1" and args.metric_for_best_model == "pair_f1" and args.greater_is_better
    with pytest.raises(finabsa.ConfigError, match="task 'joint' selection must be one of head_mean_f1, pair_f1; "
                                                  "found 'pair'"):
        load_config(None, {"task.name": "joint", "task.selection": "pair"}).validate()


def test_a_small_source_can_be_repeated_per_epoch(joint_data, tmp_path):
    from finabsa.config import load_config
    from finabsa.data.prepare import training_data

    extra = _table(tmp_path / "extra" / "more.csv", 30, seed=5)
    settings = {"task.name": "joint", "data.path": str(joint_data), "data.also_train": [str(extra)]}
    once = training_data(build_task("joint"), load_config(None, settings).data)
    twice = training_data(build_task("joint"), load_config(None, {**settings, "data.source_repeat": {"more": 2}}).data)
    count = lambda data, source: sum(1 for e in data.train if e.meta["source"] == source)  # noqa: E731
    assert count(twice, "more") == 2 * count(once, "more") and count(twice, "fiqa") == count(once, "fiqa")
    assert any(note.startswith("repeated per epoch: more 30 sentence(s) x2") for note in twice.notes)
    with pytest.raises(finabsa.ConfigError, match="data.source_repeat maps a source name to a whole number"):
        load_config(None, {**settings, "data.source_repeat": {"more": 0}}).validate()


def test_the_sentiment_of_the_models_own_best_target_is_scored_against_the_first_gold_target():
    from finabsa.tasks.joint.scoring import joint_metrics

    def target(text: str, score: float, label: str) -> dict:
        return {"text": text, "score": score, "sentiment": {"label": label}}

    examples = [Example("Tesco surges", mentions=(Mention("Tesco", label="positive"),)),
                Example("BP fined", mentions=(Mention("BP", label="negative"),)),
                Example("Shell flat", mentions=(Mention("Shell", label="neutral"),))]
    predictions = [{"targets": [target("Tesco", 0.9, "positive"), target("shares", 0.2, "negative")]},
                   {"targets": [target("fined", 0.8, "positive"), target("BP", 0.7, "negative")]},
                   {"targets": []}]  # no target answered: wrong
    metrics = joint_metrics(examples, predictions, None, bootstrap_samples=0, confidence=0.95)
    assert metrics["best_target_sentiment_accuracy"] == pytest.approx(1 / 3)
    assert metrics["best_target_sentiment_n"] == 3


@pytest.mark.parametrize("method", ["full", "lora"])
def test_the_head_can_learn_at_its_own_rate(tiny_bert, method):
    from finabsa.config import AdapterConfig
    from finabsa.models import build_model, resolve_model, trained_head_parameters
    from finabsa.training.trainer import with_head_groups

    task = build_task("joint", {"source_conventions": ["fiqa", "sentfin"]})
    model = build_model(resolve_model(str(tiny_bert)), task.head(["Stock/Price Action"]), ["Stock/Price Action"],
                        AdapterConfig(method=method, rank=2))
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    head = set(trained_head_parameters(model))
    assert head and head < set(trainable)
    assert any("tagger" in n for n in head) and any("source_embedding" in n for n in head)
    assert not any("encoder.layer" in n and "modules_to_save" not in n for n in head)
    optimizer = torch.optim.AdamW([{"params": list(trainable.values()), "weight_decay": 0.01}], lr=5e-5)
    with_head_groups(optimizer, model, head_learning_rate=1e-3)
    rate_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    assert len(rate_of) == len(trainable), "every trainable parameter stays in exactly one group"
    assert {rate_of[id(trainable[n])] for n in head} == {1e-3}
    assert {rate_of[id(p)] for n, p in trainable.items() if n not in head} == {5e-5}
    assert all(group["weight_decay"] == 0.01 for group in optimizer.param_groups)


def test_the_trainer_builds_its_optimizer_with_the_heads_rate(tiny_bert, tmp_path):
    from transformers import TrainingArguments

    from finabsa.config import AdapterConfig
    from finabsa.models import build_model, resolve_model, trained_head_parameters
    from finabsa.training.trainer import trainer_class

    task = build_task("joint")
    model = build_model(resolve_model(str(tiny_bert)), task.head(["Stock"]), ["Stock"], AdapterConfig(method="full"))
    trainer = trainer_class()(model=model, args=TrainingArguments(output_dir=str(tmp_path), learning_rate=5e-5,
                                                                   report_to="none"), head_learning_rate=2e-3)
    optimizer = trainer.create_optimizer()
    assert trainer.create_optimizer() is optimizer, "a second call keeps the optimizer it built"
    head = {id(p) for n, p in model.named_parameters() if n in set(trained_head_parameters(model))}
    rates = {group["lr"] for group in optimizer.param_groups if any(id(p) in head for p in group["params"])}
    assert rates == {2e-3}
    assert {group["lr"] for group in optimizer.param_groups if not any(id(p) in head for p in group["params"])} \
        == {5e-5}
