"""API-key check as a plain ASGI middleware.

When ``RISKOPS_API_KEY`` is set, every request must carry it, as ``x-api-key: KEY`` or
``Authorization: Bearer KEY``; otherwise it gets ``401``. Probes, metrics and the API
description stay open, so that orchestrators, Prometheus and clients generating code can
reach them without the key: ``/livez``, ``/healthz``, ``/readyz``, ``/metrics``,
``/docs.json``, ``/schema.json``, the documentation page ``/`` and its static assets.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

OPEN_PATHS = frozenset(
    {"/", "/livez", "/healthz", "/readyz", "/metrics", "/docs.json", "/schema.json"}
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
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_UNAUTHORIZED)).encode()),
                    (b"www-authenticate", b'Bearer realm="riskops"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _UNAUTHORIZED})

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
