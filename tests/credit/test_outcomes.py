"""Validation tests on matured outcomes: maturity by hand, per-grade tests against the
statistics modules, and the platform's own metrics on the same rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import brier_score_loss

from riskops.credit import metrics as m
from riskops.credit.outcome_policy import OutcomePolicy
from riskops.credit.outcome_simulation import simulate_outcomes, synthetic_decisions
from riskops.credit.outcomes import InitialValidation, evaluate_outcomes
from riskops.errors import BadInputError
from riskops.stats.binomial import binomial_pvalue, jeffreys_pvalue
from riskops.stats.concentration import herfindahl_test
from riskops.stats.discrimination import delong_auc

AS_OF = "2025-01-01"


def _hand_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nine decisions, one per maturity case (12-month horizon, as of 1 Jan 2025)."""
    rows = [
        # id, decided, version, pd, grade, (default, observed) or None
        ("a", "2023-06-01", "1", 0.02, "G1", (1, "2024-01-10")),  # default within horizon
        ("b", "2023-06-01", "1", 0.02, "G1", (1, "2024-08-01")),  # default after it: no default
        ("c", "2023-06-01", "1", 0.10, "G2", (0, "2024-06-15")),  # survived the horizon
        ("d", "2023-06-01", "1", 0.10, "G2", (0, "2024-03-01")),  # seen alive too early
        ("e", "2023-06-01", "1", 0.10, "G2", None),  # matured, no outcome
        ("f", "2024-06-01", "1", 0.30, "G3", (1, "2024-07-01")),  # not matured
        ("h", "2023-06-01", "1", 0.30, "G3", (1, "2024-06-01")),  # default on the last day
        ("i", "2023-06-01", "1", 0.30, "G3", (0, "2024-06-01")),  # alive on the last day
        ("v2", "2023-02-01", "2", 0.05, "G1", (0, "2024-03-01")),  # another version
    ]
    decisions = pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "decided_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "model_name": "credit_pd",
            "model_version": [r[2] for r in rows],
            "pd": [r[3] for r in rows],
            "grade": [r[4] for r in rows],
        }
    )
    known = [r for r in rows if r[5] is not None]
    outcomes = pd.DataFrame(
        {
            "id": [r[0] for r in known],
            "default": [r[5][0] for r in known],
            "observed_at": pd.to_datetime([r[5][1] for r in known], utc=True),
        }
    )
    return decisions, outcomes


def test_maturity_and_the_default_definition_by_hand() -> None:
    # Given one decision per maturity case
    decisions, outcomes = _hand_case()
    # When the outcomes are evaluated as of 1 January 2025 with a 12-month horizon
    v1, v2 = evaluate_outcomes(decisions, outcomes, as_of=AS_OF)
    # Then f is immature, e has no outcome, d is indeterminate, and a, b, c, h, i count
    assert (v1.model_version, v2.model_version) == ("1", "2")
    assert v1.counts.to_dict() == {
        "decisions": 8,
        "immature": 1,
        "matured": 7,
        "without_outcome": 1,
        "indeterminate": 1,
        "evaluated": 5,
        "defaults": 2,
    }
    # And a default after the horizon (b) and a survivor at the horizon (i) are non-defaults
    table = v1.table().set_index("grade")
    assert table.loc["G1", ["n", "defaults"]].tolist() == [2, 1]
    assert table.loc["G2", ["n", "defaults"]].tolist() == [1, 0]
    assert table.loc["G3", ["n", "defaults"]].tolist() == [2, 1]
    assert table.loc["portfolio", "mean_pd"] == pytest.approx((0.02 * 2 + 0.1 + 0.3 * 2) / 5)
    # And the grade distribution is that of every matured decision (c, d, e in G2)
    assert v1.matured_grade_counts == (2, 3, 2)
    # And the AUC is over the five evaluated: defaults a (0.02) and h (0.30)
    y = np.array([1, 0, 0, 1, 0])
    score = np.array([0.02, 0.02, 0.10, 0.30, 0.30])
    assert v1.auc is not None
    assert v1.auc.auc == pytest.approx(delong_auc(y, score).auc)
    assert v2.counts.evaluated == 1


def test_horizon_counts_calendar_months_to_the_month_end() -> None:
    # A decision of 31 January 2024 matures on 31 January 2025, not a day earlier.
    decisions = pd.DataFrame(
        {
            "id": ["x"],
            "decided_at": pd.to_datetime(["2024-01-31"], utc=True),
            "model_name": "credit_pd",
            "model_version": "1",
            "pd": [0.1],
            "grade": ["G1"],
        }
    )
    outcomes = pd.DataFrame(
        {"id": ["x"], "default": [0], "observed_at": pd.to_datetime(["2025-01-31"], utc=True)}
    )
    (early,) = evaluate_outcomes(decisions, outcomes, as_of="2025-01-30")
    (due,) = evaluate_outcomes(decisions, outcomes, as_of="2025-01-31")
    assert (early.counts.immature, due.counts.matured) == (1, 1)
    assert due.counts.evaluated == 1


