"""A real Prefect server for the flow tests, started the way ``riskops demo`` starts one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``prefect server start`` on a new Prefect home (its database a copy of the
    environment's migrated seed, :mod:`riskops.seeds`), shared by the flow tests of this
    worker; its API address."""
    from pipelines.server import DATABASE_URL_SETTINGS, LocalPrefectServer

    home = tmp_path_factory.mktemp("prefect")
    patch = pytest.MonkeyPatch()
    for name in ("PREFECT_API_URL", *DATABASE_URL_SETTINGS):
        patch.delenv(name, raising=False)
    patch.setenv("PREFECT_HOME", str(home))
    try:
        with LocalPrefectServer(home / "server.log") as server:
            url = server.ready()
            # Exported only while a module that asks for it runs (``prefect_api``).
            os.environ.pop("PREFECT_API_URL", None)
            yield url
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def prefect_api(prefect_server: str) -> Iterator[str]:
    """The server's address, in this process's Prefect settings and exported to the
    processes the module's flows start (Dask workers, task processes)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PREFECT_API_URL", prefect_server)
    yield prefect_server
    patch.undo()
