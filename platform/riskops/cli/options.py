"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from riskops.families import BUILTIN

# Choices as Literal types, so `--help` lists them and click rejects anything else (exit 2).
DomainName = Literal["credit", "market"]
BundledMarket = Literal["sp500", "nasdaq", "us_indices", "eustocks"]
Innovations = Literal["normal", "t", "skewt"]
Scale = Literal["decimal", "percent"]


def family_name(value: str) -> str:
    """An installed family (``riskops.families`` entry points, plug-ins included), checked
    when the command runs rather than listed at import; anything else is a usage error
    (exit 2) that names the choices."""
    from riskops.families import family_names

    names = family_names()
    if value not in names:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(names)}")
    return value


def registered_model(value: str) -> str:
    """A registered model name, checked before the command does anything (exit 2)."""
    from riskops.errors import BadInputError
    from riskops.names import model_name

    try:
        return model_name(value, "NAME")
    except BadInputError as exc:
        raise typer.BadParameter(str(exc).removeprefix("NAME: ")) from None


ModelName = Annotated[
    str,
    typer.Argument(
        help="Registered model name, e.g. credit_pd.", parser=registered_model, metavar="NAME"
    ),
]

_FAMILY_HELP = "The model family: a built-in one, or an installed plug-in family."
# The built-in names are listed; a plug-in's are checked when the command runs, without
# reading the entry points at every start of the CLI.
_FAMILIES = "[" + "|".join(BUILTIN) + "]"
Family = Annotated[str, typer.Argument(help=_FAMILY_HELP, parser=family_name, metavar=_FAMILIES)]

# Each built-in family's model kinds, for --help (importing the families to ask them takes
# 2 s of scikit-learn at every start of the CLI); tests/tooling/test_cli_conventions.py
# checks that they are the families' own ``models``. The first is the default.
BUILTIN_MODELS = {
    "credit": ("lightgbm", "random_forest", "logistic"),
    "var": ("fhs", "garch_t", "historical", "quantile_lightgbm"),
    "volatility": ("garch", "gjr", "egarch", "har_lightgbm", "lstm", "transformer"),
    "anomaly": ("ensemble", "isolation_forest", "lof", "autoencoder"),
}
ModelKind = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Model kind (default: the family's first): "
        + "; ".join(f"{family} {'|'.join(kinds)}" for family, kinds in BUILTIN_MODELS.items())
        + "; a plug-in family's own.",
        metavar="KIND",
    ),
]

Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
DataPath = Annotated[
    Path | None,
    typer.Option("--data", help="A CSV or Parquet file; default: the bundled data."),
]
Target = Annotated[str | None, typer.Option("--target", help="Credit: the outcome column.")]
PositiveLabel = Annotated[
    str | None, typer.Option("--positive-label", help="Credit: the outcome value meaning default.")
]
DateCol = Annotated[str | None, typer.Option("--date-col", help="The date column.")]
PriceCol = Annotated[
    str | None,
    typer.Option("--price-col", help="Market: close price column(s), comma-separated for several."),
]
ReturnCol = Annotated[
    str | None, typer.Option("--return-col", help="Market: return column(s), instead of prices.")
]
ReturnScale = Annotated[
    Scale, typer.Option("--return-scale", help="Market: how the returns are given.")
]
HighCol = Annotated[str | None, typer.Option("--high-col", help="Market: daily high column.")]
LowCol = Annotated[str | None, typer.Option("--low-col", help="Market: daily low column.")]
VolumeCol = Annotated[str | None, typer.Option("--volume-col", help="Market: volume column.")]
Bundled = Annotated[
    BundledMarket | None, typer.Option("--dataset", help="Market: a bundled dataset.")
]
Families = Annotated[
    list[str] | None,
    typer.Option(
        "--family", help="Repeat for several; default: all.", parser=family_name, metavar=_FAMILIES
    ),
]
