"""The anomaly family's part of cards and reports: the detector against the naive baseline."""

from __future__ import annotations

from riskops.anomaly.documents import anomaly_baseline_blocks


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
        "naive_alert_rate_holdout": 6 / 993,
        "alerts_detector_only": 1.0,
        "alerts_naive_only": 3.0,
        "alert_rate_vs_naive_pvalue": 0.625,
    }
    (facts,) = anomaly_baseline_blocks(metrics)
    pairs = dict(facts.pairs)
    assert pairs["Event recall in the top 1%, naive |ret_z| rule"] == "61.9%"
    assert pairs["Event recall, events after the training span"] == "40.0% of 5"
    assert pairs["Held-out events flagged at the deployed threshold"] == "20.0%"
    assert pairs["Held-out alert rate (99% binomial band for a calm period)"] == (
        "0.4% (0.3% to 1.9%)"
    )
    naive = pairs["Held-out alert rate of the naive rule, same days and target (gated: McNemar)"]
    assert naive == "0.6%; days only the detector flags 1, only the rule 3, p = 0.625"
    assert anomaly_baseline_blocks({"event_recall": 0.5}) == []
