"""The service under load, with a stand-in pipeline whose forward pass the test holds and releases: the bounded
queue (429 with Retry-After), the deadline (504), draining on SIGTERM (503 for new requests, in-flight ones
finish) and ``GET /metrics``. No model is trained or loaded, so these run in the fast tier."""

from __future__ import annotations

import signal
import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from finabsa.inference.server import DrainingServer
from finabsa.inference.service import ServiceLimits, create_app


class HeldPipeline:
    """Answers ``{"text": ...}`` records once ``release`` is set; counts the texts each pass was given."""

    tasks = ["sentiment"]
    predictors: dict = {}

    def __init__(self) -> None:
        self.release = threading.Event()
        self.passes: list[list[str]] = []
        self.entered = threading.Event()

    def analyze(self, texts, progress=False, explain=False):
        self.entered.set()
        assert self.release.wait(20), "the test never released the forward pass"
        texts = [t if isinstance(t, str) else t["text"] for t in texts]
        self.passes.append(texts)
        return [{"text": t} for t in texts]

    def describe(self):
        return {"tasks": self.tasks, "batch_size": 1, "models": {}}


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def post_in_thread(client, texts, answers: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: answers.append(client.post("/v1/analyze", json={"texts": texts})))
    thread.start()
    return thread


def test_a_full_queue_answers_429_with_retry_after_and_recovers():
    held = HeldPipeline()
    app = create_app(held, limits=ServiceLimits(max_texts=2, max_queue=2, max_batch=1, timeout=20))
    with TestClient(app) as client:
        answers: list = []
        first = post_in_thread(client, ["Tesco up"], answers)
        assert held.entered.wait(10)  # the first request is in the model; the next two texts wait
        second = post_in_thread(client, ["BP down", "Shell flat"], answers)
        wait_until(lambda: app.state.batcher.waiting == 2)
        refused = client.post("/v1/analyze", json={"texts": ["Nokia up"]})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "the service is busy: 2 texts are waiting, the queue holds 2" in refused.json()["error"]["message"]
        held.release.set()
        first.join(10), second.join(10)
        assert sorted(a.status_code for a in answers) == [200, 200]
        assert client.post("/v1/analyze", json={"texts": ["Nokia up"]}).status_code == 200  # drained: taken again
        metrics = client.get("/metrics").text
    assert 'finabsa_rejected_total{reason="overloaded"} 1.0' in metrics


def test_a_request_past_its_deadline_gets_504_and_its_texts_are_never_computed():
    held = HeldPipeline()
    app = create_app(held, limits=ServiceLimits(max_texts=2, max_batch=1, timeout=0.3))
    with TestClient(app) as client:
        answers: list = []
        first = post_in_thread(client, ["Tesco up"], answers)
        assert held.entered.wait(10)
        late = client.post("/v1/analyze", json={"texts": ["BP down"]})  # waits behind the held pass, then expires
        assert late.status_code == 504
        assert "no answer within the service's deadline of 0.3 s" in late.json()["error"]["message"]
        held.release.set()
        first.join(10)
        assert answers[0].status_code == 504  # the held request expired too, though its pass finished
        held.release.set()
        assert client.post("/v1/analyze", json={"texts": ["Shell flat"]}).status_code == 200
    assert ["BP down"] not in held.passes, "an expired request was dropped from the queue, not computed"


def test_draining_answers_new_requests_503_while_in_flight_ones_finish():
    held = HeldPipeline()
    app = create_app(held, limits=ServiceLimits(timeout=20))
    with TestClient(app) as client:
        answers: list = []
        in_flight = post_in_thread(client, ["Tesco up"], answers)
        assert held.entered.wait(10)
        app.state.service.begin_drain()
        refused = client.post("/v1/analyze", json={"texts": ["BP down"]})
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert "the service is shutting down" in refused.json()["error"]["message"]
        assert client.get("/healthz").status_code == 503  # a load balancer stops sending here
        held.release.set()
        in_flight.join(10)
    assert answers[0].status_code == 200 and answers[0].json()["results"] == [{"text": "Tesco up"}]


def test_metrics_count_requests_latency_batches_queue_and_errors():
    held = HeldPipeline()
    held.release.set()
    with TestClient(create_app(held)) as client:
        client.post("/v1/analyze", json={"texts": ["Tesco up", "BP down"]})
        client.post("/v1/analyze", json={"texts": []})
        client.get("/no/such/route")
        response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in ('finabsa_requests_total{route="/v1/analyze",status="200"} 1.0',
                 'finabsa_requests_total{route="/v1/analyze",status="422"} 1.0',
                 'finabsa_requests_total{route="other",status="404"} 1.0',
                 'finabsa_errors_total{status="422"} 1.0',
                 'finabsa_batch_texts_bucket{le="2.0"} 1.0',
                 "finabsa_texts_total 2.0",
                 "finabsa_queue_texts 0.0",
                 'finabsa_request_duration_seconds_count{route="/v1/analyze"} 2.0'):
        assert line in text, line


def test_sigterm_drains_the_server_then_stops_it():
    import uvicorn

    held = HeldPipeline()
    app = create_app(held, limits=ServiceLimits(timeout=20))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DrainingServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"),
                            app.state.service, grace=20)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30)
    base = f"http://127.0.0.1:{port}"
    answers: list = []
    in_flight = threading.Thread(target=lambda: answers.append(
        httpx.post(f"{base}/v1/analyze", json={"texts": ["Tesco up"]}, timeout=30)))
    in_flight.start()
    assert held.entered.wait(10)
    server.handle_exit(signal.SIGTERM, None)  # what the signal handler calls
    refused = httpx.post(f"{base}/v1/analyze", json={"texts": ["BP down"]}, timeout=10)
    assert refused.status_code == 503
    assert thread.is_alive(), "the server waits for the request in flight"
    held.release.set()
    in_flight.join(10)
    thread.join(10)
    assert answers[0].status_code == 200 and not thread.is_alive()


@pytest.mark.parametrize("limits, message", [
    (ServiceLimits(max_queue=0), "max_queue must be >= 1; found 0"),
    (ServiceLimits(timeout=0), "timeout must be a positive number of seconds; found 0"),
])
def test_invalid_load_limits_are_refused(limits, message):
    from finabsa.errors import FinabsaError

    with pytest.raises(FinabsaError, match=message):
        create_app(HeldPipeline(), limits=limits)


def test_a_request_larger_than_the_queue_still_enters_an_empty_one():
    held = HeldPipeline()
    held.release.set()
    with TestClient(create_app(held, limits=ServiceLimits(max_texts=4, max_queue=2, max_batch=4))) as client:
        answer = client.post("/v1/analyze", json={"texts": ["Tesco up", "BP down", "Shell flat", "Nokia up"]})
    assert answer.status_code == 200 and len(answer.json()["results"]) == 4
