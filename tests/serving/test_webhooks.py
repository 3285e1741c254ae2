"""MLflow registry webhooks wake the champion poll, from a real ``mlflow server``.

The tracking server (SQLite behind it, started here) delivers ``model_version_alias.created``
to the service's ``POST /hooks/mlflow`` (:mod:`services.webhooks`, served by uvicorn in this
process); the delivery is checked against MLflow's HMAC signature and wakes the holder of the
named model. A forged or unsigned delivery is refused and wakes nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services import webhooks

pytestmark = pytest.mark.slow
SECRET = "a-webhook-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` on SQLite, allowed to deliver to this machine over http (its
    defaults deliver to public https addresses only)."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    }
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--default-artifact-root",
            (folder / "artifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert server.poll() is None, (folder / "server.log").read_text()[-3000:]
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(up, 180, "mlflow server did not answer")
        yield url
    finally:
        # The server's workers are its children: stop the whole session it leads.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def hook() -> Iterator[tuple[str, list[str]]]:
    """``POST /hooks/mlflow`` served by uvicorn in a thread; the names it woke."""
    import uvicorn

    async def elsewhere(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    woken: list[str] = []
    webhooks.publish(SECRET, woken.append)
    port = _free_port()
    config = uvicorn.Config(
        webhooks.WebhookMiddleware(elsewhere), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started, 30, "the hook's server did not start")
    try:
        yield f"http://127.0.0.1:{port}{webhooks.HOOK_PATH}", woken
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_moved_alias_reaches_the_hook_signed(
    tracking_server: str, hook: tuple[str, list[str]]
) -> None:
    from mlflow import MlflowClient

    url, woken = hook
    client = MlflowClient(tracking_uri=tracking_server, registry_uri=tracking_server)
    # Given the service's webhook registered on the tracking server (twice: updated, not
    # duplicated, as each worker and each restart registers it)
    first = webhooks.register(client, url, SECRET)
    assert webhooks.register(client, url, SECRET) == first
    assert [w.webhook_id for w in client.list_webhooks() if w.url == url] == [first]
    # When a version's champion alias is set (as Lifecycle.project does after a decision)
    client.create_registered_model("hooked_pd")
    run = client.create_run("0")
    version = client.create_model_version(
        "hooked_pd", source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    client.set_registered_model_alias("hooked_pd", "champion", version.version)
    # Then the server's signed delivery wakes the model's poll
    _wait(lambda: "hooked_pd" in woken, 60, "no delivery woke hooked_pd")


def test_forged_and_stale_deliveries_are_refused(hook: tuple[str, list[str]]) -> None:
    url, woken = hook
    before = list(woken)
    body = b'{"entity": "model_version_alias", "action": "created", "data": {"name": "x_pd"}}'
    stamp = str(int(time.time()))
    forged = httpx.post(
        url,
        content=body,
        headers={
            "X-MLflow-Delivery-Id": "d1",
            "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": webhooks.signature("not-the-secret", "d1", stamp, body),
        },
    )
    unsigned = httpx.post(url, content=body)
    old = str(int(time.time()) - 3600)
    stale = httpx.post(
        url,
        content=body,
        headers={
            "X-MLflow-Delivery-Id": "d2",
            "X-MLflow-Timestamp": old,
            "X-MLflow-Signature": webhooks.signature(SECRET, "d2", old, body),
        },
    )
    assert (forged.status_code, unsigned.status_code, stale.status_code) == (401, 401, 401)
    assert woken == before
    # while the same delivery, signed now with the secret, wakes x_pd
    good = httpx.post(
        url,
        content=body,
        headers={
            "X-MLflow-Delivery-Id": "d3",
            "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": webhooks.signature(SECRET, "d3", stamp, body),
        },
    )
    assert good.status_code == 200 and woken[-1] == "x_pd"


class _CountingSource:
    """A holder's source that names no champion and counts the questions."""

    def __init__(self) -> None:
        self.asked = 0

    def wanted(self, name: str, role: str) -> Any:
        from services.champions import Wanted

        self.asked += 1
        return Wanted(None)

    def load(self, name: str, version: int) -> Any:
        raise AssertionError("nothing to load")

    def verify_chain(self) -> None:
        return None

    def champions(self) -> dict[str, str]:
        return {}


def test_waking_a_holder_polls_now_not_at_the_end_of_the_period() -> None:
    from services.champions import ChampionHolder

    source = _CountingSource()
    holder = ChampionHolder(source, "credit_pd").start(period_seconds=3600)
    try:
        holder.wake()
        _wait(lambda: source.asked == 1, 10, "the woken holder did not poll")
    finally:
        holder.stop()
