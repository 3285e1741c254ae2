"""``riskops findings add | close | list``: the findings register, audited."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, model_object, stdout

app = typer.Typer(
    help="Validation findings: issues, limitations and policy exceptions of a version.",
    no_args_is_help=True,
)

ModelName = Annotated[str, typer.Argument(help="Registered model name, e.g. credit_pd.")]
SeverityName = Literal["high", "medium", "low"]


@app.command()
def add(
    name: ModelName,
    version: Annotated[int, typer.Option(help="The version the finding concerns.")],
    severity: Annotated[SeverityName, typer.Option(help="high findings block promotion.")],
    owner: Annotated[str, typer.Option(help="Who must resolve it.")],
    due: Annotated[str, typer.Option(help="Due date, YYYY-MM-DD.")],
    text: Annotated[str, typer.Option(help="What was found.")],
    json_out: opt.Json = False,
) -> None:
    """Record a finding (validators); its audit record's number is its id."""
    with command(json_out):
        from riskops.findings import FindingsRegister
        from riskops.settings import Settings

        finding = FindingsRegister(Settings()).add(name, version, severity, owner, due, text)
        emit(
            model_object(finding.to_dict()),
            json_out,
            lambda: stdout.print(
                f"finding #{finding.id} recorded on {name} v{version}: {finding.summary()}",
                highlight=False,
            ),
        )


@app.command()
def close(
    finding: Annotated[int, typer.Argument(help="The finding's id (#N).")],
    reason: Annotated[str, typer.Option(help="How it was resolved.")],
    json_out: opt.Json = False,
) -> None:
    """Close a finding with the resolution (validators)."""
    with command(json_out):
        from riskops.findings import FindingsRegister
        from riskops.settings import Settings

        closed = FindingsRegister(Settings()).close(finding, reason)
        emit(
            model_object(closed.to_dict()),
            json_out,
            lambda: stdout.print(
                f"finding #{closed.id} closed by {closed.closed_by}", highlight=False
            ),
        )


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="A model; default: all.")] = None,
    include_closed: Annotated[bool, typer.Option("--all", help="Closed findings too.")] = False,
    json_out: opt.Json = False,
) -> None:
    """Open findings per model (with --all, closed ones too); overdue ones marked."""
    with command(json_out):
        from riskops.audit import AuditTrail
        from riskops.findings import findings_from
        from riskops.settings import Settings

        found = findings_from(AuditTrail(Settings()).records(name))
        rows = [model_object(f.to_dict()) for f in found if include_closed or f.open]

        def render() -> None:
            from rich.table import Table

            table = Table("id", "model", "sev.", "owner", "due", "state", "finding")
            for f in rows:
                state = (
                    "closed"
                    if not f["open"]
                    else ("[red]OVERDUE[/red]" if f["overdue"] else "open")
                )
                table.add_row(
                    f"#{f['id']}",
                    f"{f['model']['name']} v{f['model']['version']}",
                    f["severity"],
                    f["owner"],
                    f["due"],
                    state,
                    f["text"],
                )
            stdout.print(table)

        emit({"findings": rows}, json_out, render)
