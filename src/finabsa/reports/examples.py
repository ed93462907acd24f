"""Examples in reports: test sentences rendered as the web page shows them, the wrong ones first, gold beside
predicted, so that a person sees what a model gets wrong."""

from __future__ import annotations

import html
from typing import Any

from ..tasks import Task

__all__ = ["pick_examples", "examples_markdown", "examples_html", "EXAMPLES_CSS"]

#: The web page's colours for sentiment, as one style block for HTML reports.
EXAMPLES_CSS = (
    "<style>.ex{border:1px solid #d0d7de;border-left:6px solid #57606a;border-radius:8px;padding:.4em .8em;"
    "margin:.4em 0}.ex.wrong{border-left-color:#b42318}.ex.right{border-left-color:#1a7f37}"
    ".ex mark{border-radius:4px;padding:0 .2em;font-weight:600;background:#eaeef2}"
    ".ex .positive{color:#1a7f37}.ex .negative{color:#b42318}.ex .neutral{color:#57606a}"
    ".ex small{color:#57606a}</style>"
)


def pick_examples(task: Task, rows: list[dict[str, Any]], count: int = 20) -> list[dict[str, Any]]:
    """Up to ``count`` prediction rows (``predictions.jsonl``: ``sentence``, ``gold`` and the prediction), the wrong
    ones first, each marked ``correct`` and given its ``answer`` text, both as the task judges and renders them."""
    marked = [{**row, "correct": task.is_correct(row.get("gold"), row), "answer": task.render_answer(row)}
              for row in rows]
    return ([r for r in marked if not r["correct"]] + [r for r in marked if r["correct"]])[:count]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def examples_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The examples as a Markdown table."""
    lines = ["| | sentence | gold | predicted |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {'✓' if row['correct'] else '✗'} | {_cell(row['sentence'])} | {_cell(row.get('gold'))} | "
                     f"{_cell(row['answer'])} |")
    return lines


def _spans(row: dict[str, Any]) -> list[tuple[int, int]]:
    """Character spans of the predicted targets: the row's own ``start``/``end``, or each of its ``targets``."""
    found = [(t.get("start"), t.get("end")) for t in (row.get("targets") or []) if isinstance(t, dict)]
    found.append((row.get("start"), row.get("end")))
    length = len(row["sentence"])
    spans = {(s, e) for s, e in found if isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= length}
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if not kept or start >= kept[-1][1]:
            kept.append((start, end))
    return kept


def _sentence_html(row: dict[str, Any]) -> str:
    sentence, parts, position = row["sentence"], [], 0
    for start, end in _spans(row):
        parts += [html.escape(sentence[position:start]),
                  f"<mark title='predicted target'>{html.escape(sentence[start:end])}</mark>"]
        position = end
    return "".join(parts) + html.escape(sentence[position:])


def examples_html(rows: list[dict[str, Any]]) -> str:
    """The examples as cards: the sentence (a predicted target highlighted), gold beside predicted, the
    sentiment coloured and named in text (colour is never the only signal), right or wrong said in words."""
    cards = []
    for row in rows:
        verdict = "right" if row["correct"] else "wrong"
        gold, predicted = html.escape(str(row.get("gold"))), html.escape(row['answer'])
        score = f", score {row['score']:+.2f}" if isinstance(row.get("score"), float) else ""
        probability = f" ({row['probability'] * 100:.0f} %)" if isinstance(row.get("probability"), float) else ""
        cards.append(
            f"<div class='ex {verdict}'><p>{_sentence_html(row)}</p><small>{verdict}: gold "
            f"<span class='{gold}'>{gold}</span>, predicted <span class='{predicted}'>{predicted}</span>"
            f"{probability}{score}</small></div>"
        )
    return EXAMPLES_CSS + "\n" + "\n".join(cards)
