"""The HTTP service: a FastAPI app over one ``Pipeline``, loaded once at start-up.

Routes: ``POST /v1/analyze`` (``{"texts": [...]}`` -> ``{"results": [record, ...]}``), ``POST /v1/documents``
(whole documents, one answer per document), ``GET /v1/models`` (what is loaded), ``GET /healthz``, ``GET /metrics``
(Prometheus) and the OpenAPI docs at ``/docs``. Every client mistake gets a 4xx with a JSON body
``{"error": {"status": N, "message": "..."}}``; never a 500. Requests arriving together are answered from one
batched forward pass (micro-batching), so that concurrent clients share the model efficiently. Under load the queue
is bounded (429 with ``Retry-After``), each request has a deadline (504), and a draining service (SIGTERM) answers
new requests 503 while those in flight finish. ``finabsa.inference.server`` runs it (one process or several).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request  # at module level: FastAPI resolves the endpoints' string annotations here

from ..errors import FinabsaError
from .abstention import check_min_probability, withhold
from .pipeline import Pipeline
from .service_metrics import ROUTE_OTHER, ServiceMetrics

__all__ = ["ServiceLimits", "ServiceState", "create_app", "API_KEY_ENV"]

logger = logging.getLogger(__name__)

#: Environment variable read for the API key when ``--api-key`` is not given.
API_KEY_ENV = "FINABSA_API_KEY"
#: Routes that answer without the API key (for load balancers and container health checks).
OPEN_ROUTES = ("/healthz", "/")


@dataclass
class ServiceLimits:
    """Request limits and the service's answers under load: 413 past a size limit, 429 past ``max_queue``, 504 past
    ``timeout``; each with a message naming the limit."""

    #: Most texts in one request.
    max_texts: int = 64
    #: Most characters in one text (a document in ``/v1/documents`` may have ``max_texts`` times as many).
    max_chars: int = 2000
    #: Most texts answered by one forward pass when requests are micro-batched together.
    max_batch: int = 64
    #: Most texts waiting for the model; a request that would queue more is answered 429 with ``Retry-After``
    #: (memory and latency stay bounded under overload, instead of the queue growing without end). A request
    #: always enters an empty queue, however many texts it has.
    max_queue: int = 256
    #: Seconds a request may wait for its answer, queueing included; past it the answer is 504.
    timeout: float = 30.0

    @property
    def max_body_bytes(self) -> int:
        return self.body_bytes(self.max_chars)

    def body_bytes(self, chars_per_text: int) -> int:
        """The largest body ``max_texts`` texts of ``chars_per_text`` characters make."""
        # Room for the JSON quoting of every allowed text (escapes can take up to 6 bytes per character).
        return 1024 + self.max_texts * (chars_per_text * 6 + 8)

    def problems(self) -> list[str]:
        found = [f"{name} must be >= 1; found {getattr(self, name)}"
                 for name in ("max_texts", "max_chars", "max_batch", "max_queue") if getattr(self, name) < 1]
        if not self.timeout > 0:
            found.append(f"timeout must be a positive number of seconds; found {self.timeout}")
        return found


class ClientError(Exception):
    """A request the client must fix: answered with ``status`` and ``message``, never logged as a server fault."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


#: The fields of an ``/v1/analyze`` body.
REQUEST_FIELDS = ("texts", "min_probability", "explain")
#: The fields of a ``texts`` item given as an object (the text, and the target whose sentiment is wanted).
ITEM_FIELDS = ("text", "target")


@dataclass
class AnalyzeRequest:
    """What an ``/v1/analyze`` body asks: its texts, a ``min_probability`` (None: the service's) and ``explain``."""

    texts: list[str | dict[str, str]]
    min_probability: float | None = None
    explain: bool = False


