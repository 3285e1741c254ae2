"""``riskops retrain | monitor | demo``: commands that run the Prefect flows.

They reach ``pipelines`` by name at run time; the library never imports Prefect.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, fail, model_object, progress, stdout


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
    promote: Annotated[
        bool,
        typer.Option(
            "--promote/--no-promote", help="Gate and promote each challenger (else register only)."
        ),
    ] = True,
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
        flows = _pipelines("flows")
        with progress("retraining", json_out):
            decisions = flows.retrain_flow(
                families=families, promote=promote, include_outcomes=include_outcomes
            )

        def render() -> None:
            for d in decisions:
                trained = d["trained"]["model"]
                decision = d["promotion"] or {}
                outcome = decision.get("outcome", "registered")
                stdout.print(
                    f"{d['family']}: {trained['name']} v{trained['version']} {outcome}",
                    highlight=False,
                )

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
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Recent data (CSV/Parquet) of the --family given: applicants for credit "
            "(labels optional), prices or returns for the market families.",
        ),
    ] = None,
    date_col: opt.DateCol = None,
    price_col: opt.PriceCol = None,
    return_col: opt.ReturnCol = None,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain/--no-retrain",
            help="Retrain the families whose drift crosses policy (--no-retrain: report only).",
        ),
    ] = True,
    json_out: opt.Json = False,
) -> None:
    """Drift of each champion's inputs (Evidently report logged, a run in the Evidently
    workspace); retrain when it crosses policy. ``riskops drift`` lists the history."""
    with command(json_out):
        recent = None
        if data is not None:
            recent = {
                "domain": _domain_of(family),
                "path": data,
                "date_col": date_col,
                "price_col": price_col,
                "return_col": return_col,
            }
        flows = _pipelines("flows")
        with progress("monitoring", json_out):
            result = flows.monitor_flow(families=_values(family), recent=recent, retrain=retrain)
        result["checks"] = {f: model_object(c) for f, c in result["checks"].items()}

        def render() -> None:
            for fam, check in result["checks"].items():
                share = check.get("share_of_drifted_columns")
                if share is None:
                    stdout.print(f"{fam}: not checked: {check.get('note', '')}", highlight=False)
                    continue
                verdict = "[red]drift[/red]" if check.get("retrain") else "[green]ok[/green]"
                stdout.print(
                    f"{fam}: {verdict} {share:.0%} of columns drifted (policy "
                    f"{check.get('threshold'):.0%}) on {check.get('source')}",
                    highlight=False,
                )
            if result.get("events"):
                stdout.print(f"retraining requested for {', '.join(result['drifted'])}")

        emit(result, json_out, render)


def _domain_of(families: list[str] | None) -> str:
    """The one data domain of the families ``--data`` is for (exit 2 unless there is one)."""
    from riskops.errors import BadInputError
    from riskops.families import get_family

    domains = {get_family(f).domain for f in families or []}
    if len(domains) != 1:
        raise BadInputError(
            "--data: a file holds one domain's data; name the families it is for with "
            "--family (credit, or the market families var, volatility, anomaly)"
        )
    return domains.pop()


def demo(json_out: opt.Json = False) -> None:
    """The whole lifecycle on bundled data: four champions, then a refused shifted challenger."""
    with command(json_out):
        from rich.console import Console

        from riskops.settings import Settings

        # The story goes to stdout; with --json stdout holds only the JSON object.
        story = Console(quiet=True) if json_out else stdout
        demo_flows = _pipelines("demo")
        with progress("riskops demo", json_out):
            summary = demo_flows.run_demo(Settings(), console=story)
        if not summary["audit"]["ok"]:
            fail(
                "the audit chain is broken",
                1,
                json_out,
                type_name="AuditChainBroken",
                payload=summary,
            )
        refused = [c["model"]["name"] for c in summary["champions"] if not c["promoted"]]
        if refused:
            fail(
                f"not promoted: {', '.join(refused)}",
                1,
                json_out,
                type_name="NotPromoted",
                payload=summary,
            )
        emit(summary, json_out, lambda: None)


def schedule() -> None:
    """Serve the nightly-retrain and hourly-monitor deployments from this process."""
    with command(False):
        _pipelines("deployments").serve_schedules()
