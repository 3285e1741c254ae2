"""``GET /readyz`` that tells the truth: ``503`` until the champions this process should
serve have loaded, and while any of them fails to load; the body says which.

BentoML's own probe answers ``200`` as soon as the service object exists, so an orchestrator
would route traffic to a replica that can serve nothing (an empty home, an unreadable home,
a corrupt artifact). :class:`ReadinessMiddleware` answers the path itself from the holders the
service :func:`publish`\\ es when it starts (one service instance per worker process).

Ready means, model by model (:meth:`~services.champions.ChampionHolder.readiness`):

* every model whose ``champion`` alias exists is served, at the alias's version (a swap in
  progress keeps the old version serving and stays ready; a version that *failed* to load
  is not ready, even though the previous one keeps answering, so that a bad promotion is
  visible to the orchestrator and the operator);
* at least one model is served: a replica with nothing to serve is not ready.

``/livez`` stays BentoML's: the process is alive even when it has nothing to serve, and
restarting it would not help.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from services.champions import ChampionHolder

READY_PATH = "/readyz"

_holders: Callable[[], Mapping[str, ChampionHolder]] | None = None


def publish(holders: Callable[[], Mapping[str, ChampionHolder]]) -> None:
    """Make ``holders()`` (this process's champions, read at each probe: models registered
    later join) what ``/readyz`` reports on."""
    global _holders
    _holders = holders


def report() -> tuple[bool, dict[str, Any]]:
    """``(ready, body)`` for the probe."""
    if _holders is None:
        return False, {"ready": False, "reason": "the service is starting", "models": {}}
    holders = _holders()
    if holders is None:
        return False, {"ready": False, "reason": "the service is starting", "models": {}}
    models: dict[str, dict[str, Any]] = {}
    for holder in holders.values():
        state, why = holder.readiness()
        current = holder.current
        row: dict[str, Any] = {"state": state, "version": current.version if current else None}
        if why:
            row["reason"] = why
        models[holder.name] = row
    blocking = sorted(n for n, row in models.items() if row["state"] in ("loading", "failed"))
    serving = [n for n, row in models.items() if row["version"] is not None]
    if blocking:
        reason = "; ".join(
            f"{n}: {models[n]['state']} ({models[n].get('reason')})" for n in blocking
        )
    elif not serving:
        reason = "no champion to serve: train and promote one (riskops train/promote)"
    else:
        reason = None
    body: dict[str, Any] = {"ready": reason is None, "models": models}
    if reason is not None:
        body["reason"] = reason
        body["not_ready"] = blocking
    return reason is None, body


class ReadinessMiddleware:
    """Answer ``GET /readyz`` from :func:`report` (``200`` or ``503`` with a JSON body)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != READY_PATH:
            await self.app(scope, receive, send)
            return
        ready, body = report()
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"cache-control", b"no-store"),
        ]
        status = 200 if ready else 503
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
