"""Plain ASGI middlewares that answer before BentoML parses anything.

:class:`ApiKeyMiddleware`
    When ``RISKOPS_API_KEY`` is set, every request must carry it, as ``x-api-key: KEY`` or
    ``Authorization: Bearer KEY``; otherwise it gets ``401``. Probes, metrics and the API
    description stay open, so that orchestrators, Prometheus and clients generating code
    can reach them without the key: ``/livez``, ``/healthz``, ``/readyz``, ``/metrics``,
    ``/docs.json``, ``/schema.json``, the documentation page ``/`` (and ``/docs``, which
    leads to it) and its static assets.
:class:`JsonOnlyMiddleware`
    The model routes take JSON only. BentoML would hand any other ``Content-Type`` to its
    multipart or pickle decoders, which answer a malformed body with ``500``; here it gets
    ``415`` instead.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

OPEN_PATHS = frozenset(
    {"/", "/docs", "/livez", "/healthz", "/readyz", "/metrics", "/docs.json", "/schema.json"}
)
OPEN_PREFIXES = ("/static_content/", "/assets/")

_UNAUTHORIZED = json.dumps(
    {
        "error": "Unauthorized",
        "message": "missing or wrong API key: send 'x-api-key: KEY' or 'Authorization: Bearer KEY'",
    }
).encode()


class ApiKeyMiddleware:
    """Refuse requests without the API key (``api_key`` defaults to ``Settings().api_key``)."""

    def __init__(self, app: Any, api_key: str | None = None) -> None:
        self.app = app
        if api_key is None:
            from riskops.settings import Settings

            secret = Settings().api_key
            api_key = secret.get_secret_value() if secret is not None else None
        self._key = api_key.encode() if api_key else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            self._key is None
            or scope["type"] != "http"
            or scope["path"] in OPEN_PATHS
            or scope["path"].startswith(OPEN_PREFIXES)
            or self._authorised(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        await _respond(send, 401, _UNAUTHORIZED, [(b"www-authenticate", b'Bearer realm="riskops"')])

    def _authorised(self, headers: list[tuple[bytes, bytes]]) -> bool:
        assert self._key is not None
        for name, value in headers:
            if name == b"x-api-key":
                candidate = value.strip()
            elif name == b"authorization" and value[:7].lower() == b"bearer ":
                candidate = value[7:].strip()
            else:
                continue
            if hmac.compare_digest(candidate, self._key):
                return True
        return False


class JsonOnlyMiddleware:
    """Answer ``415`` to a request on ``routes`` whose body is declared as anything but JSON."""

    def __init__(self, app: Any, routes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.routes = frozenset(routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in self.routes:
            declared = next((v for k, v in scope["headers"] if k == b"content-type"), None)
            media = (declared or b"application/json").split(b";")[0].strip().lower()
            if media != b"application/json":
                shown = media.decode("latin-1")
                body = json.dumps(
                    {
                        "error": "UnsupportedMediaType",
                        "message": f"send the body as application/json, not {shown!r}",
                    }
                ).encode()
                await _respond(send, 415, body)
                return
        await self.app(scope, receive, send)


async def _respond(send: Any, status: int, body: bytes, extra: list[Any] | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