@pytest.fixture(scope="module")
def portfolio() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    decisions, development = synthetic_decisions(6000, seed=11)
    outcomes = simulate_outcomes(decisions, seed=12)
    return decisions, outcomes, development


LATER = "2025-02-01"  # every synthetic outcome (decisions of 2023) is known by then


def test_outcomes_observed_after_as_of_are_not_yet_known(portfolio) -> None:
    decisions, outcomes, _ = portfolio
    (then,) = evaluate_outcomes(decisions, outcomes, as_of=AS_OF)
    (later,) = evaluate_outcomes(decisions, outcomes, as_of=LATER)
    seen_after = int((outcomes["observed_at"] > pd.Timestamp(AS_OF, tz="UTC")).sum())
    assert seen_after > 0
    assert then.counts.without_outcome == seen_after
    assert later.counts.evaluated == len(decisions)


def test_grade_tests_equal_the_statistics_on_a_hand_grouping(portfolio) -> None:
    decisions, outcomes, _ = portfolio
    # When six thousand matured decisions are evaluated
    (result,) = evaluate_outcomes(decisions, outcomes, as_of=LATER)
    # Then each grade's counts, mean PD and p-values are those of a plain pandas grouping
    joined = decisions.merge(outcomes, on="id")
    grouped = joined.groupby("grade").agg(n=("pd", "size"), d=("default", "sum"), pd=("pd", "mean"))
    table = result.table().set_index("grade")
    for grade, row in grouped.iterrows():
        assert table.loc[grade, "n"] == row["n"]
        assert table.loc[grade, "defaults"] == row["d"]
        assert table.loc[grade, "mean_pd"] == pytest.approx(row["pd"], rel=1e-12)
        assert table.loc[grade, "jeffreys_pvalue"] == pytest.approx(
            stats.beta.cdf(row["pd"], row["d"] + 0.5, row["n"] - row["d"] + 0.5), rel=1e-9
        )
        assert table.loc[grade, "binomial_pvalue"] == pytest.approx(
            binomial_pvalue(row["d"], row["n"], row["pd"]), rel=1e-12
        )
    port = table.loc["portfolio"]
    assert port["jeffreys_pvalue"] == pytest.approx(
        jeffreys_pvalue(joined["default"].sum(), len(joined), joined["pd"].mean()), rel=1e-12
    )


def test_calibration_and_stability_equal_the_platform_metrics(portfolio) -> None:
    decisions, outcomes, development = portfolio
    reference = InitialValidation(auc=0.7, development_grade_counts=development)
    (result,) = evaluate_outcomes(
        decisions, outcomes, as_of=LATER, references={("credit_pd", "1"): reference}
    )
    joined = decisions.merge(outcomes, on="id")
    y, pd_ = joined["default"].to_numpy(), joined["pd"].to_numpy()
    # Brier: scikit-learn's, which is the platform's mean squared error
    assert result.brier == pytest.approx(brier_score_loss(y, pd_), rel=1e-12)
    assert result.brier == pytest.approx(m.brier(y, pd_), rel=1e-12)
    # ECE: the family's ten equal-width bins, counted rather than grouped
    assert result.ece == pytest.approx(m.expected_calibration_error(y, pd_), rel=1e-10)
    # Reversals: the promotion floor's one-sided Fisher test on the outcome grade table
    grades = m.grade_table(y, pd_, joined["grade"].to_numpy())
    assert result.grade_reversals_significant == m.significant_grade_reversals(grades)
    assert result.grades_monotone == m.grades_monotone(grades)
    # PSI of grade shares and the ECB Herfindahl test against the development counts
    labels = sorted(development, key=lambda g: int(g[1:]))
    dev = np.array([development[g] for g in labels], dtype=float)
    cur = decisions["grade"].value_counts().reindex(labels).to_numpy(dtype=float)
    assert result.psi_grades == pytest.approx(
        m.psi_from_shares(dev / dev.sum(), cur / cur.sum()), rel=1e-12
    )
    assert result.herfindahl_test is not None
    assert result.herfindahl_test.pvalue == pytest.approx(herfindahl_test(cur, dev).pvalue)
    # AUC against the initial 0.70, DeLong's standard error
    assert result.auc_vs_initial is not None
    estimate = delong_auc(y, pd_)
    assert result.auc_vs_initial.statistic == pytest.approx((0.7 - estimate.auc) / estimate.se)
    assert result.not_evaluated == ()


