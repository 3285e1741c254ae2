"""Identities, roles and tokens: who did it, provably (issue 31).

* :mod:`~riskops.identity.roles` -- the permission table, :class:`Principal`,
  :func:`require` and name normalisation;
* :mod:`~riskops.identity.tokens` -- the token format and its argon2 hashes;
* :mod:`~riskops.identity.store` -- identities and token hashes in SQL;
* :mod:`~riskops.identity.oidc` -- OIDC/JWT bearer tokens;
* :mod:`~riskops.identity.resolve` -- who runs this command, ``riskops login``;
* :mod:`~riskops.identity.authenticator` -- per-request authentication for servers (no
  argon2 per request, revocation seen within a second).

Adding and revoking identities, which the audit trail records, is :mod:`riskops.access`:
the trail names its actors through this package, so this package never writes to it.

Names resolve lazily so that importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Principal": "riskops.identity.roles",
    "PERMISSIONS": "riskops.identity.roles",
    "ROLES": "riskops.identity.roles",
    "normalise": "riskops.identity.roles",
    "require": "riskops.identity.roles",
    "current": "riskops.identity.resolve",
    "IdentityStore": "riskops.identity.store",
    "Authenticator": "riskops.identity.authenticator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'riskops.identity' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
