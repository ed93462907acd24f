"""Joint runs on paragraphs: validation sentences written one after another, read whole and sentence by sentence.

    python benchmarks/joint_paragraphs.py runs/joint runs/joint-para [--sentences 2,3,4] [--source sentfin]

News comes as paragraphs; the training sets hold single sentences. This joins a run's own validation sentences of
one source (never trained on; shuffled with a fixed seed, two to four at a time, their targets all different) into
paragraphs and reads each one three ways, as a user's text (no source, so the run's ``answer_as`` convention):
whole (``Predictor.predict``, what ``finabsa predict`` does), sentence by sentence (document mode: each sentence
read alone, each entity answered once), and each sentence alone (the score on the same sentences unjoined, the
ceiling). Gold is the union of the sentences' (target, class) pairs; a pair counts when its entity key
(``finabsa.data.spans.entity_key``: case, legal suffixes and ticker marks aside) and class match. Prints pair F1
(precision, recall) per run and paragraph length, and writes JSON.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path

from _common import bench_arguments, hardware, hardware_line, joint_run_sets, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished joint run folders")
    parser.add_argument("--sentences", default="2,3,4", help="sentences per paragraph (comma-separated)")
    parser.add_argument("--source", default="sentfin", help="validation sentences of this source")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-length", type=int, default=None,
                        help="read with this many tokens at most (default: the run's model.max_length; a text over "
                             "it is read in parts split at sentence boundaries)")
    parser.add_argument("--every-kind", action="store_true",
                        help="answer every kind of target (task.answer_kinds: []), as runs before the option read")
    args = bench_arguments(parser, "joint_paragraphs.json", argv)

    from finabsa.data.records import SOURCE_KEY
    from finabsa.data.spans import entity_key
    from finabsa.inference.pipeline import Pipeline
    from finabsa.tasks.joint.scoring import mention_class
    from finabsa.tasks.metrics import set_metrics

    def pairs(targets: list[dict]) -> set[tuple[str, str]]:
        return {(entity_key(t["text"]), t["sentiment"]["label"]) for t in targets if t.get("sentiment")}

    results: dict[str, dict] = {}
    for run in args.runs:
        pipeline = Pipeline({"joint": run})
        if args.max_length:
            pipeline.predictors["joint"].max_length = args.max_length
        if args.every_kind:
            joint = pipeline.predictors["joint"]
            joint.task.options = replace(joint.task.options, answer_kinds=[])
        validation = [e for e in joint_run_sets(pipeline.predictors["joint"])["validation"]
                      if e.meta.get(SOURCE_KEY) == args.source]
        for size in map(int, args.sentences.split(",")):
            shuffled = list(validation)
            random.Random(args.seed).shuffle(shuffled)
            groups = [shuffled[i:i + size] for i in range(0, len(shuffled) - size + 1, size)]
            groups = [g for g in groups if _distinct_targets(g, entity_key)]
            texts = [" ".join(e.sentence.strip().rstrip(".") + "." for e in group) for group in groups]
            gold = [{(entity_key(m.text), mention_class(m)) for e in group for m in e.mentions if mention_class(m)}
                    for group in groups]
            whole = [pairs(r["targets"]) for r in pipeline.predictors["joint"].predict(texts)]
            by_sentence = [pairs(d["entities"]) for d in pipeline.analyze_documents(texts)]
            alone_records = iter(pipeline.raw_records([e.sentence for group in groups for e in group]))
            alone = [set().union(*(pairs(next(alone_records)["targets"]) for _ in group)) for group in groups]
            results.setdefault(run, {})[str(size)] = {
                "paragraphs": len(texts), "whole": set_metrics(gold, whole, ""),
                "sentence_by_sentence": set_metrics(gold, by_sentence, ""),
                "each_sentence_alone": set_metrics(gold, alone, "")}
    print(hardware_line(hardware()))
    print(f"\npair F1 (precision / recall) on {args.source} validation sentences joined into paragraphs\n")
    print("| run | sentences | paragraphs | read whole | sentence by sentence | each sentence alone |\n"
          "|---|---:|---:|---|---|---|")
    for run, by_size in results.items():
        for size, row in by_size.items():
            cells = [f"{row[k]['f1']:.3f} ({row[k]['precision']:.3f} / {row[k]['recall']:.3f})"
                     for k in ("whole", "sentence_by_sentence", "each_sentence_alone")]
            print(f"| {run} | {size} | {row['paragraphs']} | " + " | ".join(cells) + " |")
    write_json(Path(args.output), {"hardware": hardware(), "source": args.source, "seed": args.seed,
                                   "max_length": args.max_length, "runs": results})
    print(f"\nwritten: {args.output}")
    return 0


def _distinct_targets(group: list, entity_key) -> bool:
    """No entity named in two sentences of one paragraph (its gold pairs would be ambiguous)."""
    keys = [entity_key(m.text) for example in group for m in example.mentions]
    return len(keys) == len(set(keys))


if __name__ == "__main__":
    sys.exit(main())
