"""Drift policy per family (issue 13): data drift vetoes credit, informs market models."""

from __future__ import annotations

from pathlib import Path

from riskops.gates import evaluate
from riskops.policy import DataDriftRule, Policy, load_policies

PACKAGE_POLICIES = Path(__file__).parents[2] / "platform" / "riskops" / "policies.yaml"


def _evidence(share: float, champion: dict | None = None, psi: float = 0.05) -> dict:
    return {
        "metrics": {},
        "evidence": {},
        "data_drift": {
            "share_of_drifted_columns": share,
            "drifted_columns": ["rv_5", "rv_22"] if share else [],
        },
        "prediction_drift": None if champion is None else {"psi": psi},
        "champion": champion,
    }


def test_drift_without_veto_is_recorded_and_passes() -> None:
    # Given a policy whose data drift does not veto, and the end-of-2008 picture: all drifted
    policy = Policy(family="var", data_drift=DataDriftRule(max_drift_share=0.5, veto=False))
    # When the gates run
    report = evaluate("market_var", 1, _evidence(1.0), policy)
    # Then the drift gate passes, with the share and the columns on record
    (drift,) = [r for r in report.results if r.gate == "data_drift"]
    assert drift.passed
    assert drift.observed == 1.0
    assert drift.threshold == {"max_drift_share": 0.5, "veto": False}
    assert "100% of features drifted (> 50%): rv_5, rv_22" in drift.reason
    assert "recorded, not a veto (policy)" in drift.reason


def test_drift_with_veto_refuses() -> None:
    # Given the same drift under a vetoing policy (the default)
    policy = Policy(family="var", data_drift=DataDriftRule(max_drift_share=0.5))
    # When the gates run, then the drift refuses promotion
    report = evaluate("market_var", 1, _evidence(1.0), policy)
    assert not report.passed
    assert [r.gate for r in report.failures] == ["data_drift"]


def test_prediction_drift_stays_a_gate_without_drift_veto() -> None:
    # Given a non-vetoing data drift policy and a champion whose outputs differ a lot
    policy = Policy(family="var", data_drift=DataDriftRule(veto=False))
    champion = {"version": 1, "metrics": {}}
    # When the gates run, then prediction drift still refuses
    report = evaluate("market_var", 2, _evidence(1.0, champion, psi=2.0), policy)
    assert "prediction_drift" in [r.gate for r in report.failures]
    assert "data_drift" not in [r.gate for r in report.failures]


def test_shipped_policies_veto_credit_drift_only() -> None:
    # Given the package's policy book, then credit vetoes on drift, market models do not
    book = load_policies(PACKAGE_POLICIES)
    assert book.for_model("credit_pd").data_drift.veto is True
    assert book.for_model("market_var").data_drift.veto is False
    assert book.for_model("market_volatility").data_drift.veto is False
    assert book.for_model("market_anomaly").data_drift.veto is True