def parse_analyze_request(body: bytes, content_type: str | None, limits: ServiceLimits) -> AnalyzeRequest:
    """The request an ``/v1/analyze`` body makes, or ``ClientError`` saying what is wrong with it."""
    payload = _json_object(body, content_type, "texts", REQUEST_FIELDS)
    if not isinstance(payload.get("explain", False), bool):
        raise ClientError(422, f"'explain' must be true or false; found a JSON {_json_type(payload['explain'])}.")
    min_probability = _min_probability(payload)
    texts = _items(payload, "texts", limits.max_texts, limits.max_chars, _text_of)
    return AnalyzeRequest(texts, min_probability, payload.get("explain", False))


#: The fields of a ``/v1/documents`` body.
DOCUMENT_REQUEST_FIELDS = ("documents", "min_probability")
#: A document may be this many times as long as one text (``--max-chars``).
DOCUMENT_CHARS_FACTOR = 16


def parse_documents_request(body: bytes, content_type: str | None,
                            limits: ServiceLimits) -> tuple[list[str], float | None]:
    """The documents and ``min_probability`` a ``/v1/documents`` body asks for, or ``ClientError``."""
    payload = _json_object(body, content_type, "documents", DOCUMENT_REQUEST_FIELDS)
    min_probability = _min_probability(payload)
    documents = _items(payload, "documents", limits.max_texts, limits.max_chars * DOCUMENT_CHARS_FACTOR,
                       _document_of)
    return documents, min_probability


def _json_object(body: bytes, content_type: str | None, field: str, fields: tuple[str, ...]) -> dict[str, Any]:
    example = f'{{"{field}": ["Tesco shares surge"]}}'
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ClientError(415, f"expected Content-Type application/json; found '{content_type or 'none'}'. Send "
                               f"a JSON body such as {example}.")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ClientError(400, f"the body is not valid JSON ({exc}); send e.g. {example}.") from None
    if not isinstance(payload, dict):
        raise ClientError(422, f'expected a JSON object {{"{field}": [...]}}; found a JSON {_json_type(payload)}.')
    unknown = [key for key in payload if key not in fields]
    if unknown:
        optional = " and ".join(repr(f) for f in fields[1:])
        raise ClientError(422, f"unknown field(s) {', '.join(map(repr, unknown))}; the fields are '{field}' and, "
                               f"optionally, {optional}.")
    return payload


def _min_probability(payload: dict[str, Any]) -> float | None:
    try:
        return check_min_probability(payload.get("min_probability"))
    except FinabsaError as exc:
        raise ClientError(422, str(exc)) from None


def _items(payload: dict[str, Any], field: str, max_items: int, max_chars: int, text_of: Any) -> list[Any]:
    """The list under ``field``, each item's text checked (``text_of`` reads it, or raises ``ClientError``)."""
    if field not in payload:
        raise ClientError(422, f"missing field '{field}': give a list of strings to analyse.")
    items = payload[field]
    if not isinstance(items, list):
        raise ClientError(422, f"'{field}' must be a list of strings; found a JSON {_json_type(items)}.")
    if not items:
        raise ClientError(422, f"'{field}' is empty; give at least one string to analyse.")
    if len(items) > max_items:
        raise ClientError(413, f"too many {field}: {len(items)}, the limit is {max_items} per request; split "
                               "them over several requests.")
    for i, item in enumerate(items):
        text = text_of(item, i)
        if not text.strip():
            raise ClientError(422, f"{field}[{i}] is empty; every text needs some words to analyse.")
        if len(text) > max_chars:
            raise ClientError(413, f"{field}[{i}] has {len(text)} characters, the limit is {max_chars}; "
                                   "shorten or split it.")
    return items


def _document_of(item: Any, i: int) -> str:
    if not isinstance(item, str):
        raise ClientError(422, f"documents[{i}] must be a string; found a JSON {_json_type(item)}.")
    return item