def test_auc_on_grades_when_the_policy_says_so(portfolio) -> None:
    decisions, outcomes, _ = portfolio
    (result,) = evaluate_outcomes(
        decisions, outcomes, as_of=LATER, policy=OutcomePolicy(auc_score="grade")
    )
    joined = decisions.merge(outcomes, on="id")
    grade_number = joined["grade"].str[1:].astype(int).to_numpy()
    assert result.auc is not None
    assert result.auc.auc == pytest.approx(delong_auc(joined["default"], grade_number).auc)
    assert result.auc_score == "grade"


def test_missing_references_are_reported_not_passed(portfolio) -> None:
    decisions, outcomes, _ = portfolio
    (result,) = evaluate_outcomes(decisions, outcomes, as_of=AS_OF)
    reasons = dict(result.not_evaluated)
    assert set(reasons) == {"auc_vs_initial", "psi_grades", "herfindahl_test"}
    assert result.psi_grades is None and result.auc_vs_initial is None
    # Only one class of outcome: no AUC, said so
    none_defaulted = outcomes.assign(default=0, observed_at=outcomes["observed_at"].max())
    (flat,) = evaluate_outcomes(decisions, none_defaulted, as_of="2026-01-01")
    assert flat.auc is None
    assert "auc" in dict(flat.not_evaluated)


def test_result_is_json_ready_and_tabulates(portfolio) -> None:
    decisions, outcomes, development = portfolio
    # An empty grade in the development sample makes nan values somewhere
    development = {**development, "G9": 10}
    (result,) = evaluate_outcomes(
        decisions,
        outcomes,
        as_of=AS_OF,
        references={("credit_pd", "1"): InitialValidation(0.7, development)},
    )
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert '"G9"' in text
    table = result.table()
    assert list(table["grade"])[-2:] == ["G9", "portfolio"]
    g9 = table.set_index("grade").loc["G9"]
    assert g9["n"] == 0 and g9["jeffreys_light"] == "not_evaluated"
    assert math.isnan(g9["mean_pd"])
    assert table["share_matured"].iloc[:-1].sum() == pytest.approx(1.0)


def test_bad_frames_are_refused_with_the_field_named() -> None:
    decisions, outcomes = _hand_case()
    with pytest.raises(BadInputError, match=r"decisions\.id"):
        evaluate_outcomes(pd.concat([decisions, decisions.head(1)]), outcomes, as_of=AS_OF)
    with pytest.raises(BadInputError, match=r"outcomes\.id"):
        evaluate_outcomes(decisions, pd.concat([outcomes, outcomes.head(1)]), as_of=AS_OF)
    with pytest.raises(BadInputError, match=r"outcomes\.default"):
        evaluate_outcomes(decisions, outcomes.assign(default=2), as_of=AS_OF)
    with pytest.raises(BadInputError, match="grade"):
        evaluate_outcomes(decisions.drop(columns="grade"), outcomes, as_of=AS_OF)
    with pytest.raises(BadInputError, match=r"decisions\.grade"):
        evaluate_outcomes(decisions.assign(grade=None), outcomes, as_of=AS_OF)
    with pytest.raises(BadInputError, match=r"decisions\.pd"):
        evaluate_outcomes(decisions.assign(pd=float("nan")), outcomes, as_of=AS_OF)
    with pytest.raises(BadInputError, match="as_of"):
        evaluate_outcomes(decisions, outcomes, as_of="not a date")


def test_champion_and_challenger_compared_on_the_applicants_both_scored(portfolio) -> None:
    from riskops.credit.outcome_policy import OutcomePolicy
    from riskops.credit.shadow import paired_outcome_test
    from riskops.stats.discrimination import delong_paired_test

    decisions, outcomes, _ = portfolio
    # Given a challenger that scored 5,000 of the 6,000 applicants with noisier PDs
    rng = np.random.default_rng(5)
    shadow = decisions.iloc[1000:][["id", "pd"]].assign(
        pd=lambda f: np.clip(f["pd"] * np.exp(rng.normal(0, 0.8, len(f))), 0, 1)
    )
    pairs = decisions[["id", "decided_at", "pd"]].merge(
        shadow.sample(frac=1.0, random_state=1), on="id", suffixes=("_champion", "_challenger")
    )
    facts = paired_outcome_test(pairs, outcomes, as_of=pd.Timestamp(LATER), policy=OutcomePolicy())
    # Then the test runs on exactly those 5,000, pairing each applicant's two PDs
    joined = (
        decisions.iloc[1000:].merge(outcomes, on="id").merge(shadow, on="id", suffixes=("", "_b"))
    )
    expected = delong_paired_test(joined["default"], joined["pd_b"], joined["pd"])
    assert facts["applicants_both"] == facts["matured_pairs"] == 5000
    assert facts["z"] == pytest.approx(expected.z, rel=1e-12)
    assert facts["auc_challenger"] == pytest.approx(expected.auc_a, rel=1e-12)
    # And the noisier challenger ranks worse than the champion (one-sided)
    assert facts["difference"] < 0
    assert facts["p_challenger_worse"] < 0.01
    json.dumps(facts, allow_nan=False)
