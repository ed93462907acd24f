"""Load test of ``finabsa serve``: throughput, latency and status codes under mixed good and bad requests.

    python benchmarks/serve_load.py [--pipeline configs/pipeline-fiqa.yaml] [--requests 2000] [--clients 16]

Starts the service in its own process on a free loopback port, sends the requests (valid single texts, valid
batches of 8, and each kind of bad input, in a seeded random mix) from concurrent clients, then measures
single-sentence latency with one client. Prints throughput, p50/p95/p99 latency, the count of wrong status codes
(must be 0) and of crashes (connection failures or a dead server; must be 0). Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import (
    REPO,
    add_pipeline_arguments,
    hardware,
    hardware_line,
    missing_pipeline_message,
    percentile,
    write_json,
)

MAX_TEXTS, MAX_CHARS = 64, 2000
JSON = {"content-type": "application/json"}

#: (kind, share of requests): the bad kinds each test one client mistake.
MIX = [("single", 0.45), ("batch8", 0.25), ("wrong_content_type", 0.04), ("malformed_json", 0.04),
       ("texts_not_list", 0.04), ("empty_list", 0.03), ("non_string_item", 0.04), ("empty_string", 0.03),
       ("too_many_texts", 0.03), ("text_too_long", 0.03), ("unknown_route", 0.02)]


def build_request(kind: str, sentences: list[str], rng: random.Random) -> tuple[str, str, bytes, dict, int, int]:
    """(method, path, body, headers, expected status, expected result count) of one request of ``kind``."""
    one = rng.choice(sentences)

    def body(payload) -> bytes:
        return json.dumps(payload).encode()

    return {
        "single": ("POST", "/v1/analyze", body({"texts": [one]}), JSON, 200, 1),
        "batch8": ("POST", "/v1/analyze", body({"texts": rng.sample(sentences, 8)}), JSON, 200, 8),
        "wrong_content_type": ("POST", "/v1/analyze", body({"texts": [one]}), {"content-type": "text/plain"}, 415, 0),
        "malformed_json": ("POST", "/v1/analyze", b'{"texts": [', JSON, 400, 0),
        "texts_not_list": ("POST", "/v1/analyze", body({"texts": one}), JSON, 422, 0),
        "empty_list": ("POST", "/v1/analyze", body({"texts": []}), JSON, 422, 0),
        "non_string_item": ("POST", "/v1/analyze", body({"texts": [one, 42]}), JSON, 422, 0),
        "empty_string": ("POST", "/v1/analyze", body({"texts": [""]}), JSON, 422, 0),
        "too_many_texts": ("POST", "/v1/analyze", body({"texts": [one] * (MAX_TEXTS + 1)}), JSON, 413, 0),
        "text_too_long": ("POST", "/v1/analyze", body({"texts": ["x" * (MAX_CHARS + 1)]}), JSON, 413, 0),
        "unknown_route": ("GET", "/v1/nothing", b"", {}, 404, 0),
    }[kind]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(pipeline: str, port: int, threads: int | None, runtime: str) -> subprocess.Popen:
    env = dict(os.environ)
    if threads:
        env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    command = [sys.executable, "-m", "finabsa", "serve", pipeline, "--port", str(port),
               "--max-texts", str(MAX_TEXTS), "--max-chars", str(MAX_CHARS), "--runtime", runtime]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_until_up(client, server: subprocess.Popen, timeout: float = 180) -> float:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if server.poll() is not None:
            raise SystemExit(f"the service exited during start-up:\n{server.stderr.read()[-3000:]}")
        try:
            if client.get("/healthz").status_code == 200:
                return time.perf_counter() - began
        except Exception:
            time.sleep(0.25)
    raise SystemExit("the service did not answer /healthz within the timeout")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_pipeline_arguments(parser)
    parser.add_argument("--requests", type=int, default=2000, help="requests in the concurrent phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--single", type=int, default=200, help="sequential single-sentence requests for latency")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the service (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(REPO / "reports" / "bench" / "serve_load.json"))
    args = parser.parse_args(argv)

    import httpx

    from finabsa.data.sources import load_fiqa
    from finabsa.inference.pipeline import read_pipeline_file

    if not all(path.exists() for path in read_pipeline_file(args.pipeline).values()):
        print(missing_pipeline_message(Path(args.pipeline)), file=sys.stderr)
        return 2
    sentences = list(dict.fromkeys(e.sentence for e in load_fiqa()["test"]))
    rng = random.Random(args.seed)
    kinds, weights = zip(*MIX)
    requests = [build_request(kind, sentences, rng) + (kind,)
                for kind in rng.choices(kinds, weights=weights, k=args.requests)]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.pipeline, port, args.threads, args.runtime)
    results: list[dict] = []
    lock = threading.Lock()
    try:
        with httpx.Client(base_url=base, timeout=120) as probe:
            startup = wait_until_up(probe, server)
        work: queue.Queue = queue.Queue()
        for item in requests:
            work.put(item)

        def client_loop() -> None:
            with httpx.Client(base_url=base, timeout=120) as client:
                while True:
                    try:
                        method, path, body, headers, expected, count, kind = work.get_nowait()
                    except queue.Empty:
                        return
                    began = time.perf_counter()
                    outcome = {"kind": kind, "expected": expected}
                    try:
                        response = client.request(method, path, content=body, headers=headers)
                        outcome["status"] = response.status_code
                        payload = response.json()
                        ok = (len(payload.get("results", [])) == count if expected == 200
                              else payload.get("error", {}).get("status") == expected)
                        outcome["well_formed"] = bool(ok)
                    except Exception as exc:  # a dropped connection or an unparsable answer counts as a crash
                        outcome["crash"] = f"{type(exc).__name__}: {exc}"
                    outcome["seconds"] = time.perf_counter() - began
                    with lock:
                        results.append(outcome)

        began = time.perf_counter()
        threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began

        single_latencies = []
        with httpx.Client(base_url=base, timeout=120) as client:
            for sentence in (sentences * 10)[: args.single]:
                start = time.perf_counter()
                client.post("/v1/analyze", json={"texts": [sentence]})
                single_latencies.append(time.perf_counter() - start)
        alive = server.poll() is None
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    latencies = [r["seconds"] for r in results]
    wrong = [r for r in results if "status" in r and (r["status"] != r["expected"] or not r["well_formed"])]
    crashes = [r for r in results if "crash" in r] + ([] if alive else [{"crash": "server process died"}])
    texts_analysed = sum(len(json.loads(req[2])["texts"]) for req in requests if req[4] == 200)
    info = hardware()
    summary = {
        "requests": len(results), "clients": args.clients, "wall_seconds": round(wall, 2),
        "requests_per_s": round(len(results) / wall, 1), "texts_analysed_per_s": round(texts_analysed / wall, 1),
        **{f"latency_p{q}_ms": round(1000 * percentile(latencies, q), 1) for q in (50, 95, 99)},
        **{f"single_client_latency_p{q}_ms": round(1000 * percentile(single_latencies, q), 1) for q in (50, 95, 99)},
        "wrong_status_codes": len(wrong), "crashes": len(crashes), "startup_seconds": round(startup, 1),
        "by_kind": {kind: sum(r["kind"] == kind for r in results) for kind in kinds},
    }
    print(hardware_line(info) + " (client and server share the machine)")
    print(f"pipeline: {args.pipeline} (runtime {args.runtime}); service up in {startup:.1f} s")
    print("| requests | clients | req/s | texts/s | p50 ms | p95 ms | p99 ms | single p50 ms | single p95 ms | "
          "wrong status | crashes |\n|" + "---:|" * 11)
    print(f"| {summary['requests']} | {args.clients} | {summary['requests_per_s']} | {summary['texts_analysed_per_s']} "
          f"| {summary['latency_p50_ms']} | {summary['latency_p95_ms']} | {summary['latency_p99_ms']} | "
          f"{summary['single_client_latency_p50_ms']} | {summary['single_client_latency_p95_ms']} | "
          f"{summary['wrong_status_codes']} | {summary['crashes']} |")
    for r in (wrong + crashes)[:5]:
        print("  example problem:", r)
    path = write_json(Path(args.output), {"hardware": info, "pipeline": args.pipeline, "runtime": args.runtime,
                                           "summary": summary})
    print(f"written: {path}")
    return 0 if not wrong and not crashes else 1


if __name__ == "__main__":
    sys.exit(main())
