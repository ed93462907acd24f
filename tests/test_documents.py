"""Whole documents: sentence splitting with offsets (abbreviations, tickers, numbers), long sentences split to fit,
entity aggregation and its sentiment rule, and the document answer from a pipeline, the CLI and the service."""

from __future__ import annotations

import pytest

from finabsa.data.spans import entity_key, entity_keys
from finabsa.inference.documents import aggregate_document, document_sentiment
from finabsa.models.text_parts import SentenceSpan, fit_to_length, split_sentences

NEWS = ("Apple Inc. said on Monday that U.S. sales rose 5.2% in Q3. Shares of $AAPL gained 3 pct in early trade. "
        "Johnson & Johnson <JNJ.N> fell 1.5% after the F.D.A. report, J.P. Morgan analysts said.")


def test_sentences_keep_abbreviations_tickers_and_numbers_and_their_offsets():
    sentences = split_sentences(NEWS)
    assert [s.text for s in sentences] == [
        "Apple Inc. said on Monday that U.S. sales rose 5.2% in Q3.",
        "Shares of $AAPL gained 3 pct in early trade.",
        "Johnson & Johnson <JNJ.N> fell 1.5% after the F.D.A. report, J.P. Morgan analysts said.",
    ]
    assert all(NEWS[s.start:s.end] == s.text for s in sentences)


def test_headlines_on_their_own_lines_are_sentences_and_blank_text_has_none():
    text = "  Tesco shares surge\n\nSainsbury slumps after profit warning  "
    assert [(s.text, text[s.start:s.end]) for s in split_sentences(text)] == [
        ("Tesco shares surge", "Tesco shares surge"),
        ("Sainsbury slumps after profit warning", "Sainsbury slumps after profit warning")]


def word_offsets(text: str) -> list[tuple[int, int]]:
    """One token per word: a stand-in tokenizer for the length checks."""
    import re

    return [m.span() for m in re.finditer(r"\S+", text)]


def test_a_sentence_over_the_token_budget_is_split_at_word_boundaries_never_cut():
    text = "one two three four five six seven eight nine ten"
    pieces, cut = fit_to_length([SentenceSpan(100, 100 + len(text), text)], word_offsets, max_tokens=4)
    assert cut == 1
    assert [p.text for p in pieces] == ["one two three four", "five six seven eight", "nine ten"]
    assert " ".join(p.text for p in pieces) == text  # every word kept
    assert [(p.start - 100, p.end - 100) for p in pieces] == [(0, 18), (19, 39), (40, 48)]
    short, none_cut = fit_to_length([SentenceSpan(0, 3, "one")], word_offsets, max_tokens=4)
    assert none_cut == 0 and short == [SentenceSpan(0, 3, "one")]


@pytest.mark.parametrize("names", [("Barclays PLC", "Barclays", "barclays'"), ("$AAPL", "<AAPL.O>", "AAPL"),
                                   ("Levi Strauss & Co", "Levi Strauss & Co.", "Levi Strauss"),
                                   ("Lloyds Banking Group PLC", "Lloyds Banking Group")])
def test_names_of_one_entity_share_a_key(names):
    assert len({entity_key(name) for name in names}) == 1


def test_different_entities_keep_different_keys():
    assert len({entity_key(n) for n in ("Barclays", "Lloyds", "BP", "Apple", "AAPL")}) == 5


@pytest.mark.parametrize("names, groups", [
    # A company named again by the first words of its name is that company.
    (["Exxon Mobil Corp", "Chevron Corp", "Exxon's"], [0, 1, 0]),
    (["Goldman Sachs Group Inc", "Goldman"], [0, 0]),
    # ... or by its initials in capitals.
    (["General Electric Co", "General Motors Co", "GE"], [0, 1, 0]),
    (["Hindustan Unilever Ltd", "HUL"], [0, 0]),
    (["Larsen & Toubro", "L&T"], [0, 0]),
    # Only a later mention, only a company, only one fuller name, not a ticker, not a common word, not a group.
    (["Exxon", "Exxon Mobil"], [0, 1]),
    (["China Mobile", "China"], [0, 1]),
    (["Tata Motors", "Tata Steel", "Tata"], [0, 1, 2]),
    (["Tata Motors", "Tata Group"], [0, 1]),
    (["American Express", "American"], [0, 1]),
    (["AAPL AAPL", "AAPL"], [0, 1]),
    (["GE", "General Electric"], [0, 1]),
])
def test_a_company_named_again_by_its_first_words_shares_its_key(names, groups):
    keys = entity_keys(names)
    assert [keys.index(key) for key in keys] == groups
    assert keys[0] == entity_key(names[0])


