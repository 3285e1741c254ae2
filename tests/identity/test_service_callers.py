"""The BentoML service over real HTTP with per-caller tokens: 401 and 403 told apart, a
token revoked mid-run refused within a second without a restart while another caller keeps
being served, and every decision logged with its caller."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from .conftest import IdentityHome, train

pytestmark = pytest.mark.slow

MODEL = "credit_pd"
START_TIMEOUT = 240.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _applicant() -> list[dict[str, Any]]:
    from riskops.data.credit import load_credit

    row = load_credit().X.sample(1, random_state=5).to_dict("records")[0]
    return [
        {k: None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    ]


def _where_decisions_are(store: Any, kind: Any) -> str:
    """Every decisions stream of the store with its head, and the database file's identity
    (what a missing decision needs to be traced: another stream, or another file)."""
    heads = {stream: store.head(kind, stream)[0] for stream in store.streams(kind)}
    database = Path(str(store.engine.url.database))
    found = os.stat(database) if database.exists() else None
    shown = f"inode {found.st_ino}, {found.st_size} bytes" if found else "no file"
    return f"streams {heads}; database {shown}"


def _service_log(home: IdentityHome) -> str:
    """The newest service log of the home (what a failed expectation needs to be read)."""
    logs = sorted(home.home.glob("service-*.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text(errors="replace") if logs else "(no service log)"


@contextlib.contextmanager
def _service(home: IdentityHome) -> Iterator[str]:
    """``riskops serve`` on the identity home, in its own session; yields its URL."""
    port = _free_port()
    log = home.home / f"service-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKOPS_")}
    env.update(home.env())
    env.update(
        RISKOPS_SWAP_POLL_SECONDS="0.5",
        RISKOPS_INFERENCE_LOG_FLUSH_SECONDS="0.5",
        BENTOML_HOME=str(home.home / "bentoml"),
    )
    riskops = Path(sys.executable).with_name("riskops")
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(riskops), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"service exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _champion_of(home: IdentityHome) -> int:
    """credit_pd champion: alice requests, victor approves (the policy needs one)."""
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

    version = train(home, MODEL, "alice", seed=11)
    Lifecycle(Settings(), principal=home.principal("alice")).promote(MODEL, version)
    Lifecycle(Settings(), principal=home.principal("victor")).approve(
        MODEL, version, "fixture champion"
    )
    return version


def test_two_client_tokens_one_revoked_mid_run(ihome: IdentityHome) -> None:
    from riskops import access
    from riskops.credit.decisions import DECISIONS
    from riskops.evidence.store import EvidenceStore
    from riskops.settings import Settings

    _champion_of(ihome)
    body = {"applicants": _applicant()}
    bearer = {name: {"Authorization": f"Bearer {ihome.tokens[name]}"} for name in ihome.tokens}
    served: dict[str, int] = {"scorer-a": 0, "scorer-b": 0}
    with _service(ihome) as url, httpx.Client(base_url=url, timeout=30) as http:

        def score(who: str) -> int:
            status = http.post("/credit/score", json=body, headers=bearer[who]).status_code
            if status == 200:
                served[who] += 1
            return status

        # 401 without a token or with a wrong one, 403 for a person without `score`
        assert http.post("/credit/score", json=body).status_code == 401
        wrong = {"Authorization": "Bearer rsk_0123456789abcdef_" + "x" * 43}
        assert http.post("/credit/score", json=body, headers=wrong).status_code == 401
        forbidden = http.post("/credit/score", json=body, headers=bearer["victor"])
        assert forbidden.status_code == 403
        assert forbidden.json()["permission"] == "score"
        assert "permission 'score' denied: victor" in forbidden.json()["message"]
        assert http.get("/livez").status_code == 200  # probes stay open
        # Both clients are served
        assert score("scorer-a") == 200 and score("scorer-b") == 200
        # When scorer-b is revoked (by a command, not through the service)
        settings = Settings()
        access.revoke(settings, ihome.principal("admin"), "scorer-b")
        revoked_at = time.monotonic()
        # Then its requests get 401 within one second, while scorer-a's keep succeeding
        while score("scorer-b") == 200:
            assert score("scorer-a") == 200
            assert time.monotonic() - revoked_at < 1.0, "revoked token still served after 1 s"
        refused_after = time.monotonic() - revoked_at
        assert refused_after < 1.0
        assert [score("scorer-a") for _ in range(5)] == [200] * 5
        assert score("scorer-b") == 401

        # And every served decision is recorded with its caller, before its answer was sent
        store = EvidenceStore(settings)
        recorded = store.frame(DECISIONS, MODEL, ["caller"])
        callers = {str(k): int(v) for k, v in recorded["caller"].value_counts(dropna=False).items()}
        assert callers == served, (
            f"{len(recorded)} decision(s) in {settings.evidence_database_url}; "
            f"{_where_decisions_are(store, DECISIONS)}; "
            f"service log:\n{_service_log(ihome)[-3000:]}"
        )
    print(f"revocation seen after {refused_after:.3f} s; served {served}")
