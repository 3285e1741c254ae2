"""What per-caller authentication costs a request, side by side in one run.

* argon2id verification of a token (what every request would pay without the cache), with
  the parameters RiskOps uses (OWASP's minimum) and with argon2-cffi's defaults;
* :meth:`Authenticator.check` of a token verified before (keyed digest + look-ups);
* :class:`services.middleware.CallerAuthMiddleware` in front of a no-op ASGI app, per
  request, with a token and in the open single-user mode, against the no-op app alone.

Run: ``uv run --frozen python bench/bench_caller_auth.py`` (a temporary home; about 20 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

N_CHECKS = 50_000
N_REQUESTS = 20_000
N_ARGON2 = 15


def _per_call(fn: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _requests(app: Any, headers: list[tuple[bytes, bytes]], n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    async def run() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            scope = {"type": "http", "path": "/credit/score", "headers": headers}
            await app(scope, receive, send)
        return (time.perf_counter() - t0) / n

    return asyncio.run(run())


def main() -> None:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        os.environ["RISKOPS_HOME"] = str(Path(tmp) / "home")
        os.environ.pop("RISKOPS_ACTOR", None)
        from riskops.identity import admin
        from riskops.identity.authenticator import Authenticator
        from riskops.identity.tokens import hash_token, verify_hash
        from riskops.settings import Settings
        from services.middleware import CallerAuthMiddleware

        open_home = Settings(home=Path(tmp) / "open")
        open_auth = Authenticator(open_home)
        open_auth.refresh()
        settings = Settings()
        _, root = admin.bootstrap(settings, "root")
        principal = Authenticator(settings).authenticate(root.token)
        _, svc = admin.add(settings, principal, "scorer", ["service"])
        auth = Authenticator(settings).start()
        try:
            from argon2 import PasswordHasher

            stored = hash_token(svc.token)
            argon2 = statistics.median(
                _per_call(lambda: verify_hash(stored, svc.token), 1) for _ in range(N_ARGON2)
            )
            defaults = PasswordHasher()
            heavy = defaults.hash(svc.token)
            argon2_defaults = statistics.median(
                _per_call(lambda: defaults.verify(heavy, svc.token), 1) for _ in range(N_ARGON2)
            )
            auth.authenticate(svc.token)  # the one argon2 of this token in this process
            cached = _per_call(lambda: auth.check(svc.token), N_CHECKS)
            bearer = [(b"authorization", b"Bearer " + svc.token.encode())]
            routes = ("/credit/score",)
            bare = _requests(_noop, bearer, N_REQUESTS)
            with_token = _requests(
                CallerAuthMiddleware(_noop, authenticator=auth, model_routes=routes),
                bearer,
                N_REQUESTS,
            )
            open_mode = _requests(
                CallerAuthMiddleware(_noop, authenticator=open_auth, model_routes=routes),
                [],
                N_REQUESTS,
            )
        finally:
            auth.stop()
    result = {
        "argon2_verify_ms": round(argon2 * 1e3, 2),
        "argon2_defaults_verify_ms": round(argon2_defaults * 1e3, 2),
        "cached_check_us": round(cached * 1e6, 2),
        "argon2_over_cached": round(argon2 / cached),
        "noop_app_request_us": round(bare * 1e6, 2),
        "middleware_token_request_us": round(with_token * 1e6, 2),
        "middleware_open_request_us": round(open_mode * 1e6, 2),
        "middleware_token_added_us": round((with_token - bare) * 1e6, 2),
        "n_checks": N_CHECKS,
        "n_requests": N_REQUESTS,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    out = Path(__file__).parent / "results" / "bench_caller_auth.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
