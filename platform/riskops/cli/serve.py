"""``riskops serve``: the four champions over HTTP, with BentoML.

BentoML is never imported here: the command replaces itself with ``bentoml serve
services.service:RiskService`` after exporting the settings, so that the CLI stays light,
the library keeps no dependency on the service, and signals (Ctrl-C, ``docker stop``) reach
the server directly. It runs through :mod:`services.launcher`, which gives the server a
Prometheus multiprocess folder of its own, ``RISKOPS_HOME/metrics/port-PORT``.

In a terminal the command instead starts the server as its child, shows its start (the
server up, each champion loaded, with elapsed times) until ``/readyz`` answers, then waits
for it, passing on ``SIGTERM`` and ``SIGHUP`` (Ctrl-C reaches the child directly).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from riskops.cli.output import command, stderr

if TYPE_CHECKING:
    from riskops.cli.output import StepDisplay

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
            help="Worker processes; each loads every champion and polls for new ones.",
            show_default=True,
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
        url = f"http://{cmd[cmd.index('--host') + 1]}:{cmd[cmd.index('--port') + 1]}"
        stderr.print(
            f"serving on {url} (home {settings.home}, {workers} worker(s))", highlight=False
        )
        sys.stdout.flush()
        sys.stderr.flush()
        if not stderr.is_terminal:
            os.execv(sys.executable, cmd)
        raise typer.Exit(_serve_with_progress(cmd, url, workers))


def _serve_with_progress(cmd: list[str], url: str, workers: int) -> int:
    """Run the server as a child, show its start until ready, then wait for it."""
    import signal
    import threading
    import time

    from riskops.cli.output import StepDisplay

    child = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _: child.send_signal(number))
    # The server's own lines go above the live display while it draws, then straight on.
    sink: list[Callable[[str], object]] = [
        lambda line: stderr.print(line, end="", markup=False, highlight=False)
    ]

    def forward() -> None:
        for line in child.stdout or ():
            sink[0](line)

    threading.Thread(target=forward, name="server-output", daemon=True).start()
    started = time.perf_counter()
    with StepDisplay(f"starting the service ({workers} worker(s))") as display:
        display(f"starting BentoML on {url}", None, None)
        ready = _wait_until_ready(child, url, display)
    sink[0] = lambda line: (sys.stderr.write(line), sys.stderr.flush())
    if ready is not None:
        served = ", ".join(f"{name} v{row['version']}" for name, row in ready.items())
        stderr.print(
            f"[green]ready[/green] in {time.perf_counter() - started:.1f} s: {served}",
            highlight=False,
        )
    try:
        return child.wait()
    except KeyboardInterrupt:  # the child got Ctrl-C too: let it stop
        return child.wait()


def _wait_until_ready(
    child: subprocess.Popen[str], url: str, announce: StepDisplay
) -> dict[str, Any] | None:
    """Poll ``/readyz`` until it answers 200 (the models it serves), the server exits, or
    it says there is nothing to serve (``None``)."""
    import time

    import httpx

    loading = False
    while child.poll() is None:
        try:
            answer = httpx.get(f"{url}/readyz", timeout=2)
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        body = answer.json()
        models = body.get("models") or {}
        if answer.status_code == 200:
            return {n: m for n, m in models.items() if m.get("version") is not None}
        if not loading:
            announce("loading the champions", None, None)
            loading = True
        if models:
            done = sum(m.get("state") in ("ready", "absent") for m in models.values())
            announce("champions loaded", done, len(models))
        elif "no champion" in str(body.get("reason", "")):
            stderr.print(f"[yellow]note[/yellow] {body['reason']}", highlight=False)
            return None
        time.sleep(0.5)
    return None
