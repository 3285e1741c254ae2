"""The API description in RiskOps' own words: title and description of ``/docs.json`` (and
so of the Swagger page at ``/``), the page's title, and ``/docs`` leading to that page.

BentoML writes its own boilerplate into both ("This is a Machine Learning Service created
with BentoML") and offers no setting for them, so :class:`DocsMiddleware` rewrites the two
responses on their way out. They are small and rarely requested.
"""

from __future__ import annotations

import json
from typing import Any

TITLE = "RiskOps"
DESCRIPTION = """\
Champion models of the RiskOps platform, served with the version that answered each request:

* `POST /credit/score`: probability of default, rating grade and reason codes per applicant;
* `POST /var/forecast`: next-day Value-at-Risk and Expected Shortfall (percent);
* `POST /volatility/forecast`: daily variance and volatility over a horizon;
* `POST /anomaly/score`: anomaly score, percentile, alert flag and drivers per day;
* `GET /models`: what is served, each champion's request schema and `max_rows`;
* `GET /livez`, `GET /readyz` (503 until the champions are loaded, naming any that is not),
  `GET /metrics` (Prometheus).

Bad input gets a 4xx naming field, rule and value. Bodies are limited in size (413) and in
the time to send them (408); a route whose queue is full answers 503 with `Retry-After`.
Once the home has identities, the model routes need a service account's token
(`Authorization: Bearer TOKEN`): 401 without a valid one, 403 for an identity without the
`score` permission. The deprecated shared `RISKOPS_API_KEY` is still accepted, as
`x-api-key: KEY` or a bearer token.
"""


class DocsMiddleware:
    """Rewrite ``/docs.json``'s ``info`` and the index page's ``<title>``; redirect ``/docs``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path == "/docs" or path == "/docs/":
            await send(
                {
                    "type": "http.response.start",
                    "status": 307,
                    "headers": [(b"location", b"/"), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if path not in ("/docs.json", "/"):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(parts)
            if start.get("status") == 200:
                body = _rewrite(path, body)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("riskops")
    except PackageNotFoundError:
        return "dev"


def _rewrite(path: str, body: bytes) -> bytes:
    if path == "/docs.json":
        try:
            spec = json.loads(body)
        except ValueError:
            return body
        info = spec.setdefault("info", {})
        info["title"] = TITLE
        info["description"] = DESCRIPTION
        info.pop("contact", None)
        info["version"] = _version()
        return json.dumps(spec).encode()
    return body.replace(
        b"<title>BentoML Prediction Service</title>", f"<title>{TITLE} API</title>".encode()
    )
