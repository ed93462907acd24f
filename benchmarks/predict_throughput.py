"""Sentences per second of the joint model beside the three-run pipeline it replaces, in the same run.

    python benchmarks/predict_throughput.py [--pipeline configs/pipeline-joint.yaml]
        [--compare configs/pipeline-fiqa.yaml] [--runtime onnx-int8] [--threads 2] [--batch-sizes 1,8,32,128]

Both pipelines answer the FiQA test sentences with ``Pipeline.analyze`` (one record per sentence). For the ONNX
runtimes each run is exported once into --exports (``finabsa export RUN --onnx --int8``). Each batch size gets one
warm-up pass, then passes over the sentences until --min-seconds have elapsed; the table shows sentences/s of both
and their ratio, and for batch 1 the per-sentence latency percentiles. Target: >= 200 sentences/s for the joint
model at batch 32 (ONNX int8, 2 threads). Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _common as bench

JOINT_PIPELINE = bench.REPO / "configs" / "pipeline-joint.yaml"


def load_pipeline(path: Path, runtime: str, exports: Path):
    """The pipeline a YAML file names, on ``runtime`` (its runs exported first for the ONNX runtimes)."""
    from finabsa.inference.pipeline import Pipeline, read_pipeline_file

    runs = read_pipeline_file(path)
    if not all(run.exists() for run in runs.values()):
        return None
    if runtime != "torch":
        runs = bench.ensure_exports(runs, exports / path.stem)
    return Pipeline(runs, runtime=runtime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default=str(JOINT_PIPELINE), help="pipeline measured (default: the joint run)")
    parser.add_argument("--compare", default=str(bench.DEFAULT_PIPELINE),
                        help="pipeline measured beside it for the ratio (default: the three-run pipeline; '' none)")
    parser.add_argument("--runtime", default="onnx-int8", choices=("torch", "onnx", "onnx-int8"))
    parser.add_argument("--data", default=None, help="data set whose test sentences are used (default: FiQA)")
    parser.add_argument("--batch-sizes", default="1,8,32,128", help="comma-separated batch sizes")
    parser.add_argument("--threads", type=int, default=2, help="torch / ONNX Runtime threads (default: 2)")
    parser.add_argument("--min-seconds", type=float, default=8.0, help="time each batch size at least this long")
    parser.add_argument("--exports", default=str(bench.REPO / "reports" / "bench" / "exports"))
    parser.add_argument("--output", default=str(bench.REPO / "reports" / "bench" / "predict_throughput.json"))
    args = parser.parse_args(argv)

    threads = bench.set_threads(args.threads)
    import finabsa
    from finabsa.data.sources import load_fiqa

    sentences = list(dict.fromkeys(e.sentence for e in load_fiqa(args.data)["test"]))
    subjects = {"measured": Path(args.pipeline), **({"compared": Path(args.compare)} if args.compare else {})}
    pipelines, load_seconds = {}, {}
    for role, path in subjects.items():
        began = time.perf_counter()
        pipelines[role] = load_pipeline(path, args.runtime, Path(args.exports))
        load_seconds[role] = round(time.perf_counter() - began, 2)
        if pipelines[role] is None:
            print(f"{path} names run folders that do not exist yet: train them first (configs/joint.yaml for the "
                  "joint run; the README's main command for the three-run pipeline).", file=sys.stderr)
            return 2
    info = bench.hardware()
    print(f"{bench.hardware_line(info)}\nruntime {args.runtime}, {threads} thread(s); {len(sentences)} test "
          f"sentences; finabsa {finabsa.__version__}")
    for role, path in subjects.items():
        print(f"{role}: {path} (tasks {', '.join(pipelines[role].tasks)}; loaded in {load_seconds[role]} s)")
    rows = []
    compared = "compared" in pipelines
    print("| batch | measured sentences/s | p50 ms | p95 ms |" + (" compared sentences/s | ratio |" if compared else "")
          + "\n|---:|---:|---:|---:|" + ("---:|---:|" if compared else ""))
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        row = {role: bench.measure_throughput(p.analyze, sentences, batch_size, args.min_seconds,
                                              bench.pipeline_batch_setter(p)) for role, p in pipelines.items()}
        row["batch_size"] = batch_size
        measured = row["measured"]
        line = (f"| {batch_size} | {measured['sentences_per_s']} | {measured.get('latency_p50_ms', '')} | "
                f"{measured.get('latency_p95_ms', '')} |")
        if compared:
            row["ratio"] = round(measured["sentences_per_s"] / row["compared"]["sentences_per_s"], 2)
            line += f" {row['compared']['sentences_per_s']} | {row['ratio']}x |"
        rows.append(row)
        print(line, flush=True)
    at_32 = next((r for r in rows if r["batch_size"] == 32), None)
    if at_32:
        print(f"measured at batch 32: {at_32['measured']['sentences_per_s']} sentences/s (target: >= 200)")
    path = bench.write_json(Path(args.output), {
        "hardware": info, "threads": threads, "runtime": args.runtime,
        "pipelines": {role: str(p) for role, p in subjects.items()},
        "tasks": {role: p.tasks for role, p in pipelines.items()}, "load_seconds": load_seconds, "results": rows,
    })
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
