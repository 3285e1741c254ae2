"""The model routes answered straight from the ASGI stack: the serving hot path.

For each request BentoML's API endpoint builds a request context, routes through Starlette's
router and exception middleware, parses the body through its IO descriptor, inspects the
handler's signature and copies headers into a second response object. For a
single-applicant credit request that machinery cost more CPU than the model's own work
(profiled with py-spy under ``wrk -t1 -c16``; ``bench/bench_serving.py`` has the figures).

:class:`DirectRouteMiddleware` answers ``POST`` on a family's route itself. It is the
innermost of the service's middlewares, so everything around a request is unchanged:
BentoML's ``bentoml_*`` request metrics, tracing, timeout and concurrency limit, and the
service's caller authentication, JSON-only check, body limits and readiness all run before
it. What it replaces is only BentoML's endpoint, and it keeps that endpoint's contract:

* the body is validated by the **same** pydantic model BentoML validates it with (the API's
  input spec), so a malformed body gets the same ``400`` with the same ``detail``;
* the handler is the service's own (:meth:`services.service._RiskService._serve`), the one
  the BentoML API calls too: one way to answer a request, two doors to it;
* an unexpected exception is logged with its traceback and answered ``500`` with BentoML's
  generic message; responses carry BentoML's ``server`` header.

The BentoML APIs stay declared (OpenAPI, ``/docs.json``, BentoML's clients) and answer
whenever the middleware does not: before the service instance of the worker has published
its handler (:func:`publish`), and for any method but ``POST``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("riskops.serving")

Answer = Callable[[str, bytes], Awaitable[Any]]
"""``(path, body) -> starlette Response``: the service's handler of a model route."""

SERVER_HEADER = (b"server", b"BentoML Service/riskops")
"""What BentoML's endpoint adds to every response (kept, so that both doors look alike)."""

INTERNAL_ERROR = b'{"error":"An unexpected error has occurred, please check the server log."}'

_answer: Answer | None = None


def publish(answer: Answer | None) -> None:
    """Make ``answer`` (this worker's service instance's handler) answer the model routes;
    ``None`` hands them back to BentoML."""
    global _answer
    _answer = answer


async def _body(receive: Any) -> bytes:
    """The whole request body (:class:`~services.limits.BodyLimitMiddleware`, outside this
    one, has already received it within its bounds: one message)."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    while message.get("more_body", False):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


class DirectRouteMiddleware:
    """Answer ``POST`` on ``routes`` with the published handler (see the module doc)."""

    def __init__(self, app: Any, routes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.routes = frozenset(routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        answer = _answer
        if (
            answer is None
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] not in self.routes
        ):
            await self.app(scope, receive, send)
            return
        try:
            response = await answer(scope["path"], await _body(receive))
        except Exception:
            logger.exception("%s: unexpected error, answered 500", scope["path"])
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(INTERNAL_ERROR)).encode()),
                SERVER_HEADER,
            ]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": INTERNAL_ERROR})
            return
        response.raw_headers.append(SERVER_HEADER)
        await response(scope, receive, send)
