"""What an explained prediction costs beside a plain one, on the same sentences and model.

    python benchmarks/explain_cost.py runs/joint [--sentences 20] [--steps 32] [--threads 2]

Predicts the first --sentences FiQA test sentences one at a time (as a request of one text would), plainly and with
``explain`` (Integrated Gradients, --steps steps per answer), and prints seconds per sentence for both, their ratio,
and the answers explained per sentence. Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import bench_arguments, hardware, hardware_line, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run folder (or an export folder on the torch runtime)")
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--steps", type=int, default=32, help="Integrated Gradients steps per answer")
    args = bench_arguments(parser, "explain_cost.json", argv)
    threads = args.threads

    import finabsa
    from finabsa.data.records import as_example
    from finabsa.data.sources import load_fiqa
    from finabsa.inference.explain import explain_predictions

    predictor = finabsa.load(args.run)
    sentences = list(dict.fromkeys(e.sentence for e in load_fiqa(None)["test"]))[: args.sentences]
    predictor.predict(sentences[:2])  # warm-up
    began = time.perf_counter()
    for sentence in sentences:
        predictor.predict([sentence])
    plain = (time.perf_counter() - began) / len(sentences)
    answers = 0
    began = time.perf_counter()
    for i, sentence in enumerate(sentences):
        example = as_example(sentence, i)
        explained = explain_predictions(predictor, [example], predictor.predict_examples([example]), steps=args.steps)
        answers += sum(1 for target in explained[0].get("targets", []) if target.get("reasons")) or \
            int("reasons" in explained[0])
    explain = (time.perf_counter() - began) / len(sentences)
    print(f"{hardware_line(hardware())}\n{args.run}, {threads} thread(s), {len(sentences)} sentences one at a time, "
          f"{args.steps} steps")
    print(f"| | s per sentence |\n|---|---:|\n| plain | {plain:.4f} |\n| explained | {explain:.4f} |")
    print(f"explained / plain: {explain / plain:.1f}x; {answers / len(sentences):.2f} answers explained per sentence")
    write_json(Path(args.output), {"hardware": hardware(), "run": args.run, "steps": args.steps,
                                   "sentences": len(sentences), "plain_s": plain, "explained_s": explain,
                                   "ratio": explain / plain, "answers_per_sentence": answers / len(sentences)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
