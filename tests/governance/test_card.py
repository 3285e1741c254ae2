"""Model cards built from a real registry, run and audit trail (credit, shared governed home)."""

from __future__ import annotations

import re

from riskops.credit.documents import grade_inversions, reversal_tests
from riskops.governance.card import build_card, caveats
from riskops.governance.report import render_card_html, render_markdown


def _pairs(section) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(section.blocks[0].pairs)


def test_card_data_section_carries_the_exact_dataset_hash(governed, facts_of) -> None:
    # Given the champion trained on the bundled credit data
    from riskops.data.credit import load_credit

    facts = facts_of(governed.champion)
    # When its card is built
    card = build_card(facts)
    # Then the data section names the data it was trained on, by content hash
    data = _pairs(card.section("data"))
    assert data["Content hash"] == load_credit().content_hash
    assert data["Rows"] == str(len(load_credit().frame))
    assert data["Schema version"] == facts.tags["schema_version"]


def test_card_metrics_are_the_logged_metrics_with_their_gate_limits(governed, facts_of) -> None:
    facts = facts_of(governed.champion)
    table = build_card(facts).section("performance").blocks[0]
    rows = {r[0]: r for r in table.rows}
    assert set(rows) == set(facts.metrics)
    assert float(rows["auc"][1]) == float(f"{facts.metrics['auc']:.4g}")
    # The policy's floor on AUC (0.75, policies.yaml) and the champion rule appear as limits.
    assert rows["auc"][2].startswith("≥ 0.75")
    assert "vs champion" in rows["brier"][2]


def test_non_monotone_grades_become_a_caveat_naming_the_inversions(governed, facts_of) -> None:
    # Given v1, whose held-out default rates fall somewhere along its eight grades
    facts = facts_of(governed.non_monotone)
    inversions = grade_inversions(facts.evidence["grades"])
    assert inversions
    # When the caveats are read from its evidence
    found = caveats(facts)
    # Then each inverted pair of adjacent grades is named with its observed rates
    text = next(c for c in found if c.startswith("Observed default rates are not monotone"))
    for inversion in inversions:
        assert inversion in text
    # with the one-sided p-value of each, none significant (what the reversal test counts)
    for inversion, pvalue in reversal_tests(facts.evidence["grades"]):
        assert f"{inversion}, one-sided p = " in text
        assert pvalue is not None and pvalue >= 0.05
    assert "None is significant at 5%" in text
    # and the performance section explains the test beside the raw inversions
    performance = build_card(facts).section("performance")
    reversals = next(b for b in performance.blocks if getattr(b, "caption", "").startswith("Grade"))
    assert [row[0] for row in reversals.rows] == inversions
    assert {row[2] for row in reversals.rows} == {"no"}
    # and the override and rollback of this version are caveats too
    assert any("override" in c and "business sign-off" in c for c in found)
    assert any("rolled back" in c for c in found)
    # while the champion, whose grades are ordered, carries no such caveat
    champion = facts_of(governed.champion)
    assert grade_inversions(champion.evidence["grades"]) == []
    assert not any(c.startswith("Observed default rates") for c in caveats(champion))
    assert not any(
        getattr(b, "caption", "").startswith("Grade")
        for b in build_card(champion).section("performance").blocks
    )


def test_history_section_lists_every_alias_move_of_the_version(governed, facts_of) -> None:
    # Given v1: registered, refused, forced to champion, rolled back
    facts = facts_of(governed.non_monotone)
    table = build_card(facts).section("history").blocks[1]
    actions = [row[3] for row in table.rows]
    # Then the approval history holds each decision with its actor, in order
    assert actions[0] == "register"
    for action in ("refuse", "override", "rollback"):
        assert action in actions
    by_action = {row[3]: row for row in table.rows}
    assert by_action["override"][2] == "approver"
    assert by_action["refuse"][2] == "reviewer"
    v1, v2 = governed.non_monotone, governed.champion
    assert by_action["override"][5] == f"champion v{v2} → v{v1}; previous none → v{v2}"
    assert by_action["rollback"][5].startswith(f"champion v{v1} → v{v2}")
    assert "intact" in build_card(facts).section("history").blocks[0].text


def test_gate_section_is_the_latest_gate_report(governed, facts_of) -> None:
    facts = facts_of(governed.non_monotone)
    latest = facts.latest_gate_report["report"]
    table = build_card(facts).section("gates").blocks[1]
    assert [r[0] for r in table.rows] == [r["gate"] for r in latest["results"]]
    failed = {r[0] for r in table.rows if r[1] == "fail"}
    assert "evidence_current" in failed
    assert failed == {r["gate"] for r in latest["results"] if not r["passed"]}


def test_markdown_and_html_render_the_same_card(governed, facts_of) -> None:
    # Given one card
    card = build_card(facts_of(governed.champion))
    # When it is rendered both ways
    markdown, html = render_markdown(card), render_card_html(card)
    # Then every section title and the data hash appear in both
    for section in card.sections:
        assert f"## {section.title}" in markdown
        assert f">{section.title}</h2>" in html
    data_hash = _pairs(card.section("data"))["Content hash"]
    assert data_hash in markdown
    assert data_hash in html
    # and every Markdown table row has as many cells as its header
    for block in re.split(r"\n\n", markdown):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            widths = {len(re.split(r"(?<!\\)\|", ln)) for ln in lines}
            assert len(widths) == 1, block
    # and HTML has no external resource at all
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
