"""The service under hostile input and operation, over real HTTP: honest readiness, bounded
bodies, no 5xx for odd input, examples that work, metrics folders per server.

A second home holds one cheap champion (historical VaR) whose artifact is then corrupted, so
that the service cannot load it; two servers run on that home at once.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import (
    VAR_REFUSAL,
    LiveService,
    home_environment,
    market_csv,
    start_service,
    stop_service,
    train_and_promote,
    wait_ready,
)

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


# ------------------------------------------------------------------------------- helpers
def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (the server and its workers)."""
    total_kb = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        stack.extend(int(c) for c in children)
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _raw_post(url: str, path: str, headers: str, body_chunks: Iterator[bytes]) -> tuple[int, float]:
    """POST over a raw socket, sending ``body_chunks`` until the server answers or closes.

    Returns the status line's code and the seconds until it arrived.
    """
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1]) if answer else -1
    return status, time.monotonic() - started


def _corrupt_model_files(home: Path, family: str) -> list[Path]:
    """Overwrite the serialised models logged for ``family`` (MLflow's ``MLmodel`` metadata
    kept, so that the failure is the model's payload, as after a disk or copy fault)."""
    files = [
        f
        for f in (home / "artifacts" / family / "models").rglob("*")
        if f.is_file() and f.name != "MLmodel"
    ]
    assert files, f"no logged model files under {home / 'artifacts' / family / 'models'}"
    for f in files:
        f.write_bytes(b"\x00not a model\x00" * 16)
    return files


@pytest.fixture(scope="module")
def corrupt_home(tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path) -> Path:
    """A home whose only champion (market_var) has a corrupt artifact."""
    from riskops.data import DataSource
    from riskops.families.base import TrainOptions

    home = tmp_path_factory.mktemp("serving-corrupt") / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    with home_environment(home) as settings:
        source = DataSource(
            domain="market", path=market_csv(home), date_col="date", price_col="close"
        )
        options = TrainOptions(model="historical", extra={"eval_days": 250})
        train_and_promote(settings, "var", source, options, refused_for=VAR_REFUSAL)
    _corrupt_model_files(home, "var")
    return home


@pytest.fixture(scope="module")
def corrupt_service(corrupt_home: Path) -> Iterator[LiveService]:
    service = start_service(corrupt_home, {"RISKOPS_SERVE_BODY_TIMEOUT_SECONDS": "2"})
    try:
        wait_ready(service, probe="/livez")
        yield service
    finally:
        stop_service(service)


# ------------------------------------------------------------------------------- readiness
def test_readyz_is_503_on_an_empty_home_while_alive(empty_service) -> None:
    with empty_service.client() as client:
        ready = client.get("/readyz")
        live = client.get("/livez")
    assert live.status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False
    assert "no champion" in body["reason"]
    assert {m["state"] for m in body["models"].values()} == {"absent"}


def test_readyz_is_200_once_the_champions_load(live_service) -> None:
    with live_service.client() as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert {m["state"] for m in body["models"].values()} == {"ready"}
    # (other serving tests may have promoted user-named champions into the shared home)
    assert {"credit_pd", "market_var", "market_volatility", "market_anomaly"} <= set(body["models"])


def test_readyz_names_a_champion_whose_artifact_is_corrupt(corrupt_service) -> None:
    # Given a home whose market_var champion cannot be loaded
    with corrupt_service.client() as client:
        deadline = time.monotonic() + 60
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            ready = client.get("/readyz")
            body = ready.json()
            if body["models"].get("market_var", {}).get("state") == "failed":
                break
            time.sleep(0.5)
        forecast = client.post("/var/forecast", json={"series": "sp500"})
    # Then the probe is 503 and names the model and the failure
    assert ready.status_code == 503, body
    assert body["not_ready"] == ["market_var"]
    assert "market_var" in body["reason"]
    assert body["models"]["market_var"]["state"] == "failed"
    assert body["models"]["market_var"]["reason"].startswith("v1:")
    # and the route says it has nothing to serve, without a 5xx other than 503
    assert forecast.status_code == 503


