"""The HTTP service through a real HTTP client: answers, every bad input with its status and message, the API key,
and one test against uvicorn on a free port."""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from finabsa.inference.pipeline import Pipeline
from finabsa.inference.service import ServiceLimits, create_app

TEXTS = ["Tesco shares surge after strong results", "$HSBC looks weak, shorting", "Glencore appoints new chairman"]


@pytest.fixture(scope="module")
def pipeline(pipeline_runs):
    return Pipeline(pipeline_runs, batch_size=4)


@pytest.fixture(scope="module")
def client(pipeline):
    with TestClient(create_app(pipeline, limits=ServiceLimits(max_texts=4, max_chars=80))) as test_client:
        yield test_client


def test_analyze_returns_pipeline_records_in_order(client, pipeline):
    response = client.post("/v1/analyze", json={"texts": TEXTS})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["text"] for r in results] == TEXTS
    expected = json.loads(json.dumps(pipeline.analyze(TEXTS)))
    assert [r["sentiment"]["label"] for r in results] == [r["sentiment"]["label"] for r in expected]
    assert [r["targets"] for r in results] == [r["targets"] for r in expected]


def test_concurrent_requests_are_answered_each_with_its_own_texts(client):
    answers: dict[int, list[str]] = {}

    def ask(i: int) -> None:
        texts = [f"{TEXTS[i % 3]} ({i})", f"Shell up {i}"]
        answers[i] = [r["text"] for r in client.post("/v1/analyze", json={"texts": texts}).json()["results"]]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {i: [f"{TEXTS[i % 3]} ({i})", f"Shell up {i}"] for i in range(8)}


def test_health_models_and_docs(client, pipeline_runs):
    assert client.get("/healthz").json()["status"] == "ok"
    models = client.get("/v1/models").json()
    assert set(models["tasks"]) == {"target", "aspect", "sentiment"}
    assert models["models"]["sentiment"]["labels"] == ["positive", "neutral", "negative"]
    assert len(models["models"]["aspect"]["adapter_sha256"]) == 16
    assert models["models"]["target"]["method"] == "lora"
    assert client.get("/docs").status_code == 200
    assert "/v1/analyze" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("body, headers, status, message", [
    ('{"texts": ["a"]}', {"content-type": "text/plain"}, 415, "expected Content-Type application/json"),
    ("{texts: [", {}, 400, "not valid JSON"),
    ("[]", {}, 422, "expected a JSON object"),
    ("{}", {}, 422, "missing field 'texts'"),
    ('{"texts": "Tesco up"}', {}, 422, "'texts' must be a list of strings; found a JSON string"),
    ('{"texts": []}', {}, 422, "'texts' is empty"),
    ('{"texts": ["ok", 3]}', {}, 422, r"texts\[1\] must be a string; found a JSON number"),
    ('{"texts": ["ok", null]}', {}, 422, r"texts\[1\] must be a string; found a JSON null"),
    ('{"texts": ["  "]}', {}, 422, r"texts\[0\] is empty"),
    ('{"texts": ["a", "b", "c", "d", "e"]}', {}, 413, "too many texts: 5, the limit is 4"),
    (json.dumps({"texts": ["x" * 81]}), {}, 413, r"texts\[0\] has 81 characters, the limit is 80"),
    (json.dumps({"texts": ["x"] * 5000}), {}, 413, "request body of .* bytes is over the limit"),
    ('{"texts": ["a"], "mode": 1}', {}, 422, "unknown field.*'mode'"),
    (b'{"texts": ["\xff"]}', {}, 400, "not valid JSON"),
])
def test_bad_requests_get_4xx_with_a_clear_message(client, body, headers, status, message):
    headers = {"content-type": "application/json", **headers}
    response = client.post("/v1/analyze", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["status"] == status
    assert re.search(message, response.json()["error"]["message"])
    assert client.get("/healthz").status_code == 200  # the service survives


def test_unknown_routes_and_methods_answer_json(client):
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Not Found"
    wrong = client.get("/v1/analyze")
    assert wrong.status_code == 405 and wrong.json()["error"]["status"] == 405


def test_api_key_guards_every_route_but_healthz(pipeline):
    with TestClient(create_app(pipeline, api_key="s3cret")) as client:
        assert client.get("/healthz").status_code == 200
        for path in ("/v1/models", "/docs", "/openapi.json"):
            response = client.get(path)
            assert response.status_code == 401 and "missing API key" in response.json()["error"]["message"]
        wrong = client.post("/v1/analyze", json={"texts": TEXTS}, headers={"x-api-key": "guess"})
        assert wrong.status_code == 401 and "wrong API key" in wrong.json()["error"]["message"]
        assert client.post("/v1/analyze", json={"texts": TEXTS}, headers={"x-api-key": "s3cret"}).status_code == 200
        bearer = client.get("/v1/models", headers={"authorization": "Bearer s3cret"})
        assert bearer.status_code == 200


def test_invalid_limits_are_refused(pipeline):
    from finabsa.errors import FinabsaError

    with pytest.raises(FinabsaError, match="max_texts must be >= 1; found 0"):
        create_app(pipeline, limits=ServiceLimits(max_texts=0))


def test_uvicorn_serves_on_a_free_loopback_port(pipeline):
    import httpx
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(pipeline), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        response = httpx.post(f"{base}/v1/analyze", json={"texts": TEXTS[:1]})
        assert response.status_code == 200 and response.json()["results"][0]["text"] == TEXTS[0]
        assert httpx.post(f"{base}/v1/analyze", content="nope",
                          headers={"content-type": "application/json"}).status_code == 400
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_serve_a_run_folder_with_two_workers_sums_their_metrics_and_stops_on_sigterm(pipeline_runs):
    import signal
    import subprocess
    import sys

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "finabsa", "serve", str(pipeline_runs["aspect"]), "--port",
                                str(port), "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        for text in TEXTS:
            answer = httpx.post(f"{base}/v1/analyze", json={"texts": [text]}, timeout=30)
            assert answer.status_code == 200 and answer.json()["results"][0]["aspect"]
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert 'finabsa_requests_total{route="/v1/analyze",status="200"} 3.0' in metrics  # summed over workers
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, process.stderr.read().decode()[-2000:] if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
