"""A family's part of model cards and validation reports, as a plug-in.

Each family returns a :class:`FamilyDocuments` from its
:meth:`~riskops.families.base.Family.documents` hook; governance asks the version's family
for it and never names a family itself. A fifth family adds its text, card sections,
performance tables, caveats and figures here, and no file of :mod:`riskops.governance`
changes.

Every hook is a pure function of the version's :class:`~riskops.documents.facts.VersionFacts`
(figures also take the set of logged plots already shown).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from riskops.documents.blocks import Block, Section, Table, fmt
from riskops.documents.texts import FamilyText

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts
    from riskops.documents.figures import Figure

__all__ = [
    "CaveatsHook",
    "FamilyDocuments",
    "FiguresHook",
    "SectionsHook",
    "TablesHook",
    "record_tables",
]

MAX_RECORD_ROWS = 40
"""Record lists longer than this are data, not a table a reader scans (left out)."""

SectionsHook = Callable[["VersionFacts"], Sequence[Section]]
"""Extra card sections of the family, placed after *Limitations and assumptions*."""
TablesHook = Callable[["VersionFacts"], Sequence[Block]]
"""Blocks of *Performance and backtests*, after the table of logged metrics."""
CaveatsHook = Callable[["VersionFacts"], Sequence[str]]
"""Warnings read from the version's evidence, after the generic ones."""
FiguresHook = Callable[["VersionFacts", set[str]], Sequence["Figure | None"]]
"""The family's figures, first in the report; the set holds the logged plots already shown
(:func:`riskops.documents.figures.figure` adds the ones it takes, so none is shown twice)."""


def record_tables(facts: VersionFacts) -> list[Block]:
    """Flat record lists in the family's evidence (e.g. a grade table) as tables, one each."""
    out: list[Block] = []
    for key, value in facts.evidence.items():
        if not (isinstance(value, list) and value and len(value) <= MAX_RECORD_ROWS):
            continue
        if not all(isinstance(r, dict) for r in value):
            continue
        columns = list(value[0])
        if any(isinstance(v, dict | list) for r in value for v in r.values()):
            continue
        rows = tuple(tuple(fmt(r.get(c)) for c in columns) for r in value)
        out.append(Table(tuple(columns), rows, key.replace("_", " ")))
    return out


def no_sections(facts: VersionFacts) -> tuple[Section, ...]:
    """No extra card section."""
    return ()


def no_caveats(facts: VersionFacts) -> tuple[str, ...]:
    """No family caveat."""
    return ()


def no_figures(facts: VersionFacts, used: set[str]) -> tuple[Figure | None, ...]:
    """No family figure (the run's logged plots are still shown, as logged)."""
    return ()


@dataclass(frozen=True)
class FamilyDocuments:
    """What a family contributes to the card and the validation report of its versions.

    Attributes
    ----------
    text
        Title, purpose, uses, methodology, assumptions and limitations.
    sections
        Extra card sections (credit: independence, leakage and fairness).
    tables
        Performance blocks after the logged metrics (VaR: backtests; anomaly: events).
        Default: the evidence's flat record lists as tables (:func:`record_tables`).
    caveats
        Warnings read from the version's evidence (VaR: a yellow traffic light...).
    figures
        The family's figures: logged plots, or drawn from logged data.

    Examples
    --------
    A plug-in family with a text, one table and one caveat of its own::

        class LimitFamily(Family):
            def documents(self) -> FamilyDocuments:
                return FamilyDocuments(
                    FamilyText("Credit limits", "Sets limits.", (), (), "A rule.", (), ()),
                    tables=lambda facts: [Table(("limit",), (("100",),))],
                    caveats=lambda facts: ["Limits are not reviewed daily."],
                )
    """

    text: FamilyText
    sections: SectionsHook = no_sections
    tables: TablesHook = record_tables
    caveats: CaveatsHook = no_caveats
    figures: FiguresHook = no_figures

    @classmethod
    def generic(cls, name: str, description: str | None = None) -> FamilyDocuments:
        """The documents of a family that defines none: the text from its ``description``
        (its class's docstring; a placeholder without one), the evidence's record lists as
        tables, no caveats and no figures of its own."""
        return cls(FamilyText.described(name, description))
