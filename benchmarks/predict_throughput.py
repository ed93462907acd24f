"""Sentences per second of ``finabsa.Pipeline`` on the FiQA test sentences, at several batch sizes.

    python benchmarks/predict_throughput.py [--pipeline configs/pipeline-fiqa.yaml] [--batch-sizes 1,8,32,128]

Each batch size gets one warm-up pass, then passes over the test sentences until --min-seconds have elapsed; the
table shows sentences/s and, for batch 1, the per-sentence latency percentiles. Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _common as bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_pipeline_arguments(parser)
    parser.add_argument("--data", default=None, help="data set whose test sentences are used (default: FiQA)")
    parser.add_argument("--batch-sizes", default="1,8,32,128", help="comma-separated batch sizes")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--min-seconds", type=float, default=10.0, help="time each batch size at least this long")
    parser.add_argument("--output", default=str(bench.REPO / "reports" / "bench" / "predict_throughput.json"))
    args = parser.parse_args(argv)

    threads = bench.set_threads(args.threads)
    import finabsa
    from finabsa.data.sources import load_fiqa
    from finabsa.inference.pipeline import Pipeline, read_pipeline_file

    if not all(path.exists() for path in read_pipeline_file(args.pipeline).values()):
        print(bench.missing_pipeline_message(Path(args.pipeline)), file=sys.stderr)
        return 2
    sentences = list(dict.fromkeys(e.sentence for e in load_fiqa(args.data)["test"]))
    began = time.perf_counter()
    pipeline = Pipeline.from_file(args.pipeline, runtime=args.runtime)
    load_seconds = time.perf_counter() - began
    info = bench.hardware()
    print(f"{bench.hardware_line(info)}\npipeline: {args.pipeline}, runtime {args.runtime} "
          f"(tasks {', '.join(pipeline.tasks)}; loaded in {load_seconds:.1f} s); {len(sentences)} test sentences; "
          f"finabsa {finabsa.__version__}")
    rows = []
    print("| batch | sentences/s | p50 ms | p95 ms | p99 ms |\n|---:|---:|---:|---:|---:|")
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        row = bench.measure_throughput(pipeline.analyze, sentences, batch_size, args.min_seconds,
                                       bench.pipeline_batch_setter(pipeline))
        rows.append(row)
        print(f"| {batch_size} | {row['sentences_per_s']} | {row.get('latency_p50_ms', '')} | "
              f"{row.get('latency_p95_ms', '')} | {row.get('latency_p99_ms', '')} |", flush=True)
    best = max(rows, key=lambda r: r["sentences_per_s"])
    print(f"best: {best['sentences_per_s']} sentences/s at batch {best['batch_size']} (target: >= 200)")
    path = bench.write_json(Path(args.output), {
        "hardware": info, "threads": threads, "pipeline": args.pipeline, "runtime": args.runtime,
        "tasks": pipeline.tasks, "load_seconds": round(load_seconds, 2), "results": rows, "best": best,
    })
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
