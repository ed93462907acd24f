"""Document mode beside sentence mode: sentences/s, and how well the sentence splitter recovers the sentences.

    python benchmarks/documents.py [--run runs/joint] [--headlines 3000] [--runtime torch]

News-like paragraphs are made from SEntFiN headlines joined in threes (a full stop added where a headline has no
end mark). Sentence mode analyses the headlines one record each (``Pipeline.analyze``); document mode analyses
the paragraphs (``Pipeline.analyze_documents``: split, one batched pass, per-document aggregation). The splitter
is scored on the same paragraphs by how many of the joined headlines it recovers exactly (boundary recall and
precision), pysbd beside a plain regular expression (split after . ! ? before a capital), so that the choice of
splitter rests on a measurement on financial text (tickers, abbreviations, numbers). Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import _common as bench

NAIVE = re.compile(r"(?<=[.!?])\s+(?=[A-Z$<\"'])")


def paragraphs(count: int) -> tuple[list[str], list[list[str]]]:
    """``count`` SEntFiN headlines (each once), joined in threes: the paragraphs and the sentences of each."""
    from finabsa.data.source_config import DataConfig
    from finabsa.data.sources import load_data

    data = load_data(DataConfig(path=str(bench.REPO / "../shared/data/sentfin")))
    headlines = list(dict.fromkeys(e.sentence.strip() for split in data.values() for e in split))[:count]
    headlines = [h if h[-1:] in ".!?" else h + "." for h in headlines]
    groups = [headlines[i:i + 3] for i in range(0, len(headlines), 3)]
    return [" ".join(group) for group in groups], groups


def boundary_scores(split, documents: list[str], truth: list[list[str]]) -> dict:
    """Recall and precision of the sentences a splitter returns against the joined headlines."""
    found = correct = expected = exact = 0
    for document, sentences in zip(documents, truth):
        predicted = [s.strip() for s in split(document) if s.strip()]
        hits = len(set(predicted) & set(sentences))
        found, correct, expected = found + len(predicted), correct + hits, expected + len(sentences)
        exact += predicted == sentences
    return {"recall": round(correct / expected, 4), "precision": round(correct / max(found, 1), 4),
            "documents_exact": round(exact / len(documents), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default=str(bench.REPO / "runs" / "joint"), help="run or export folder")
    parser.add_argument("--headlines", type=int, default=3000)
    parser.add_argument("--runtime", default="torch", choices=("torch", "onnx", "onnx-int8"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", default=str(bench.REPO / "reports" / "bench" / "documents.json"))
    args = parser.parse_args(argv)
    if not Path(args.run).exists():
        print(f"no run at '{args.run}'; train one with 'finabsa train configs/joint.yaml'.", file=sys.stderr)
        return 2
    from finabsa.inference.pipeline import Pipeline
    from finabsa.models.text_parts import split_sentences

    threads = bench.set_threads(args.threads)
    documents, truth = paragraphs(args.headlines)
    headlines = [s for group in truth for s in group]
    splitters = {"pysbd": boundary_scores(lambda d: [s.text for s in split_sentences(d)], documents, truth),
                 "regex": boundary_scores(NAIVE.split, documents, truth)}
    pipeline = Pipeline.from_path(args.run, runtime=args.runtime)
    pipeline.analyze(headlines[:64])  # warm-up
    began = time.perf_counter()
    pipeline.analyze(headlines)
    sentence_seconds = time.perf_counter() - began
    began = time.perf_counter()
    answers = pipeline.analyze_documents(documents)
    document_seconds = time.perf_counter() - began
    found = sum(len(a["sentences"]) for a in answers)
    rows = {
        "sentence mode": {"texts": len(headlines), "sentences": len(headlines), "seconds": round(sentence_seconds, 2),
                          "sentences_per_s": round(len(headlines) / sentence_seconds, 1)},
        "document mode": {"texts": len(documents), "sentences": found, "seconds": round(document_seconds, 2),
                          "sentences_per_s": round(found / document_seconds, 1),
                          "documents_per_s": round(len(documents) / document_seconds, 1),
                          "sentences_cut": sum(a["sentences_cut"] for a in answers),
                          "entities_per_document": round(sum(len(a["entities"]) for a in answers) / len(answers), 2)},
    }
    info = bench.hardware()
    print(bench.hardware_line(info) + f" | run {args.run} | runtime {args.runtime} | threads {threads}")
    print(f"{len(headlines)} SEntFiN headlines; {len(documents)} paragraphs of three")
    print("| mode | texts | sentences | seconds | sentences/s |\n|---|---:|---:|---:|---:|")
    for mode, row in rows.items():
        print(f"| {mode} | {row['texts']} | {row['sentences']} | {row['seconds']} | {row['sentences_per_s']} |")
    print("| splitter | boundary recall | precision | paragraphs split exactly |\n|---|---:|---:|---:|")
    for name, score in splitters.items():
        print(f"| {name} | {score['recall']:.1%} | {score['precision']:.1%} | {score['documents_exact']:.1%} |")
    path = bench.write_json(Path(args.output), {"hardware": info, "run": args.run, "runtime": args.runtime,
                                                 "modes": rows, "splitters": splitters})
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
