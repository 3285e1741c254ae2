"""Body limits, per-route pools and the docs rewrite, around a minimal Starlette app
(the live suite, ``test_hardening.py``, checks the same over real HTTP)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.docs import DocsMiddleware
from services.limits import BodyLimitMiddleware, Overloaded, WorkLimits


def _echo_app() -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"received": len(body)})

    async def spec(request: Request) -> JSONResponse:
        return JSONResponse({"openapi": "3.0.2", "info": {"title": "svc", "description": "boiler"}})

    return Starlette(routes=[Route("/score", echo, methods=["POST"]), Route("/docs.json", spec)])


def _call(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


@pytest.mark.parametrize(("size", "status"), [(0, 200), (1000, 200), (1024, 200), (1025, 413)])
def test_bodies_up_to_the_limit_pass_whole_and_larger_ones_get_413(size: int, status: int) -> None:
    app = BodyLimitMiddleware(_echo_app(), max_bytes=1024, read_timeout=5)
    response = _call(app, "POST", "/score", content=b"x" * size)
    assert response.status_code == status
    if status == 200:
        assert response.json() == {"received": size}
    else:
        assert response.json()["error"] == "PayloadTooLarge"
        assert response.json()["max_bytes"] == 1024


def test_a_chunked_body_is_cut_off_at_the_limit_without_reading_the_rest() -> None:
    # Given a streamed body without Content-Length, far larger than the limit
    sent = []

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(1000):
            sent.append(1)
            yield b"y" * 512

    app = BodyLimitMiddleware(_echo_app(), max_bytes=4096, read_timeout=5)
    response = _call(app, "POST", "/score", content=stream())
    # Then it is refused once the limit is passed, before the rest is read
    assert response.status_code == 413
    assert len(sent) < 1000
    assert response.json()["error"] == "PayloadTooLarge"


def test_a_body_slower_than_the_read_timeout_gets_408() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(20):
            await asyncio.sleep(0.05)
            yield b"z"

    app = BodyLimitMiddleware(_echo_app(), max_bytes=4096, read_timeout=0.3)
    response = _call(app, "POST", "/score", content=trickle())
    assert response.status_code == 408
    assert response.json()["error"] == "RequestTimeout"


def test_a_route_pool_bounds_concurrency_and_refuses_beyond_its_queue() -> None:
    # Given a pool of 2 threads and a queue of 1 for "anomaly"
    limits = WorkLimits({"anomaly": 2, "credit": 1}, max_waiting=1)
    running = 0
    peak = 0
    lock = threading.Lock()

    def work() -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return "done"

    async def scenario() -> tuple[list[Any], str]:
        results: list[Any] = []

        async def one() -> None:
            try:
                results.append(await limits.run("anomaly", work))
            except Overloaded as exc:
                results.append(exc)

        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(one)
                await anyio.sleep(0.01)
            # another route is not held up by the full anomaly pool
            other = await limits.run("credit", lambda: "credit")
        return results, other

    # When four requests arrive at once
    results, other = anyio.run(scenario)
    # Then two run, one waits, one is refused at once; and credit ran meanwhile
    assert sorted(r if isinstance(r, str) else "refused" for r in results) == [
        "done",
        "done",
        "done",
        "refused",
    ]
    assert peak == 2
    assert other == "credit"


def test_docs_get_riskops_title_and_docs_leads_to_the_page() -> None:
    app = DocsMiddleware(_echo_app())
    spec = _call(app, "GET", "/docs.json")
    redirect = _call(app, "GET", "/docs")
    assert spec.status_code == 200
    info = json.loads(spec.content)["info"]
    assert info["title"] == "RiskOps"
    assert "POST /credit/score" in info["description"]
    assert int(spec.headers["content-length"]) == len(spec.content)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/"
