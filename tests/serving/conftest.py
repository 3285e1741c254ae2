"""A live RiskOps service over four real champions, shared by the serving suite.

One ``RISKOPS_HOME`` per session: the four families are trained and promoted through the
real lifecycle on small data (2,000 bundled applicants; the last 1,500 S&P 500 days as a
user CSV), while ``riskops serve`` starts on a free port. The service starts *before* the
champions exist and must pick each one up by polling, which is the hot-swap path from
"no champion" to "champion". A second service runs on an empty home with an API key, for
the auth and "no champion yet" answers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

POLL_SECONDS = 0.5
START_TIMEOUT = 180.0
API_KEY = "s3cret-serving-key"
MARKET_DAYS = 1500
CREDIT_ROWS = 2000


@dataclass
class LiveService:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def home_environment(home: Path) -> Iterator[Any]:
    """Point this process (settings, MLflow) at ``home`` for the duration of the block."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("RISKOPS_") or key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
                mp.delenv(key)
        mp.setenv("RISKOPS_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        mp.setenv("RISKOPS_ACTOR", "pytest-serving")
        # Settings.export_environment() sets these when absent; set them here so they are undone.
        mp.setenv("BENTOML_HOME", str(home / "bentoml"))
        mp.setenv("PREFECT_HOME", str(home / "prefect"))
        from riskops.settings import Settings

        yield Settings()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service_environment(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RISKOPS_") and k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    env.update(
        RISKOPS_HOME=str(home),
        MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}",
        RISKOPS_SWAP_POLL_SECONDS=str(POLL_SECONDS),
        RISKOPS_INFERENCE_LOG_FLUSH_SECONDS="0.5",
        BENTOML_HOME=str(home / "bentoml"),
        BENTOML_DO_NOT_TRACK="true",
        DO_NOT_TRACK="1",
        MLFLOW_ENABLE_TELEMETRY="false",
        GIT_PYTHON_REFRESH="quiet",
    )
    env.update(extra)
    return env


def start_service(home: Path, extra_env: dict[str, str] | None = None) -> LiveService:
    """``riskops serve`` on a free port, as a child process in its own session."""
    port = _free_port()
    log = home / f"service-{port}.log"
    riskops = Path(sys.executable).with_name("riskops")
    command = (
        [str(riskops)]
        if riskops.exists()
        else [sys.executable, "-c", "from riskops.cli import main; main()"]
    )
    handle = log.open("wb")
    process = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_service_environment(home, extra_env or {}),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    return LiveService(f"http://127.0.0.1:{port}", home, process, log)


def wait_ready(
    service: LiveService, timeout: float = START_TIMEOUT, probe: str = "/readyz"
) -> None:
    """Wait for ``probe`` to answer 200: ``/readyz`` once the champions are loaded,
    ``/livez`` once the service is up (a home without champions is never ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            pytest.fail(f"service exited with {service.process.returncode}:\n{service.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{service.url}{probe}", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"service not ready after {timeout:.0f} s:\n{service.log_tail()}")


def stop_service(service: LiveService) -> None:
    if service.process.poll() is None:
        service.process.terminate()  # bentoml stops its workers on SIGTERM
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=10)


def wait_until_serving(service: LiveService, names: set[str], timeout: float) -> dict[str, Any]:
    """Poll ``GET /models`` until every model in ``names`` is served."""
    deadline = time.monotonic() + timeout
    served: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{service.url}/models", timeout=10).json()
        served = {m["name"]: m for m in body["models"] if m["status"] == "serving"}
        if names <= set(served):
            return served
        time.sleep(POLL_SECONDS)
    pytest.fail(f"not served after {timeout:.0f} s: {names - set(served)}\n{service.log_tail()}")


def market_csv(folder: Path) -> Path:
    """The last 1,500 S&P 500 days (close, high, low, volume) as a user's CSV file."""
    import pandas as pd

    from riskops.data.market import load_market

    data = load_market(bundled="sp500")
    frame = pd.DataFrame(
        {
            "date": data.close.index,
            "close": data.close.iloc[:, 0].to_numpy(),
            "high": data.high.iloc[:, 0].to_numpy(),  # type: ignore[union-attr]
            "low": data.low.iloc[:, 0].to_numpy(),  # type: ignore[union-attr]
            "volume": data.volume.iloc[:, 0].to_numpy(),  # type: ignore[union-attr]
        }
    ).tail(MARKET_DAYS)
    path = folder / "sp500_recent.csv"
    frame.to_csv(path, index=False)
    return path


