"""Sentences per second of the Ray Data engine (local Ray, 1 and 2 actors) beside streaming ``predict``, same run.

    python benchmarks/ray_throughput.py [--run runs/joint] [--sentences 100000] [--runtime onnx-int8]
        [--actors 1,2] [--shards 4]

The corpus repeats the FiQA, SEntFiN and Financial PhraseBank sentences up to --sentences, written as --shards JSON
lines files. Streaming ``predict`` reads the shards one after another in this process (what ``finabsa predict``
does); the Ray engine reads the same shards with ``predict_corpus`` (``finabsa predict --engine ray``) and writes
parquet shards. Each figure is records written / wall seconds of the whole job, model loading included (Ray's
start-up is timed apart: a cluster pays it once). On one machine Ray should keep >= 80 % of the streaming rate.
Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common as bench


def corpus_sentences(count: int) -> list[str]:
    """FiQA, SEntFiN and PhraseBank sentences (each once), repeated up to ``count``."""
    from finabsa.data.source_config import DataConfig
    from finabsa.data.sources import load_data, load_fiqa

    data = [e.sentence for split in load_fiqa().values() for e in split]
    for path in ("../shared/data/sentfin", "../shared/data/financial_phrasebank"):
        data += [e.sentence for split in load_data(DataConfig(path=str(bench.REPO / path))).values() for e in split]
    unique = list(dict.fromkeys(data))
    return (unique * (count // len(unique) + 1))[:count], len(unique)


def write_shards(sentences: list[str], folder: Path, shards: int) -> list[Path]:
    size = -(-len(sentences) // shards)
    files = []
    for i in range(shards):
        path = folder / f"part-{i:03d}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for number, sentence in enumerate(sentences[i * size:(i + 1) * size]):
                handle.write(json.dumps({"text": sentence, "id": i * size + number}) + "\n")
        files.append(path)
    return files


def streaming(run: str, runtime: str, files: list[Path], threads: int) -> dict:
    from finabsa.inference.pipeline import Pipeline
    from finabsa.inference.streams import read_inputs, stream_predictions

    bench.set_threads(threads)
    began = time.perf_counter()
    pipeline = Pipeline.from_path(run, runtime=runtime)
    loaded = time.perf_counter() - began
    rows = 0
    for file in files:
        rows += stream_predictions(read_inputs(str(file)), pipeline.analyze, io.StringIO(), chunk_size=512)["rows"]
    wall = time.perf_counter() - began
    return {"engine": "stream", "actors": None, "records": rows, "wall_seconds": round(wall, 1),
            "load_seconds": round(loaded, 1), "sentences_per_s": round(rows / wall, 1)}


def on_ray(run: str, runtime: str, folder: Path, actors: int, output: Path) -> dict:
    from finabsa.inference.ray_engine import PipelineSpec, RayOptions, predict_corpus

    began = time.perf_counter()
    rows = predict_corpus(str(folder), str(output), PipelineSpec(run, runtime=runtime), RayOptions(actors=actors),
                          progress=False)
    wall = time.perf_counter() - began
    return {"engine": "ray", "actors": actors, "records": rows, "wall_seconds": round(wall, 1),
            "sentences_per_s": round(rows / wall, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default=str(bench.REPO / "runs" / "joint"), help="run or export folder")
    parser.add_argument("--sentences", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=4, help="JSON lines files the corpus is written as")
    parser.add_argument("--runtime", default="onnx-int8", choices=("torch", "onnx", "onnx-int8"))
    parser.add_argument("--actors", default="1,2", help="Ray actor counts to measure, comma-separated")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the streaming run (default: all)")
    parser.add_argument("--output", default=str(bench.REPO / "reports" / "bench" / "ray_throughput.json"))
    args = parser.parse_args(argv)
    if not Path(args.run).exists():
        print(f"no run at '{args.run}'; train one with 'finabsa train configs/joint.yaml'.", file=sys.stderr)
        return 2

    import ray

    sentences, unique = corpus_sentences(args.sentences)
    work = Path(tempfile.mkdtemp(prefix="finabsa-ray-bench-"))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        files = write_shards(sentences, corpus, args.shards)
        if args.runtime != "torch":  # the export cache is filled before timing, as on any later run
            from finabsa.inference.loading import load

            load(args.run, runtime=args.runtime)
        results = [streaming(args.run, args.runtime, files, args.threads or 0)]
        print(results[-1], flush=True)
        began = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray_start = time.perf_counter() - began
        for actors in [int(a) for a in args.actors.split(",")]:
            results.append(on_ray(args.run, args.runtime, corpus, actors, work / f"out-{actors}"))
            print(results[-1], flush=True)
        cpus = ray.cluster_resources().get("CPU")
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stream_rate = results[0]["sentences_per_s"]
    for row in results:
        row["share_of_streaming"] = round(row["sentences_per_s"] / stream_rate, 3)
    info = bench.hardware()
    print(bench.hardware_line(info) + f" | Ray CPUs {cpus} | Ray start-up {ray_start:.1f} s")
    print(f"{args.sentences} sentences ({unique} unique; FiQA + SEntFiN + PhraseBank) in {args.shards} shards, "
          f"run {args.run}, runtime {args.runtime}")
    print("| engine | actors | records | wall s | sentences/s | share of streaming |\n|---|---:|---:|---:|---:|---:|")
    for row in results:
        print(f"| {row['engine']} | {row['actors'] or '-'} | {row['records']} | {row['wall_seconds']} | "
              f"{row['sentences_per_s']} | {row['share_of_streaming']:.0%} |")
    path = bench.write_json(Path(args.output), {"hardware": info, "run": args.run, "runtime": args.runtime,
                                                 "sentences": args.sentences, "unique_sentences": unique,
                                                 "ray_startup_seconds": round(ray_start, 1), "ray_cpus": cpus,
                                                 "results": results})
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
