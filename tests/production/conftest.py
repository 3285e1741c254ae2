"""Production-mode topology as local processes: PostgreSQL, MLflow server, Prefect server.

``infra/docker-compose.yml`` cannot run on the CI machines (no Docker daemon), so these
fixtures build the same topology from local processes on 127.0.0.1:

=================  =====================================================================
fixture (scope)    what it gives
=================  =====================================================================
``postgres``       :class:`harness.PostgresServer` (session): one throwaway cluster on a
                   free port with the databases of ``infra/postgres/init.sql`` (``mlflow``,
                   ``prefect``, ``riskops``); ``.url(db)`` / ``.urls`` are SQLAlchemy URLs,
                   ``.query(db, sql)`` runs SQL. Uses Debian's binaries
                   (``/usr/lib/postgresql/*/bin``), installing ``postgresql`` with apt-get
                   when they are missing; runs as the ``postgres`` user because initdb
                   refuses root.
``mlflow_server``  :class:`harness.MlflowServer` (session): ``mlflow server`` on the
                   ``mlflow`` database with proxied artifacts (``--serve-artifacts``,
                   ``.artifacts_dir``), ``.url``.
``prefect_server`` :class:`harness.PrefectServer` (session): ``prefect server start`` on
                   the ``prefect`` database (asyncpg), ``.api_url``.
``production_env`` ``dict`` (per test): the complete environment of a RiskOps child process
                   in production mode – ``MLFLOW_TRACKING_URI``, ``RISKOPS_AUDIT_URL``,
                   ``PREFECT_API_URL`` and a fresh ``RISKOPS_HOME`` under the test's tmp.
``production_settings``  ``riskops.settings.Settings`` (per test) built from that
                   environment, with ``os.environ`` patched for the test, for in-process
                   calls (``riskops.registry``, ``riskops.tracking``) against the servers.
=================  =====================================================================

MLflow and Prefect boot side by side (``_servers``, ``harness.wait_all_ready``), so the
pair costs the slower of the two. MLflow gets ``MLFLOW_BACKEND_STORE_URI``,
``MLFLOW_ARTIFACTS_DESTINATION`` and the ``MLFLOW_SERVER_ALLOWED_HOSTS`` of the compose
file from its environment, as in compose. Every server runs under coreutils ``timeout``
(``harness.SERVER_LIFETIME_SECONDS``), is stopped by its own process group at teardown and logs to
``<session tmp>/production/logs/<name>.log``; the tails of all logs are attached to the
report of any failing test here, and the startup times are printed in the terminal
summary. Every test in this folder is marked ``production`` (deselect the suite with
``-m "not production"``) and gets a 600 s ``timeout`` unless it sets its own.

Adding the end-to-end tests
---------------------------
*Train → promote → serve.* Run the CLI as a child in production mode, then start the
service as one more :class:`harness.ServerProcess`::

    def test_service_serves_champion(production_env, tmp_path):
        harness.run_checked(["riskops", "train", "credit", "--json"], env=production_env,
                            timeout=240)
        harness.run_checked(["riskops", "promote", "credit_pd", "--json"],
                            env=production_env)
        port = harness.free_port()
        with harness.ServerProcess(
            name="riskops-service",
            argv=["riskops", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=production_env, log_dir=tmp_path / "logs",
            ready_url=f"http://127.0.0.1:{port}/readyz",
        ) as service:
            ...  # POST to the service; compare with the champion in production_settings

*Racing promotions.* :func:`harness.run_python_concurrently` starts ``n`` copies of a
script that each call ``barrier()`` right before the contended step and releases them
together; the script sees ``WORKER`` (0..n-1)::

    results = harness.run_python_concurrently(
        '''
        from riskops.settings import Settings
        barrier()
        ...  # promote candidate number WORKER
        ''',
        n=4, env=production_env, workdir=tmp_path / "race",
    )

then assert on the registry (``production_settings``) and on the audit trail
(``postgres.query("riskops", ...)``): exactly one champion, every attempt audited.

A new server (a Prefect worker, a Dask scheduler) is a session fixture that builds a
:class:`harness.ServerProcess` from ``harness.clean_environment(...)`` and stops it in a
``finally``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import harness

_HERE = Path(__file__).resolve().parent
_DEFAULT_TIMEOUT = 600


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.production)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(_DEFAULT_TIMEOUT))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.failed and _HERE in Path(str(item.path)).resolve().parents:
        for name, path in sorted(harness.LOGS.items()):
            report.sections.append((f"server log: {name} ({path})", harness.tail(path)))
    return report


def pytest_terminal_summary(terminalreporter) -> None:
    if harness.STARTUP_SECONDS:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in harness.STARTUP_SECONDS.items())
        terminalreporter.write_line(f"production servers, launch to healthy: {parts}")
    if harness.STOP_SECONDS:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in harness.STOP_SECONDS.items())
        terminalreporter.write_line(f"production servers, stop to exit: {parts}")


@pytest.fixture(scope="session")
def production_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("production")


@pytest.fixture(scope="session")
def production_logs(production_workdir: Path) -> Path:
    return production_workdir / "logs"


@pytest.fixture(scope="session")
def postgres(production_logs: Path) -> Iterator[harness.PostgresServer]:
    with harness.postgres_cluster(production_logs) as server:
        yield server


@pytest.fixture(scope="session")
def _servers(
    postgres: harness.PostgresServer, production_workdir: Path, production_logs: Path
) -> Iterator[tuple[harness.MlflowServer, harness.PrefectServer]]:
    mlflow = harness.mlflow_server(postgres, production_workdir, production_logs)
    prefect = harness.prefect_server(postgres, production_workdir, production_logs)
    try:
        mlflow.process.launch()
        prefect.process.launch()
        harness.wait_all_ready(mlflow.process, prefect.process)
        yield mlflow, prefect
    finally:
        prefect.process.stop()
        mlflow.process.stop()


@pytest.fixture(scope="session")
def mlflow_server(_servers: tuple[harness.MlflowServer, harness.PrefectServer]):
    return _servers[0]


@pytest.fixture(scope="session")
def prefect_server(_servers: tuple[harness.MlflowServer, harness.PrefectServer]):
    return _servers[1]


@pytest.fixture
def production_env(
    postgres: harness.PostgresServer,
    mlflow_server: harness.MlflowServer,
    prefect_server: harness.PrefectServer,
    tmp_path: Path,
) -> dict[str, str]:
    home = tmp_path / "riskops-home"
    home.mkdir()
    return harness.clean_environment(
        {
            "RISKOPS_HOME": str(home),
            "MLFLOW_TRACKING_URI": mlflow_server.url,
            "RISKOPS_AUDIT_URL": postgres.url("riskops"),
            "PREFECT_API_URL": prefect_server.api_url,
            "PREFECT_HOME": str(home / "prefect"),
            "BENTOML_HOME": str(home / "bentoml"),
        }
    )


@pytest.fixture
def production_settings(production_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    from riskops.settings import Settings

    for key in list(os.environ):
        if key.startswith(("RISKOPS_", "MLFLOW_", "PREFECT_", "BENTOML_", "AWS_")):
            monkeypatch.delenv(key)
    for key, value in production_env.items():
        if key != "PATH" and os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    return Settings()
