"""The Prefect server a command starts when none is configured (pipelines.server)."""

from __future__ import annotations

import filecmp
import os
import urllib.request
from pathlib import Path

import pytest

from pipelines.server import LocalPrefectServer
from riskops.seeds import seed_path

pytestmark = pytest.mark.slow


def test_a_server_is_started_exported_and_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no configured Prefect API and a fresh PREFECT_HOME
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    log = tmp_path / "logs" / "prefect-server.log"
    # When a command runs inside LocalPrefectServer
    with LocalPrefectServer(log) as server:
        # (the new home's database is a copy of the environment's migrated seed)
        assert filecmp.cmp(tmp_path / "prefect" / "prefect.db", seed_path("prefect"), shallow=False)
        url = server.ready()
        # Then its address is exported for child processes, and it answers
        assert os.environ["PREFECT_API_URL"] == url
        with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
            assert answer.status == 200
        process = server._process
        assert process is not None
    # And afterwards the server has stopped and the environment is as it was
    assert process.poll() is not None
    assert "PREFECT_API_URL" not in os.environ
    assert (tmp_path / "prefect" / "prefect.db").is_file()


def test_a_configured_server_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a configured Prefect API
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    # When a command runs inside LocalPrefectServer
    with LocalPrefectServer(tmp_path / "server.log") as server:
        # Then no server is started and the configured address is the one used
        assert server.ready() == "http://prefect.example:4200/api"
        assert server._process is None
    assert os.environ["PREFECT_API_URL"] == "http://prefect.example:4200/api"
    assert not (tmp_path / "server.log").exists()
