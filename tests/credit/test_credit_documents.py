"""The credit family's part of cards and reports, from plain evidence: grade inversions, the
one-sided Fisher exact p-values the grade-reversal gate counts, and why a report can say
"not monotone" while that gate passes."""

from __future__ import annotations

from math import comb
from pathlib import Path

import pytest

from riskops.credit.documents import caveats, grade_inversions, reversal_blocks, reversal_tests
from riskops.documents.facts import VersionFacts
from riskops.policy import load_policies
from riskops.registry import VersionInfo

BOOK = load_policies(Path(__file__).parents[2] / "platform" / "riskops" / "policies.yaml")
# Rates 0.7%, 7.0%, 5.2%, 17.4%: G3 defaults less often than G2.
GRADES = [
    {"grade": "G1", "n": 141, "defaults": 1, "default_rate": 1 / 141},
    {"grade": "G2", "n": 157, "defaults": 11, "default_rate": 11 / 157},
    {"grade": "G3", "n": 115, "defaults": 6, "default_rate": 6 / 115},
    {"grade": "G4", "n": 132, "defaults": 23, "default_rate": 23 / 132},
]


def _fisher_greater(d1: int, n1: int, d2: int, n2: int) -> float:
    """One-sided Fisher exact p-value that group 1 defaults more often: the hypergeometric
    tail P(X >= d1) of the defaults falling in group 1 given the margins (Agresti 2002,
    Categorical Data Analysis, section 3.5.1)."""
    total, defaults = n1 + n2, d1 + d2
    return sum(
        comb(defaults, k) * comb(total - defaults, n1 - k) for k in range(d1, defaults + 1)
    ) / comb(total, n1)


def _facts(tmp_path: Path, grades: list[dict], policy=None, **metrics) -> VersionFacts:  # type: ignore[no-untyped-def]
    return VersionFacts(
        info=VersionInfo("credit_pd", 1, "run1", "src", {"family": "credit"}),
        family="credit",
        run={"params": {}, "metrics": metrics},
        lineage={},
        gate_evidence={"evidence": {"grades": grades}},
        gate_reports=[],
        audit=[],
        audit_check=None,
        champion=None,
        previous=None,
        parent=None,
        champion_metrics={},
        policy=policy,
        artifacts=[],
        local_dir=tmp_path,
    )


def test_grade_inversions_known_values() -> None:
    assert grade_inversions(GRADES) == ["G3 5.2% (n=115) below G2 7.0% (n=157)"]
    assert grade_inversions(sorted(GRADES, key=lambda g: g["default_rate"])) == []


def test_each_inversion_carries_the_one_sided_fisher_p_value() -> None:
    # Given G2 11/157 and G3 6/115, the one inversion
    ((inversion, pvalue),) = reversal_tests(GRADES)
    # Then its p-value is the hypergeometric tail computed by hand
    assert inversion == "G3 5.2% (n=115) below G2 7.0% (n=157)"
    assert pvalue == pytest.approx(_fisher_greater(11, 157, 6, 115), rel=1e-9)
    assert 0.05 < pvalue < 0.5  # an inversion of this size is noise
    # and a grade table without default counts names the inversion without a p-value
    counts_dropped = [{k: v for k, v in g.items() if k != "defaults"} for g in GRADES]
    assert reversal_tests(counts_dropped) == [(inversion, None)]


def test_not_monotone_and_a_passing_reversal_gate_are_explained_together(tmp_path) -> None:
    # Given the shipped credit policy, which refuses any significant reversal, and grades
    # with one raw inversion that is not significant (so the gate's metric is 0)
    facts = _facts(
        tmp_path,
        GRADES,
        BOOK.for_model("credit_pd"),
        grades_monotone=0.0,
        grade_reversals_significant=0.0,
    )
    pvalue = _fisher_greater(11, 157, 6, 115)
    # When the caveats and the performance blocks are built
    (caveat,) = caveats(facts)
    text, table = reversal_blocks(facts)
    # Then the caveat lists the raw inversion with its p-value and says the gate counts only
    # significant ones
    assert caveat.startswith("Observed default rates are not monotone")
    assert f"G3 5.2% (n=115) below G2 7.0% (n=157), one-sided p = {pvalue:.4g}" in caveat
    assert "None is significant at 5%, which is what the grade-reversal gate counts" in caveat
    # and the report explains the test and the gate in words, with the p-value in a table
    assert "0 of them are significant" in text.text
    assert "the grade-reversal gate refuses any significant reversal" in text.text
    assert table.rows == (("G3 5.2% (n=115) below G2 7.0% (n=157)", f"{pvalue:.4g}", "no"),)


def test_a_significant_reversal_is_named_as_such(tmp_path) -> None:
    # Given G3 far below G2 (30/100 against 5/100)
    grades = [
        {"grade": "G1", "n": 100, "defaults": 1, "default_rate": 0.01},
        {"grade": "G2", "n": 100, "defaults": 30, "default_rate": 0.30},
        {"grade": "G3", "n": 100, "defaults": 5, "default_rate": 0.05},
    ]
    facts = _facts(tmp_path, grades, BOOK.for_model("credit_pd"), grade_reversals_significant=1.0)
    found = caveats(facts)
    assert not any("None is significant" in c for c in found)
    assert "1 grade reversal(s) are statistically significant." in found
    _, table = reversal_blocks(facts)
    assert table.rows[0][2] == "yes"
    assert float(table.rows[0][1]) < 1e-4
