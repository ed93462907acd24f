"""Load test of ``finabsa serve``: status codes, back-pressure, latency and memory under mixed good and bad requests.

    python benchmarks/serve_load.py [--pipeline runs/joint] [--requests 10000] [--clients 16,64]
        [--max-queue 32] [--timeout 10] [--runtime torch]

Starts the service in its own process on a free loopback port (``finabsa serve PIPELINE --max-queue N --timeout S``)
and, for each client count, sends --requests requests (valid single texts, valid batches of 8, and each kind of bad
input, in a seeded random mix) from that many concurrent clients; then measures single-sentence latency with one
client. A valid request may be answered 200, or 429 (queue full, with Retry-After) or 504 (deadline) under
overload; a bad one must get its own 4xx. Clients honour Retry-After (capped at 5 s) before their next request.
Prints per phase: the 429 / 504 shares, p50/p95/p99 latency of the accepted (200) requests and of all, wrong
status codes and crashes (both must be 0), and the server's resident memory after a warm-up (full batches of the
longest sentences, then --warmup-mixed requests of the mix; neither counted) and at the end (a soak must not grow
it by more than 10 %). Writes JSON to --output.
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

from _common import REPO, hardware, hardware_line, percentile, write_json

MAX_TEXTS, MAX_CHARS = 64, 2000
#: Statuses a valid request may get under overload besides 200.
OVERLOAD = (429, 504)
#: Longest wait a client honours after a 429 (its Retry-After, capped).
MAX_BACKOFF = 5.0
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


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    if args.threads:
        env.update({"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)})
    command = [sys.executable, "-m", "finabsa", "serve", args.pipeline, "--port", str(port),
               "--max-texts", str(MAX_TEXTS), "--max-chars", str(MAX_CHARS), "--runtime", args.runtime,
               "--max-queue", str(args.max_queue), "--timeout", str(args.timeout), "--workers", str(args.workers)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_until_up(client, server: subprocess.Popen, timeout: float = 300) -> float:
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


def resident_mib(pid: int) -> float:
    """Resident memory of a process and its children (the workers), MiB, from /proc."""
    total = 0
    try:
        pids = [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pids = [pid]
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def run_phase(base: str, requests: list, clients: int) -> tuple[list[dict], float]:
    """Send ``requests`` from ``clients`` concurrent clients; one outcome per request, and the wall seconds."""
    import httpx

    work: queue.Queue = queue.Queue()
    for item in requests:
        work.put(item)
    results: list[dict] = []
    lock = threading.Lock()

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
                    if response.status_code == 200:
                        ok = expected == 200 and len(payload.get("results", [])) == count
                    elif expected == 200 and response.status_code in OVERLOAD:
                        ok = payload.get("error", {}).get("status") == response.status_code and (
                            response.status_code != 429 or int(response.headers.get("retry-after", "0")) >= 1)
                    else:
                        ok = response.status_code == expected and payload.get("error", {}).get("status") == expected
                    outcome["well_formed"] = bool(ok)
                except Exception as exc:  # a dropped connection or an unparsable answer counts as a crash
                    outcome["crash"] = f"{type(exc).__name__}: {exc}"
                outcome["seconds"] = time.perf_counter() - began
                with lock:
                    results.append(outcome)
                if outcome.get("status") == 429:  # a well-behaved client waits as told before its next request
                    time.sleep(min(float(response.headers.get("retry-after", "1")), MAX_BACKOFF))

    began = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - began


#: Texts in a valid request of each kind.
TEXTS_PER_REQUEST = {"single": 1, "batch8": 8}


def summarise(results: list[dict], wall: float, clients: int) -> dict:
    valid = [r for r in results if r["expected"] == 200 and "status" in r]
    accepted = [r["seconds"] for r in valid if r["status"] == 200]
    texts = sum(TEXTS_PER_REQUEST.get(r["kind"], 0) for r in valid if r["status"] == 200)
    return {
        "requests": len(results), "clients": clients, "wall_seconds": round(wall, 2),
        "requests_per_s": round(len(results) / wall, 1),
        "accepted_texts_per_s": round(texts / wall, 1),
        "share_429": round(sum(r["status"] == 429 for r in valid) / max(len(valid), 1), 3),
        "share_504": round(sum(r["status"] == 504 for r in valid) / max(len(valid), 1), 3),
        **{f"accepted_p{q}_ms": round(1000 * percentile(accepted, q), 1) for q in (50, 95, 99)},
        **{f"all_p{q}_ms": round(1000 * percentile([r["seconds"] for r in results], q), 1) for q in (50, 95, 99)},
        "wrong_status_codes": sum(1 for r in results if "status" in r and not r["well_formed"]),
        "crashes": sum(1 for r in results if "crash" in r),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default=str(REPO / "runs" / "joint"),
                        help="what finabsa serve loads: a run or export folder, or a pipeline file")
    parser.add_argument("--runtime", default="torch", choices=("torch", "onnx", "onnx-int8"))
    parser.add_argument("--requests", type=int, default=10_000, help="requests per client count")
    parser.add_argument("--clients", default="16,64", help="concurrent clients, one phase per count")
    parser.add_argument("--max-queue", type=int, default=32,
                        help="the service's --max-queue: about throughput x the queueing to allow (110 texts/s on "
                        "torch, 2 cores x 0.3 s)")
    parser.add_argument("--warmup", type=int, default=40,
                        help="requests of the 64 longest sentences sent before the soak, not counted")
    parser.add_argument("--warmup-mixed", type=int, default=3000,
                        help="mixed requests at the largest client count sent after those, not counted")
    parser.add_argument("--timeout", type=float, default=10.0, help="the service's --timeout")
    parser.add_argument("--workers", type=int, default=1, help="the service's --workers")
    parser.add_argument("--single", type=int, default=200, help="sequential single-sentence requests for latency")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the service (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(REPO / "reports" / "bench" / "serve_load.json"))
    args = parser.parse_args(argv)

    import httpx

    from finabsa.data.sources import load_fiqa

    if not Path(args.pipeline).exists():
        print(f"'{args.pipeline}' does not exist; train the joint run ('finabsa train configs/joint.yaml') or pass "
              "--pipeline.", file=sys.stderr)
        return 2
    sentences = list(dict.fromkeys(e.sentence for e in load_fiqa()["test"]))
    rng = random.Random(args.seed)
    kinds, weights = zip(*MIX)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args, port)
    phases, memory = [], {}
    try:
        with httpx.Client(base_url=base, timeout=120) as probe:
            startup = wait_until_up(probe, server)
        memory["after_startup_mib"] = resident_mib(server.pid)
        # Warm-up (not counted): full batches of the longest sentences, so that the allocator reaches the working
        # set of the largest forward pass before the soak starts (a first run without it grew 39 % in its first
        # 10,000 requests, then not at all).
        longest = sorted(sentences, key=len, reverse=True)[:MAX_TEXTS]
        heavy = ("POST", "/v1/analyze", json.dumps({"texts": longest}).encode(), JSON, 200, len(longest), "warmup")
        run_phase(base, [heavy] * args.warmup, 4)
        # ... then the mix itself at the largest client count, so the soak starts from the service's steady state.
        mixed = [build_request(kind, sentences, rng) + (kind,)
                 for kind in rng.choices(kinds, weights=weights, k=args.warmup_mixed)]
        run_phase(base, mixed, max(int(c) for c in args.clients.split(",")))
        memory["start_mib"] = resident_mib(server.pid)
        for clients in [int(c) for c in args.clients.split(",")]:
            requests = [build_request(kind, sentences, rng) + (kind,)
                        for kind in rng.choices(kinds, weights=weights, k=args.requests)]
            results, wall = run_phase(base, requests, clients)
            phases.append({**summarise(results, wall, clients), "memory_mib": resident_mib(server.pid),
                           "examples": [r for r in results if "crash" in r or not r.get("well_formed", True)][:3]})
            print(phases[-1], flush=True)
        single = []
        with httpx.Client(base_url=base, timeout=120) as client:
            for sentence in (sentences * 10)[: args.single]:
                start = time.perf_counter()
                client.post("/v1/analyze", json={"texts": [sentence]})
                single.append(time.perf_counter() - start)
            metrics = client.get("/metrics").text
        memory["end_mib"] = resident_mib(server.pid)
        alive = server.poll() is None
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    memory["growth"] = round(memory["end_mib"] / memory["start_mib"] - 1, 3)
    single_ms = {f"p{q}_ms": round(1000 * percentile(single, q), 1) for q in (50, 95, 99)}
    info = hardware()
    print(hardware_line(info) + " (client and server share the machine)")
    print(f"service: {args.pipeline} (runtime {args.runtime}, --max-queue {args.max_queue}, --timeout "
          f"{args.timeout:g}, --workers {args.workers}); up in {startup:.1f} s")
    print("| clients | requests | req/s | accepted texts/s | 429 share | 504 share | accepted p50 / p95 / p99 ms | "
          "all p95 ms | wrong status | crashes | server MiB |\n|" + "---:|" * 11)
    for p in phases:
        print(f"| {p['clients']} | {p['requests']} | {p['requests_per_s']} | {p['accepted_texts_per_s']} | "
              f"{p['share_429']:.1%} | {p['share_504']:.1%} | {p['accepted_p50_ms']} / {p['accepted_p95_ms']} / "
              f"{p['accepted_p99_ms']} | {p['all_p95_ms']} | {p['wrong_status_codes']} | {p['crashes']} | "
              f"{p['memory_mib']} |")
    print(f"single client: p50 {single_ms['p50_ms']} ms, p95 {single_ms['p95_ms']} ms; server memory "
          f"{memory['after_startup_mib']} MiB after start-up, {memory['start_mib']} MiB after the warm-up, "
          f"{memory['end_mib']} MiB at the end ({memory['growth']:+.1%} over the soak); alive at the end: {alive}")
    path = write_json(Path(args.output), {"hardware": info, "pipeline": args.pipeline, "runtime": args.runtime,
                                           "max_queue": args.max_queue, "timeout": args.timeout,
                                           "workers": args.workers, "startup_seconds": round(startup, 1),
                                           "phases": phases, "single_client": single_ms, "memory": memory,
                                           "alive": alive, "metrics_excerpt": [
                                               line for line in metrics.splitlines()
                                               if line.startswith(("finabsa_rejected", "finabsa_requests_total"))]})
    print(f"written: {path}")
    bad = any(p["wrong_status_codes"] or p["crashes"] for p in phases) or not alive
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
