"""``finabsa data inspect``: look at a data set before spending hours training on it.

Counts rows and labels per split, the score and token-length distributions, the aspect hierarchy, targets missing
from their sentence, duplicates within and across splits (leakage), labels that disagree across duplicates, and
every cell that loading repaired or could not use.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

from .fiqa import default_data_path
from .labels import NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD, sentiment_class
from .log import LoadLog
from .records import Example
from .sources import detect_format, load_data
from .splits import normalise_sentence

__all__ = ["inspect_data", "write_inspection", "summary_text"]

SPLIT_ORDER = ("train", "validation", "test")


def _sentiment_class(example: Example, positive: float, negative: float) -> str | None:
    if example.score is not None:
        return sentiment_class(example.score, positive, negative)
    return example.label


def _ordered(splits: dict[str, Any]) -> list[str]:
    return [s for s in SPLIT_ORDER if s in splits] + sorted(s for s in splits if s not in SPLIT_ORDER)


def _examples(rows: list[Example], n: int = 3) -> list[str]:
    return [f"{e.origin}: {e.sentence[:90]!r}" for e in rows[:n]]


def inspect_data(
    source: Any,
    tokenizer: Any = None,
    max_length: int = 128,
    positive_threshold: float = POSITIVE_THRESHOLD,
    negative_threshold: float = NEGATIVE_THRESHOLD,
) -> dict[str, Any]:
    """Inspect a data source (a ``DataConfig``) and return the findings as a JSON-serialisable mapping.

    ``tokenizer`` (a loaded Hugging Face tokenizer; ``finabsa data inspect`` loads the one named by --tokenizer)
    adds token lengths and the count of texts longer than ``max_length``; None leaves them out.
    """
    log = LoadLog(strict=False)
    if source.path is None:  # the default data set, as training resolves it
        source = dataclasses.replace(source, path=str(default_data_path()))
    fmt = source.format if source.format != "auto" else detect_format(source.path, source)
    source = dataclasses.replace(source, format=fmt)
    splits = load_data(source, log)
    order = _ordered(splits)
    report: dict[str, Any] = {"path": str(source.path), "format": fmt, "splits": order}
    report["rows"] = {s: len(splits[s]) for s in order}
    report["distinct_sentences"] = {s: len({e.sentence for e in splits[s]}) for s in order}
    report["labels"] = {
        s: dict(Counter(_sentiment_class(e, positive_threshold, negative_threshold) or "unlabelled"
                        for e in splits[s]))
        for s in order
    }
    report["scores"] = {s: [e.score for e in splits[s] if e.score is not None] for s in order}
    aspects = [a for s in order for e in splits[s] for a in e.aspects]
    report["aspects"] = {
        "rows_with_aspects": sum(1 for s in order for e in splits[s] if e.aspects),
        "level_1": dict(Counter(a.split("/")[0] for a in aspects).most_common()),
        "level_2": dict(Counter("/".join(a.split("/")[:2]) for a in aspects).most_common()),
        "distinct_full_paths": len(set(aspects)),
        "max_depth": max((len(a.split("/")) for a in aspects), default=0),
    }
    with_target = [e for s in order for e in splits[s] if e.target]
    missing_target = [e for e in with_target if e.target.lower() not in e.sentence.lower()]
    report["targets"] = {"rows_with_target": len(with_target), "not_in_sentence": len(missing_target),
                         "examples": [f"{e.origin}: target {e.target!r} not in {e.sentence[:70]!r}"
                                      for e in missing_target[:5]]}
    _duplicates(report, splits, order)
    classify = lambda e: _sentiment_class(e, positive_threshold, negative_threshold)  # noqa: E731
    report["label_disagreements"] = _label_disagreements(splits, order, classify)
    report["repairs"] = dict(log.counts(fatal=False))
    if "mojibake" in report["repairs"]:  # count rows, as users see them, rather than cells
        report["repairs"]["mojibake"] = sum(1 for s in order for e in splits[s] if e.meta.get("repaired"))
    report["repair_examples"] = [f"{e.location}: {e.detail}" for e in log.events if not e.fatal][:8]
    report["unusable_rows"] = [f"{e.location}: {e.detail}" for e in log.events if e.fatal]
    report["empty_texts"] = len(log.of_kind("empty_text"))
    if tokenizer is not None:
        report["tokens"] = _token_lengths(splits, order, tokenizer, max_length)
    report["leakage"] = any(o["normalised_sentences"] for o in report["overlap"])
    return report


def _duplicates(report: dict[str, Any], splits: dict[str, list[Example]], order: list[str]) -> None:
    """Duplicates within each split and sentences shared between splits (leakage), into ``report``."""
    report["duplicates_within"] = {}
    for s in order:
        # Several targets of one sentence are separate examples, not duplicates: count (sentence, target) pairs.
        exact = Counter((e.sentence, e.target) for e in splits[s])
        normal = Counter((normalise_sentence(e.sentence), (e.target or "").lower()) for e in splits[s])
        report["duplicates_within"][s] = {
            "exact_rows": sum(c for c in exact.values() if c > 1),
            "exact_sentences": sum(1 for c in exact.values() if c > 1),
            "normalised_sentences": sum(1 for c in normal.values() if c > 1),
        }
    report["overlap"] = []
    for a, b in combinations(order, 2):
        exact = {e.sentence for e in splits[a]} & {e.sentence for e in splits[b]}
        normal = {normalise_sentence(e.sentence) for e in splits[a]} & {normalise_sentence(e.sentence) for e in
                                                                        splits[b]}
        if exact or normal:
            examples = [e for e in splits[b] if normalise_sentence(e.sentence) in normal]
            report["overlap"].append({
                "splits": [a, b],
                "exact_sentences": len(exact),
                "normalised_sentences": len(normal),
                "distinct_in_second": report["distinct_sentences"][b],
                "examples": _examples(examples),
            })


def _label_disagreements(splits: dict[str, list[Example]], order: list[str], classify: Any) -> dict[str, Any]:
    """(Sentence, target) pairs that occur more than once with different sentiment classes."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    members: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for s in order:
        for e in splits[s]:
            label = classify(e)
            if label is not None:
                key = (normalise_sentence(e.sentence), (e.target or "").lower())
                groups[key].add(label)
                members[key].append(e)
    disagreements = [members[k] for k, labels in groups.items() if len(labels) > 1]
    return {
        "count": len(disagreements),
        "examples": [" vs ".join(f"{e.origin} ({classify(e)})" for e in group[:2]) for group in disagreements[:5]],
    }


