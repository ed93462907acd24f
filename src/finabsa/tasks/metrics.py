"""Metrics: classification (with per-class scores and confusion matrix), regression, and target extraction.

Every headline metric comes with a percentile-bootstrap confidence interval: the test split has 150 rows, so a
difference of a few points between two runs is often noise, and the report should say so.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "calibration_metrics",
    "reliability_bins",
    "coverage_curve",
    "bootstrap_interval",
    "classification_metrics",
    "regression_metrics",
    "target_metrics",
    "set_metrics",
    "token_f1",
    "rouge1_f",
    "normalise_answer",
]


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float], n: int, samples: int, confidence: float, seed: int = 0
) -> list[float] | None:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``samples`` resamples of ``range(n)``."""
    if samples <= 0 or n == 0:
        return None
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(samples)])
    tail = (1 - confidence) / 2 * 100
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]


def _f1_from_confusion(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    support = cm.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def _confusion(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(gold * k + pred, minlength=k * k).reshape(k, k)


def _macro_f1(gold: np.ndarray, pred: np.ndarray, k: int) -> float:
    cm = _confusion(gold, pred, k)
    _, _, f1, support = _f1_from_confusion(cm)
    present = (support > 0) | (cm.sum(axis=0) > 0)  # labels in gold or predictions, as scikit-learn averages
    return float(f1[present].mean()) if present.any() else 0.0


def classification_metrics(
    gold: Sequence[str],
    predicted: Sequence[str],
    labels: Sequence[str],
    bootstrap_samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Accuracy, macro/weighted precision-recall-F1, per-class scores, confusion matrix and bootstrap CIs.

    ``labels`` is the model's label list; gold labels outside it (never seen in training) are appended so that they
    show up, as errors, in the per-class table and the confusion matrix.
    """
    order = list(labels) + sorted({g for g in gold if g not in labels} | {p for p in predicted if p not in labels})
    index = {label: i for i, label in enumerate(order)}
    g = np.array([index[x] for x in gold], dtype=int)
    p = np.array([index[x] for x in predicted], dtype=int)
    k = len(order)
    cm = _confusion(g, p, k)
    precision, recall, f1, support = _f1_from_confusion(cm)
    present = (support > 0) | (cm.sum(axis=0) > 0)
    n = len(g)
    weights = support / support.sum() if support.sum() else support
    metrics = {
        "n": n,
        "accuracy": float((g == p).mean()) if n else 0.0,
        "correct": int((g == p).sum()),
        "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
        "macro_recall": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_precision": float((precision * weights).sum()),
        "weighted_recall": float((recall * weights).sum()),
        "weighted_f1": float((f1 * weights).sum()),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(order)
            if present[i]
        },
        "confusion_matrix": {"labels": order, "matrix": cm.tolist()},
        "accuracy_ci": bootstrap_interval(lambda idx: float((g[idx] == p[idx]).mean()), n, bootstrap_samples,
                                          confidence, seed),
        "macro_f1_ci": bootstrap_interval(lambda idx: _macro_f1(g[idx], p[idx], k), n, bootstrap_samples,
                                          confidence, seed),
        "unseen_gold": int(sum(1 for x in gold if x not in labels)),
    }
    return metrics


def regression_metrics(
    gold: Sequence[float], predicted: Sequence[float], bootstrap_samples: int = 1000, confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """MSE, RMSE, MAE, R² and Pearson r of predicted scores, with a bootstrap CI for MSE and R²."""
    g = np.asarray(gold, dtype=float)
    p = np.asarray(predicted, dtype=float)

    def r2(idx: np.ndarray) -> float:
        gi, pi = g[idx], p[idx]
        total = ((gi - gi.mean()) ** 2).sum()
        return float(1 - ((gi - pi) ** 2).sum() / total) if total > 0 else 0.0

    everything = np.arange(len(g))
    pearson = float(np.corrcoef(g, p)[0, 1]) if len(g) > 1 and g.std() > 0 and p.std() > 0 else 0.0
    return {
        "n": len(g),
        "mse": float(((g - p) ** 2).mean()),
        "rmse": float(np.sqrt(((g - p) ** 2).mean())),
        "mae": float(np.abs(g - p).mean()),
        "r2": r2(everything),
        "pearson": pearson,
        "mse_ci": bootstrap_interval(lambda idx: float(((g[idx] - p[idx]) ** 2).mean()), len(g), bootstrap_samples,
                                     confidence, seed),
        "r2_ci": bootstrap_interval(r2, len(g), bootstrap_samples, confidence, seed),
    }


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise_answer(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(gold: str, predicted: str) -> float:
    """SQuAD token-overlap F1 between two answers."""
    g, p = normalise_answer(gold).split(), normalise_answer(predicted).split()
    if not g or not p:
        return float(g == p)
    common = sum((Counter(g) & Counter(p)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def _rouge_tokens(text: str) -> list[str]:
    # Same tokenisation as Google's rouge_score (used by `evaluate`'s rouge): lower case, non-alphanumerics as spaces.
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def rouge1_f(gold: str, predicted: str) -> float:
    """ROUGE-1 F-measure (unigram overlap, no stemming), as the reference study's ``rouge1`` reports it."""
    g, p = _rouge_tokens(gold), _rouge_tokens(predicted)
    if not g or not p:
        return 0.0
    common = sum((Counter(g) & Counter(p)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def target_metrics(
    gold: Sequence[str], predicted: Sequence[str], bootstrap_samples: int = 1000, confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Exact match (case-insensitive), token F1 and ROUGE-1 (both x100 like the study) of predicted targets."""
    exact = np.array([g.strip().lower() == p.strip().lower() for g, p in zip(gold, predicted)], dtype=float)
    f1 = np.array([token_f1(g, p) for g, p in zip(gold, predicted)])
    rouge = np.array([rouge1_f(g, p) for g, p in zip(gold, predicted)])
    n = len(exact)
    return {
        "n": n,
        "exact_match": float(exact.mean()) if n else 0.0,
        "correct": int(exact.sum()),
        "token_f1": float(f1.mean() * 100) if n else 0.0,
        "rouge1": float(rouge.mean() * 100) if n else 0.0,
        "exact_match_ci": bootstrap_interval(lambda idx: float(exact[idx].mean()), n, bootstrap_samples, confidence,
                                             seed),
        "token_f1_ci": bootstrap_interval(lambda idx: float(f1[idx].mean() * 100), n, bootstrap_samples, confidence,
                                          seed),
    }


def set_metrics(gold: Sequence[set], predicted: Sequence[set], prefix: str) -> dict:
    """Micro precision, recall and F1 of predicted sets against gold sets (one pair of sets per sentence), e.g.
    the targets a sentence names, or its (target, sentiment) pairs; keys start with ``prefix``."""
    true_positive = sum(len(g & p) for g, p in zip(gold, predicted))
    n_predicted, n_gold = sum(len(p) for p in predicted), sum(len(g) for g in gold)
    precision = true_positive / n_predicted if n_predicted else 0.0
    recall = true_positive / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {f"{prefix}precision": precision, f"{prefix}recall": recall, f"{prefix}f1": f1,
            f"{prefix}gold": n_gold, f"{prefix}predicted": n_predicted, f"{prefix}correct": true_positive}


def _confidences(probabilities: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's top probability, and whether its top class is the target."""
    return probabilities.max(-1), probabilities.argmax(-1) == targets


def reliability_bins(probabilities: np.ndarray, targets: np.ndarray, bins: int = 15) -> list[dict[str, float]]:
    """Equal-width confidence bins: each non-empty bin's mean confidence, accuracy and row count."""
    confidence, correct = _confidences(probabilities, targets)
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high) if low > 0 else (confidence >= low) & (confidence <= high)
        if inside.any():
            rows.append({"low": float(low), "high": float(high), "confidence": float(confidence[inside].mean()),
                         "accuracy": float(correct[inside].mean()), "n": int(inside.sum())})
    return rows


def calibration_metrics(probabilities: np.ndarray, targets: np.ndarray, bins: int = 15) -> dict[str, float]:
    """Expected calibration error (``bins`` equal-width bins), Brier score, negative log-likelihood, accuracy and
    mean confidence of class probabilities (rows) against integer targets."""
    probabilities, targets = np.asarray(probabilities, dtype=np.float64), np.asarray(targets, dtype=np.int64)
    n = len(targets)
    confidence, correct = _confidences(probabilities, targets)
    ece = sum(b["n"] / n * abs(b["accuracy"] - b["confidence"]) for b in reliability_bins(probabilities, targets, bins))
    onehot = np.eye(probabilities.shape[1])[targets]
    return {"n": n, "ece": float(ece), "brier": float(((probabilities - onehot) ** 2).sum(-1).mean()),
            "nll": float(-np.log(np.clip(probabilities[np.arange(n), targets], 1e-12, 1.0)).mean()),
            "accuracy": float(correct.mean()), "confidence": float(confidence.mean())}


def coverage_curve(probabilities: np.ndarray, targets: np.ndarray,
                   thresholds: Sequence[float] = tuple(np.round(np.arange(0.3, 1.0, 0.05), 2))) -> list[dict]:
    """Accuracy against coverage when answers below a probability are withheld (``uncertain``): for each
    threshold, the share of rows answered and the accuracy on them."""
    confidence, correct = _confidences(np.asarray(probabilities), np.asarray(targets))
    rows = []
    for threshold in thresholds:
        kept = confidence >= threshold
        rows.append({"min_probability": float(threshold), "coverage": float(kept.mean()),
                     "accuracy": float(correct[kept].mean()) if kept.any() else None})
    return rows
