"""The shadow window's facts and gates (pure): a window too small to conclude is reported
so, never a silent pass; a challenger whose live answers differ materially from the
champion's on the same requests is refused."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from riskops.drift import category_psi
from riskops.families.base import ShadowPairs
from riskops.gates import evaluate, shadow_gates
from riskops.lifecycle.shadow import summarize
from riskops.policy import Policy, ShadowRule


def _pairs(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pd_champion = rng.beta(2, 8, size=n)
    pd_challenger = np.clip(pd_champion + shift, 0.0, 1.0)
    cuts = [0.05, 0.1, 0.2, 0.3, 0.5]
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "decided_at": pd.date_range("2026-12-01", periods=n, freq="min").astype(str),
            "pd_champion": pd_champion,
            "pd_challenger": pd_challenger,
            "grade_champion": [f"G{np.searchsorted(cuts, p) + 1}" for p in pd_champion],
            "grade_challenger": [f"G{np.searchsorted(cuts, p) + 1}" for p in pd_challenger],
        }
    )


def _gates(pairs: pd.DataFrame | None, rule: ShadowRule | None = None) -> dict[str, object]:
    policy = Policy(family="credit", shadow=rule or ShadowRule())
    evidence = {"shadow": summarize(ShadowPairs(pairs, "nothing recorded"), 1, 2)}
    return {r.gate: r for r in shadow_gates(evidence, policy)}


def test_category_psi_known_value() -> None:
    # shares (0.5, 0.5) -> (0.25, 0.75): 0.25 ln 2 + 0.25 ln 1.5 (the PSI formula, sum of
    # (a - e) ln(a / e); Yurdakul 2018, "Statistical properties of population stability index")
    expected = pd.Series(["A", "B"] * 50)
    actual = pd.Series(["A"] * 25 + ["B"] * 75)
    assert category_psi(expected, actual) == pytest.approx(
        0.25 * math.log(2) + 0.25 * math.log(1.5)
    )


@hypothesis_settings(suppress_health_check=[HealthCheck.too_slow])  # a loaded shared machine
@given(st.lists(st.sampled_from(["G1", "G2", "G3", "G4"]), min_size=1, max_size=100))
def test_category_psi_of_a_sample_with_itself_is_zero(grades: list[str]) -> None:
    series = pd.Series(grades)
    assert category_psi(series, series) == pytest.approx(0.0, abs=1e-12)


def test_a_small_window_is_reported_too_small_to_conclude() -> None:
    results = _gates(_pairs(120))
    window = results["shadow_window"]
    assert window.evaluated is False and window.passed is True
    assert "too small to conclude" in window.reason and "120 paired answers" in window.reason
    assert set(results) == {"shadow_window"}
    # and refuses when the policy requires a shadow window
    required = _gates(_pairs(120), ShadowRule(require=True))["shadow_window"]
    assert required.passed is False and required.evaluated is False


def test_an_empty_window_is_not_evaluated_with_its_reason() -> None:
    window = _gates(None)["shadow_window"]
    assert window.evaluated is False and "nothing recorded" in window.reason


def test_a_challenger_answering_like_the_champion_passes() -> None:
    results = _gates(_pairs(2000))
    assert results["shadow_window"].passed and results["shadow_window"].observed == 2000
    assert results["shadow_prediction_drift"].passed
    assert results["shadow_prediction_drift"].observed == pytest.approx(0.0, abs=1e-9)
    assert results["shadow_grade_psi"].passed
    # the paired test on matured outcomes is the family's gate, not the generic one's
    assert "shadow_delong" not in results


def test_a_challenger_differing_materially_on_live_requests_is_refused() -> None:
    results = _gates(_pairs(2000, shift=0.15))
    assert not results["shadow_prediction_drift"].passed
    assert not results["shadow_grade_psi"].passed
    report = evaluate(
        "credit_pd",
        2,
        {"metrics": {}, "shadow": summarize(ShadowPairs(_pairs(2000, 0.15)), 1, 2)},
        Policy(family="credit"),
    )
    assert not report.passed
    assert {"shadow_prediction_drift", "shadow_grade_psi"} <= {r.gate for r in report.failures}


def _delong_gate(facts: dict[str, object] | None, **rule: object) -> object:
    from riskops.credit.outcome_policy import OutcomePolicy, ShadowComparisonRule
    from riskops.credit.rules import CreditRules
    from riskops.credit.shadow import shadow_delong_gate

    policy = CreditRules(outcomes=OutcomePolicy(shadow_comparison=ShadowComparisonRule(**rule)))
    shadow = summarize(ShadowPairs(_pairs(600), delong=facts), 1, 2)
    (result,) = shadow_delong_gate({"shadow": shadow}, policy)
    return result


def _facts(n: int, defaults: int, p: float) -> dict[str, object]:
    return {
        "evaluated": True,
        "matured_pairs": n,
        "defaults": defaults,
        "auc_challenger": 0.70,
        "auc_champion": 0.80,
        "z": -2.5,
        "p_challenger_worse": p,
        "pairs_sha256": "0" * 64,
    }


def test_the_shadow_delong_gate_refuses_a_significantly_worse_challenger() -> None:
    refused = _delong_gate(_facts(1000, 60, 0.006))
    assert refused.passed is False and refused.evaluated
    assert (refused.observed, refused.threshold) == (0.006, 0.05)
    assert "p = 0.006 < 0.05" in refused.reason
    assert _delong_gate(_facts(1000, 60, 0.2)).passed is True
    # a p-value that is not a number refuses (fail closed)
    assert _delong_gate(_facts(1000, 60, float("nan"))).passed is False


def test_the_shadow_delong_gate_below_its_minimum_is_not_evaluated_with_the_counts() -> None:
    for facts in (_facts(150, 40, 0.001), _facts(1000, 20, 0.001), _facts(1000, 985, 0.001)):
        result = _delong_gate(facts)
        assert result.passed is True and result.evaluated is False
        assert result.reason.startswith(f"not evaluated: {facts['matured_pairs']} matured pairs")
    # the minimum is the policy's
    assert _delong_gate(_facts(150, 40, 0.001), min_pairs=100).passed is False
    # and no window facts at all are said so too
    assert _delong_gate(None).evaluated is False


def _market_rows(days: int, series: tuple[str, ...] = ("sp500",), seed: int = 0) -> pd.DataFrame:
    """A market shadow window: matured days of each series with both versions' VaRs."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {
                "series": name,
                "day": pd.bdate_range("2021-01-04", periods=days),
                "ret": rng.standard_t(5, days),
                "var_99_champion": 2.5,
                "var_99_challenger": 2.5,
            }
        )
        for name in series
    ]
    return pd.concat(frames, ignore_index=True).sort_values(["day", "series"], kind="stable")


