"""The blocks model cards and validation reports are made of, and how their cells read.

A card is a list of :class:`Section`, each a tuple of blocks: :class:`Text`,
:class:`Bullets`, :class:`Facts` (key-value pairs) and :class:`Table`. The governance
templates render each block by its ``kind``, to Markdown and to HTML, so a family that builds
its sections from these blocks needs no template of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Block", "Bullets", "Facts", "Section", "Table", "Text", "fmt", "number"]


@dataclass(frozen=True)
class Text:
    """A paragraph."""

    text: str
    kind: str = "text"


@dataclass(frozen=True)
class Bullets:
    """A bullet list, with an optional heading."""

    items: tuple[str, ...]
    title: str = ""
    kind: str = "bullets"


@dataclass(frozen=True)
class Facts:
    """Key-value pairs, rendered as a two-column table."""

    pairs: tuple[tuple[str, str], ...]
    kind: str = "facts"


@dataclass(frozen=True)
class Table:
    """A table of text cells (format numbers with :func:`fmt`), with an optional caption."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    kind: str = "table"


Block = Text | Bullets | Facts | Table


@dataclass(frozen=True)
class Section:
    """A titled part of a card; ``key`` is its HTML anchor and how tests find it."""

    key: str
    title: str
    blocks: tuple[Block, ...]


def fmt(value: Any) -> str:
    """A cell: 4 significant digits for floats, ``–`` for missing values.

    Examples
    --------
    >>> fmt(0.84412), fmt(3.0), fmt(None), fmt(True), fmt([1.5, "x"])
    ('0.8441', '3', '–', 'yes', '1.5, x')
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value.is_integer() and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    return str(value)


def number(value: Any) -> float | None:
    """``value`` as a finite float, else ``None`` (missing, text, NaN or infinite)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