def credit_csv(folder: Path) -> Path:
    """2,000 of the bundled applicants (seeded), as a user's CSV file."""
    from riskops.data.credit import load_credit

    path = folder / "credit_sample.csv"
    load_credit().frame.sample(CREDIT_ROWS, random_state=7).to_csv(path, index=False)
    return path


def credit_source(home: Path) -> Any:
    from riskops.data import DataSource

    return DataSource(
        domain="credit", path=home / "credit_sample.csv", target="Status", positive_label="bad"
    )


def train_and_promote(
    settings: Any, family: str, source: Any, options: Any, refused_for: str | None = None
) -> int:
    """Train a challenger and make it champion by its gates, or, for a family whose gates
    refuse it on this small data (``refused_for``: a gate named in the refusal), by a
    recorded override after that refusal.

    The serving tests need champions, not verdicts (the gates are tested in
    ``tests/lifecycle``); which promotions the small data refuses is stated here, and checked:
    an unexpected refusal, or a pass where a refusal was expected, fails the fixture.
    """
    from riskops.lifecycle import Lifecycle

    life = Lifecycle(settings)
    trained = life.train(family, source=source, options=options)
    decision = life.promote(trained.name, trained.version)
    if refused_for is None:
        assert decision.promoted, decision.reasons()
        return trained.version
    assert decision.refused, f"{family}: expected a refusal for {refused_for}"
    assert any(refused_for in reason for reason in decision.reasons()), decision.reasons()
    reason = f"serving test fixture: {refused_for} refuses it on small data"
    assert life.promote(trained.name, trained.version, force=True, reason=reason).forced
    return trained.version


VAR_REFUSAL = "binomial_pvalue_99_last250"
"""The 250-day historical-simulation VaR on the last 1,500 S&P 500 days has too many 99%
exceptions in its evaluation window (0.1% exact binomial p-value): its gates refuse it."""


@pytest.fixture(scope="session")
def serving_home(tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path) -> Path:
    home = tmp_path_factory.mktemp("serving") / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    return home


@pytest.fixture(scope="session")
def in_home(serving_home: Path) -> Any:
    """``with in_home() as settings:`` runs library code against the served home."""
    return lambda: home_environment(serving_home)


@pytest.fixture(scope="session")
def retrain_credit() -> Any:
    """``retrain_credit(settings, options)`` trains and promotes one more credit version."""

    def run(settings: Any, options: Any) -> int:
        # The hot-swap test needs a new champion whatever its gates say: one promotion that
        # overrides a refusal, if there is one, with a recorded reason.
        from riskops.lifecycle import Lifecycle

        life = Lifecycle(settings)
        trained = life.train("credit", source=credit_source(settings.home), options=options)
        reason = "serving test fixture: a new champion for the hot swap"
        assert life.promote(trained.name, trained.version, force=True, reason=reason).promoted
        return trained.version

    return run


@pytest.fixture(scope="session")
def live_service(serving_home: Path) -> Iterator[LiveService]:
    """The service over all four champions, trained while it starts."""
    from riskops.data import DataSource
    from riskops.families import family_names, registered_name
    from riskops.families.base import TrainOptions

    service = start_service(serving_home)
    try:
        with home_environment(serving_home) as settings:
            market = DataSource(
                domain="market",
                path=market_csv(serving_home),
                date_col="date",
                price_col="close",
                high_col="high",
                low_col="low",
                volume_col="volume",
            )
            credit_csv(serving_home)
            plan = [
                (
                    "credit",
                    credit_source(serving_home),
                    TrainOptions(extra={"params": {"n_estimators": 150}}),
                ),
                (
                    "var",
                    market,
                    TrainOptions(model="historical", extra={"eval_days": 250}),
                    VAR_REFUSAL,
                ),
                ("volatility", market, TrainOptions(model="garch", extra={"eval_days": 250})),
                ("anomaly", market, TrainOptions(model="isolation_forest")),
            ]
            for family, source, options, *refused_for in plan:
                train_and_promote(settings, family, source, options, *refused_for)
        wait_ready(service)
        wait_until_serving(service, {registered_name(f) for f in family_names()}, timeout=60)
        yield service
    finally:
        stop_service(service)


@pytest.fixture(scope="session")
def empty_service(tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path):  # type: ignore[no-untyped-def]
    """A service on a home without any model, requiring an API key."""
    home = tmp_path_factory.mktemp("serving-empty") / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    service = start_service(home, {"RISKOPS_API_KEY": API_KEY})
    try:
        wait_ready(service, probe="/livez")
        yield service
    finally:
        stop_service(service)
