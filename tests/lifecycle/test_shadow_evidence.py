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
