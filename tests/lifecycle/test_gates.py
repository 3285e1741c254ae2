"""Gates are pure: synthetic evidence in, a report out. Each boundary is exercised."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskops.gates import GateReport, check_threshold, evaluate
from riskops.policy import ChampionRule, Check, DataDriftRule, Policy, PredictionDriftRule

CREDIT = Policy(
    family="credit",
    floors=(Check(metric="auc", min=0.75), Check(metric="ece", max=0.05)),
    data_drift=DataDriftRule(max_drift_share=0.3),
    prediction_drift=PredictionDriftRule(max_psi=0.25),
    champion=(ChampionRule(metric="auc", higher_is_better=True, max_degradation=0.01),),
)


def evidence(
    auc: float = 0.8,
    ece: float = 0.02,
    drift: float = 0.0,
    champion: dict | None = None,
    psi: float = 0.05,
) -> dict:
    return {
        "metrics": {"auc": auc, "ece": ece},
        "evidence": {"traffic_light_zone_99": "green"},
        "data_drift": {
            "share_of_drifted_columns": drift,
            "drifted_columns": ["Income"] if drift else [],
        },
        "prediction_drift": None if champion is None else {"psi": psi},
        "champion": champion,
    }


def test_first_version_faces_absolute_gates_only() -> None:
    report = evaluate("credit_pd", 1, evidence(), CREDIT)
    assert report.passed
    assert {r.gate for r in report.results} == {"floor:auc", "floor:ece", "data_drift"}


@pytest.mark.parametrize(("auc", "passed"), [(0.75, True), (0.7499, False), (0.9, True)])
def test_auc_floor_boundary(auc: float, passed: bool) -> None:
    report = evaluate("credit_pd", 1, evidence(auc=auc), CREDIT)
    assert report.passed is passed
    if not passed:
        assert "auc = 0.7499 < minimum 0.75" in report.failures[0].reason


@pytest.mark.parametrize(("ece", "passed"), [(0.05, True), (0.0501, False)])
def test_calibration_ceiling_boundary(ece: float, passed: bool) -> None:
    assert evaluate("credit_pd", 1, evidence(ece=ece), CREDIT).passed is passed


@pytest.mark.parametrize(("share", "passed"), [(0.3, True), (0.31, False)])
def test_data_drift_boundary(share: float, passed: bool) -> None:
    report = evaluate("credit_pd", 1, evidence(drift=share), CREDIT)
    assert report.passed is passed
    if not passed:
        assert "unrepresentative" in report.failures[0].reason
        assert "Income" in report.failures[0].reason


@pytest.mark.parametrize(
    ("challenger_auc", "passed"), [(0.79, True), (0.7899, False), (0.85, True)]
)
def test_champion_degradation_boundary(challenger_auc: float, passed: bool) -> None:
    champion = {"version": 3, "metrics": {"auc": 0.80}}
    report = evaluate("credit_pd", 4, evidence(auc=challenger_auc, champion=champion), CREDIT)
    result = next(r for r in report.results if r.gate == "champion:auc")
    assert result.passed is passed
    assert report.champion_version == 3


@pytest.mark.parametrize(("psi", "passed"), [(0.25, True), (0.2501, False)])
def test_prediction_drift_boundary(psi: float, passed: bool) -> None:
    champion = {"version": 1, "metrics": {"auc": 0.8}}
    report = evaluate("credit_pd", 2, evidence(champion=champion, psi=psi), CREDIT)
    assert next(r for r in report.results if r.gate == "prediction_drift").passed is passed


def test_missing_metric_fails_closed() -> None:
    ev = evidence()
    del ev["metrics"]["ece"]
    report = evaluate("credit_pd", 1, ev, CREDIT)
    assert not report.passed
    assert "ece is missing" in report.failures[0].reason


def test_gate_that_raises_fails_closed() -> None:
    ev = evidence()
    ev["data_drift"] = {"share_of_drifted_columns": "not a number"}
    report = evaluate("credit_pd", 1, ev, CREDIT)
    assert not report.passed
    assert report.failures[0].errored
    assert "gate raised ValueError" in report.failures[0].reason


def test_backtest_zone_and_relative_checks() -> None:
    red = Check(metric="traffic_light_zone_99", source="evidence", not_in=("red",))
    assert check_threshold(
        "backtest", red, {"evidence": {"traffic_light_zone_99": "yellow"}}
    ).passed
    assert not check_threshold(
        "backtest", red, {"evidence": {"traffic_light_zone_99": "red"}}
    ).passed
    qlike = Check(metric="qlike", max_metric="qlike_benchmark", tolerance=0.01)
    assert check_threshold(
        "backtest", qlike, {"metrics": {"qlike": 1.01, "qlike_benchmark": 1.0}}
    ).passed
    assert not check_threshold(
        "backtest", qlike, {"metrics": {"qlike": 1.0101, "qlike_benchmark": 1.0}}
    ).passed


def test_empty_report_never_passes() -> None:
    assert not GateReport("m", 1, None, ()).passed


def test_report_round_trips_through_json() -> None:
    report = evaluate("credit_pd", 1, evidence(auc=0.5), CREDIT)
    assert GateReport.from_dict(report.to_dict()) == report


@given(auc=st.floats(0, 1), minimum=st.floats(0, 1))
def test_floor_passes_exactly_when_value_reaches_the_minimum(auc: float, minimum: float) -> None:
    result = check_threshold("floor", Check(metric="auc", min=minimum), {"metrics": {"auc": auc}})
    assert result.passed is (auc >= minimum)


@given(nan=st.sampled_from([float("nan"), float("inf"), float("-inf")]))
def test_non_finite_metric_never_passes(nan: float) -> None:
    result = check_threshold(
        "floor", Check(metric="auc", min=0.0, max=1.0), {"metrics": {"auc": nan}}
    )
    assert not result.passed


@pytest.mark.parametrize(
    ("check", "metrics", "reason"),
    [
        (Check(metric="auc", min=0.75), {"auc": 0.84412}, "auc 0.8441 >= 0.75"),
        (Check(metric="ece", max=0.05), {"ece": 0.0312}, "ece 0.0312 <= 0.05"),
        (Check(metric="ks", min=0.3, max=0.9), {"ks": 0.5}, "ks 0.5 >= 0.3 and <= 0.9"),
        (
            Check(metric="event_recall", min_metric="naive_event_recall"),
            {"event_recall": 13 / 21, "naive_event_recall": 12 / 21},
            "event_recall 0.619 >= naive_event_recall 0.5714",
        ),
        (
            Check(metric="qlike", max_metric="qlike_benchmark", tolerance=0.01),
            {"qlike": 1.02, "qlike_benchmark": 1.025},
            "qlike 1.02 <= qlike_benchmark + 0.01 = 1.035",
        ),
    ],
)
def test_a_passing_threshold_reads_as_a_comparison(
    check: Check, metrics: dict[str, float], reason: str
) -> None:
    # Given a value inside its limit / When the gate judges it
    result = check_threshold("floor", check, {"metrics": metrics})
    # Then the reason is the comparison a committee reads, never a Python dict
    assert result.passed
    assert result.reason == reason
    assert "{" not in result.reason and "within" not in result.reason