def _token_lengths(splits: dict[str, list[Example]], order: list[str], tok: Any, max_length: int) -> dict:
    name = getattr(tok, "name_or_path", None) or type(tok).__name__
    result: dict[str, Any] = {"tokenizer": name, "max_length": max_length, "per_split": {}}
    for s in order:
        lengths = [len(ids) for ids in tok([e.sentence for e in splits[s]])["input_ids"]] if splits[s] else [0]
        result["per_split"][s] = {
            "mean": round(statistics.fmean(lengths), 1),
            "median": statistics.median(lengths),
            "p95": sorted(lengths)[int(0.95 * (len(lengths) - 1))],
            "max": max(lengths),
            "truncated": sum(1 for n in lengths if n > max_length),
            "lengths": lengths,
        }
    return result


def summary_text(report: dict[str, Any]) -> str:
    """The terminal summary: short, with warnings first."""
    lines = [f"{report['path']} ({report['format']})"]
    lines.append("rows: " + ", ".join(f"{s} {n}" for s, n in report["rows"].items()))
    for s in report["splits"]:
        labels = report["labels"][s]
        total = sum(labels.values()) or 1
        lines.append(f"  {s} labels: " + ", ".join(f"{k} {v} ({v / total:.0%})" for k, v in sorted(labels.items())))
    for o in report["overlap"]:
        a, b = o["splits"]
        lines.append(
            f"WARNING leakage: {o['normalised_sentences']} of {o['distinct_in_second']} distinct {b} sentences also "
            f"occur in {a} ({o['exact_sentences']} exact); e.g. {o['examples'][0] if o['examples'] else ''}"
        )
    for s, d in report["duplicates_within"].items():
        if d["exact_sentences"]:
            lines.append(f"duplicates in {s}: {d['exact_sentences']} sentences repeat ({d['exact_rows']} rows)")
    if report["label_disagreements"]["count"]:
        lines.append(f"WARNING {report['label_disagreements']['count']} duplicated sentence(s) carry different "
                     f"labels; e.g. {report['label_disagreements']['examples'][0]}")
    if report["targets"]["not_in_sentence"]:
        lines.append(f"targets not found in their sentence: {report['targets']['not_in_sentence']} of "
                     f"{report['targets']['rows_with_target']}")
    if report["repairs"]:
        lines.append("repaired while loading: " + ", ".join(f"{k} {v}" for k, v in sorted(report["repairs"].items())))
    if report["unusable_rows"]:
        lines.append(f"WARNING {len(report['unusable_rows'])} row(s) could not be used; first: "
                     f"{report['unusable_rows'][0]}")
    if report["aspects"]["rows_with_aspects"]:
        a = report["aspects"]
        lines.append(f"aspects: {len(a['level_1'])} level-1, {len(a['level_2'])} level-2, "
                     f"{a['distinct_full_paths']} full paths (depth up to {a['max_depth']})")
    if "tokens" in report:
        t = report["tokens"]
        for s, d in t["per_split"].items():
            lines.append(f"  {s} tokens ({t['tokenizer']}): mean {d['mean']}, p95 {d['p95']}, max {d['max']}; "
                         f"{d['truncated']} over max_length {t['max_length']}")
    return "\n".join(lines)


