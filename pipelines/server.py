"""A Prefect server for one command, when none is configured.

Without ``PREFECT_API_URL`` Prefect starts a temporary server inside the first flow call and
tells only that process where it is: task processes (``ProcessPoolTaskRunner``) then start
servers of their own, and record their task runs there. :class:`LocalPrefectServer` starts
``prefect server start`` (the API and the services that record task runs and events, no UI)
as a child process instead, under the home's ``PREFECT_HOME``, and exports its address, so
that every process of the command reports to the one server. A new home's database starts
as a copy of the environment's migrated seed (:mod:`riskops.seeds`; 16–22 s of migrations
otherwise); the server's start (about 9 s) runs while the command does other work, until
:meth:`LocalPrefectServer.ready`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from riskops.errors import RiskOpsError
from riskops.seeds import copy_seed

START_TIMEOUT_SECONDS = 180.0


class LocalPrefectServer:
    """``with LocalPrefectServer(log_file) as server: ...; server.ready(); run flows``.

    Does nothing when ``PREFECT_API_URL`` is set (a configured server is used as it is).
    The server's own output goes to ``log_file``; it is stopped when the block ends.
    """

    def __init__(self, log_file: Path) -> None:
        self.log_file = log_file
        self.url: str | None = os.environ.get("PREFECT_API_URL") or None
        self._process: subprocess.Popen[bytes] | None = None
        self._settings: Any = None

    def __enter__(self) -> LocalPrefectServer:
        if self.url is not None:
            return self
        seed_new_database()
        port = _free_port()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-ui",
                    "--log-level",
                    "WARNING",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.url = f"http://127.0.0.1:{port}/api"
        # Task processes inherit the environment; this process's Prefect settings follow
        # in ready() (Prefect may already have read its environment).
        os.environ["PREFECT_API_URL"] = self.url
        return self

    def ready(self) -> str:
        """Wait until the server answers; its API address."""
        assert self.url is not None
        if self._process is None:
            return self.url
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RiskOpsError(
                    f"the Prefect server did not start (exit code {self._process.poll()}); "
                    f"its output is in {self.log_file}"
                )
            time.sleep(0.1)
        if self._settings is None:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            self._settings = temporary_settings(updates={PREFECT_API_URL: self.url})
            self._settings.__enter__()
        return self.url

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        if "prefect" in sys.modules:
            # Logs and events still queued for the API go out before the server stops (else
            # they are retried, with errors on stderr, until the process exits).
            from prefect._internal.concurrency.services import QueueService

            QueueService.drain_all(timeout=30)
        if self._settings is not None:
            self._settings.__exit__(kind, error, trace)
        if os.environ.get("PREFECT_API_URL") == self.url:
            del os.environ["PREFECT_API_URL"]
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


DATABASE_URL_SETTINGS = (
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
)
"""Prefect's settings (new name, old name) that configure a database of the user's own."""


def seed_new_database() -> None:
    """Give a Prefect home without a database a copy of the environment's migrated seed,
    for the server this process will start (``prefect server start`` or Prefect's ephemeral
    one): not when a server or a database URL is configured."""
    if any(os.environ.get(name) for name in ("PREFECT_API_URL", *DATABASE_URL_SETTINGS)):
        return
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    copy_seed("prefect", home / "prefect.db")


def build_prefect_seed(path: Path) -> None:
    """A Prefect database at ``path``, migrated to Prefect's head by Prefect's own
    ``prefect server database upgrade`` (the seed of :mod:`riskops.seeds`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(path.parent / "prefect-home"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{path}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "--yes"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RiskOpsError(f"prefect server database upgrade failed: {done.stderr[-2000:]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
