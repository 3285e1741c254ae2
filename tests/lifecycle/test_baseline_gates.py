"""Gates against another metric of the same run (issue 13): the anomaly detector must
match the naive rule, and its held-out alert rate must sit in the binomial band."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskops.gates import evaluate
from riskops.policy import Check, load_policies

POLICIES = Path(__file__).parents[2] / "platform" / "riskops" / "policies.yaml"


def _anomaly_evidence(recall: float, naive: float, against_naive: float) -> dict:
    return {
        "metrics": {
            "event_recall": recall,
            "naive_event_recall": naive,
            # The S&P 500 case of issue 27: 3.0% of 2005-2018 days flagged, outside the
            # former band (0.30-1.91%), a crisis the naive rule also alerts on.
            "alert_rate_holdout": 0.030,
            "alert_rate_band_low": 3 / 993,
            "alert_rate_band_high": 19 / 993,
            "alert_rate_vs_naive_pvalue": against_naive,
        },
        "evidence": {},
        "data_drift": {"share_of_drifted_columns": 0.0, "drifted_columns": []},
        "champion": None,
    }


@pytest.mark.parametrize(
    ("recall", "naive", "against_naive", "refused"),
    [
        (13 / 21, 13 / 21, 0.4, set()),  # ties the rule, alerts as the regime explains
        (12 / 21, 13 / 21, 0.4, {"backtest:event_recall>=naive_event_recall"}),
        (14 / 21, 13 / 21, 0.0099, {"backtest:alert_rate_vs_naive_pvalue"}),
        (14 / 21, 13 / 21, 0.01, set()),  # the limit itself passes
    ],
)
def test_anomaly_policy_against_the_naive_rule_on_the_same_days(
    recall: float, naive: float, against_naive: float, refused: set[str]
) -> None:
    # Given the shipped anomaly policy and the family's metrics
    policy = load_policies(POLICIES).for_model("market_anomaly")
    # When the gates run
    report = evaluate("market_anomaly", 1, _anomaly_evidence(recall, naive, against_naive), policy)
    # Then exactly the expected gates refuse, naming the comparison; an alert rate outside
    # the former band is no longer a refusal by itself
    assert {r.gate for r in report.failures} == refused
    for result in report.failures:
        assert "naive" in result.reason


def test_missing_comparison_metric_fails_closed() -> None:
    from riskops.gates import check_threshold

    check = Check(metric="event_recall", min_metric="naive_event_recall")
    result = check_threshold("backtest", check, {"metrics": {"event_recall": 0.9}})
    assert not result.passed
    assert "naive_event_recall is missing" in result.reason
