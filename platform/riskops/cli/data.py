"""``riskops data``: list the bundled datasets and validate a user's file."""

from __future__ import annotations

from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, stdout

app = typer.Typer(help="Bundled datasets and validation of your own files.", no_args_is_help=True)


@app.command("list")
def list_datasets(json_out: opt.Json = False) -> None:
    """The datasets that ship with the installed packages (usable offline)."""
    with command(json_out):
        from rich.table import Table

        from riskops.data import bundled_catalog

        rows = bundled_catalog()

        def render() -> None:
            table = Table("domain", "name", "description")
            for row in rows:
                table.add_row(row["domain"], row["name"], row["description"])
            stdout.print(table)

        emit({"datasets": rows}, json_out, render)


@app.command("validate")
def validate(
    domain: Annotated[opt.DomainName, typer.Argument(help="The data domain.")],
    data: opt.DataPath = None,
    target: opt.Target = None,
    positive_label: opt.PositiveLabel = None,
    date_col: opt.DateCol = None,
    price_col: opt.PriceCol = None,
    return_col: opt.ReturnCol = None,
    return_scale: opt.ReturnScale = "decimal",
    high_col: opt.HighCol = None,
    low_col: opt.LowCol = None,
    volume_col: opt.VolumeCol = None,
    dataset: opt.Bundled = None,
    json_out: opt.Json = False,
) -> None:
    """Validate a dataset against its domain schema; exit 2 naming every bad column."""
    with command(json_out):
        from riskops.data import DataSource, load

        source = DataSource(
            domain=domain,
            path=data,
            bundled=dataset,
            target=target,
            positive_label=positive_label,
            date_col=date_col,
            price_col=price_col,
            return_col=return_col,
            high_col=high_col,
            low_col=low_col,
            volume_col=volume_col,
            return_scale=return_scale,
        )
        facts = load(source).describe()
        emit(
            {"valid": True, "dataset": facts},
            json_out,
            lambda: stdout.print(
                f"[green]valid[/green] {facts['name']}: {facts['rows']} rows, "
                f"hash {facts['content_hash']}"
            ),
        )
