"""OIDC bearer tokens: JWTs signed by the organisation's identity provider.

Configured with ``RISKOPS_OIDC_ISSUER``, ``RISKOPS_OIDC_AUDIENCE`` and
``RISKOPS_OIDC_JWKS_URL`` (all three, or none). A token is accepted when its signature
verifies with a key the issuer publishes at the JWKS URL (looked up by the token's ``kid``,
cached for five minutes), with an asymmetric algorithm (never HMAC: the public key must not
work as a shared secret), and when ``iss``, ``aud``, ``exp`` and ``sub`` are present and
right. The person is ``RISKOPS_OIDC_NAME_CLAIM`` (default ``preferred_username``, else
``sub``), normalised; the roles are the RiskOps roles listed in ``RISKOPS_OIDC_ROLES_CLAIM``
(default ``roles``; a dotted path such as ``realm_access.roles`` reaches a nested claim;
other values are ignored). An OIDC token cannot be revoked here: the provider's short
expiry is the control.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from riskops.errors import AuthenticationError, BadInputError
from riskops.identity.roles import ROLES, Principal
from riskops.settings import Settings

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
LEEWAY_SECONDS = 30


def check_configuration(settings: Settings) -> bool:
    """Whether OIDC is configured; a half configuration is an error naming what is missing."""
    given = {
        "RISKOPS_OIDC_ISSUER": settings.oidc_issuer,
        "RISKOPS_OIDC_AUDIENCE": settings.oidc_audience,
        "RISKOPS_OIDC_JWKS_URL": settings.oidc_jwks_url,
    }
    missing = [k for k, v in given.items() if not v]
    if len(missing) == len(given):
        return False
    if missing:
        raise BadInputError(f"{', '.join(missing)}: OIDC needs issuer, audience and JWKS URL")
    return True


@cache
def _verifier(
    issuer: str, audience: str, jwks_url: str, name_claim: str, roles_claim: str
) -> OidcVerifier:
    return OidcVerifier(issuer, audience, jwks_url, name_claim, roles_claim)


def verifier(settings: Settings) -> OidcVerifier:
    """The process's verifier for these settings (its key cache is shared)."""
    check_configuration(settings)
    return _verifier(
        str(settings.oidc_issuer),
        str(settings.oidc_audience),
        str(settings.oidc_jwks_url),
        settings.oidc_name_claim,
        settings.oidc_roles_claim,
    )


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class OidcVerifier:
    """Verifies JWTs of one issuer and audience against the issuer's published keys."""

    def __init__(
        self, issuer: str, audience: str, jwks_url: str, name_claim: str, roles_claim: str
    ) -> None:
        import jwt

        self.issuer, self.audience = issuer, audience
        self.name_claim, self.roles_claim = name_claim, roles_claim
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def verify(self, token: str) -> Principal:
        import jwt

        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"token: OIDC token refused ({exc})") from None
        name = _claim(claims, self.name_claim) or claims["sub"]
        raw = _claim(claims, self.roles_claim) or []
        if isinstance(raw, str):
            raw = raw.replace(",", " ").split()
        roles = {str(r).strip().casefold() for r in raw} & set(ROLES)
        if roles == {"service"}:
            return Principal.of(str(name), roles, "oidc", "service")
        return Principal.of(str(name), roles, "oidc", "user")
