from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from finabsa.tasks.metrics import classification_metrics, regression_metrics, rouge1_f, target_metrics, token_f1


def _random_labels(seed: int, n: int = 200):
    rng = random.Random(seed)
    gold = [rng.choice(["positive", "neutral", "negative"]) for _ in range(n)]
    predicted = [g if rng.random() < 0.6 else rng.choice(["positive", "neutral", "negative"]) for g in gold]
    return gold, predicted


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_scikit_learn(seed):
    gold, predicted = _random_labels(seed)
    metrics = classification_metrics(gold, predicted, ["positive", "neutral", "negative"], bootstrap_samples=200)
    assert metrics["accuracy"] == pytest.approx(np.mean([g == p for g, p in zip(gold, predicted)]))
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, predicted, average="macro"))
    assert metrics["weighted_f1"] == pytest.approx(f1_score(gold, predicted, average="weighted"))
    p, r, _, _ = precision_recall_fscore_support(gold, predicted, average="macro", zero_division=0)
    assert (metrics["macro_precision"], metrics["macro_recall"]) == (pytest.approx(p), pytest.approx(r))
    low, high = metrics["accuracy_ci"]
    assert low < metrics["accuracy"] < high and high - low < 0.2
    low, high = metrics["macro_f1_ci"]
    assert low < metrics["macro_f1"] < high
    assert sum(sum(row) for row in metrics["confusion_matrix"]["matrix"]) == len(gold)


def test_unseen_gold_labels_show_up_as_errors():
    metrics = classification_metrics(["a", "b", "z"], ["a", "b", "a"], ["a", "b"], bootstrap_samples=0)
    assert metrics["unseen_gold"] == 1 and metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["confusion_matrix"]["labels"] == ["a", "b", "z"] and metrics["accuracy_ci"] is None


def test_regression_metrics():
    metrics = regression_metrics([0.5, -0.5, 0.0, 0.2], [0.4, -0.4, 0.1, 0.2], bootstrap_samples=100)
    assert metrics["mse"] == pytest.approx(0.0075)
    assert 0.9 < metrics["r2"] < 1 and metrics["pearson"] > 0.9


def test_target_metrics_are_case_insensitive():
    metrics = target_metrics(["Tesco", "Royal Mail", "BP"], ["TESCO", "Royal", "Shell"], bootstrap_samples=0)
    assert metrics["exact_match"] == pytest.approx(1 / 3) and metrics["correct"] == 1
    assert metrics["token_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3 * 100)


def test_rouge_and_token_f1_tokenisation():
    assert rouge1_f("$TSLA", "TSLA") == 1.0
    assert token_f1("the Coca-Cola Company", "Coca-Cola") == pytest.approx(2 / 3)
    assert rouge1_f("AB InBev", "") == 0.0
