"""RiskOps access tokens: ``rsk_<id>_<secret>``, stored only as an argon2id hash.

* ``id`` is 16 hexadecimal digits (64 random bits), stored in clear: it finds the one
  row to verify against, so a wrong token costs one argon2 verification, never a scan.
* ``secret`` is 32 random bytes, URL-safe base64 (43 characters).
* The store keeps ``argon2id(token)``, so a stolen database does not give usable tokens.
  The parameters are OWASP's minimum for argon2id (2 passes over 19 MiB, one lane): a
  token carries 256 random bits, so no amount of hashing work is what keeps it from being
  guessed, and each command pays one verification (argon2-cffi's defaults, 3 passes over
  64 MiB in 4 lanes, cost 0.39 s per verification on this shared 2-core machine).
  A stored hash records its own parameters, so changing them never invalidates a token.

argon2 is slow on purpose (tens of milliseconds); a service cannot pay it per request.
:class:`VerifiedCache` remembers, per token id, a keyed digest (HMAC-SHA-256 under a key
drawn when the process starts and never stored) of the token that last verified, so a
repeated token is checked in microseconds; revocation is checked separately, against the
store (see :mod:`riskops.identity.authenticator`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

PREFIX = "rsk_"
_TOKEN = re.compile(r"rsk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class IssuedToken:
    """A token as issued: shown once, never stored in clear."""

    token_id: str
    token: str


def new_token() -> IssuedToken:
    token_id = secrets.token_hex(8)
    return IssuedToken(token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}")


def token_id_of(token: str) -> str | None:
    """The id of a well-formed RiskOps token, else None (not ours, or mangled)."""
    match = _TOKEN.fullmatch(token.strip())
    return match.group(1) if match else None


def looks_like_jwt(token: str) -> bool:
    parts = token.strip().split(".")
    return len(parts) == 3 and all(parts[:2])


@cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_token(token: str) -> str:
    return str(_hasher().hash(token))


def verify_hash(stored_hash: str, token: str) -> bool:
    """argon2 verification (slow by design); False for any mismatch or malformed hash."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return bool(_hasher().verify(stored_hash, token))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class VerifiedCache:
    """token id -> keyed digest of the token that last passed argon2, for this process.

    Keyed by the token id, so the cache holds at most one entry per token and a flood of
    wrong secrets cannot grow it; the key never leaves the process, so the digests are of
    no use to anyone who reads memory dumps of another process or a log.
    """

    def __init__(self) -> None:
        self._key = os.urandom(32)
        self._digests: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def digest(self, token: str) -> bytes:
        return hmac.new(self._key, token.encode(), hashlib.sha256).digest()

    def known(self, token_id: str, digest: bytes) -> bool:
        cached = self._digests.get(token_id)
        return cached is not None and hmac.compare_digest(cached, digest)

    def remember(self, token_id: str, digest: bytes) -> None:
        with self._lock:
            self._digests[token_id] = digest

    def forget(self, token_id: str) -> None:
        with self._lock:
            self._digests.pop(token_id, None)

    def verify(self, token_id: str, token: str, stored_hash: str) -> bool:
        """Whether ``token`` matches ``stored_hash``: from the cache, else by argon2."""
        digest = self.digest(token)
        if self.known(token_id, digest):
            return True
        if verify_hash(stored_hash, token):
            self.remember(token_id, digest)
            return True
        return False
