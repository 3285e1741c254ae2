"""Console sessions: a random id in a cookie, the token in this process's memory only.

Each request re-authenticates the session's token through the
:class:`~riskops.identity.authenticator.Authenticator` (a digest and a dictionary look-up
once the token is verified), so a revoked identity is logged out within a second. Forms
carry the session's CSRF token; the cookie is ``HttpOnly`` and ``SameSite=Strict``.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "riskops_session"
LIFETIME_SECONDS = 8 * 3600


@dataclass
class Session:
    token: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.monotonic)
    flash: list[tuple[str, str]] = field(default_factory=list)

    def expired(self) -> bool:
        return time.monotonic() - self.created > LIFETIME_SECONDS

    def csrf_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(self.csrf, str(candidate))


class Sessions:
    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(token)
        with self._lock:
            self._by_id = {k: v for k, v in self._by_id.items() if not v.expired()}
            self._by_id[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._by_id.get(sid)
        if session is None or session.expired():
            self.drop(sid)
            return None
        return session

    def drop(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._by_id.pop(sid, None)
