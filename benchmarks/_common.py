"""Helpers shared by the benchmark scripts: thread settings, the machine description, percentiles, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PIPELINE = REPO / "configs" / "pipeline-fiqa.yaml"


def set_threads(threads: int | None) -> int:
    """Set torch's (and the BLAS libraries') thread count explicitly; returns the count in use."""
    import torch

    threads = threads or os.cpu_count() or 1
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def bench_arguments(parser: argparse.ArgumentParser, output_name: str, argv: list[str] | None) -> argparse.Namespace:
    """Add the flags every model benchmark takes (``--threads``, ``--output`` under reports/bench/), parse ``argv``
    and set the thread count; ``threads`` holds the count in use."""
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default=str(REPO / "reports" / "bench" / output_name))
    args = parser.parse_args(argv)
    args.threads = set_threads(args.threads)
    return args


def hardware() -> dict[str, Any]:
    """What the numbers were measured on: CPU model, cores, torch threads, versions."""
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def hardware_line(info: dict[str, Any]) -> str:
    return f"{info['cpu']} | {info['cores']} cores | torch threads {info['torch_threads']} | torch {info['torch']}"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan for no values."""
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def joint_run_sets(predictor: Any, per_source: bool = False) -> dict[str, list]:
    """The sentences a run reads (a joint run's, or any task's), rebuilt from its saved configuration: validation
    (and, with ``per_source``, validation per source), its test split, and the held-out sets its ``also_train``
    entries carve."""
    from finabsa.data.prepare import training_data
    from finabsa.data.records import SOURCE_KEY

    data = training_data(predictor.task, predictor.info["config"].data)
    sources: dict[str, list] = {}
    for example in data.validation if per_source else []:
        sources.setdefault(f"validation ({example.meta.get(SOURCE_KEY)})", []).append(example)
    return {"validation": data.validation, **sources, "test split": data.test, **data.extra_tests}


def missing_pipeline_message(path: Path) -> str:
    return (
        f"the pipeline file '{path}' names run folders that do not exist yet. Run the README's main command "
        "(finabsa study configs/study-fiqa.yaml, or at least its seed-1 runs), or train three runs and pass "
        "--pipeline FILE (a YAML mapping target/aspect/sentiment to run folders)."
    )


def measure_throughput(predict, sentences: list[str], batch_size: int, min_seconds: float, set_batch) -> dict[str, Any]:
    """Sentences/s of ``predict(list_of_sentences)`` at ``batch_size`` (set through ``set_batch``), timed for at
    least ``min_seconds`` after one warm-up call; at batch 1 also per-sentence latency percentiles."""
    import time

    set_batch(batch_size)
    predict(sentences[: max(batch_size, 8)])  # warm-up: first-call allocations and lazy imports
    latencies: list[float] = []
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds or done == 0:
        if batch_size == 1:
            for sentence in sentences:
                began = time.perf_counter()
                predict([sentence])
                latencies.append(time.perf_counter() - began)
        else:
            predict(sentences)
        done += len(sentences)
    elapsed = time.perf_counter() - start
    row: dict[str, Any] = {"batch_size": batch_size, "sentences": done, "seconds": round(elapsed, 3),
                           "sentences_per_s": round(done / elapsed, 1)}
    if latencies:
        row.update({f"latency_p{q}_ms": round(1000 * percentile(latencies, q), 2) for q in (50, 95, 99)})
    return row


def pipeline_batch_setter(pipeline):
    """A ``set_batch`` for ``measure_throughput`` that sets a pipeline's (and its predictors') batch size."""

    def set_batch(batch_size: int) -> None:
        pipeline.batch_size = batch_size
        for predictor in pipeline.predictors.values():
            predictor.batch_size = batch_size

    return set_batch


def add_pipeline_arguments(parser, runtime: bool = True) -> None:
    """The --pipeline (and --runtime) options shared by the benchmarks that load a pipeline."""
    parser.add_argument("--pipeline", default=str(DEFAULT_PIPELINE), help="pipeline YAML file")
    if runtime:
        parser.add_argument("--runtime", default="torch", choices=("torch", "onnx", "onnx-int8"),
                            help="runtime of export folders in the pipeline (infer_speed.py writes "
                            "reports/bench/exports/pipeline.yaml)")


def ensure_exports(runs: dict[str, Path], folder: Path) -> dict[str, Path]:
    """ONNX exports of the pipeline's runs, written once (reused while the source run is unchanged)."""
    from finabsa.inference.export import export_run
    from finabsa.run_layout import EXPORT_FILE, RUN_FILE, read_json_file

    folder = Path(folder)
    exports = {}
    for task, run in runs.items():
        target = folder / task
        info = target / EXPORT_FILE
        fresh = info.is_file() and read_json_file(info, "export folder")["source_run"] == str(run.resolve()) and \
            info.stat().st_mtime > (run / RUN_FILE).stat().st_mtime
        if not fresh:
            print(f"exporting {task} from {run} ...", flush=True)
            export_run(run, target, onnx=True, int8=True, overwrite=True)
        exports[task] = target
    # A pipeline file of the exports, for `serve_load.py --pipeline ... --runtime onnx-int8` and `finabsa serve`.
    (folder / "pipeline.yaml").write_text("".join(f"{task}: {task}\n" for task in exports), encoding="utf-8")
    return exports