def _plots(report: dict[str, Any], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    splits = report["splits"]
    labels = sorted({label for s in splits for label in report["labels"][s]})
    fig, ax = plt.subplots(figsize=(7, 3.8))
    width = 0.8 / max(1, len(splits))
    for i, s in enumerate(splits):
        total = sum(report["labels"][s].values()) or 1
        ax.bar([j + i * width for j in range(len(labels))], [report["labels"][s].get(x, 0) / total for x in labels],
               width, label=f"{s} ({report['rows'][s]})")
    ax.set_xticks([j + width * (len(splits) - 1) / 2 for j in range(len(labels))], labels)
    ax.set_ylabel("share of rows")
    ax.set_title("label distribution per split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "labels.png", dpi=100)
    plt.close(fig)
    written.append("labels.png")
    if any(report["scores"].values()):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        for s in splits:
            if report["scores"][s]:
                ax.hist(report["scores"][s], bins=40, range=(-1, 1), alpha=0.5, label=s, density=True)
        ax.set_xlabel("sentiment score")
        ax.set_title("score distribution")
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / "scores.png", dpi=100)
        plt.close(fig)
        written.append("scores.png")
    if "tokens" in report:
        fig, ax = plt.subplots(figsize=(7, 3.8))
        for s, d in report["tokens"]["per_split"].items():
            ax.hist(d["lengths"], bins=40, alpha=0.5, label=s)
        ax.axvline(report["tokens"]["max_length"], color="red", linestyle="--", label="max_length")
        ax.set_xlabel(f"tokens ({report['tokens']['tokenizer']})")
        ax.set_title("text length")
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / "tokens.png", dpi=100)
        plt.close(fig)
        written.append("tokens.png")
    if report["aspects"]["level_2"]:
        top = list(report["aspects"]["level_2"].items())[:20]
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(top) + 1.2))
        ax.barh([k for k, _ in top][::-1], [v for _, v in top][::-1])
        ax.set_title("aspect categories (level 2, all splits)")
        fig.tight_layout()
        fig.savefig(folder / "aspects.png", dpi=100)
        plt.close(fig)
        written.append("aspects.png")
    return written


