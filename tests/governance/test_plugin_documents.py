"""A fifth family documents itself: installed as a plug-in package (one entry point in the
``riskops.families`` group, no edit to RiskOps's files), its documents() hook gives its card
its own text, section, table, caveat and figure. A plug-in without a hook is described from
its docstring, and a family that is not installed still gets a card.
"""

from __future__ import annotations

import importlib
import io
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskops.governance.card import build_card, caveats
from riskops.governance.figures import collect_figures
from riskops.governance.report import render_markdown, render_report

PLUGIN = '''
"""Counterparty limits for RiskOps: a family shipped by another team."""

from typing import Any, ClassVar

from riskops.documents.blocks import Facts, Section, Table, fmt
from riskops.documents.facts import VersionFacts
from riskops.documents.family import FamilyDocuments
from riskops.documents.figures import Figure, figure, png, pyplot
from riskops.documents.texts import FamilyText
from riskops.families.base import Family
from riskops.families.contracts import Contract


class _NotTrainedHere(Family):
    domain: ClassVar[str] = "credit"
    models: ClassVar[tuple[str, ...]] = ("rule",)
    primary_metric: ClassVar[str] = "utilisation"
    contract: ClassVar[Contract] = Contract(required=(("fit",),), hint="anything with fit()")

    def builtin(self, kind, options):  # only the documents are exercised here
        raise NotImplementedError

    def _fit(self, dataset, options, workdir, spec, kind):
        raise NotImplementedError

    def evaluate(self, estimator, evaluation):
        raise NotImplementedError

    def features(self, dataset):
        raise NotImplementedError

    def score(self, estimator, features):
        raise NotImplementedError


def breaches(facts: VersionFacts) -> tuple[Section, ...]:
    return (
        Section(
            "limit_breaches",
            "Limit breaches",
            (Facts((("Breaches in the window", fmt(facts.evidence["breaches"])),)),),
        ),
    )


def limits(facts: VersionFacts) -> list[Table]:
    rows = tuple((c["name"], fmt(c["limit"])) for c in facts.evidence["limits"])
    return [Table(("counterparty", "limit"), rows, "Limits per counterparty")]


def warnings(facts: VersionFacts) -> list[str]:
    count = facts.evidence.get("breaches") or 0
    return [f"{count} limit breach(es) in the evaluation window."] if count else []


def utilisation(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    def draw():
        fig, ax = pyplot().subplots(figsize=(4, 3))
        rows = facts.evidence["limits"]
        ax.bar([c["name"] for c in rows], [c["limit"] for c in rows])
        return png(fig), "gate_evidence.json evidence.limits"

    return [figure(facts, "limits", "Limits per counterparty", "limits*.png", used, draw)]


class LimitsFamily(_NotTrainedHere):
    """Counterparty limits (documented by its own hook)."""

    name: ClassVar[str] = "limits"
    registered_name: ClassVar[str] = "counterparty_limits"

    def documents(self) -> FamilyDocuments:
        return FamilyDocuments(
            FamilyText(
                "Counterparty credit limits",
                "Sets an exposure limit per counterparty.",
                ("Daily limit setting for the trading desk.",),
                ("Limits for retail clients.",),
                "A rule on the counterparty's rating and current exposure.",
                ("Exposures are marked to market daily.",),
                ("Wrong-way risk is not modelled.",),
            ),
            sections=breaches,
            tables=limits,
            caveats=warnings,
            figures=utilisation,
        )


class HaircutFamily(_NotTrainedHere):
    """Collateral haircuts.

    Haircuts from the ten-day volatility of each collateral's price, floored by asset class.
    """

    name: ClassVar[str] = "haircuts"
    registered_name: ClassVar[str] = "collateral_haircuts"
'''


def _clear_family_caches() -> None:
    import riskops.families as families

    families._entry_points.cache_clear()
    families._family_class.cache_clear()
    families.trusted_types.cache_clear()


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The plug-in installed as a package with a dist-info on ``sys.path``: what ``pip install``
    of a wheel with two ``riskops.families`` entry points leaves behind."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_limits.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "acme_limits-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-limits\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[riskops.families]\n"
        "limits = acme_limits:LimitsFamily\n"
        "haircuts = acme_limits:HaircutFamily\n"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    _clear_family_caches()
    yield "acme_limits"
    _clear_family_caches()
    sys.modules.pop("acme_limits", None)


EVIDENCE = {
    "breaches": 3,
    "limits": [{"name": "ACME Bank", "limit": 1e6}, {"name": "Globex", "limit": 2.5e5}],
}


def test_a_plugin_family_documents_itself_through_its_hook(installed_plugin, version_facts):
    from riskops.families import family_names

    # Given a fifth family, installed as a plug-in (nothing of RiskOps edited)
    assert "limits" in family_names()
    facts = version_facts("limits", evidence=EVIDENCE)
    # When its version's card is built by governance
    card = build_card(facts)
    # Then the card carries the family's own title, section, table and caveat
    assert card.title == "m v1: Counterparty credit limits"
    section = card.section("limit_breaches")
    assert dict(section.blocks[0].pairs) == {"Breaches in the window": "3"}
    tables = {b.caption: b for b in card.section("performance").blocks if b.kind == "table"}
    assert tables["Limits per counterparty"].rows == (
        ("ACME Bank", "1000000"),
        ("Globex", "250000"),
    )
    assert "3 limit breach(es) in the evaluation window." in caveats(facts)
    limitations = card.section("limitations").blocks
    assert "Wrong-way risk is not modelled." in limitations[1].items
    assert "3 limit breach(es) in the evaluation window." in limitations[2].items
    # and its section sits with the others in the rendered card and report
    assert "## Limit breaches" in render_markdown(card)
    figures = collect_figures(facts)
    assert [(f.key, f.source) for f in figures] == [
        ("limits", "generated from gate_evidence.json evidence.limits")
    ]
    html, _ = render_report(facts, card, figures)
    assert '<section id="limit_breaches">' in html
    assert 'id="fig-limits"' in html


def test_a_plugin_without_a_hook_is_described_from_its_docstring(installed_plugin, version_facts):
    # Given an installed family that defines no documents() of its own
    facts = version_facts("haircuts", evidence={"haircuts": [{"asset": "bund", "haircut": 0.02}]})
    # When its card is built
    card = build_card(facts)
    # Then its title and method come from its class's docstring
    assert card.title == "m v1: Collateral haircuts"
    methodology = card.section("methodology").blocks[0].text
    assert "ten-day volatility of each collateral's price" in methodology
    # and the evidence's record lists are its tables, with no caveat or figure of its own
    tables = [b for b in card.section("performance").blocks if b.kind == "table"]
    assert [t.caption for t in tables[1:]] == ["haircuts"]
    assert tables[1].rows == (("bund", "0.02"),)
    assert caveats(facts) == []
    assert collect_figures(facts) == []


def test_a_family_that_is_not_installed_still_gets_a_card(version_facts) -> None:
    # Given a version of a family whose plug-in is gone
    card = build_card(version_facts("ghost"))
    # Then the card renders and says plainly that nothing describes it
    assert "No description is written for the 'ghost' family." in render_markdown(card)
    assert card.section("purpose").blocks[1].items == ("Not stated by the family.",)


def test_the_plugin_figure_decodes(installed_plugin, version_facts) -> None:
    import matplotlib.image as mpimg

    (figure,) = collect_figures(version_facts("limits", evidence=EVIDENCE))
    image = mpimg.imread(io.BytesIO(figure.png), format="png")
    assert image.shape[1] > 200