def sentiment(label: str, probability: float, score: float) -> dict:
    return {"label": label, "probability": probability, "score": score}


def test_document_sentiment_is_the_mean_of_the_mentions_class_distributions():
    # positive 0.9 (neg 0.05), negative 0.6 (pos 0.1): mean P = pos 0.5, neu 0.125, neg 0.325
    answer = document_sentiment([sentiment("positive", 0.9, 0.85), sentiment("negative", 0.6, -0.5)])
    assert answer["label"] == "positive" and answer["mentions"] == 2
    assert answer["probability"] == pytest.approx(0.5) and answer["score"] == pytest.approx(0.175)
    given = document_sentiment([{"label": "neutral", "probability": 0.5,
                                 "probabilities": {"positive": 0.2, "neutral": 0.5, "negative": 0.3}}])
    assert given["label"] == "neutral" and given["score"] == pytest.approx(-0.1)
    withheld = document_sentiment([{"label": "uncertain", "best_label": "negative", "probability": 0.45,
                                    "score": -0.25}])
    assert withheld["label"] == "negative"


def test_the_document_answer_groups_mentions_by_entity_with_offsets_into_the_document():
    document = "Barclays PLC shares fell. Lloyds rose, while Barclays said it would appeal."
    sentences = split_sentences(document)
    records = [
        {"text": sentences[0].text, "targets": [{"text": "Barclays PLC", "start": 0, "end": 12,
                                                 "sentiment": sentiment("negative", 0.9, -0.85)}],
         "aspect": {"label": "Stock/Price Action", "probability": 0.7}},
        {"text": sentences[1].text, "targets": [
            {"text": "Lloyds", "start": 0, "end": 6, "sentiment": sentiment("positive", 0.8, 0.7)},
            {"text": "Barclays", "start": 19, "end": 27, "sentiment": sentiment("negative", 0.7, -0.6)}],
         "aspect": {"label": "Corporate/Legal", "probability": 0.6}},
    ]
    answer = aggregate_document(document, sentences, records, sentences_cut=0)
    barclays, lloyds = answer["entities"]
    assert barclays["text"] == "Barclays PLC" and barclays["kind"] == "company" and len(barclays["mentions"]) == 2
    assert [document[m["start"]:m["end"]] for m in barclays["mentions"]] == ["Barclays PLC", "Barclays"]
    assert [m["sentence"] for m in barclays["mentions"]] == [0, 1]
    assert barclays["sentiment"]["label"] == "negative" and barclays["sentiment"]["mentions"] == 2
    assert [p["label"] for p in barclays["per_sentence"]] == ["negative", "negative"]
    assert lloyds["text"] == "Lloyds" and lloyds["sentiment"]["label"] == "positive"
    assert [a["label"] for a in answer["aspects"]] == ["Stock/Price Action", "Corporate/Legal"]
    assert [(s["start"], s["end"]) for s in answer["sentences"]] == [(s.start, s.end) for s in sentences]
    assert answer["sentences_cut"] == 0


def test_a_document_names_a_company_in_full_then_by_its_first_words():
    document = "Exxon Mobil Corp reported lower profit. Exxon shares still rose, and sales of crude oil fell."
    sentences = split_sentences(document)
    records = [
        {"text": sentences[0].text, "targets": [{"text": "Exxon Mobil Corp", "start": 0, "end": 16,
                                                 "sentiment": sentiment("negative", 0.8, -0.7)}]},
        {"text": sentences[1].text, "targets": [
            {"text": "Exxon", "start": 0, "end": 5, "sentiment": sentiment("positive", 0.7, 0.6)},
            {"text": "crude oil", "start": 38, "end": 47, "sentiment": sentiment("negative", 0.7, -0.6)}]},
    ]
    exxon, crude = aggregate_document(document, sentences, records)["entities"]
    assert exxon["text"] == "Exxon Mobil Corp" and len(exxon["mentions"]) == 2
    assert [p["label"] for p in exxon["per_sentence"]] == ["negative", "positive"]
    assert crude["kind"] == "commodity"


