"""``riskops score | outcomes``: credit decisions recorded offline, matured outcomes joined back.

``riskops score NAME --data applicants.csv --id-col ID --out scored.parquet`` scores a
portfolio with the audited champion and records every decision before the file is written.
``riskops outcomes NAME --data matured.csv --id-col ID --target COL --positive-label L``
joins outcomes to the decisions (exit 2 naming the rows of any unknown id, duplicate or
conflict; nothing written then), then runs the validation tests on the matured decisions;
``--report`` runs them without new outcomes. Each run is audited; an alarm emits
``riskops.performance.degraded`` (the retrain deployment's trigger retrains on the matured
outcomes) unless ``--no-retrain``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, stdout


def score(
    name: opt.ModelName,
    data: Annotated[Path, typer.Option("--data", help="Applicants: a CSV or Parquet file.")],
    id_col: Annotated[
        str | None,
        typer.Option("--id-col", help="The application id column (default: ids generated)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the scored applicants (Parquet).")
    ] = None,
    reasons: Annotated[int, typer.Option(help="Reason codes per applicant.", min=0)] = 4,
    json_out: opt.Json = False,
) -> None:
    """Score a portfolio with the audited champion and record every decision."""
    with command(json_out):
        from riskops.credit.portfolio import score_portfolio
        from riskops.data.validation import read_table
        from riskops.lifecycle import Lifecycle

        frame = read_table(data)
        scored = score_portfolio(Lifecycle(), name, frame, id_col=id_col, reasons=reasons, out=out)
        payload = {**scored.to_dict(), "out": None if out is None else str(out)}

        def render() -> None:
            stdout.print(
                f"[green]recorded[/green] {scored.written} decision(s) of {name} "
                f"v{scored.version} ({scored.request_id})"
                + (f"; scored applicants in {out}" if out else ""),
                highlight=False,
            )
            grades = payload["grades"]
            stdout.print("  " + "  ".join(f"{g}: {n}" for g, n in grades.items()))

        emit(payload, json_out, render)


def outcomes(
    name: opt.ModelName,
    data: Annotated[
        Path | None, typer.Option("--data", help="Matured outcomes: a CSV or Parquet file.")
    ] = None,
    id_col: Annotated[str, typer.Option("--id-col", help="The application id column.")] = "id",
    target: Annotated[
        str, typer.Option("--target", help="The outcome column (default or not).")
    ] = "default",
    positive_label: Annotated[
        str, typer.Option("--positive-label", help="The outcome value meaning default.")
    ] = "1",
    observed_at: Annotated[
        str | None,
        typer.Option(
            "--observed-at", help="Column of the outcome's date (default: observed today)."
        ),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Run the validation tests (without new outcomes).")
    ] = False,
    no_retrain: Annotated[
        bool, typer.Option("--no-retrain", help="Record the tests; emit no alarm event.")
    ] = False,
    json_out: opt.Json = False,
) -> None:
    """Join matured outcomes to the decisions; run the validation tests on them."""
    with command(json_out):
        from riskops.lifecycle import Lifecycle

        if data is None and not report:
            from riskops.errors import BadInputError

            raise BadInputError("outcomes: give --data FILE to record outcomes, or --report")
        payload: dict[str, Any] = {}
        if data is not None:
            from riskops.credit.performance import file_source, record_outcomes
            from riskops.data.validation import read_table

            recorded = record_outcomes(
                Lifecycle(),
                name,
                read_table(data),
                id_col=id_col,
                target_col=target,
                positive_label=positive_label,
                observed_at_col=observed_at,
                source=file_source(data),
            )
            payload["recorded"] = recorded.to_dict()
        payload.update(_run_tests(name, retrain=not no_retrain))

        def render() -> None:
            if "recorded" in payload:
                _render_recorded(payload["recorded"])
            _render_tests(payload["tests"])
            for event in payload.get("events", []):
                stdout.print(
                    f"[red]alarm[/red] {event['model']}: riskops.performance.degraded sent "
                    f"(event {event['event_id']}); the retrain deployment retrains on the "
                    "matured outcomes",
                    highlight=False,
                )

        emit(payload, json_out, render)


def _run_tests(name: str, retrain: bool) -> dict[str, Any]:
    """The tests, audited; through the live-monitor flow (which emits the alarm's event)
    unless ``retrain`` is off, when no orchestrator is needed."""
    if not retrain:
        from riskops.credit.performance import run_outcome_tests
        from riskops.lifecycle import Lifecycle

        return {"tests": run_outcome_tests(Lifecycle(), name).to_dict(), "events": []}
    from riskops.cli.orchestration import _pipelines

    result = _pipelines("flows").live_monitor_flow(models=[name], retrain=True)
    [run] = [r for r in result["reports"][name] if r["monitor"] == "outcome_tests"]
    return {"tests": run["report"], "events": result["events"]}


def _render_recorded(recorded: dict[str, Any]) -> None:
    problems = recorded["problems_by_kind"]
    stdout.print(
        f"[green]recorded[/green] {recorded['written']} outcome(s) of {recorded['rows']} rows "
        f"for {recorded['model']}"
        + (
            " (" + ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in problems.items()) + ")"
            if problems
            else ""
        ),
        highlight=False,
    )


def _render_tests(tests: dict[str, Any]) -> None:
    from rich.table import Table

    from riskops.documents.blocks import fmt

    stdout.print(
        f"validation tests of {tests['model']} on matured outcomes as of {tests['as_of'][:19]} "
        f"(audit record {tests['audit_seq']})",
        highlight=False,
    )
    if not tests["versions"]:
        stdout.print("  no decision recorded yet")
    for version in tests["versions"]:
        counts = version["counts"]
        stdout.print(
            f"\n[bold]v{version['model_version']}[/bold]: {counts['decisions']} decisions, "
            f"{counts['matured']} matured, {counts['evaluated']} with an outcome "
            f"({counts['defaults']} defaults), {counts['without_outcome']} matured without "
            f"outcome, {counts['indeterminate']} indeterminate, {counts['immature']} immature",
            highlight=False,
        )
        table = Table(
            "grade", "n", "defaults", "default rate", "mean PD", "Jeffreys p", "", "binomial p"
        )
        for row in [*version["grades"], version["portfolio"]]:
            table.add_row(
                str(row["label"]),
                fmt(row["n"]),
                fmt(row["defaults"]),
                fmt(row["default_rate"]),
                fmt(row["pd"]),
                fmt(row["jeffreys_pvalue"]),
                str(row["jeffreys_light"] or ""),
                fmt(row["binomial_pvalue"]),
            )
        stdout.print(table)
        auc = version.get("auc_vs_initial") or {}
        if version.get("auc"):
            stdout.print(
                f"  AUC {fmt(version['auc']['auc'])}"
                + (
                    f" against {fmt(auc.get('auc_initial'))} at initial validation "
                    f"(p = {fmt(auc.get('pvalue'))})"
                    if auc
                    else ""
                ),
                highlight=False,
            )
        stdout.print(
            f"  PSI of the grades {fmt(version['psi_grades'])}, Brier {fmt(version['brier'])}, "
            f"ECE {fmt(version['ece'])}",
            highlight=False,
        )
        for item in version["not_evaluated"]:
            stdout.print(f"  [yellow]not evaluated[/yellow] {item['what']}: {item['why']}")
        for alarm in version["alarms"]["alarms"]:
            stdout.print(
                f"  [red]ALARM[/red] {alarm['rule']} {alarm['subject']}: {alarm['reason']}",
                highlight=False,
            )
