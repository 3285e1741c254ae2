"""Bounds on what one request may cost the service: body size, body-read time, concurrent
work per route.

:class:`BodyLimitMiddleware`
    Reads the body of every request *before* BentoML sees it, under two bounds:
    ``max_bytes`` (``413`` at once when ``Content-Length`` announces more, or as soon as a
    chunked body passes it: nothing is parsed, at most ``max_bytes`` are buffered) and
    ``read_timeout`` seconds for the whole body (``408``: a client trickling bytes cannot
    hold a connection and a buffer for ever). A client that disconnects while sending is
    logged once at INFO. Without it, a 50 MB body was parsed whole: about 1 GB of peak RSS
    per request and 400 MB kept afterwards.
:class:`WorkLimits`
    Per-route bounded pools for the expensive part of a request (predictions, explanations),
    run in threads off the event loop, so that the loop keeps accepting and answering small
    requests while a large batch computes. Each route gets its own limiter, so a burst of
    large anomaly batches cannot take the threads a credit request needs. A request that
    would wait behind ``max_waiting`` others is refused at once with ``503`` and
    ``Retry-After`` instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread

logger = logging.getLogger("riskops.serving")

T = TypeVar("T")

# Defaults (Settings.serve_max_body_bytes, serve_body_timeout_seconds): 8 MiB, because a
# 10,000-row request of any route is under 3 MB of JSON; 15 s, because 8 MiB at 5 Mbit/s
# takes 13 s.


def _json_body(status_error: str, message: str, **extra: Any) -> bytes:
    return json.dumps({"error": status_error, "message": message, **extra}).encode()


async def _respond(send: Any, status: int, body: bytes, extra: list[Any] | None = None) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Receive each request body whole within ``max_bytes`` and ``read_timeout`` seconds,
    then hand it to the app; answer ``413``/``408`` otherwise (see the module doc)."""

    def __init__(
        self, app: Any, max_bytes: int | None = None, read_timeout: float | None = None
    ) -> None:
        self.app = app
        if max_bytes is None or read_timeout is None:
            from riskops.settings import Settings

            settings = Settings()
            max_bytes = settings.serve_max_body_bytes if max_bytes is None else max_bytes
            if read_timeout is None:
                read_timeout = settings.serve_body_timeout_seconds
        self.max_bytes = int(max_bytes)
        self.read_timeout = float(read_timeout)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _respond(send, 400, _json_body("BadRequest", "invalid Content-Length"))
                return
            if length > self.max_bytes:
                await self._too_large(scope, send, length)
                return
        chunks: list[bytes] = []
        size = 0
        started = time.monotonic()
        # asyncio's own timeout, not anyio's cancel scope: this runs on every request, and
        # anyio's scope (backend look-up, scope bookkeeping) cost 5% of a one-applicant
        # credit request's CPU.
        try:
            async with asyncio.timeout(self.read_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        logger.info(
                            "%s %s: client disconnected after %d body bytes",
                            scope["method"],
                            scope["path"],
                            size,
                        )
                        # Nobody reads it, but the exchange must end with a response:
                        # without one, BentoML's outer layers counted the request as still
                        # running and the server never finished a graceful shutdown
                        # (SIGTERM hung).
                        await _respond(
                            send, 400, _json_body("ClientDisconnect", "client left mid-body")
                        )
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        await self._too_large(scope, send, None)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            waited = time.monotonic() - started
            logger.info(
                "%s %s: body not received within %.0f s (%d bytes), answered 408",
                scope["method"],
                scope["path"],
                waited,
                size,
            )
            body = _json_body(
                "RequestTimeout",
                f"the request body did not arrive within {self.read_timeout:g} s",
            )
            await _respond(send, 408, body)
            return
        body_bytes = b"".join(chunks)
        del chunks
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body_bytes, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Any, send: Any, length: int | None) -> None:
        shown = f"{length:,} bytes" if length is not None else "more"
        logger.info(
            "%s %s: body of %s refused (limit %d), answered 413",
            scope["method"],
            scope["path"],
            shown,
            self.max_bytes,
        )
        body = _json_body(
            "PayloadTooLarge",
            f"the request body ({shown}) exceeds the limit of {self.max_bytes:,} bytes; "
            "send smaller batches",
            max_bytes=self.max_bytes,
        )
        await _respond(send, 413, body)


class Overloaded(Exception):
    """More requests are waiting for a route's pool than it accepts."""

    def __init__(self, route: str, waiting: int) -> None:
        super().__init__(f"{route}: {waiting} requests already waiting")
        self.route = route
        self.waiting = waiting


@dataclass
class _Lane:
    limiter: anyio.CapacityLimiter
    max_waiting: int
    waiting: int = 0


@dataclass
class WorkLimits:
    """A bounded thread pool per route: ``concurrency`` threads, ``max_waiting`` queued.

    Limiters are created lazily, inside the event loop that uses them.
    """

    concurrency: dict[str, int]
    max_waiting: int = 64
    _lanes: dict[str, _Lane] = field(default_factory=dict)
    _threads: anyio.CapacityLimiter | None = None

    def _lane(self, route: str) -> _Lane:
        lane = self._lanes.get(route)
        if lane is None:
            lane = self._lanes[route] = _Lane(
                anyio.CapacityLimiter(self.concurrency.get(route, 1)), self.max_waiting
            )
        return lane

    async def run(self, route: str, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` in a thread of ``route``'s pool; :class:`Overloaded` when full."""
        lane = self._lane(route)
        busy = lane.limiter.borrowed_tokens >= lane.limiter.total_tokens
        if busy and lane.waiting >= lane.max_waiting:
            raise Overloaded(route, lane.waiting)
        lane.waiting += 1
        try:
            await lane.limiter.acquire()
        finally:
            lane.waiting -= 1
        try:
            # anyio's default thread limiter (40 threads, shared by every route) must not be
            # a second, shared bound: the route's own limiter is the bound.
            if self._threads is None:
                self._threads = anyio.CapacityLimiter(max(sum(self.concurrency.values()), 1))
            return await anyio.to_thread.run_sync(func, *args, limiter=self._threads)
        finally:
            lane.limiter.release()