def test_a_market_windows_live_inputs_are_its_returns_as_the_familys_features() -> None:
    from riskops.data.market import MarketDataset
    from riskops.families import get_family
    from riskops.live.shadow import window_inputs
    from riskops.market.features import WARMUP_DAYS, risk_features

    # Given a window of 40 matured days of two series, interleaved day by day
    rows = _market_rows(40, ("dax", "sp500"))
    # When its live inputs are made with the VaR family's features
    inputs = window_inputs(rows, get_family("var").features)
    # Then each series' returns went through them alone, the warm-up days giving no row
    assert len(inputs) == 2 * (40 - WARMUP_DAYS)
    for name, part in zip(("dax", "sp500"), np.split(inputs, 2), strict=True):
        own = rows[rows["series"] == name]
        dataset = MarketDataset(
            "own", "test", pd.DataFrame({name: own["ret"].to_numpy()}, index=own["day"])
        )
        pd.testing.assert_frame_equal(
            part.reset_index(drop=True), risk_features(dataset).reset_index(drop=True)
        )
    # And a window no longer than the warm-up has no input row
    assert window_inputs(_market_rows(WARMUP_DAYS), get_family("var").features).empty


def _drift(share: float, input_rows: int | None = 239) -> dict[str, object]:
    """Data-drift evidence of a shadow window as :func:`riskops.drift.measure_drift` gives
    it (the window of a market window: days, first, last, input rows)."""
    window = {"source": "shadow window", "rows": 260, "days": 260}
    window |= {"first": "2007-07-02", "last": "2008-07-11", "input_rows": input_rows}
    return {
        "evaluated": True,
        "share_of_drifted_columns": share,
        "drifted_columns": ["abs_ret", "ret", "rv_22", "rv_5"][
            : round(4 * share) if share >= 0 else 0
        ],
        "window": window,
    }


