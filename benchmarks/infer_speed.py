"""Inference speed and accuracy of each runtime: one task and the three-task pipeline, at several batch sizes.

    python benchmarks/infer_speed.py [--pipeline configs/pipeline-fiqa.yaml] [--threads 2] [--batch-sizes 1,8,32,128]

Runtimes: ``eager`` (PyTorch, LoRA adapter unmerged, as the run folder loads), ``merged`` (LoRA folded into the
weights), ``onnx`` (ONNX Runtime fp32) and ``onnx-int8`` (dynamic int8 quantisation). The ONNX models are exported
once into --exports (``finabsa export RUN --onnx --int8``). Beside each runtime's speed: its accuracy on the FiQA
test split per task (sentiment and aspect accuracy, target exact match), so that a faster runtime that loses
quality shows it. Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from _common import (
    REPO,
    add_pipeline_arguments,
    ensure_exports,
    hardware,
    hardware_line,
    measure_throughput,
    missing_pipeline_message,
    pipeline_batch_setter,
    set_threads,
    write_json,
)

RUNTIMES = ("eager", "merged", "onnx", "onnx-int8")
HEADLINE = {"sentiment": "accuracy", "aspect": "accuracy", "target": "exact_match"}


def build_pipeline(runtime: str, runs: dict[str, Path], exports: dict[str, Path]):
    from finabsa.inference.pipeline import Pipeline

    if runtime == "eager":
        return Pipeline(runs, merge=False)
    if runtime == "merged":
        return Pipeline(runs, merge=True)
    return Pipeline(exports, runtime=runtime)


def accuracy(pipeline, test) -> dict[str, float]:
    """Each task's headline metric on the test rows it can score (gold inputs, as `finabsa evaluate` does)."""
    scores = {}
    for task, predictor in pipeline.predictors.items():
        rows = [e for e in test if predictor.task.usable(e)]
        metrics, _ = predictor.evaluate(rows, SimpleNamespace(bootstrap_samples=0, confidence=0.95))
        scores[task] = round(100 * metrics[HEADLINE[task]], 2)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_pipeline_arguments(parser, runtime=False)
    parser.add_argument("--single-task", default="sentiment", help="task timed alone beside the pipeline")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated runtimes to measure")
    parser.add_argument("--batch-sizes", default="1,8,32,128", help="comma-separated batch sizes")
    parser.add_argument("--threads", type=int, default=None, help="torch / ONNX Runtime threads (default: all)")
    parser.add_argument("--min-seconds", type=float, default=4.0, help="time each cell at least this long")
    parser.add_argument("--exports", default=str(REPO / "reports" / "bench" / "exports"))
    parser.add_argument("--output", default=str(REPO / "reports" / "bench" / "infer_speed.json"))
    args = parser.parse_args(argv)

    threads = set_threads(args.threads)
    from finabsa.data.sources import load_fiqa
    from finabsa.inference.pipeline import Pipeline, read_pipeline_file

    runs = read_pipeline_file(args.pipeline)
    if not all(path.exists() for path in runs.values()):
        print(missing_pipeline_message(Path(args.pipeline)), file=sys.stderr)
        return 2
    test = load_fiqa()["test"]
    sentences = list(dict.fromkeys(e.sentence for e in test))
    exports = ensure_exports(runs, Path(args.exports))
    info = hardware()
    print(f"{hardware_line(info)}\npipeline: {args.pipeline}; {len(sentences)} FiQA test sentences")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    results = []
    header = " | ".join(f"b{b}" for b in batch_sizes)
    print(f"| runtime | what | {header} | " + " | ".join(f"{t} {HEADLINE[t]}" for t in runs) + " |")
    print("|---|---|" + "---:|" * (len(batch_sizes) + len(runs)))
    for runtime in args.runtimes.split(","):
        began = time.perf_counter()
        pipeline = build_pipeline(runtime, runs, exports)
        load_seconds = time.perf_counter() - began
        scores = accuracy(pipeline, test)
        single = Pipeline({args.single_task: pipeline.predictors[args.single_task]})
        for what, subject in ((f"{args.single_task} only", single), ("pipeline", pipeline)):
            rows = [measure_throughput(subject.analyze, sentences, b, args.min_seconds, pipeline_batch_setter(subject))
                    for b in batch_sizes]
            results.append({"runtime": runtime, "what": what, "load_seconds": round(load_seconds, 2),
                            "accuracy": scores, "results": rows})
            speeds = " | ".join(str(r["sentences_per_s"]) for r in rows)
            print(f"| {runtime} | {what} sentences/s | {speeds} | " + " | ".join(str(scores[t]) for t in runs) + " |",
                  flush=True)
    best = max((r for r in results if r["what"] == "pipeline"),
               key=lambda r: max(x["sentences_per_s"] for x in r["results"]))
    top = max(best["results"], key=lambda x: x["sentences_per_s"])
    print(f"fastest pipeline: {best['runtime']} at batch {top['batch_size']}: {top['sentences_per_s']} sentences/s "
          "(target: >= 200)")
    path = write_json(Path(args.output), {"hardware": info, "threads": threads, "pipeline": args.pipeline,
                                           "results": results})
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
