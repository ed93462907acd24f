"""Examples in reports: test sentences rendered as the web page shows them, the wrong ones first, gold beside
predicted, so that a person sees what a model gets wrong."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["pick_examples", "examples_markdown", "examples_html", "EXAMPLES_CSS"]

#: The web page's colours for sentiment, as one style block for HTML reports.
EXAMPLES_CSS = (
    "<style>.ex{border:1px solid #d0d7de;border-left:6px solid #57606a;border-radius:8px;padding:.4em .8em;"
    "margin:.4em 0}.ex.wrong{border-left-color:#b42318}.ex.right{border-left-color:#1a7f37}"
    ".ex mark{border-radius:4px;padding:0 .2em;font-weight:600;background:#eaeef2}"
    ".ex .positive{color:#1a7f37}.ex .negative{color:#b42318}.ex .neutral{color:#57606a}"
    ".ex small{color:#57606a}</style>"
)


def _predicted(row: dict[str, Any]) -> str:
    if isinstance(row.get("gold"), dict):  # several answers at once (an instruction-tuned LLM)
        return "; ".join(f"{field}: {row.get(field)}" for field in row["gold"])
    if "pairs" in row:  # the joint task: (target, sentiment) pairs
        return str(row["pairs"])
    return str(row.get("target") if "target" in row else row.get("label"))


def _correct(row: dict[str, Any]) -> bool:
    gold, predicted = row.get("gold"), _predicted(row)
    if isinstance(gold, dict):
        return all(str(row.get(field, "")).strip().lower() == str(value).strip().lower()
                   for field, value in gold.items())
    if "target" in row:
        return (gold or "").strip().lower() == (predicted or "").strip().lower()
    if "levels" in row and predicted != row["levels"][-1]:  # a hierarchical head read above the full path
        return "/".join(str(gold).split("/")[: len(predicted.split("/"))]) == predicted
    return str(gold) == predicted


def pick_examples(rows: list[dict[str, Any]], count: int = 20) -> list[dict[str, Any]]:
    """Up to ``count`` prediction rows (``predictions.jsonl``), the wrong ones first, each marked ``correct``."""
    marked = [{**row, "correct": _correct(row)} for row in rows]
    return ([r for r in marked if not r["correct"]] + [r for r in marked if r["correct"]])[:count]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def examples_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The examples as a Markdown table."""
    lines = ["| | sentence | gold | predicted |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {'✓' if row['correct'] else '✗'} | {_cell(row['sentence'])} | {_cell(row.get('gold'))} | "
                     f"{_cell(_predicted(row))} |")
    return lines


def _sentence_html(row: dict[str, Any]) -> str:
    sentence = row["sentence"]
    start, end = row.get("start"), row.get("end")
    if "target" in row and isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(sentence):
        return (html.escape(sentence[:start]) + f"<mark title='predicted target'>{html.escape(sentence[start:end])}"
                "</mark>" + html.escape(sentence[end:]))
    return html.escape(sentence)


def examples_html(rows: list[dict[str, Any]]) -> str:
    """The examples as cards: the sentence (a predicted target highlighted), gold beside predicted, the
    sentiment coloured and named in text (colour is never the only signal), right or wrong said in words."""
    cards = []
    for row in rows:
        verdict = "right" if row["correct"] else "wrong"
        gold, predicted = html.escape(str(row.get("gold"))), html.escape(_predicted(row))
        score = f", score {row['score']:+.2f}" if isinstance(row.get("score"), float) else ""
        probability = f" ({row['probability'] * 100:.0f} %)" if isinstance(row.get("probability"), float) else ""
        cards.append(
            f"<div class='ex {verdict}'><p>{_sentence_html(row)}</p><small>{verdict}: gold "
            f"<span class='{gold}'>{gold}</span>, predicted <span class='{predicted}'>{predicted}</span>"
            f"{probability}{score}</small></div>"
        )
    return EXAMPLES_CSS + "\n" + "\n".join(cards)
