"""``riskops serve``: the four champions over HTTP, with BentoML.

BentoML is never imported here: the command replaces itself with ``bentoml serve
services.service:RiskService`` after exporting the settings, so that the CLI stays light,
the library keeps no dependency on the service, and signals (Ctrl-C, ``docker stop``) reach
the server directly. It runs through :mod:`services.launcher`, which gives the server a
Prometheus multiprocess folder of its own, ``RISKOPS_HOME/metrics/port-PORT``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from riskops.cli.output import command, stderr

SERVICE = "services.service:RiskService"


def _service_root() -> Path:
    """The folder holding the ``services`` package (BentoML's working directory)."""
    spec = importlib.util.find_spec("services")
    if spec is None or spec.origin is None:
        from riskops.errors import BadInputError

        raise BadInputError("serve: the 'services' package is not installed next to riskops")
    return Path(spec.origin).resolve().parent.parent


def bentoml_command(
    host: str,
    port: int,
    workers: int,
    access_log: bool = False,
    tracing: bool = False,
    metrics_dir: Path | None = None,
) -> list[str]:
    """The ``bentoml serve`` command line that ``riskops serve`` runs (through
    ``services.launcher`` when ``metrics_dir`` is given)."""
    launcher = ["-m", "bentoml"]
    if metrics_dir is not None:
        launcher = ["-m", "services.launcher", "--metrics-dir", str(metrics_dir), "--"]
    cmd = [
        sys.executable,
        *launcher,
        "serve",
        SERVICE,
        "--host",
        host,
        "--port",
        str(port),
        "--working-dir",
        str(_service_root()),
        "--arg",
        f"workers={workers}",
    ]
    if access_log:
        cmd += ["--arg", "access_log=true"]
    if tracing:
        cmd += ["--arg", "tracing=true"]
    return cmd


def serve(
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Default: RISKOPS_SERVE_PORT (3000)."),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Default: RISKOPS_SERVE_HOST (127.0.0.1).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Worker processes; each loads the champions and polls for new ones.",
        ),
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request (costs throughput).")
    ] = False,
    tracing: Annotated[
        bool,
        typer.Option("--tracing", help="OpenTelemetry spans for model routes (needs an exporter)."),
    ] = False,
) -> None:
    """Serve the champions (credit, VaR, volatility, anomaly) until interrupted.

    New champions are picked up within RISKOPS_SWAP_POLL_SECONDS, without a restart.
    Once identities exist, model routes need a service account's token (Bearer); the
    deprecated RISKOPS_API_KEY is still accepted.
    """
    with command(False):
        from riskops.settings import Settings

        settings = Settings()
        settings.ensure_home()
        settings.export_environment()
        port = port or settings.serve_port
        cmd = bentoml_command(
            host or settings.serve_host,
            port,
            workers,
            access_log,
            tracing,
            metrics_dir=settings.metrics_root / f"port-{port}",
        )
        stderr.print(
            f"serving on http://{cmd[cmd.index('--host') + 1]}:{cmd[cmd.index('--port') + 1]} "
            f"(home {settings.home}, {workers} worker(s))",
            highlight=False,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, cmd)
