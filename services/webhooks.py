"""MLflow registry webhooks: a tracking server tells the service that an alias moved.

Where MLflow is a tracking *server* (``MLFLOW_TRACKING_URI=http...``), MLflow 3 delivers
``model_version_alias.created`` / ``.deleted`` events to a URL. ``RISKOPS_WEBHOOK_URL`` is
where the server reaches this service's ``POST /hooks/mlflow``; at start the service
registers (or updates) one webhook of that URL, signed with ``RISKOPS_WEBHOOK_SECRET``.

An alias is only a projection of the audit trail (written by ``Lifecycle.project`` after each
decision): the event is a *hint* that the trail changed. It wakes the poller of the named
model, which asks the trail -- never the alias -- what to serve, at once instead of at the
next poll. The poll stays: it is what a local (SQLite) store has, what covers a webhook
that was not delivered, and, with several worker processes, what tells the workers that
did not receive the event (one delivery reaches one worker).

Deliveries are authenticated as MLflow signs them: ``X-MLflow-Signature: v1,<base64
HMAC-SHA-256 of "<delivery id>.<timestamp>.<body>">``; a delivery without a valid
signature, or older than :data:`MAX_AGE_SECONDS`, is refused (401) and wakes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("riskops.serving")

HOOK_PATH = "/hooks/mlflow"
EVENTS = ("model_version_alias.created", "model_version_alias.deleted")
MAX_AGE_SECONDS = 300
"""A delivery older than this is refused (replay protection, as MLflow recommends)."""

_receiver: tuple[str, Callable[[str], None]] | None = None


def publish(secret: str, wake: Callable[[str], None]) -> None:
    """Accept deliveries signed with ``secret``; ``wake(model name)`` for each alias event."""
    global _receiver
    _receiver = (secret, wake)


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """MLflow's webhook signature of a delivery."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def accept(headers: dict[str, str], body: bytes, now: float | None = None) -> str | None:
    """The model name an authentic alias event is about; ``None`` for anything else.

    Raises
    ------
    PermissionError
        The delivery is not signed with the published secret, or too old.
    """
    if _receiver is None:
        raise PermissionError("webhooks are not enabled on this service")
    secret, _ = _receiver
    delivery = headers.get("x-mlflow-delivery-id", "")
    stamp = headers.get("x-mlflow-timestamp", "")
    given = headers.get("x-mlflow-signature", "")
    if not (delivery and stamp and given):
        raise PermissionError("unsigned delivery")
    if not hmac.compare_digest(given, signature(secret, delivery, stamp, body)):
        raise PermissionError("bad signature")
    try:
        age = (time.time() if now is None else now) - int(stamp)
    except ValueError:
        raise PermissionError("bad timestamp") from None
    if abs(age) > MAX_AGE_SECONDS:
        raise PermissionError(f"delivery is {age:.0f} s old")
    event = json.loads(body)
    if f"{event.get('entity')}.{event.get('action')}" not in EVENTS:
        return None
    return str((event.get("data") or {}).get("name") or "") or None


class WebhookMiddleware:
    """Answer ``POST /hooks/mlflow`` (see the module docstring); pass anything else on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != HOOK_PATH:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        status = 200
        answer: dict[str, str | None] = {}
        if scope["method"] != "POST":
            status, answer = 405, {"error": "MethodNotAllowed"}
        else:
            try:
                name = accept(headers, body)
            except PermissionError as exc:
                status, answer = 401, {"error": "Unauthorized", "message": str(exc)}
            except ValueError:
                status, answer = 400, {"error": "BadRequest", "message": "not JSON"}
            else:
                if name is not None and _receiver is not None:
                    _receiver[1](name)
                answer = {"woken": name}
        payload = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def register(client: Any, url: str, secret: str) -> str:
    """The webhook of ``url`` on the tracking server (created, or updated to the current
    secret and events); its id."""
    name = "riskops-" + hashlib.sha256(url.encode()).hexdigest()[:12]
    existing = next((w for w in client.list_webhooks() if w.name == name), None)
    if existing is not None:
        client.update_webhook(
            existing.webhook_id, url=url, events=list(EVENTS), secret=secret, status="ACTIVE"
        )
        return str(existing.webhook_id)
    created = client.create_webhook(
        name=name,
        url=url,
        events=list(EVENTS),
        description="RiskOps service: wake the champion poll when an alias moves",
        secret=secret,
    )
    logger.info("registered MLflow webhook %s for %s", created.webhook_id, url)
    return str(created.webhook_id)