def test_a_pipeline_record_gives_its_target_the_record_sentiment():
    document = "Tesco shares surge."
    records = [{"text": document, "targets": [{"text": "Tesco", "start": 0, "end": 5}],
                "sentiment": sentiment("positive", 0.8, 0.7)}]
    (entity,) = aggregate_document(document, split_sentences(document), records)["entities"]
    assert entity["sentiment"]["label"] == "positive"


def test_a_long_text_is_read_in_parts_packed_at_sentence_boundaries_and_merged_into_one_record():
    from finabsa.models.text_parts import merge_part_records, text_parts

    text = "Tesco shares surge. BP fined over spill. Shell flat today."
    assert text_parts(text, word_offsets, max_tokens=20) == [SentenceSpan(0, len(text), text)]  # fits: as it is
    parts = text_parts(text, word_offsets, max_tokens=7)
    assert [p.text for p in parts] == ["Tesco shares surge. BP fined over spill.", "Shell flat today."]
    records = [
        {"text": parts[0].text, "targets": [{"text": "BP", "start": 20, "end": 22}],
         "given_targets": [{"text": "Shell", "start": None, "located": False}],
         "aspect": {"label": "Corporate/Legal", "probability": 0.6}, "notes": ["joint: a note"]},
        {"text": parts[1].text, "targets": [{"text": "Shell", "start": 0, "end": 5,
                                             "reasons": [{"text": "flat", "start": 6, "end": 10}]}],
         "given_targets": [{"text": "Shell", "start": 0, "end": 5, "located": True}],
         "aspect": {"label": "Stock/Price Action", "probability": 0.9}},
    ]
    merged = merge_part_records(text, parts, records)
    assert merged["text"] == text and merged["aspect"]["label"] == "Stock/Price Action"  # the surer part's
    assert [(t["text"], text[t["start"]:t["end"]]) for t in merged["targets"]] == [("BP", "BP"), ("Shell", "Shell")]
    reason = merged["targets"][1]["reasons"][0]
    assert text[reason["start"]:reason["end"]] == "flat"  # nested offsets move too
    assert merged["given_targets"] == [{"text": "Shell", "start": 41, "end": 46, "located": True}]
    assert merged["notes"][0] == "joint: a note" and "read in 2 parts" in merged["notes"][1]


def test_an_entity_named_in_several_parts_is_answered_once_with_its_surest_sentiment():
    from finabsa.models.text_parts import merge_part_records, text_parts

    text = "Exxon Mobil Corp fell. Chevron rose. Exxon's results beat estimates."
    parts = text_parts(text, word_offsets, max_tokens=5)
    assert [p.text for p in parts] == ["Exxon Mobil Corp fell.", "Chevron rose.", "Exxon's results beat estimates."]
    records = [
        {"text": parts[0].text, "targets": [{"text": "Exxon Mobil Corp", "start": 0, "end": 16,
                                             "sentiment": sentiment("negative", 0.6, -0.5)}]},
        {"text": parts[1].text, "targets": [{"text": "Chevron", "start": 0, "end": 7,
                                             "sentiment": sentiment("positive", 0.9, 0.8)}]},
        {"text": parts[2].text, "targets": [{"text": "Exxon", "start": 0, "end": 5,
                                             "sentiment": sentiment("positive", 0.8, 0.7)}]},
    ]
    targets = merge_part_records(text, parts, records)["targets"]
    assert [(t["text"], t["start"], t["sentiment"]["label"]) for t in targets] == [
        ("Exxon Mobil Corp", 0, "positive"), ("Chevron", 23, "positive")]