def _text_of(item: Any, i: int) -> str:
    """The text of one ``texts`` item: a string, or an object ``{"text": ..., "target": ...}`` that names the target
    whose sentiment is wanted (as ``finabsa predict`` takes JSON lines)."""
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        raise ClientError(422, f"texts[{i}] must be a string; found a JSON {_json_type(item)}. (An object "
                               '{"text": ..., "target": ...} names the target whose sentiment you want.)')
    unknown = [key for key in item if key not in ITEM_FIELDS]
    if unknown or not isinstance(item.get("text"), str) or not isinstance(item.get("target", ""), str):
        raise ClientError(422, f"texts[{i}] must be a string or an object with a string 'text' and, optionally, a "
                               f"string 'target'; found keys {', '.join(map(repr, item)) or 'none'}.")
    return item["text"]


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()
#: Seconds between two heap trims while the service is busy.
TRIM_SECONDS = 5.0


class Overloaded(Exception):
    """The queue is full: answered 429, with the seconds after which a retry is likely to be taken."""

    def __init__(self, retry_after: int, waiting: int):
        super().__init__(f"{waiting} texts are waiting")
        self.retry_after = retry_after
        self.waiting = waiting


class MicroBatcher:
    """Gathers the texts of requests that arrive together into one ``Pipeline.analyze`` call.

    One worker runs the model at a time (the CPU is the bottleneck; parallel forward passes only contend); while it
    runs, new requests queue up and are answered together by the next pass. At most ``max_queue`` texts wait: past
    that ``submit`` raises ``Overloaded``; a request whose deadline passed is dropped from the queue unanswered, so
    that the model spends no time on an answer nobody reads.
    """

    def __init__(self, analyze: Any, max_batch: int, max_queue: int | None = None,
                 metrics: ServiceMetrics | None = None):
        self.analyze = analyze
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.metrics = metrics
        self.queue: asyncio.Queue[tuple[list[Any], asyncio.Future]] = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        #: Texts queued and not yet taken by the worker.
        self.waiting = 0
        #: Texts per second of recent forward passes (a moving average), for ``Retry-After``.
        self.rate: float | None = None
        #: The one thread that runs the model: forward passes never overlap, and the allocator keeps one arena
        #: (a pool of threads taking turns grew the service's memory by half under load).
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="finabsa-model")
        self.trimmed = time.monotonic()

    async def run_model(self, function: Any, *args: Any) -> Any:
        """``function(*args)`` on the model thread (what explanations, outside the micro-batches, use too)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def start(self) -> None:
        self.worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            try:
                await self.worker
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=False)

    def retry_after(self) -> int:
        """Whole seconds until the queue has likely drained enough to take a request (1 to 60)."""
        if not self.rate:
            return 1
        return max(1, min(60, math.ceil((self.waiting + self.max_batch) / self.rate)))

    async def submit(self, texts: list[Any], timeout: float | None = None) -> list[dict[str, Any]]:
        """The records of ``texts``; ``Overloaded`` when the queue is full, ``TimeoutError`` past ``timeout``."""
        if self.max_queue is not None and self.waiting and self.waiting + len(texts) > self.max_queue:
            raise Overloaded(self.retry_after(), self.waiting)
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((texts, future))
        self._count_waiting(len(texts))
        # wait_for cancels the future at the deadline; the worker then skips the job.
        return await asyncio.wait_for(future, timeout)

    def _count_waiting(self, change: int) -> None:
        self.waiting += change
        if self.metrics is not None:
            self.metrics.queue_texts.set(self.waiting)

    async def _take(self) -> list[tuple[list[Any], asyncio.Future]]:
        """The next jobs, up to ``max_batch`` texts, skipping those whose deadline passed while they waited."""
        jobs: list[tuple[list[Any], asyncio.Future]] = []
        size = 0
        while not jobs or (size < self.max_batch and not self.queue.empty()):
            job = await self.queue.get() if not jobs else self.queue.get_nowait()
            self._count_waiting(-len(job[0]))
            if not job[1].done():
                jobs.append(job)
                size += len(job[0])
        return jobs

    async def _run(self) -> None:
        while True:
            jobs = await self._take()
            texts = [text for job_texts, _ in jobs for text in job_texts]
            started = time.perf_counter()
            try:
                records = await self.run_model(self.analyze, texts)
            except Exception as exc:  # answered as a 500 for these requests; the service keeps running
                logger.exception("analysis failed for a batch of %d texts", len(texts))
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self._measured(len(texts), time.perf_counter() - started)
            await self._trim()
            start = 0
            for job_texts, future in jobs:
                if not future.done():
                    future.set_result(records[start : start + len(job_texts)])
                start += len(job_texts)

    async def _trim(self) -> None:
        """Return the freed heap to the system now and then (glibc keeps what variable-shape forward passes freed)."""
        now = time.monotonic()
        if _TRIM is not None and now - self.trimmed > TRIM_SECONDS:
            self.trimmed = now
            await self.run_model(_TRIM, 0)

    def _measured(self, texts: int, seconds: float) -> None:
        rate = texts / max(seconds, 1e-6)
        self.rate = rate if self.rate is None else 0.8 * self.rate + 0.2 * rate
        if self.metrics is not None:
            self.metrics.batch_texts.observe(texts)
            self.metrics.texts.inc(texts)


@dataclass
class ServiceState:
    """Whether the service drains (a SIGTERM came: requests in flight finish, new ones get 503) and how many
    requests are in flight."""

    draining: bool = False
    in_flight: int = 0

    def begin_drain(self) -> None:
        if not self.draining:
            logger.info("draining: %d request(s) in flight finish; new requests are answered 503", self.in_flight)
        self.draining = True


def create_app(pipeline: Pipeline, api_key: str | None = None, limits: ServiceLimits | None = None,
               min_probability: float | None = None) -> FastAPI:
    """The FastAPI app serving ``pipeline`` (a ``finabsa.Pipeline``), with an optional API key; answers below
    ``min_probability`` (or a request's own ``min_probability``) are labelled 'uncertain'.

    ``app.state.service`` is the ``ServiceState`` (``begin_drain()`` starts a graceful shutdown) and
    ``app.state.metrics`` the ``ServiceMetrics`` that ``GET /metrics`` reports.
    """
    from contextlib import asynccontextmanager

    default_min_probability = check_min_probability(min_probability)
    limits = limits or ServiceLimits()
    problems = limits.problems()
    if problems:
        raise FinabsaError("invalid service limits: " + "; ".join(problems) + ".")
    metrics = ServiceMetrics()
    batcher = MicroBatcher(pipeline.analyze, limits.max_batch, limits.max_queue, metrics)
    models = pipeline.describe()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="finabsa",
        description="Aspect-based financial sentiment analysis: target, aspect category and sentiment of each text.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.service = ServiceState()
    app.state.metrics = metrics
    app.state.batcher = batcher

    _guard(app, api_key)
    _instrument(app, app.state.service, metrics)

    _add_page(app, web_page(limits, api_key is not None))

    @app.get("/healthz", summary="Liveness: answers while the service runs (no API key needed)")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "tasks": models["tasks"]}

    @app.get("/v1/models", summary="What is loaded: tasks, labels, base models, methods and adapter hashes")
    async def list_models() -> dict[str, Any]:
        return models

    @app.get("/metrics", summary="Prometheus metrics: requests, latency, batch sizes, queue depth, errors")
    async def prometheus_metrics():
        from fastapi.responses import Response

        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    _add_analyze(app, pipeline, batcher, limits, default_min_probability)
    _add_documents(app, pipeline, batcher, limits, default_min_probability)
    return app


def _instrument(app: Any, state: ServiceState, metrics: ServiceMetrics) -> None:
    """Every request counted and timed by route and status; while draining, new requests are answered 503."""
    from fastapi.responses import JSONResponse

    @app.middleware("http")
    async def count_and_drain(request: Request, call_next):
        started = time.perf_counter()
        path = request.url.path
        route = path if any(getattr(r, "path", None) == path for r in app.routes) else ROUTE_OTHER
        if state.draining:
            metrics.rejected.labels(reason="draining").inc()
            response = JSONResponse(
                error_body(503, "the service is shutting down; retry on another instance, or here once it is back."),
                status_code=503, headers={"Retry-After": "5", "Connection": "close"})
        else:
            state.in_flight += 1
            try:
                response = await call_next(request)
            finally:
                state.in_flight -= 1
        metrics.observe(route, response.status_code, time.perf_counter() - started)
        return response


async def answer_texts(batcher: MicroBatcher, texts: list[Any], limits: ServiceLimits) -> list[dict[str, Any]]:
    """The records of ``texts`` from the micro-batches, or ``ClientError`` 429 (queue full) / 504 (deadline)."""
    try:
        return await batcher.submit(texts, timeout=limits.timeout)
    except Overloaded as exc:
        if batcher.metrics is not None:
            batcher.metrics.rejected.labels(reason="overloaded").inc()
        raise ClientError(429, f"the service is busy: {exc.waiting} texts are waiting, the queue holds "
                               f"{limits.max_queue}; retry after {exc.retry_after} s.",
                          {"Retry-After": str(exc.retry_after)}) from None
    except asyncio.TimeoutError:
        if batcher.metrics is not None:
            batcher.metrics.rejected.labels(reason="timeout").inc()
        raise ClientError(504, f"no answer within the service's deadline of {limits.timeout:g} s; send fewer texts "
                               "per request, or retry when the service is less busy.") from None


def error_response(exc: Exception) -> Any:
    """The JSON answer to a request that failed: the client's mistake with its status, a text the models cannot take
    422, anything else 500 (logged; the service keeps running)."""
    from fastapi.responses import JSONResponse

    if isinstance(exc, ClientError):
        return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status, headers=exc.headers)
    if isinstance(exc, FinabsaError):  # a text the models cannot take (should not happen after validation)
        return JSONResponse(error_body(422, str(exc)), status_code=422)
    logger.error("analysis failed", exc_info=exc)
    return JSONResponse(error_body(500, "the analysis failed; the error is in the service log."), status_code=500)


def _add_analyze(app: FastAPI, pipeline: Pipeline, batcher: MicroBatcher, limits: ServiceLimits,
                 default_min_probability: float | None) -> None:
    """``POST /v1/analyze``: the texts of a request answered from the micro-batches (or explained on their own)."""
    from torch import nn

    explainable = all(isinstance(p.model, nn.Module) for p in pipeline.predictors.values())

    @app.post(
        "/v1/analyze",
        summary="Target, aspect and sentiment of each text",
        openapi_extra=_analyze_request_schema(limits),
    )
    async def analyze(request: Request):
        try:
            body = await _read_body(request, limits.max_body_bytes)
            asked = parse_analyze_request(body, request.headers.get("content-type"), limits)
            if asked.explain and not explainable:
                raise ClientError(422, "'explain' needs gradients, which this service's ONNX runtime does not give; "
                                       "serve run folders (or export folders on --runtime torch) to explain.")
            if asked.explain:  # outside the micro-batches: an explanation is many passes of its own
                records = await batcher.run_model(pipeline.analyze, asked.texts, False, True)
            else:
                records = await answer_texts(batcher, asked.texts, limits)
        except Exception as exc:
            return error_response(exc)
        threshold = asked.min_probability if asked.min_probability is not None else default_min_probability
        return {"results": withhold(records, threshold)}


def _add_documents(app: FastAPI, pipeline: Pipeline, batcher: MicroBatcher, limits: ServiceLimits,
                   default_min_probability: float | None) -> None:
    """``POST /v1/documents``: whole documents split into sentences, the sentences answered from the micro-batches
    like any texts, and one answer per document (``finabsa.inference.documents``)."""

    from .documents import answer_documents, split_documents

    budget: list[Any] = []  # the pipeline's token budget, read on the first request
    body_limit = limits.body_bytes(limits.max_chars * DOCUMENT_CHARS_FACTOR)

    @app.post("/v1/documents", summary="Each entity of each document once: its mentions, sentiment and aspects",
              openapi_extra=_documents_request_schema(limits))
    async def documents(request: Request):
        try:
            body = await _read_body(request, body_limit)
            texts, min_probability = parse_documents_request(body, request.headers.get("content-type"), limits)
            if not budget:
                budget.extend(pipeline.token_budget())
            # On the model thread: the splitter counts tokens with the model's tokenizer, which is not shared safely.
            split = await batcher.run_model(split_documents, texts, *budget)
            records = await answer_texts(batcher, [s.text for d in split for s in d.sentences], limits)
        except Exception as exc:
            return error_response(exc)
        threshold = min_probability if min_probability is not None else default_min_probability
        return {"results": withhold(answer_documents(split, records), threshold)}


def _documents_request_schema(limits: ServiceLimits) -> dict[str, Any]:
    """The OpenAPI description of ``POST /v1/documents``'s body."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["documents"],
        "properties": {"documents": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                     "maxItems": limits.max_texts},
                       "min_probability": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}},
        "example": {"documents": ["Barclays PLC shares fell 3% after the U.S. fine. Lloyds rose, while Barclays "
                                  "said it would appeal."]},
    }}}}}