def _market_gates(rows: int, data_drift: dict[str, object], **drift_rule: object) -> dict:
    from riskops.policy import DataDriftRule

    facts = summarize(
        ShadowPairs(_market_rows(rows).rename(columns={"day": "decided_at"}), output="var_99"),
        1,
        2,
    )
    facts["data_drift"] = data_drift
    rule = DataDriftRule(stattest="psi", threshold=0.25, max_drift_share=0.5, **drift_rule)
    policy = Policy(family="var", shadow=ShadowRule(min_rows=250), data_drift=rule)
    return {r.gate: r for r in shadow_gates({"shadow": facts}, policy)}


def test_the_shadow_windows_input_drift_is_judged_by_the_policys_drift_rule() -> None:
    # Given a 260-day market window whose live inputs drifted in every feature
    drifted = _drift(1.0)
    # When a policy that records input drift without a veto (the market policies) judges it
    recorded = _market_gates(260, drifted, veto=False)["shadow_data_drift"]
    # Then it passes, evaluated, saying what it measured on which window
    assert recorded.passed and recorded.evaluated and recorded.observed == 1.0
    assert recorded.reason.startswith(
        "live inputs of the shadow window (260 days, 2007-07-02 to 2008-07-11; 239 input rows) "
        "against the challenger's training data: 100% of features drifted (> 50%)"
    )
    assert recorded.reason.endswith("recorded, not a veto (policy)")
    # And a policy that vetoes input drift refuses the same evidence
    vetoed = _market_gates(260, drifted, veto=True)["shadow_data_drift"]
    assert not vetoed.passed and vetoed.evaluated
    assert "unrepresentative" in vetoed.reason and "rv_22" in vetoed.reason
    # And a window whose inputs were too few for the drift test says so, not a silent pass
    few = {
        **_drift(0.0, 9),
        "evaluated": False,
        "reason": "too small for the drift test: 9 live input rows in the shadow window "
        "< data_drift.min_recent_rows 200",
        "share_of_drifted_columns": None,
    }
    small = _market_gates(260, few, veto=True)["shadow_data_drift"]
    assert not small.evaluated and small.passed  # the policy requires no recent window
    assert small.reason.startswith("not evaluated: live inputs of the shadow window (260 days")
    assert small.reason.endswith(
        "9 live input rows in the shadow window < data_drift.min_recent_rows 200"
    )
    required = _market_gates(260, few, require_recent_window=True)["shadow_data_drift"]
    assert not required.passed and not required.evaluated


def test_a_window_too_small_to_conclude_still_shows_its_input_drift() -> None:
    # Given a 120-day window (the policy concludes from 250) whose inputs drifted
    results = _market_gates(120, _drift(0.75), veto=True)
    # Then the window is not evaluated, and its input drift is shown beside it, not
    # evaluated either, with what it measured
    assert not results["shadow_window"].evaluated
    drift = results["shadow_data_drift"]
    assert drift.passed and not drift.evaluated and drift.observed == 0.75
    assert drift.reason.startswith("not evaluated: the shadow window is too small to conclude")
    assert drift.reason.endswith("measured 75% of features drifted (abs_ret, ret, rv_22)")
    # And a drift share that is not a share refuses even there: fail closed
    broken = _market_gates(120, _drift(-1.0), veto=True)["shadow_data_drift"]
    assert not broken.passed and "not a share" in broken.reason
