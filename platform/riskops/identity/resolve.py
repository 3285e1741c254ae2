"""Who runs this command: the authenticated identity, or the local single user.

Two modes, decided by the home itself:

* **Authenticated** -- the identity store holds any identity, or OIDC is configured. Every
  command that acts needs a token: ``RISKOPS_TOKEN``, else the one ``riskops login`` stored
  for this identity store. A RiskOps token is checked against its argon2 hash and its
  revocation (source ``token``), a JWT against the OIDC issuer's keys (source ``oidc``).
  ``RISKOPS_ACTOR`` is refused: a declared name proves nothing.
* **Local single-user** -- no identity defined, no OIDC. The one user may do anything and
  is named by ``RISKOPS_ACTOR``, else the operating-system user; the audit trail records the
  name with source ``self_declared``. Maker-checker still compares normalised names, so
  ``"root "`` and ``Root`` cannot approve ``root``'s request.

``riskops login`` stores a token in ``$XDG_CONFIG_HOME/riskops/credentials.json`` (default
``~/.config``), mode 0600, one entry per identity store, never in the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from riskops.errors import AuthenticationError, BadInputError
from riskops.identity import oidc
from riskops.identity.roles import Principal
from riskops.identity.store import IdentityStore, defines_identities
from riskops.identity.tokens import looks_like_jwt
from riskops.settings import Settings

CHECKOUT = Path(__file__).resolve().parents[3]
"""The source checkout this module runs from (when it runs from one)."""


def provider_configured(settings: Settings) -> bool:
    """Whether identities are authenticated here (any identity defined, or OIDC)."""
    return oidc.check_configuration(settings) or defines_identities(settings)


def authenticate_token(settings: Settings, token: str) -> Principal:
    """The identity a token proves: a RiskOps token or, with OIDC configured, a JWT."""
    token = token.strip()
    if looks_like_jwt(token):
        if not oidc.check_configuration(settings):
            raise AuthenticationError(
                "token: an OIDC token, but OIDC is not configured (RISKOPS_OIDC_ISSUER, "
                "RISKOPS_OIDC_AUDIENCE, RISKOPS_OIDC_JWKS_URL)"
            )
        return oidc.verifier(settings).verify(token)
    return IdentityStore(settings).authenticate(token)


def current(settings: Settings) -> Principal:
    """The identity acting in this process (see the module's docstring for the rules)."""
    declared = "actor" in settings.model_fields_set
    explicit = settings.token.get_secret_value().strip() if settings.token else ""
    if not provider_configured(settings):
        if explicit:
            raise AuthenticationError(
                "RISKOPS_TOKEN: this home defines no identities, so no token can be checked; "
                "unset it, or point RISKOPS_HOME / RISKOPS_IDENTITY_URL at the right home"
            )
        return Principal.single_user(settings.actor)
    if declared:
        raise AuthenticationError(
            "RISKOPS_ACTOR: refused because this home authenticates identities; unset it and "
            "authenticate with RISKOPS_TOKEN or `riskops login`"
        )
    token = explicit or stored_token(settings)
    if not token:
        raise AuthenticationError(
            "token: this home authenticates identities; set RISKOPS_TOKEN or run "
            "`riskops login` (a new home's first admin: `riskops users bootstrap NAME`)"
        )
    return authenticate_token(settings, token)


# ------------------------------------------------------------------ credentials
def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser().resolve() / "riskops" / "credentials.json"


def realm(settings: Settings) -> str:
    """The key of a stored token: its identity store's URL, without a password."""
    import sqlalchemy as sa

    return sa.make_url(settings.identity_database_url).render_as_string(hide_password=True)


def _read() -> dict[str, str]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    realms = data.get("realms") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in realms.items()} if isinstance(realms, dict) else {}


def _write(realms: dict[str, str]) -> Path:
    path = credentials_path()
    if path == CHECKOUT or CHECKOUT in path.parents:
        raise BadInputError(
            f"XDG_CONFIG_HOME: {path} is inside the source checkout {CHECKOUT}; tokens are "
            "never stored in the repository"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"realms": realms}, handle, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)  # whatever the umask
    os.replace(tmp, path)
    return path


def stored_token(settings: Settings) -> str:
    return _read().get(realm(settings), "")


def login(settings: Settings, token: str) -> tuple[Principal, Path]:
    """Check ``token`` and store it for this identity store; returns who it proves."""
    principal = authenticate_token(settings, token)
    realms = _read()
    realms[realm(settings)] = token.strip()
    return principal, _write(realms)


def logout(settings: Settings) -> bool:
    """Forget this identity store's stored token; whether there was one."""
    realms = _read()
    if realm(settings) not in realms:
        return False
    del realms[realm(settings)]
    _write(realms)
    return True