def _add_page(app: Any, page: str) -> None:
    from fastapi.responses import HTMLResponse

    @app.get("/", summary="The web page: paste headlines or upload a file, see targets, aspect and sentiment",
             response_class=HTMLResponse)
    async def index():  # no return annotation: FastAPI would resolve it in this module, where it is not imported
        return HTMLResponse(page)


def web_page(limits: ServiceLimits, key_required: bool) -> str:
    """The single-page front end (``inference/web/index.html``, no build step, no CDN), told the request limit and
    whether to ask for an API key. The page holds no data, so it is served without the key and sends the key it
    is given with its API calls."""
    from importlib.resources import files

    html = files("finabsa.inference").joinpath("web", "index.html").read_text(encoding="utf-8")
    return html.replace("__MAX_TEXTS__", str(limits.max_texts)).replace("__KEY_REQUIRED__", str(key_required).lower())


def _analyze_request_schema(limits: ServiceLimits) -> dict[str, Any]:
    """The OpenAPI description of ``POST /v1/analyze``'s body (the route reads the raw body itself)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["texts"],
                "properties": {"texts": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                         "maxItems": limits.max_texts},
                               "min_probability": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                                                   "description": "answers less probable are labelled "
                                                                  "'uncertain'"}},
                "example": {"texts": ["Tesco shares surge after strong results", "$TSLA looks weak here"]},
            }}},
        }
    }


def _guard(app: Any, api_key: str | None) -> None:
    """The API key check on every route but the open ones, and errors answered as JSON ``{"error": ...}``."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.middleware("http")
    async def require_api_key(request: Request, call_next):
        if api_key and request.url.path not in OPEN_ROUTES:
            given = request.headers.get("x-api-key", "")
            authorization = request.headers.get("authorization", "")
            if not given and authorization.lower().startswith("bearer "):
                given = authorization[7:].strip()
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                message = "wrong API key" if given else "missing API key"
                return JSONResponse(
                    error_body(401, f"{message}: send it in the X-API-Key header (or Authorization: Bearer KEY)."),
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await call_next(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse(error_body(422, str(exc.errors())), status_code=422)


async def _read_body(request: Any, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ClientError(413, f"request body of {declared} bytes is over the limit of {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ClientError(413, f"request body is over the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _version() -> str:
    from ..constants import __version__

    return __version__
