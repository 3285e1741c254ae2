"""Plain ASGI middlewares that answer before BentoML parses anything.

:class:`CallerAuthMiddleware`
    Who is calling, per request (:class:`riskops.identity.authenticator.Authenticator`):
    a per-caller token as ``Authorization: Bearer TOKEN`` (a RiskOps token of a service
    account, or an OIDC JWT when ``RISKOPS_OIDC_*`` is configured), or the deprecated
    shared ``RISKOPS_API_KEY`` (as the bearer or ``x-api-key``). A missing, wrong or
    revoked token gets ``401``; an identity whose roles lack the ``score`` permission gets
    ``403`` on a model route, naming the permission (``observe`` on ``POST /market/observe``,
    which feeds the live champions). The caller is put on the request
    state (``request.state.caller``, a :class:`~riskops.identity.roles.Principal`) for the
    handlers, which record it with every decision. A home without identities, OIDC or
    shared key is open (the local single-user mode; callers recorded as ``anonymous``).
    Probes, metrics and the API description stay open, so that orchestrators, Prometheus
    and clients generating code reach them without a token: ``/livez``, ``/healthz``,
    ``/readyz``, ``/metrics``, ``/docs.json``, ``/schema.json``, the documentation page
    ``/`` (and ``/docs``, which leads to it) and its static assets. A revoked token is
    refused within a second, without a restart; argon2 runs once per token and worker,
    in a thread of its own, never on the event loop.
:class:`JsonOnlyMiddleware`
    The model routes take JSON only. BentoML would hand any other ``Content-Type`` to its
    multipart or pickle decoders, which answer a malformed body with ``500``; here it gets
    ``415`` instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from riskops.errors import AuthenticationError
from riskops.identity.authenticator import Unverified

OPEN_PATHS = frozenset(
    {"/", "/docs", "/livez", "/healthz", "/readyz", "/metrics", "/docs.json", "/schema.json"}
)
OPEN_PREFIXES = ("/static_content/", "/assets/")
SCORE = "score"

_CALLER: contextvars.ContextVar[Any] = contextvars.ContextVar("riskops_caller", default=None)


def current_caller_name() -> str:
    """The name of the caller of the request being handled (for the inference log).

    A context variable, set by :class:`CallerAuthMiddleware` around the request: BentoML's
    own per-request context (``ctx``) would take over the response status, which the
    service sets itself.
    """
    caller = _CALLER.get()
    return caller.name if caller is not None else "unknown"


def _token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token, else the ``x-api-key`` value, else None."""
    key = None
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip().decode("latin-1")
        if name == b"x-api-key":
            key = value.strip().decode("latin-1")
    return key


def _error(kind: str, message: str, **extra: Any) -> bytes:
    return json.dumps({"error": kind, "message": message, **extra}).encode()


class CallerAuthMiddleware:
    """Authenticate and authorise each caller (see the module's docstring).

    ``authenticator`` defaults to one over ``Settings()``, made and started on the first
    request, inside the worker process (its poller is a thread, which a fork would lose).
    """

    def __init__(
        self,
        app: Any,
        authenticator: Any = None,
        model_routes: tuple[str, ...] = (),
        permissions: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        self.auth = authenticator
        # path -> the permission it needs: the model routes score, others say what they do.
        self.needed = {path: SCORE for path in model_routes} | dict(permissions or {})
        # One thread: argon2 is memory-hard (19 MiB per verification) and runs once per
        # token and worker; a flood of wrong secrets queues here instead of taking the CPU.
        self._argon = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2")

    def _authenticator(self) -> Any:
        if self.auth is None:
            from riskops.identity.authenticator import Authenticator
            from riskops.settings import Settings

            self.auth = Authenticator(Settings()).start()
        return self.auth

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        auth = self._authenticator()
        try:
            caller = auth.check(_token(scope["headers"]))
            if isinstance(caller, Unverified):
                loop = asyncio.get_running_loop()
                caller = await loop.run_in_executor(self._argon, auth.verify, caller)
        except AuthenticationError as exc:
            await _respond(
                send,
                401,
                _error("Unauthorized", str(exc)),
                [(b"www-authenticate", b'Bearer realm="riskops"')],
            )
            return
        needed = self.needed.get(path)
        if needed is not None and not caller.can(needed):
            message = (
                f"permission '{needed}' denied: {caller.name} "
                f"({', '.join(sorted(caller.roles)) or 'no role'}) needs the service role"
            )
            body = _error("Forbidden", message, permission=needed, caller=caller.name)
            await _respond(send, 403, body)
            return
        scope.setdefault("state", {})["caller"] = caller
        token = _CALLER.set(caller)
        try:
            await self.app(scope, receive, send)
        finally:
            _CALLER.reset(token)


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
