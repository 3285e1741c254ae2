"""The market evidence of issue 13 in cards and reports: the 1,000-day independence
result, the naive anomaly baseline and the drift record, from plain evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from riskops.governance.market_evidence import (
    anomaly_baseline_blocks,
    drift_record,
    var_gate_blocks,
)
from riskops.policy import load_policies
from riskops.var.family import coverage_backtests

BOOK = load_policies(Path(__file__).parents[2] / "platform" / "riskops" / "policies.yaml")


def test_var_card_shows_the_gated_1000_day_independence_result() -> None:
    # Given 1,000 days whose 99% exceptions include a run of five (clustered)
    hits99 = np.zeros(1000, dtype=bool)
    hits99[[100, 101, 102, 103, 104, 400, 700]] = True
    hits95 = hits99.copy()
    hits95[::25] = True
    _, results = coverage_backtests({0.95: hits95, 0.99: hits99})
    # When the card's gate-test table is built with the shipped VaR policy
    (table,) = var_gate_blocks({"backtests": results}, BOOK.for_model("market_var"))
    rows = {(r[0], r[1]): r for r in table.rows}
    # Then the 1,000-day independence result is there, gated, and failed
    ind = rows[("99%", "independence, Monte Carlo p-value (Dufour 2006)")]
    assert ind[3] == "7 / 1000"
    assert ind[5] == "p ≥ 0.0015"
    assert ind[6] == "FAIL"
    # and the conditional coverage is reported, not gated
    cc = rows[("99%", "conditional coverage, Monte Carlo (reported only)")]
    assert (cc[5], cc[6]) == ("not gated", "reported")


def test_anomaly_card_shows_the_naive_baseline() -> None:
    metrics = {
        "event_recall": 13 / 21,
        "naive_event_recall": 13 / 21,
        "event_recall_in_train": 11 / 16,
        "event_recall_out_of_train": 2 / 5,
        "event_recall_holdout": 0.2,
        "n_events_in_train": 16.0,
        "n_events_holdout": 5.0,
        "alert_rate_holdout": 4 / 993,
        "alert_rate_band_low": 3 / 993,
        "alert_rate_band_high": 19 / 993,
    }
    (facts,) = anomaly_baseline_blocks(metrics)
    pairs = dict(facts.pairs)
    assert pairs["Event recall in the top 1%, naive |ret_z| rule"] == "61.9%"
    assert pairs["Event recall, events after the training span"] == "40.0% of 5"
    assert pairs["Held-out events flagged at the deployed threshold"] == "20.0%"
    assert pairs["Held-out alert rate (99% binomial band)"] == "0.4% (0.3% to 1.9%)"
    assert anomaly_baseline_blocks({"event_recall": 0.5}) == []


def test_drift_record_says_whether_drift_vetoes() -> None:
    drift = {"share_of_drifted_columns": 1.0, "drifted_columns": ["rv_5", "rv_22"]}
    _, var_text = drift_record(drift, BOOK.for_model("market_var"))
    _, credit_text = drift_record(drift, BOOK.for_model("credit_pd"))
    assert var_text.startswith("100% of features drifted (rv_5, rv_22)")
    assert "recorded, not a veto (policy)" in var_text
    assert "a veto above 30% (policy)" in credit_text
