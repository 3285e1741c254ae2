"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    str, typer.Option("--return-scale", help="Market: returns given as 'decimal' or 'percent'.")
]
HighCol = Annotated[str | None, typer.Option("--high-col", help="Market: daily high column.")]
LowCol = Annotated[str | None, typer.Option("--low-col", help="Market: daily low column.")]
VolumeCol = Annotated[str | None, typer.Option("--volume-col", help="Market: volume column.")]
Bundled = Annotated[
    str | None,
    typer.Option(
        "--dataset", help="Market: bundled dataset (sp500, nasdaq, us_indices, eustocks)."
    ),
]
