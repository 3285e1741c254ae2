"""Tables that read well at any terminal width, 80 columns included.

A table is drawn when every column fits at a readable width; otherwise each row becomes a
record: its heading on one line, then one ``label  value`` line per field, values wrapped
under themselves. Nothing is truncated and no cell is squeezed into a few characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "show"]

_READABLE = 18
"""The narrowest a wrapped column may get before the rows become records."""


@dataclass(frozen=True)
class Column:
    """One field of the rows.

    Attributes
    ----------
    key, header
        The row's key and the column's title.
    wrap
        Free text that may wrap (to no less than ``min_width``); other columns keep their
        widest cell on one line.
    heading
        Part of a record's first line in the record view (an id, a time, a name).
    """

    key: str
    header: str
    wrap: bool = False
    min_width: int = _READABLE
    heading: bool = False


def show(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[dict[str, str]],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> None:
    """Print ``rows`` as a table when it fits ``console``'s width, else as records.

    Cells are rich markup: escape data that may hold brackets (``rich.markup.escape``).
    """
    if title:
        console.print(f"[bold]{title}[/bold]", highlight=False)
    if _fits(console.width, columns, rows):
        table = Table(show_header=True, header_style="bold", expand=False)
        for c in columns:
            if c.wrap:
                table.add_column(c.header, overflow="fold", min_width=c.min_width, ratio=1)
            else:
                table.add_column(c.header, no_wrap=True)
        for row in rows:
            table.add_row(*(row.get(c.key, "") for c in columns))
        console.print(table)
    else:
        for i, row in enumerate(rows):
            if i:
                console.print()
            console.print(_record(columns, row))
    if caption:
        console.print(f"[dim]{caption}[/dim]", highlight=False)


def _width(cell: str) -> int:
    text = Text.from_markup(cell)
    return max((Text(line).cell_len for line in text.plain.splitlines()), default=0)


def _fits(width: int, columns: Sequence[Column], rows: Sequence[dict[str, str]]) -> bool:
    needed = 1 + 3 * len(columns)  # rich's box: a border and two spaces of padding per column
    for c in columns:
        widest = max([_width(c.header), *(_width(r.get(c.key, "")) for r in rows)])
        needed += min(widest, c.min_width) if c.wrap else widest
    return needed <= width


def _record(columns: Sequence[Column], row: dict[str, str]) -> Group:
    heading = "  ".join(row[c.key] for c in columns if c.heading and row.get(c.key))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for c in columns:
        value = row.get(c.key, "")
        if c.heading or not value:
            continue
        grid.add_row(f"  {c.header}", Text.from_markup(value))
    return Group(Text.from_markup(f"[bold]{heading}[/bold]"), grid) if heading else Group(grid)
