"""Fixtures of the live tests: a real ``redis-server``, and a home whose VaR champion was
trained on the S&P 500 without its last 1,000 days (the days the tests replay live)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

# The flow tests' real Prefect server (one per worker), for the alarm -> retrain chain.
from tests.flows.conftest import prefect_api, prefect_server  # noqa: F401

LIVE_DAYS = 1000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_server_binary() -> str:
    """``redis-server``, installed with apt-get when missing (as the chromium fixture does)."""
    from filelock import FileLock

    found = shutil.which("redis-server")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.fail("redis-server is missing and apt-get is not available to install it")
    prefix = [] if os.geteuid() == 0 or shutil.which("sudo") is None else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with FileLock(Path(tempfile.gettempdir()) / "riskops-tests-redis.lock"):
        if not shutil.which("redis-server"):
            subprocess.run([*prefix, apt, "update"], check=True, env=env, timeout=900)
            subprocess.run([*prefix, apt, "install", "-y", "redis-server"], check=True, env=env)
    found = shutil.which("redis-server")
    assert found, "apt-get installed redis-server but it is not on PATH"
    return found


@dataclass
class RedisServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushdb()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real ``redis-server`` on a free port, no persistence, for this module."""
    import redis

    binary = _redis_server_binary()
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while True:
        try:
            if redis.Redis.from_url(url).ping():
                break
        except redis.ConnectionError:
            pass
        assert process.poll() is None, "redis-server exited"
        assert time.monotonic() < deadline, "redis-server did not answer in 30 s"
        time.sleep(0.05)
    yield RedisServer(url, port, process)
    process.terminate()
    process.wait(timeout=10)


def sp500_returns() -> pd.Series:
    from riskops.data import DataSource, load

    return load(DataSource(domain="market", bundled="sp500")).series()


def environment_for(home: Path) -> dict[str, str]:
    """The environment of a ``riskops`` process working on ``home``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RISKOPS_", "PREFECT_API_URL"))
        and k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    env |= {
        "RISKOPS_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "RISKOPS_ACTOR": "pytest-live",
    }
    return env


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path) -> Path:
    """A home whose ``market_var`` champion (GARCH(1,1)-t, v1) was trained and gated on the
    bundled S&P 500 without its last :data:`LIVE_DAYS` days (a user CSV named ``sp500``, so
    the series it follows is ``sp500``), and promoted through the lifecycle."""
    from riskops.data import DataSource
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

    home = tmp_path_factory.mktemp("trained") / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    returns = sp500_returns()
    cut = len(returns) - LIVE_DAYS
    data = home / "data" / "sp500.csv"
    data.parent.mkdir()
    pd.DataFrame(
        {"date": returns.index[:cut].strftime("%Y-%m-%d"), "ret": returns.to_numpy()[:cut]}
    ).to_csv(data, index=False)
    with pytest.MonkeyPatch.context() as mp:
        # MLflow's set_registry_uri writes MLFLOW_REGISTRY_URI into the environment, so an
        # earlier test of this process may have left its own store there: cleared, or this
        # home's model would be registered in that test's store.
        env = environment_for(home)
        for key in list(os.environ):
            if key not in env and (
                key.startswith("RISKOPS_") or key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
            ):
                mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        life = Lifecycle(Settings())
        source = DataSource(
            domain="market", path=data, date_col="date", return_col="ret", return_scale="percent"
        )
        options = TrainOptions(model="garch_t", extra={"eval_days": 250, "refit_every": 50})
        trained = life.train("var", source, options)
        decision = life.promote("market_var", trained.version)
        assert decision.promoted, decision.to_dict()
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()
    return home


@pytest.fixture
def live_home(trained_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the trained home for one test, with the environment pointing at it."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    for key in list(os.environ):
        if key.startswith("RISKOPS_") or key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            monkeypatch.delenv(key)
    for key, value in environment_for(home).items():
        if key.startswith(("RISKOPS_", "MLFLOW_")):
            monkeypatch.setenv(key, value)
    return home
