"""What ``GET /metrics`` reports, in the Prometheus text format (``prometheus-client``).

Each app gets its own registry, so that several apps in one process (tests, notebooks) never share counts. Under
``finabsa serve --workers N`` every worker writes its values to the folder named by ``PROMETHEUS_MULTIPROC_DIR``
(the supervisor sets it) and ``/metrics`` answers the sum over all workers, whichever worker takes the request.
"""

from __future__ import annotations

import os

__all__ = ["ServiceMetrics", "MULTIPROCESS_ENV", "ROUTE_OTHER"]

#: The environment variable prometheus-client reads for its multi-process folder.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The route label of any path the service does not serve (so that a scan of random paths adds one series, not many).
ROUTE_OTHER = "other"
#: Latency buckets in seconds: a headline takes milliseconds alone, a full batch under load up to seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Texts per forward pass (micro-batch sizes).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceMetrics:
    """Requests by route and status, latency, micro-batch sizes, queue depth, texts analysed and errors by status."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter("finabsa_requests", "HTTP requests answered, by route and status code",
                                ["route", "status"], registry=registry)
        self.errors = Counter("finabsa_errors", "HTTP requests answered with a 4xx or 5xx status, by status code",
                              ["status"], registry=registry)
        self.latency = Histogram("finabsa_request_duration_seconds", "Time from request to response, by route",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=registry)
        self.batch_texts = Histogram("finabsa_batch_texts", "Texts answered by one forward pass (micro-batch size)",
                                     buckets=BATCH_BUCKETS, registry=registry)
        self.texts = Counter("finabsa_texts", "Texts analysed", registry=registry)
        self.queue_texts = Gauge("finabsa_queue_texts", "Texts waiting for the model", registry=registry,
                                 multiprocess_mode="livesum")
        self.rejected = Counter("finabsa_rejected", "Requests refused before analysis, by reason (overloaded, "
                                "timeout, draining)", ["reason"], registry=registry)

    def observe(self, route: str, status: int, seconds: float) -> None:
        """One answered request."""
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)
        if status >= 400:
            self.errors.labels(status=str(status)).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type; under several workers, the sum over all of them."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return generate_latest(combined), CONTENT_TYPE_LATEST
