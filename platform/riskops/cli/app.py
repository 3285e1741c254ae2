"""Assembles the command groups. Keep this module free of heavy imports.

The CLI is the composition root: commands that orchestrate (``retrain``, ``monitor``,
``demo``) or serve reach the Prefect and BentoML adapters in ``pipelines``/``services``
at run time; the library below never imports them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from riskops.cli import (
    approvals,
    audit,
    console,
    data,
    decisions,
    drift,
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
from riskops.cli.conventions import RiskOpsGroup

app = typer.Typer(
    name="riskops",
    cls=RiskOpsGroup,
    help="Model lifecycle for credit PD, VaR/ES, volatility and market-anomaly models.",
    epilog='With --json, every command prints one JSON object: {"ok": true, ...} or '
    '{"ok": false, "error": {"type", "message", "exit_code"}, ...}. '
    "Exit codes: 0 ok, 1 unexpected, 2 bad input, 3 refused by a gate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from riskops import __version__

        typer.echo(f"riskops {__version__}")
        raise typer.Exit()


@app.callback()
def _quiet_by_default(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also show library logs (MLflow, Prefect, Evidently…) on stderr; "
            "they always go to RISKOPS_HOME/logs/riskops.log.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Model lifecycle for credit PD, VaR/ES, volatility and market-anomaly models."""
    from riskops.cli import output
    from riskops.process import logs

    logs.configure(_log_home(), verbose=verbose)
    output.running(f"riskops {ctx.invoked_subcommand or ''}".strip())
    if _asks_for_help(ctx):
        return  # help touches no home: nothing announced, nothing tidied (or created)
    _announce_a_new_home()
    _tidy_home()


def _asks_for_help(ctx: typer.Context) -> bool:
    """Whether the command line asks for a command's help. Click has not parsed the
    subcommand's options when this callback runs (``riskops score --help``), so the raw
    arguments are read too."""
    return _help_in([*getattr(ctx, "_protected_args", []), *ctx.args]) or _help_in(sys.argv[1:])


def _help_in(args: list[str]) -> bool:
    """``--help`` or ``-h`` among ``args``, before a ``--`` that ends the options."""
    if "--" in args:
        args = args[: args.index("--")]
    return any(arg in ("--help", "-h") for arg in args)


def _announce_a_new_home() -> None:
    """Say which home a command uses when that home is new: without ``RISKOPS_HOME`` the
    home is ``./mlruns`` of the current directory, and a command run elsewhere would
    otherwise show an empty table as if the models had gone."""
    try:
        from riskops.settings import Settings

        settings = Settings()
    except Exception:  # a bad setting is reported by the command that reads it
        return
    home = settings.home
    if not settings.is_local_tracking() or any(
        (home / name).exists() for name in ("mlflow.db", "audit.db")
    ):
        return
    from riskops.cli.output import stderr

    if "RISKOPS_HOME" in os.environ:
        stderr.print(
            f"[yellow]note[/yellow] RISKOPS_HOME {home} is a new home: nothing has been "
            "trained or recorded there yet",
            highlight=False,
            soft_wrap=True,
        )
    else:
        stderr.print(
            f"[yellow]note[/yellow] using a new RiskOps home, ./mlruns of this directory "
            f"({home}): RISKOPS_HOME is not set. To use the home where you trained (`make "
            "demo` fills the checkout's mlruns/), set RISKOPS_HOME to it.",
            highlight=False,
            soft_wrap=True,
        )


def _tidy_home() -> None:
    """What a process killed outright left behind, tidied before any command runs: its
    scratch folders removed and, when it had any, its MLflow runs still ``RUNNING`` ended
    ``FAILED`` (a ``kill -9`` skips every ``finally``)."""
    import logging

    from riskops.settings import Settings, clean_scratch

    try:
        settings = Settings()
    except Exception:  # a bad setting is reported by the command that reads it
        return
    if not clean_scratch(settings):
        return  # nothing was left: MLflow is not even imported
    from riskops.tracking import fail_orphaned_runs

    try:
        ended = fail_orphaned_runs(settings)
    except Exception:  # the command itself reports a store it cannot use
        logging.getLogger("riskops.cli").exception("could not end the runs of killed processes")
        return
    if ended:
        logging.getLogger("riskops.cli").warning("runs of killed processes ended FAILED: %s", ended)


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
app.command()(approvals.approvals)
app.command()(approvals.approve)
app.command()(approvals.reject)
app.command()(lifecycle.models)
app.command()(audit.audit)
app.command()(audit.reconcile)
app.command()(decisions.score)
app.command()(decisions.outcomes)
app.command()(orchestration.retrain)
app.command()(orchestration.monitor)
app.command()(drift.drift)
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
    if not _help_in(sys.argv[1:]):  # help writes nothing, not even an empty scratch folder
        _temporary_files_under_home()
    app(args=sys.argv[1:])


def _temporary_files_under_home() -> None:
    """Every temporary file of this process (MLflow's downloads, joblib's, a plot's) in a
    scratch folder of the home named after it, removed at exit -- and, after a ``kill -9``,
    by the next command's :func:`_tidy_home` -- never left in ``/tmp``.

    Only the command-line process (the Python API leaves the host's temporary folder alone),
    and only in a home that exists: ``riskops --help`` creates none.
    """
    import atexit
    import shutil

    from riskops.settings import Settings, make_scratch, use_as_temporary_folder

    try:
        settings = Settings()
        if not settings.home.is_dir():
            return
        folder = make_scratch(settings, "process")
    except Exception:  # a bad setting or a full home: the command reports it
        return
    use_as_temporary_folder(folder)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