# ------------------------------------------------------------------------------- bounded bodies
def test_a_50_mb_body_is_refused_at_once_without_reading_it(live_service) -> None:
    size = 50 * 1024 * 1024
    chunk = b"[" + b"1," * 32_767
    before = _tree_rss_mb(live_service.process.pid)
    declared = _raw_post(
        live_service.url,
        "/credit/score",
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n",
        iter([chunk] * (size // len(chunk))),
    )
    chunked = _raw_post(
        live_service.url,
        "/anomaly/score",
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
        iter([f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * (size // len(chunk))),
    )
    after = _tree_rss_mb(live_service.process.pid)
    assert declared[0] == 413 and declared[1] < 1.0, declared
    assert chunked[0] == 413 and chunked[1] < 5.0, chunked
    assert after - before < 50, (before, after)
    with live_service.client() as client:
        models = client.get("/models").json()["models"]
    assert {m["max_rows"] for m in models} == {10_000}


def test_a_body_that_trickles_in_gets_408(corrupt_service) -> None:
    def trickle() -> Iterator[bytes]:
        for _ in range(40):
            yield b" "
            time.sleep(0.1)

    status, waited = _raw_post(
        corrupt_service.url,
        "/var/forecast",
        "Content-Type: application/json\r\nContent-Length: 1000\r\n",
        trickle(),
    )
    assert status == 408
    assert waited < 10


def _leave_mid_body(url: str) -> None:
    """Open a POST, send part of its body, and close the connection."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /var/forecast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n" + b'{"returns": [1,'
        )


def test_a_client_that_leaves_mid_body_is_one_info_line(corrupt_service) -> None:
    for _ in range(3):
        _leave_mid_body(corrupt_service.url)

    def disconnections() -> tuple[str, list[str]]:
        log = corrupt_service.log.read_text(errors="replace")
        return log, [line for line in log.splitlines() if "client disconnected" in line]

    # (the service logs each departure when it notices it: wait for the three, up to 30 s)
    deadline = time.monotonic() + 30
    log, lines = disconnections()
    while len(lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        log, lines = disconnections()
    assert len(lines) == 3, corrupt_service.log_tail()
    assert all("INFO" in line for line in lines)
    assert "ClientDisconnect" not in log


# ------------------------------------------------------------------------------- no 5xx
def test_feature_rows_far_outside_the_training_range_are_scored_by_the_forest(
    live_service,
) -> None:
    # Given the isolation-forest champion, whose score saturates instead of overflowing
    # (tests/serving/test_odd_input.py shows the 422 of a detector that overflows)
    with live_service.client() as client:
        models = client.get("/models").json()["models"]
        anomaly = next(m for m in models if m["name"] == "market_anomaly")
        names = list(anomaly["request_schema"]["properties"])
        huge = [{f: 1e300 for f in names}, {f: -1e300 for f in names}]
        response = client.post("/anomaly/score", json={"rows": huge})
    # Then the rows are scored as anomalies, with finite drivers
    assert response.status_code == 200, response.text
    for result in response.json()["results"]:
        assert result["alert"] is True
        assert result["percentile"] > 0.99
        assert sum(d["share"] for d in result["drivers"]) <= 1 + 1e-9


def test_a_price_window_of_several_indices_is_scored(live_service) -> None:
    from riskops.data.market import load_market

    data = load_market(bundled="us_indices")
    bars = [
        {
            "date": str(day.date()),
            "close": float(data.close.loc[day, asset]),
            "high": float(data.high.loc[day, asset]),  # type: ignore[union-attr]
            "low": float(data.low.loc[day, asset]),  # type: ignore[union-attr]
            "volume": float(data.volume.loc[day, asset]),  # type: ignore[union-attr]
            "asset": asset,
        }
        for asset in data.assets
        for day in data.close.index[-80:]
    ]
    with live_service.client() as client:
        response = client.post("/anomaly/score", json={"prices": bars})
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 80 - 67


# ------------------------------------------------------------------------------- examples
def _openapi_examples(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One body per POST operation, built from its fields' first examples."""
    bodies = []
    for path, item in spec["paths"].items():
        operation = item.get("post")
        if operation is None or "requestBody" not in operation:
            continue
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        body = {
            name: prop["examples"][0]
            for name, prop in schema.get("properties", {}).items()
            if prop.get("examples")
        }
        if body:
            bodies.append((path, body))
    return bodies


def test_every_openapi_example_succeeds(live_service) -> None:
    with live_service.client() as client:
        spec = client.get("/docs.json").json()
        bodies = _openapi_examples(spec)
        answers = {path: client.post(path, json=body) for path, body in bodies}
        docs = client.get("/docs", follow_redirects=True)
    assert spec["info"]["title"] == "RiskOps"
    assert "BentoML" not in spec["info"]["description"]
    assert {p for p, _ in bodies} == {
        "/credit/score",
        "/var/forecast",
        "/volatility/forecast",
        "/anomaly/score",
        "/market/observe",
    }
    for path, answer in answers.items():
        assert answer.status_code == 200, (path, answer.text)
    assert docs.status_code == 200
    assert "<title>RiskOps API</title>" in docs.text


def _readme_requests() -> list[tuple[str, str, Any]]:
    """``curl`` examples of the README's serving section: (method, path, JSON body)."""
    text = README.read_text()
    found = []
    pattern = r"curl [^\n]*?localhost:3000(?P<path>/[\w/]+)(?:[^\n]*?-d '(?P<body>[^']*)')?"
    for match in re.finditer(pattern, text):
        body = json.loads(match["body"]) if match["body"] else None
        found.append(("POST" if body is not None else "GET", match["path"], body))
    return found


def test_every_readme_request_example_succeeds(live_service) -> None:
    requests = _readme_requests()
    assert len(requests) >= 4
    with live_service.client() as client:
        for method, path, body in requests:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 200, (method, path, answer.text)


# ------------------------------------------------------------------------------- metrics
def test_two_servers_on_one_home_keep_their_own_metrics(corrupt_service, corrupt_home) -> None:
    # Given one server that has counted requests
    with corrupt_service.client() as client:
        for _ in range(3):
            client.post("/var/forecast", json={"series": "sp500"})
    port = corrupt_service.url.rsplit(":", 1)[1]
    assert (corrupt_home / "metrics" / f"port-{port}").is_dir()
    # When a second server starts on the same home
    second = start_service(corrupt_home)
    try:
        wait_ready(second, probe="/livez")
        other_port = second.url.rsplit(":", 1)[1]
        with corrupt_service.client() as client:
            text = client.get("/metrics").text
        # Then each has its own folder, and the first server's counters survived
        assert (corrupt_home / "metrics" / f"port-{other_port}").is_dir()
        counted = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith('riskops_requests_total{model="market_var"')
            and 'status="503"' in line
        ]
        assert counted and sum(counted) >= 3, text[-2000:]
        # (a client that leaves mid-body must not hold up the second one's shutdown: it
        # did, until SIGKILL, while its request had no answer)
        _leave_mid_body(second.url)
        time.sleep(1)
    finally:
        began = time.monotonic()
        stop_service(second)
        stopping = time.monotonic() - began
    # and the stopped server ended gracefully on SIGTERM, its folder cleaned by its owner
    assert second.process.returncode == 0 and stopping < 15, (stopping, second.log_tail())
    assert not (corrupt_home / "metrics" / f"port-{other_port}").exists()
