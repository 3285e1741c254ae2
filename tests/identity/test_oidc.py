"""OIDC bearer tokens against a real JWKS endpoint: a local HTTP server publishing the public
half of an RSA key generated for the test, as an identity provider does."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from riskops.errors import AuthenticationError
from riskops.settings import Settings

ISSUER = "https://idp.example.test/realms/risk"
AUDIENCE = "riskops"


class _Jwks(http.server.BaseHTTPRequestHandler):
    body = b"{}"
    served = 0

    def do_GET(self) -> None:
        type(self).served += 1
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def idp() -> Iterator[dict[str, Any]]:
    """A signing key and a JWKS URL serving its public key (kid ``k1``)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    _Jwks.body = json.dumps(
        {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    ).encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"key": key, "url": f"http://127.0.0.1:{server.server_address[1]}/certs"}
    finally:
        server.shutdown()
        server.server_close()


def _token(
    idp: dict[str, Any], kid: str = "k1", key: Any = None, alg: str = "RS256", **claims: Any
) -> str:
    import jwt

    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "0f3c-uuid",
        "preferred_username": "Val.Idator@Bank.example",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["validator", "offline_access"]},
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key or idp["key"], algorithm=alg, headers={"kid": kid})


@pytest.fixture
def oidc_env(riskops_home: Path, monkeypatch: pytest.MonkeyPatch, idp: dict[str, Any]) -> Settings:
    monkeypatch.delenv("RISKOPS_ACTOR")
    monkeypatch.setenv("RISKOPS_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("RISKOPS_OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("RISKOPS_OIDC_JWKS_URL", idp["url"])
    monkeypatch.setenv("RISKOPS_OIDC_ROLES_CLAIM", "realm_access.roles")
    return Settings()


def test_a_token_signed_by_the_issuer_names_a_normalised_person_and_their_roles(
    oidc_env: Settings, idp: dict[str, Any]
) -> None:
    from riskops.identity.resolve import authenticate_token

    principal = authenticate_token(oidc_env, _token(idp))
    assert principal.name == "val.idator@bank.example"
    assert principal.source == "oidc" and principal.roles == {"validator"}
    assert principal.can("approve") and not principal.can("promote")
    # The keys are fetched once and cached: a second token costs no request
    served = _Jwks.served
    authenticate_token(oidc_env, _token(idp, preferred_username="other"))
    assert _Jwks.served == served


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"aud": "another-app"}, "audience"),
        ({"iss": "https://evil.example.test"}, "issuer"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"exp": None}, "exp"),
        ({"kid": "unknown"}, "kid"),
    ],
)
def test_tokens_for_another_audience_issuer_expired_or_unknown_keys_are_refused(
    oidc_env: Settings, idp: dict[str, Any], change: dict[str, Any], why: str
) -> None:
    from riskops.identity.resolve import authenticate_token

    kid = change.pop("kid", "k1")
    with pytest.raises(AuthenticationError, match="OIDC token refused"):
        authenticate_token(oidc_env, _token(idp, kid=kid, **change))


def test_a_token_signed_by_another_key_or_with_the_public_key_as_hmac_secret_is_refused(
    oidc_env: Settings, idp: dict[str, Any]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from riskops.identity.resolve import authenticate_token

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthenticationError):
        authenticate_token(oidc_env, _token(idp, key=stranger))
    # The classic algorithm confusion: HS256 keyed with the published public key
    pem = (
        idp["key"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    now = int(time.time())
    # PyJWT refuses to sign HS256 with a PEM key, as an attacker's tool would not: by hand
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60}).encode())
    signature = b64(hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(AuthenticationError):
        authenticate_token(oidc_env, f"{header}.{body}.{signature}")


def test_with_oidc_configured_the_cli_takes_the_jwt_and_refuses_riskops_actor(
    oidc_env: Settings, idp: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops.cli import app

    runner = CliRunner()
    who = runner.invoke(app, ["whoami", "--json"], env={"RISKOPS_TOKEN": _token(idp)})
    assert who.exit_code == 0, who.output
    assert json.loads(who.stdout)["source"] == "oidc"
    declared = runner.invoke(app, ["whoami"], env={"RISKOPS_ACTOR": "val.idator@bank.example"})
    assert declared.exit_code == 2
    assert "RISKOPS_ACTOR: refused" in declared.stderr
    # A half configuration is an error naming what is missing, not a silent single-user mode
    monkeypatch.delenv("RISKOPS_OIDC_JWKS_URL")
    half = runner.invoke(app, ["whoami"])
    assert half.exit_code == 2 and "RISKOPS_OIDC_JWKS_URL" in half.stderr
