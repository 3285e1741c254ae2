"""The ASGI middlewares in front of BentoML, around a minimal Starlette app."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from services.middleware import CallerAuthMiddleware, JsonOnlyMiddleware

KEY = "k-123"


def _app() -> Starlette:
    async def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Route(p, ok, methods=["GET", "POST"]) for p in ("/score", "/metrics", "/livez")]
    return Starlette(routes=routes)


def _call(app: object, method: str, path: str, **kwargs: object) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def _shared_key_app(home: Path, key: str) -> CallerAuthMiddleware:
    """The middleware over a home without identities, with the deprecated shared key."""
    from riskops.identity.authenticator import Authenticator
    from riskops.settings import Settings

    auth = Authenticator(Settings(home=home, api_key=key or None))
    auth.refresh()  # one snapshot, no poller thread: nothing changes during the test
    return CallerAuthMiddleware(_app(), authenticator=auth, model_routes=("/score",))


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"x-api-key": "nope"}, 401),
        ({"x-api-key": KEY}, 200),
        ({"Authorization": f"Bearer {KEY}"}, 200),
        ({"Authorization": f"bearer {KEY}"}, 200),
        ({"Authorization": f"Basic {KEY}"}, 401),
        ({"Authorization": f"Bearer {KEY}x"}, 401),
    ],
)
def test_the_deprecated_shared_key_is_required_in_either_header(
    headers, status, tmp_path: Path
) -> None:
    app = _shared_key_app(tmp_path, KEY)
    response = _call(app, "POST", "/score", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"] == "Unauthorized"


def test_probes_and_metrics_stay_open_and_an_empty_home_without_key_is_open(
    tmp_path: Path,
) -> None:
    guarded = _shared_key_app(tmp_path / "a", KEY)
    assert _call(guarded, "GET", "/livez").status_code == 200
    assert _call(guarded, "GET", "/metrics").status_code == 200
    assert _call(_shared_key_app(tmp_path / "b", ""), "POST", "/score").status_code == 200


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 200),
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON", 200),
        ("multipart/form-data", 415),
        ("application/vnd.bentoml+pickle", 415),
        ("text/plain", 415),
    ],
)
def test_model_routes_take_json_only(content_type, status) -> None:
    app = JsonOnlyMiddleware(_app(), routes=("/score",))
    headers = {} if content_type is None else {"content-type": content_type}
    response = _call(app, "POST", "/score", content=b"{}", headers=headers)
    assert response.status_code == status
    # other routes are not concerned
    assert (
        _call(
            app, "POST", "/livez", content=b"x", headers={"content-type": "text/plain"}
        ).status_code
        == 200
    )


class _Fixed:
    """An authenticator that proves one principal, whatever the token."""

    def __init__(self, principal: object) -> None:
        self.principal = principal

    def check(self, token: object) -> object:
        return self.principal


@pytest.mark.parametrize(
    ("roles", "score", "observe"),
    [(["service"], 200, 200), (["data_scientist"], 403, 403), (["admin"], 403, 403)],
)
def test_feeding_the_live_champions_needs_the_observe_permission(
    roles: list[str], score: int, observe: int
) -> None:
    from riskops.identity.roles import Principal

    async def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route(p, ok, methods=["POST"]) for p in ("/score", "/market/observe")])
    caller = Principal.of("feed", roles, "token")
    guarded = CallerAuthMiddleware(
        app,
        authenticator=_Fixed(caller),
        model_routes=("/score",),
        permissions={"/market/observe": "observe"},
    )
    assert _call(guarded, "POST", "/score").status_code == score
    answer = _call(guarded, "POST", "/market/observe")
    assert answer.status_code == observe
    if observe == 403:
        assert answer.json()["permission"] == "observe"
        assert "needs the service role" in answer.json()["message"]
