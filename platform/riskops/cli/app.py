"""Assembles the command groups. Keep this module free of heavy imports.

The CLI is the composition root: commands that orchestrate (``retrain``, ``monitor``,
``demo``) or serve reach the Prefect and BentoML adapters in ``pipelines``/``services``
at run time; the library below never imports them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from riskops.cli import (
    approvals,
    audit,
    console,
    data,
    decisions,
    findings,
    governance,
    identity,
    lifecycle,
    live,
    market,
    orchestration,
    serve,
)
from riskops.cli import register as register_cli
from riskops.cli import universe as universe_cli

app = typer.Typer(
    name="riskops",
    help="Model lifecycle for credit PD, VaR/ES, volatility and market-anomaly models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _quiet_by_default(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also show library logs (MLflow, Prefect, Evidently…) on stderr; "
            "they always go to RISKOPS_HOME/logs/riskops.log.",
        ),
    ] = False,
) -> None:
    """Model lifecycle for credit PD, VaR/ES, volatility and market-anomaly models."""
    from riskops.process import logs

    logs.configure(_log_home(), verbose=verbose)


def _log_home() -> Path:
    try:
        from riskops.settings import Settings

        return Settings().home
    except Exception:  # a bad setting is reported by the command that reads it
        return Path(os.environ.get("RISKOPS_HOME", "mlruns")).expanduser().resolve()


app.add_typer(data.app, name="data")
app.command()(lifecycle.train)
app.command()(register_cli.register)
app.command()(lifecycle.promote)
app.command()(lifecycle.rollback)
app.command()(lifecycle.shadow)
app.command()(approvals.approve)
app.command()(approvals.reject)
app.command()(lifecycle.models)
app.command()(audit.audit)
app.command()(audit.reconcile)
app.command()(decisions.score)
app.command()(decisions.outcomes)
app.command()(orchestration.retrain)
app.command()(orchestration.monitor)
app.command()(orchestration.demo)
app.command()(orchestration.schedule)
app.command()(serve.serve)
app.command()(governance.report)
app.command()(governance.lineage)
app.command()(universe_cli.universe)
app.command()(market.stress)
app.command()(live.observe)
app.command()(live.stream)
app.command()(live.live)
app.add_typer(identity.app, name="users")
app.command()(identity.login)
app.command()(identity.logout)
app.command()(identity.whoami)
app.add_typer(findings.app, name="findings")
app.command()(console.console)


def main() -> None:
    from riskops.process.exiting import skip_collection_at_exit

    skip_collection_at_exit()
    app()
