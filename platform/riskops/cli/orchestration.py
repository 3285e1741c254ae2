"""``riskops retrain | monitor | demo``: commands that run the Prefect flows.

They reach ``pipelines`` by name at run time; the library never imports Prefect.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, stdout


def _pipelines(module: str) -> Any:
    from riskops.settings import Settings

    # Prefect reads its home and telemetry settings at import time, and its ephemeral
    # server needs the home to exist.
    settings = Settings()
    if settings.is_local_tracking():
        settings.ensure_home()
    else:
        settings.prefect_home.mkdir(parents=True, exist_ok=True)
    settings.export_environment()
    # Prefect's ephemeral server creates its database in a new home: from the seed.
    importlib.import_module("pipelines.server").seed_new_database()
    return importlib.import_module(f"pipelines.{module}")


def _values(families: list[str] | None) -> list[str] | None:
    return [str(f) for f in families] if families else None


def retrain(
    family: opt.Families = None,
    no_promote: Annotated[bool, typer.Option(help="Train and register only.")] = False,
    include_outcomes: Annotated[
        bool,
        typer.Option(
            "--include-outcomes",
            help="Also train on the matured live outcomes (credit: recorded decisions with "
            "their outcomes); the lineage records what was added.",
        ),
    ] = False,
    json_out: opt.Json = False,
) -> None:
    """Retrain families in parallel (Prefect flow), gate and promote each challenger."""
    with command(json_out):
        families = _values(family)
        if include_outcomes:
            families = _with_outcomes(families)
        decisions = _pipelines("flows").retrain_flow(
            families=families, promote=not no_promote, include_outcomes=include_outcomes
        )

        def render() -> None:
            for d in decisions:
                promoted = (d["promotion"] or {}).get("promoted")
                version = d["trained"]["model"]["version"]
                stdout.print(f"{d['family']}: v{version} promoted={promoted}")

        emit({"decisions": decisions}, json_out, render)


def _with_outcomes(families: list[str] | None) -> list[str]:
    """The families ``--include-outcomes`` applies to: those that record matured outcomes
    (all of them when none is named; naming one that does not is bad input, exit 2)."""
    from riskops.errors import BadInputError
    from riskops.families import family_names, get_family
    from riskops.families.base import Family

    def records_outcomes(name: str) -> bool:
        return type(get_family(name)).with_outcomes is not Family.with_outcomes

    if families is None:
        return [f for f in family_names() if records_outcomes(f)]
    without = [f for f in families if not records_outcomes(f)]
    if without:
        raise BadInputError(f"--include-outcomes: the family {without} records no outcomes")
    return families


def monitor(
    family: opt.Families = None,
    data: opt.DataPath = None,
    date_col: opt.DateCol = None,
    price_col: opt.PriceCol = None,
    return_col: opt.ReturnCol = None,
    no_retrain: Annotated[bool, typer.Option(help="Report drift only.")] = False,
    json_out: opt.Json = False,
) -> None:
    """Drift of each champion's inputs (Evidently report logged); retrain when it crosses policy."""
    with command(json_out):
        recent = None
        if data is not None:
            recent = {
                "domain": "market",
                "path": data,
                "date_col": date_col,
                "price_col": price_col,
                "return_col": return_col,
            }
        result = _pipelines("flows").monitor_flow(
            families=_values(family), recent=recent, retrain=not no_retrain
        )

        def render() -> None:
            for fam, check in result["checks"].items():
                stdout.print(
                    f"{fam}: drift share {check.get('share_of_drifted_columns')} "
                    f"retrain={check.get('retrain')} {check.get('note', '')}"
                )

        emit(result, json_out, render)


def demo(json_out: opt.Json = False) -> None:
    """The whole lifecycle on bundled data: four champions, then a refused shifted challenger."""
    with command(json_out):
        from rich.console import Console

        from riskops.settings import Settings

        # The story goes to stdout; with --json stdout holds only the JSON object.
        story = Console(quiet=True) if json_out else stdout
        summary = _pipelines("demo").run_demo(Settings(), console=story)
        emit(summary, json_out, lambda: None)
        if not summary["audit"]["ok"] or not all(c["promoted"] for c in summary["champions"]):
            raise typer.Exit(1)


def schedule() -> None:
    """Serve the nightly-retrain and hourly-monitor deployments from this process."""
    with command(False):
        _pipelines("deployments").serve_schedules()
