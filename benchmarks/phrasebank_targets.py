"""Joint runs on wire-style news no run trained on: Financial PhraseBank sentences that name one company.

    python benchmarks/phrasebank_targets.py runs/joint runs/joint-teacher [--agreement 75]

The held-out sets are headlines and posts; what a user sends is often wire-service news. Financial PhraseBank is
the one source of such sentences here, labelled per sentence (no target) by how the news reads to an investor. A
sentence that names exactly one company, where a run answers exactly one company target, is read as a per-target
test: that target's sentiment against the sentence's label. The sentences are those of the ``--agreement`` file
that no PhraseBank file a given run trained on holds (the preset distils on the sentences all annotators agreed
on, unlabelled; the 75 % file holds about 1,190 more), read as a user's text (the run's ``answer_as``
convention). PhraseBank labels neutral most often (real news is not class-balanced either), so macro-F1 stands
beside accuracy, and the share of sentences with a company found beside both.

This reads no label to choose anything: it is a record of what a run does on text of another style, beside the
validation that chooses. Prints one Markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from _common import bench_arguments, hardware, hardware_line, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished joint run folders")
    parser.add_argument("--data", default=None, help="the PhraseBank folder (default: the runs' own PhraseBank "
                                                     "entry, else ../shared/data/financial_phrasebank)")
    parser.add_argument("--agreement", default="75", help="which PhraseBank file to read (50, 66, 75, all)")
    parser.add_argument("--answer-as", default=None,
                        help="read with this source convention (task.answer_as) instead of the run's own")
    args = bench_arguments(parser, "phrasebank_targets.json", argv)

    import finabsa
    from finabsa.data.entity_kinds import COMPANY
    from finabsa.data.labels import SENTIMENT_LABELS
    from finabsa.tasks.metrics import classification_metrics

    predictors = {run: finabsa.load(run) for run in args.runs}
    if args.answer_as:
        for predictor in predictors.values():
            predictor.task.options = replace(predictor.task.options, answer_as=args.answer_as)
    folder, trained_on = _phrasebank_files(predictors.values(), args.data)
    labels = {e.sentence: e.label for e in _load(folder, args.agreement)}
    seen = {e.sentence for agreement in trained_on for e in _load(folder, agreement)}
    unseen = [s for s in labels if s not in seen]

    answers: dict[str, dict[str, str]] = {}  # run -> sentence -> the one company's sentiment
    results: dict[str, dict] = {}
    for run, predictor in predictors.items():
        records = predictor.predict(unseen)
        companies = [[t for t in r["targets"] if t.get("kind", COMPANY) == COMPANY and t.get("sentiment")]
                     for r in records]
        answers[run] = {s: found[0]["sentiment"]["label"] for s, found in zip(unseen, companies) if len(found) == 1}
        single = [(labels[s], label) for s, label in answers[run].items()]
        gold, predicted = [g for g, _ in single], [p for _, p in single]
        metrics = classification_metrics(gold, predicted, list(SENTIMENT_LABELS)) if single else {}
        results[run] = {
            "sentences": len(unseen), "with_a_company": sum(1 for found in companies if found) / len(unseen),
            "one_company": len(single),
            "accuracy": sum(g == p for g, p in single) / len(single) if single else None,
            "macro_f1": metrics.get("macro_f1"),
            "recall": {c: _recall(single, c) for c in SENTIMENT_LABELS},
            "gold_classes": dict(Counter(gold)),
        }
    # The one-company sentences differ from run to run (each tags its own): the sentences every run answers with
    # one company compare the runs' sentiment on the same ground.
    common = [s for s in unseen if all(s in by_sentence for by_sentence in answers.values())]
    for run, row in results.items():
        pairs = [(labels[s], answers[run][s]) for s in common]
        row["common"] = {"sentences": len(common),
                         "accuracy": sum(g == p for g, p in pairs) / len(pairs) if pairs else None,
                         "macro_f1": classification_metrics([g for g, _ in pairs], [p for _, p in pairs],
                                                            list(SENTIMENT_LABELS))["macro_f1"] if pairs else None}
    print(hardware_line(hardware()))
    print(f"\nPhraseBank {args.agreement} % agreement sentences no run trained on ({len(unseen)}; trained on: "
          f"{', '.join(trained_on) or 'none'}), read as a user's text; one company target against the sentence "
          "label\n")
    print(f"| run | with a company | one company | accuracy | macro-F1 | recall pos / neu / neg | the {len(common)} "
          "sentences every run answers with one company: accuracy / macro-F1 |\n|---|---:|---:|---:|---:|---|---|")
    for run, row in results.items():
        recall = " / ".join(f"{row['recall'][c]:.3f}" if row["recall"][c] is not None else "–"
                            for c in ("positive", "neutral", "negative"))
        shared = row["common"]
        print(f"| {run} | {row['with_a_company']:.1%} | {row['one_company']} | {row['accuracy']:.3f} | "
              f"{row['macro_f1']:.3f} | {recall} | {shared['accuracy']:.3f} / {shared['macro_f1']:.3f} |")
    write_json(Path(args.output), {"hardware": hardware(), "agreement": args.agreement, "excluded": trained_on,
                                   "answer_as": args.answer_as, "runs": results})
    print(f"\nwritten: {args.output}")
    return 0


def _phrasebank_files(predictors, data: str | None) -> tuple[Path, list[str]]:
    """The PhraseBank folder, and the agreement files any of the runs trained on (their sentences are left out)."""
    folder, trained_on = Path(data) if data else None, []
    for predictor in predictors:
        config = predictor.info["config"].data
        for entry in config.also_train or []:
            path = Path(entry["path"] if isinstance(entry, dict) else entry)
            if "phrasebank" in path.name.lower():
                folder = folder or path
                agreement = str(entry.get("agreement", config.agreement) if isinstance(entry, dict)
                                else config.agreement)
                trained_on.append(agreement)
    return folder or Path("../shared/data/financial_phrasebank"), sorted(set(trained_on))


def _load(folder: Path, agreement: str) -> list:
    from finabsa.data.source_config import DataConfig
    from finabsa.data.sources import load_data

    return load_data(DataConfig(path=str(folder), format="phrasebank", agreement=agreement))["train"]


def _recall(pairs: list[tuple[str, str]], label: str) -> float | None:
    of_class = [p for g, p in pairs if g == label]
    return sum(p == label for p in of_class) / len(of_class) if of_class else None


if __name__ == "__main__":
    sys.exit(main())