def _markdown(report: dict[str, Any], plots: list[str]) -> str:
    lines = [f"# Data report: {report['path']}", "", f"Format: `{report['format']}`.", "", "## Splits", "",
             "| split | rows | distinct sentences | " + " | ".join(sorted({k for v in report["labels"].values()
                                                                          for k in v})) + " |"]
    label_names = sorted({k for v in report["labels"].values() for k in v})
    lines.append("|---" * (3 + len(label_names)) + "|")
    for s in report["splits"]:
        lines.append(f"| {s} | {report['rows'][s]} | {report['distinct_sentences'][s]} | "
                     + " | ".join(str(report["labels"][s].get(k, 0)) for k in label_names) + " |")
    lines += ["", "## Leakage and duplicates", ""]
    if not report["overlap"]:
        lines.append("No sentence occurs in two splits.")
    for o in report["overlap"]:
        a, b = o["splits"]
        lines.append(f"- **{b} ∩ {a}**: {o['normalised_sentences']} of {o['distinct_in_second']} distinct {b} "
                     f"sentences also occur in {a} ({o['exact_sentences']} exactly).")
        lines += [f"  - {x}" for x in o["examples"]]
    for s, d in report["duplicates_within"].items():
        lines.append(f"- within {s}: {d['exact_sentences']} sentences repeat ({d['exact_rows']} rows); "
                     f"{d['normalised_sentences']} after normalising case, space and punctuation.")
    lines.append(f"- labels disagreeing across duplicates: {report['label_disagreements']['count']}")
    lines += [f"  - {x}" for x in report["label_disagreements"]["examples"]]
    lines += ["", "## Cells repaired or unusable", ""]
    lines.append("- repaired: " + (", ".join(f"{k} {v}" for k, v in sorted(report["repairs"].items())) or "none"))
    lines += [f"  - {x}" for x in report["repair_examples"]]
    lines.append(f"- unusable rows: {len(report['unusable_rows'])} (empty texts: {report['empty_texts']})")
    lines += [f"  - {x}" for x in report["unusable_rows"][:10]]
    t = report["targets"]
    lines += ["", "## Targets", "", f"{t['not_in_sentence']} of {t['rows_with_target']} targets do not occur in "
              "their sentence (case-insensitive)."]
    lines += [f"- {x}" for x in t["examples"]]
    a = report["aspects"]
    if a["rows_with_aspects"]:
        lines += ["", "## Aspects", "", f"{a['rows_with_aspects']} rows with aspects; {len(a['level_1'])} level-1 "
                  f"and {len(a['level_2'])} level-2 categories, {a['distinct_full_paths']} full paths.", "",
                  "| level 1 | rows |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in a["level_1"].items()]
    if "tokens" in report:
        tk = report["tokens"]
        lines += ["", f"## Text length ({tk['tokenizer']} tokens)", "",
                  "| split | mean | median | p95 | max | over max_length |", "|---|---|---|---|---|---|"]
        lines += [f"| {s} | {d['mean']} | {d['median']} | {d['p95']} | {d['max']} | {d['truncated']} |"
                  for s, d in tk["per_split"].items()]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_inspection(report: dict[str, Any], folder: Path) -> list[Path]:
    """Write report.md, report.html, report.json and the plots into ``folder``; returns the files written."""
    import json

    import markdown

    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(report, folder)
    text = _markdown(report, plots)
    (folder / "report.md").write_text(text, encoding="utf-8")
    body = markdown.markdown(text, extensions=["tables"])
    (folder / "report.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>finabsa data report</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px}img{max-width:100%}</style>\n" + body,
        encoding="utf-8",
    )
    slim = {k: v for k, v in report.items() if k != "scores"}
    if "tokens" in slim:
        slim["tokens"] = {**slim["tokens"], "per_split": {s: {k: v for k, v in d.items() if k != "lengths"}
                                                           for s, d in slim["tokens"]["per_split"].items()}}
    (folder / "report.json").write_text(json.dumps(slim, indent=2, ensure_ascii=False), encoding="utf-8")
    return [folder / n for n in ("report.md", "report.html", "report.json", *plots)]
