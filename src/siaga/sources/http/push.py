"""``POST /api/v1/readings``: readings pushed over HTTP with a bearer token per sensor or per gateway.

Body (JSON): one reading ``{"sensor": "temp-r3-top", "value": 24.3, "ts": "2025-07-16T01:40:00Z"}``,
a batch ``{"readings": [...]}`` or a bare array ``[...]``. ``sensor`` may be left out when the token
belongs to a single sensor; ``ts`` (epoch seconds or ISO 8601 with a zone) defaults to the time of receipt.

Answers: 200 when every reading was accepted, 207 when some were not, each item with its result
(``{"index": 0, "sensor": "...", "status": "accepted"}`` or ``"rejected"`` with its ``reason``).
Errors in the one error shape of the API: 401 (no or unknown token), 403 (the token may push none of
these sensors), 413 (body over ``http_push.max_body_bytes`` or more than ``max_items`` readings),
422 (not JSON, or not readings), 503 (the readings were taken but neither the store nor the spool
confirmed them within ``DURABLE_WAIT_S``: send them again; with their ``ts`` they are stored once).

Durable before acknowledged, as for MQTT: in ``siaga serve`` the answer goes out once the accepted
readings are committed or spooled (``ReadingWriter.when_durable``), so a device that got its 200
never has to send again, even if siaga is killed the next moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from siaga import jsonsafe
from siaga.config.sources import HttpPush, HttpSensorSource
from siaga.errors import SiagaError
from siaga.sources.http.tokens import Principal, TokenTable
from siaga.sources.payloads import IDENTITY, PayloadError, Transform, coerce_value, parse_ts
from siaga.sources.reading import IngestSink, RawReading

if TYPE_CHECKING:
    from siaga.runtime.context import RuntimeContext

log = logging.getLogger("siaga.sources.http")
SOURCE = "http"
PATH = "/api/v1/readings"


@dataclass(frozen=True)
class ItemResult:
    index: int
    sensor: str | None
    status: str  # "accepted" or "rejected"
    reason: str | None = None
    detail: str | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"index": self.index, "sensor": self.sensor, "status": self.status}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.detail:
            out["detail"] = self.detail
        return out


class PushError(SiagaError):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def items_of(body: object, max_items: int) -> list[object]:
    """The reading items of a decoded body; PushError 422/413 when it holds none or too many."""
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict) and "readings" in body:
        items = body["readings"]
        if not isinstance(items, list):
            raise PushError(422, "'readings' must be a list of readings")
    elif isinstance(body, dict):
        items = [body]
    else:
        raise PushError(422, "the body must be a reading object, {\"readings\": [...]} or a list of readings")
    if not items:
        raise PushError(422, "no readings in the body")
    if len(items) > max_items:
        raise PushError(413, f"{len(items)} readings in one request; at most {max_items}")
    return items


def parse_items(
    items: Sequence[object], principal: Principal, transforms: dict[str, Transform]
) -> tuple[list[tuple[int, RawReading]], dict[int, ItemResult]]:
    """Readings to hand to ingest (with their index in the body) and the items refused at the edge."""
    out: list[tuple[int, RawReading]] = []
    refused: dict[int, ItemResult] = {}
    only = next(iter(principal.sensors)) if len(principal.sensors) == 1 else None
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            refused[i] = ItemResult(i, None, "rejected", "bad_item", "a reading is a JSON object")
            continue
        sensor = item.get("sensor", only)
        if not isinstance(sensor, str):
            refused[i] = ItemResult(i, None, "rejected", "bad_item", "say which sensor: 'sensor'")
            continue
        if "value" not in item:
            refused[i] = ItemResult(i, sensor, "rejected", "bad_item", "no 'value'")
            continue
        if sensor not in principal.sensors:
            refused[i] = ItemResult(i, sensor, "rejected", "forbidden", f"this token may not push {sensor!r}")
            continue
        try:
            ts = parse_ts(item.get("ts", item.get("timestamp")))
        except PayloadError as exc:
            refused[i] = ItemResult(i, sensor, "rejected", exc.reason, exc.detail)
            continue
        value = transforms.get(sensor, IDENTITY).apply(coerce_value(item["value"]))
        out.append((i, RawReading(sensor, value, ts, SOURCE)))
    return out, refused


Durable = Callable[[int, Callable[[], None]], None]
DURABLE_WAIT_S = 10.0  # how long an answer waits for its readings to be committed or spooled


class PushEndpoint:
    """The endpoint's state: its limits, tokens and the sink; ``handle`` is the whole request."""

    def __init__(self, push: HttpPush, tokens: TokenTable, transforms: dict[str, Transform], sink: IngestSink,
                 durable: Durable | None = None) -> None:
        self.push = push
        self.tokens = tokens
        self.transforms = transforms
        self.sink = sink
        self.durable = durable  # when_durable(mark, callback) of the readings writer

    @classmethod
    def from_config(cls, push: HttpPush, sensors: Iterable[Any], sink: IngestSink,
                    base_dir: Path | None = None, durable: Durable | None = None) -> PushEndpoint:
        sensors = list(sensors)
        tokens, problems = TokenTable.from_config(push, sensors, base_dir)
        for line in problems:
            log.warning("%s", line)
        transforms = {
            s.id: Transform(s.source.scale, s.source.offset, s.source.fahrenheit, s.source.invert)
            for s in sensors
            if isinstance(s.source, HttpSensorSource)
        }
        return cls(push, tokens, transforms, sink, durable)

    def authenticate(self, authorization: str | None) -> Principal:
        challenge = {"WWW-Authenticate": 'Bearer realm="siaga"'}
        if not authorization:
            raise PushError(401, "a bearer token is needed: Authorization: Bearer <token>", challenge)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise PushError(401, "use the Bearer scheme: Authorization: Bearer <token>", challenge)
        principal = self.tokens.find(token.strip())
        if principal is None:
            raise PushError(401, "unknown token", challenge)
        return principal

    def handle(self, principal: Principal, body: bytes) -> tuple[int, dict[str, object]]:
        """The answer to ``body`` pushed by ``principal``: (200 or 207, results); PushError otherwise."""
        status, payload, _mark = self.handle_marked(principal, body)
        return status, payload

    async def safe(self, mark: int) -> bool:
        """Wait until the readings up to ``mark`` are committed or spooled; False after ``DURABLE_WAIT_S``."""
        if self.durable is None or not mark:
            return True
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def release() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: siaga stopped
                loop.call_soon_threadsafe(done.set)

        self.durable(mark, release)
        try:
            await asyncio.wait_for(done.wait(), DURABLE_WAIT_S)
        except TimeoutError:
            return False
        return True

    def handle_marked(self, principal: Principal, body: bytes) -> tuple[int, dict[str, object], int]:
        """:meth:`handle`, and the write mark of the accepted readings (``IngestResult.mark``)."""
        mark = 0
        if len(body) > self.push.max_body_bytes:
            raise PushError(413, f"the body is over {self.push.max_body_bytes} bytes")
        try:
            decoded = jsonsafe.loads(body)  # nesting bounded without recursing (was: RecursionError, 500)
        except jsonsafe.TooDeep as exc:
            self.sink.reject("bad_json", f"{principal.name}: {exc}", source=SOURCE)
            raise PushError(422, f"the body is not accepted: {exc}") from None
        except (ValueError, UnicodeDecodeError):
            self.sink.reject("bad_json", f"{principal.name}: body is not JSON", source=SOURCE)
            raise PushError(422, "the body is not valid JSON") from None
        items = items_of(decoded, self.push.max_items)
        readings, results = parse_items(items, principal, self.transforms)
        if not readings and results and all(r.reason == "forbidden" for r in results.values()):
            raise PushError(403, f"this token ({principal.name}) may not push these sensors")
        accepted_idx = [i for i, _ in readings]
        if readings:
            result = self.sink.ingest([r for _, r in readings])
            mark = result.mark
            refused_by_ingest = {rej.index: rej for rej in result.rejected}
            for pos, (i, r) in enumerate(readings):
                rej = refused_by_ingest.get(pos)
                if rej is None:
                    results[i] = ItemResult(i, r.sensor, "accepted")
                else:
                    results[i] = ItemResult(i, r.sensor, "rejected", rej.reason, rej.detail)
        for i, res in results.items():
            if res.status == "rejected" and i not in accepted_idx:
                self.sink.reject(res.reason or "bad_item", f"{principal.name}: {res.detail}", source=SOURCE)
        ordered = [results[i].as_json() for i in range(len(items))]
        n_ok = sum(1 for r in ordered if r["status"] == "accepted")
        status = 200 if n_ok == len(ordered) else 207
        return status, {"accepted": n_ok, "rejected": len(ordered) - n_ok, "results": ordered}, mark


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it is over ``limit`` bytes, announced or not."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PushError(413, f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PushError(413, f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def make_router(endpoint: PushEndpoint) -> APIRouter:
    router = APIRouter(tags=["readings"])

    @router.post(
        PATH,
        summary="Push sensor readings",
        responses={
            207: {"description": "Some readings were refused; each item says why."},
            401: {"description": "No or unknown bearer token."},
            403: {"description": "The token may not push these sensors."},
            413: {"description": "Body or batch too large."},
            422: {"description": "Not JSON, or not readings."},
            503: {"description": "Taken, but not confirmed stored in time: send the readings again."},
        },
    )
    async def push_readings(request: Request) -> JSONResponse:
        from siaga.web.errors import error_body

        try:
            principal = endpoint.authenticate(request.headers.get("authorization"))  # before reading the body
            body = await read_body(request, endpoint.push.max_body_bytes)
            status, payload, mark = endpoint.handle_marked(principal, body)
            if not await endpoint.safe(mark):
                raise PushError(503, "the readings were taken but are not stored yet: send them again",
                                {"Retry-After": "5"})
        except PushError as exc:
            return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status, headers=exc.headers)
        return JSONResponse(payload, status_code=status)

    return router


def router(ctx: RuntimeContext) -> APIRouter | None:
    """Router factory for ``siaga.web.app.ROUTERS``: the endpoint of ``ctx``'s site, fed to its ingest path."""
    cfg = ctx.config
    if not cfg.http_push.enabled:
        return None
    sink = ctx.services.ingest
    if sink is None:
        log.error("http push: no ingest path in this siaga; POST %s is not served", PATH)
        return None
    writer = ctx.services.readings_writer
    endpoint = PushEndpoint.from_config(cfg.http_push, cfg.sensors, sink, ctx.loaded.base_dir,
                                        writer.when_durable if writer is not None else None)
    return make_router(endpoint)
