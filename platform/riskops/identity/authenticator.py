"""Per-request authentication for long-running servers (the service, the console).

A server cannot pay argon2 (tens of milliseconds) per request, nor restart to see a
revocation. :class:`Authenticator` keeps

* a **snapshot** of the usable tokens (id, identity, roles, hash), re-read from the
  identity store every ``refresh_seconds`` (0.25 s) by a background thread; a revoked
  token or identity drops out of it at the next read. If the snapshot is older than
  ``max_staleness`` (1 s: the thread is late, the database slow), the token's row is read
  from the store directly instead, so a revocation is never seen later than that;
* a **verified cache** (:class:`~riskops.identity.tokens.VerifiedCache`): per token id,
  the keyed digest of the token that last passed argon2. A known token costs one
  HMAC-SHA-256 and two dictionary look-ups; argon2 runs once per token and process.

Modes, as the home is configured: identities or OIDC -> a token is required (the
deprecated shared ``RISKOPS_API_KEY`` is still accepted, as the caller ``shared-api-key``);
only a shared key -> the key is required; nothing -> the service is open and callers are
recorded as ``anonymous`` (the local single-user mode).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from dataclasses import dataclass, field

from riskops.errors import AuthenticationError
from riskops.identity import oidc
from riskops.identity.roles import ALL_PERMISSIONS, Principal
from riskops.identity.store import ActiveToken, IdentityStore
from riskops.identity.tokens import VerifiedCache, looks_like_jwt, token_id_of
from riskops.settings import Settings

logger = logging.getLogger(__name__)

ANONYMOUS = Principal("anonymous", frozenset(), "anonymous", "user", None, ALL_PERMISSIONS)
"""The caller of an open local service (no identities, no OIDC, no shared key)."""
SHARED_KEY = Principal(
    "shared-api-key",
    frozenset({"service"}),
    "shared_key",
    "service",
    None,
    frozenset({"score", "view"}),
)
"""The caller presenting the deprecated shared ``RISKOPS_API_KEY``."""


@dataclass(frozen=True)
class Snapshot:
    tokens: dict[str, tuple[ActiveToken, Principal]] = field(default_factory=dict)
    any_identity: bool = False
    taken_at: float = float("-inf")


@dataclass(frozen=True)
class Unverified:
    """A token still to verify off the event loop with :meth:`Authenticator.verify`: a
    RiskOps token whose id is active but whose secret this process has not checked yet
    (argon2), or an OIDC token (``active`` None: its issuer's keys may need fetching)."""

    token_id: str
    token: str
    digest: bytes
    active: ActiveToken | None


class Authenticator:
    """Authenticates callers of one server process (see the module's docstring)."""

    def __init__(
        self,
        settings: Settings,
        refresh_seconds: float = 0.25,
        max_staleness: float = 1.0,
    ) -> None:
        self.settings = settings
        self.store = IdentityStore(settings)
        self.refresh_seconds = refresh_seconds
        self.max_staleness = max_staleness
        self._oidc = oidc.verifier(settings) if oidc.check_configuration(settings) else None
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        self._shared_key = key.encode() if key else None
        if self._shared_key:
            logger.warning(
                "RISKOPS_API_KEY is deprecated: every caller shares one key, so no request "
                "can be attributed; issue per-caller tokens (riskops users add NAME --role "
                "service)"
            )
        self._cache = VerifiedCache()
        self._snapshot = Snapshot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Authenticator:
        self.refresh()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="identity-refresh", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def refresh(self) -> None:
        """Re-read the usable tokens (the revocation check)."""
        taken = time.monotonic()
        active = self.store.active_tokens()
        tokens = {tid: (a, a.principal()) for tid, a in active.items()}
        any_identity = bool(tokens) or self._snapshot.any_identity or self.store.any_identity()
        for tid in set(self._snapshot.tokens) - set(tokens):
            self._cache.forget(tid)
        self._snapshot = Snapshot(tokens, any_identity, taken)

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception as exc:  # keep polling; a stale snapshot falls back to the store
                logger.warning("identity refresh failed: %s", exc)

    # ----------------------------------------------------------------- requests
    @property
    def open(self) -> bool:
        """No identity, no OIDC, no shared key: callers are not authenticated at all."""
        return not (self._snapshot.any_identity or self._oidc or self._shared_key)

    def _lookup(self, token_id: str) -> tuple[ActiveToken, Principal] | None:
        snapshot = self._snapshot
        if time.monotonic() - snapshot.taken_at <= self.max_staleness:
            return snapshot.tokens.get(token_id)
        active = self.store.active_token(token_id)  # the poller is late: ask the store
        return None if active is None else (active, active.principal())

    def check(self, token: str | None) -> Principal | Unverified:
        """The caller, or :class:`Unverified` when argon2 must run first.

        Cheap (no argon2, no I/O unless the snapshot is stale). Raises
        :class:`AuthenticationError` for a missing, malformed, unknown or revoked token.
        """
        if not token:
            if self.open:
                return ANONYMOUS
            raise AuthenticationError("token: missing; send 'Authorization: Bearer TOKEN'")
        token = token.strip()
        if self._shared_key is not None and hmac.compare_digest(token.encode(), self._shared_key):
            return SHARED_KEY
        if looks_like_jwt(token):
            if self._oidc is None:
                raise AuthenticationError("token: OIDC tokens are not accepted here")
            return Unverified("", token, b"", None)
        token_id = token_id_of(token)
        found = None if token_id is None else self._lookup(token_id)
        if token_id is None or found is None:
            raise AuthenticationError("token: unknown, wrong or revoked")
        active, principal = found
        digest = self._cache.digest(token)
        if self._cache.known(token_id, digest):
            return principal
        return Unverified(token_id, token, digest, active)

    def verify(self, pending: Unverified) -> Principal:
        """Finish :meth:`check` with argon2 (slow: run it off the event loop)."""
        from riskops.identity.tokens import verify_hash

        if pending.active is None:
            assert self._oidc is not None
            return self._oidc.verify(pending.token)
        if not verify_hash(pending.active.hash, pending.token):
            raise AuthenticationError("token: unknown, wrong or revoked")
        self._cache.remember(pending.token_id, pending.digest)
        return pending.active.principal()

    def authenticate(self, token: str | None) -> Principal:
        """:meth:`check` then, if needed, :meth:`verify`, in the calling thread."""
        outcome = self.check(token)
        return self.verify(outcome) if isinstance(outcome, Unverified) else outcome
