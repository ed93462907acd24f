"""Running the service: uvicorn in one process, or in ``--workers N`` processes sharing one socket.

Shutdown is graceful: on SIGTERM a worker drains (requests in flight finish, new ones are answered 503 with
``Retry-After``, so that a load balancer moves them elsewhere) and exits once nothing is in flight, or after
``grace`` seconds. With several workers the supervisor forwards SIGTERM to each, restarts a worker that dies while
serving, and sums their metrics (``PROMETHEUS_MULTIPROC_DIR``).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, replace
from typing import Any

import uvicorn

from .service import API_KEY_ENV, ServiceLimits, ServiceState, create_app
from .service_metrics import MULTIPROCESS_ENV

__all__ = ["ServeSpec", "DrainingServer", "serve"]

logger = logging.getLogger(__name__)

#: Hosts that only this machine can reach (serving elsewhere without an API key is warned about).
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: A worker that dies sooner than this after its start failed to start (the supervisor stops instead of looping).
STARTUP_SECONDS = 120.0


@dataclass(frozen=True)
class ServeSpec:
    """What each worker loads: the pipeline (a pipeline file, a run or export folder) and the service's settings."""

    pipeline: str
    api_key: str | None = None
    limits: ServiceLimits | None = None
    batch_size: int = 32
    runtime: str = "torch"
    min_probability: float | None = None

    def app(self) -> Any:
        from .pipeline import Pipeline

        pipeline = Pipeline.from_path(self.pipeline, batch_size=self.batch_size, runtime=self.runtime)
        app = create_app(pipeline, api_key=self.api_key, limits=self.limits, min_probability=self.min_probability)
        logger.info("worker %d serves tasks %s", os.getpid(), ", ".join(pipeline.tasks))
        return app


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM drains before it stops: the service answers 503 to new requests
    (``ServiceState.begin_drain``) and the server exits once none is in flight, or after ``grace`` seconds.
    A second signal (or Ctrl+C) stops it at once, as uvicorn does."""

    def __init__(self, config: uvicorn.Config, state: ServiceState, grace: float = 30.0):
        super().__init__(config)
        self.state = state
        self.grace = grace
        self.drain_started: float | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        if sig == signal.SIGTERM and self.drain_started is None and not self.should_exit:
            self.state.begin_drain()
            self.drain_started = time.monotonic()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain_started is not None and not self.should_exit:
            drained = self.state.in_flight == 0
            if drained or time.monotonic() - self.drain_started > self.grace:
                logger.info("drained (%d request(s) still in flight); stopping", self.state.in_flight)
                self.should_exit = True
        return await super().on_tick(counter)


def serve(spec: ServeSpec, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve ``spec`` until SIGTERM or Ctrl+C: in this process, or in ``workers`` processes."""
    if workers < 1:
        from ..errors import FinabsaError

        raise FinabsaError(f"--workers must be >= 1; found {workers}.")
    api_key = spec.api_key or os.environ.get(API_KEY_ENV) or None
    spec = replace(spec, api_key=api_key)
    if host not in LOOPBACK and not api_key:
        logger.warning("serving on %s without an API key: anyone who can reach this address can use it", host)
    logger.info("serving on http://%s:%d with %d worker(s) (docs at /docs, metrics at /metrics)", host, port, workers)
    if workers == 1:
        _run_worker(spec, host, port, None)
    else:
        _supervise(spec, host, port, workers)


def _run_worker(spec: ServeSpec, host: str, port: int, sockets: list | None, threads: int | None = None) -> None:
    """Load the pipeline and serve until drained (the body of each worker process, or of the only one)."""
    if threads:
        import torch

        torch.set_num_threads(threads)  # N workers on C cores: C / N threads each, never more threads than cores
    app = spec.app()
    config = uvicorn.Config(app, host=host, port=port, log_level="info")
    grace = (spec.limits or ServiceLimits()).timeout
    DrainingServer(config, app.state.service, grace=grace).run(sockets=sockets)


def _supervise(spec: ServeSpec, host: str, port: int, workers: int) -> None:
    """Start ``workers`` processes on one listening socket; forward SIGTERM / SIGINT; restart a dead worker."""
    import multiprocessing
    import shutil
    import tempfile
    import threading

    metrics_dir = tempfile.mkdtemp(prefix="finabsa-metrics-")
    os.environ[MULTIPROCESS_ENV] = metrics_dir  # the workers inherit it: /metrics sums over all of them
    threads = max(1, (os.cpu_count() or 1) // workers)
    sock = uvicorn.Config(app="finabsa:unused", host=host, port=port).bind_socket()  # binds only
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> tuple[Any, float]:
        process = context.Process(target=_run_worker, args=(spec, host, port, [sock], threads), daemon=False)
        process.start()
        return process, time.monotonic()

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    running = [start() for _ in range(workers)]
    try:
        while not stop.wait(0.5):
            for i, (process, started) in enumerate(running):
                if process.is_alive():
                    continue
                if time.monotonic() - started < STARTUP_SECONDS:
                    logger.error("worker %d exited with code %s while starting; stopping", process.pid,
                                 process.exitcode)
                    stop.set()
                    break
                logger.error("worker %d died (exit code %s); starting another", process.pid, process.exitcode)
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(process.pid)
                running[i] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: each worker drains, then exits
        for process, _ in running:
            process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
