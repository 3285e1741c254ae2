"""Assembles the command groups. Keep this module free of heavy imports."""

from __future__ import annotations

import typer

from riskops.cli import data

app = typer.Typer(
    name="riskops",
    help="Model lifecycle for credit PD, VaR/ES, volatility and market-anomaly models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data.app, name="data")


def main() -> None:
    app()
