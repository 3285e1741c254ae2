"""A real Prefect server for the flow tests, started the way ``riskops demo`` starts one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``prefect server start`` on a new Prefect home (its database a copy of the
    environment's migrated seed, :mod:`riskops.seeds`), shared by the flow tests of this
    worker. Flows run by a test report to it; child processes do not inherit its address.
    """
    from pipelines.server import LocalPrefectServer

    home = tmp_path_factory.mktemp("prefect")
    patch = pytest.MonkeyPatch()
    for name in ("PREFECT_API_URL", *DATABASE_URL_SETTINGS):
        patch.delenv(name, raising=False)
    patch.setenv("PREFECT_HOME", str(home))
    try:
        with LocalPrefectServer(home / "server.log") as server:
            url = server.ready()
            # This process's Prefect settings now point at the server; commands that tests
            # start in child processes start their own, as a user's would.
            os.environ.pop("PREFECT_API_URL", None)
            yield url
    finally:
        patch.undo()


DATABASE_URL_SETTINGS = (
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
)
