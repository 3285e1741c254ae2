"""Market evidence of issue 13 in the model card and the validation report.

Three records a reviewer must see whether or not a gate failed:

* for a VaR model, the small-sample gate tests, above all the **1,000-day independence
  result** (Christoffersen 1998 statistic, Monte Carlo p-value after Dufour 2006), next
  to the one-sided coverage tests and the reported-only conditional coverage;
* for an anomaly detector, the **naive baseline** (ranking days by the absolute
  standardised return, same days, same top 1%), recall inside and outside the training
  span, recall of the held-out events at the deployed threshold, and the binomial band
  of the held-out alert rate;
* for every model, the **drift record**: the share and the drifted columns, and
  whether the policy makes drift a veto or only records it.

The functions take plain dicts (metrics, evidence, policy), so they are pure.
"""

from __future__ import annotations

import math
from typing import Any

from riskops.governance.card import Block, Facts, Table, fmt
from riskops.policy import Policy

__all__ = ["anomaly_baseline_blocks", "drift_record", "var_gate_blocks"]

_VAR_TESTS = (
    (
        "clustering_mc",
        "clustering, Ljung-Box over ten lags, Monte Carlo p-value",
        "whole window",
    ),
    (
        "tick_loss_vs_benchmark",
        "tick loss vs historical simulation (Diebold-Mariano, Newey-West; one-sided)",
        "whole window",
    ),
    (
        "independence_mc",
        "independence, first order, Monte Carlo p-value (Dufour 2006)",
        "whole window",
    ),
    ("binomial_coverage", "one-sided binomial, too many exceptions", "whole window"),
    ("binomial_coverage_last_250", "one-sided binomial, too many exceptions", "last 250 days"),
    ("tail_coverage", "exceptions given the lowest level's (Kratz et al. 2018)", "whole window"),
    (
        "conditional_coverage_mc",
        "conditional coverage, Monte Carlo (reported only)",
        "whole window",
    ),
)


def _limit(policy: Policy | None, metric: str) -> str:
    if policy is None:
        return "–"
    for check in policy.backtests:
        if check.metric == metric and check.min is not None:
            return f"p ≥ {check.min:g}"
    return "not gated"


def _metric_of(test: str, tag: str) -> str:
    return {
        "clustering_mc": f"clustering_mc_pvalue_{tag}",
        "tick_loss_vs_benchmark": f"loss_dm_pvalue_{tag}",
        "independence_mc": f"independence_mc_pvalue_{tag}",
        "binomial_coverage": f"binomial_pvalue_{tag}",
        "binomial_coverage_last_250": f"binomial_pvalue_{tag}_last250",
        "tail_coverage": f"tail_pvalue_{tag}",
        "conditional_coverage_mc": f"cc_mc_pvalue_{tag}",
    }[test]


def var_gate_blocks(evidence: dict[str, Any], policy: Policy | None) -> list[Block]:
    """The VaR family's small-sample gate tests per level, with their gate limits."""
    rows = []
    for tag, tests in (evidence.get("backtests") or {}).items():
        for test, label, window in _VAR_TESTS:
            res = tests.get(test)
            if not res:
                continue
            limit = _limit(policy, _metric_of(test, tag))
            pvalue = res.get("pvalue")
            if limit.startswith("p ≥") and pvalue is not None:
                verdict = "pass" if float(pvalue) >= float(limit[4:]) else "FAIL"
            else:
                verdict = "reported"
            rows.append(
                (
                    f"{tag}%",
                    label,
                    window,
                    f"{res.get('exceptions')} / {res.get('n')}",
                    fmt(pvalue),
                    limit,
                    verdict,
                )
            )
    if not rows:
        return []
    return [
        Table(
            ("level", "test", "window", "exceptions / days", "p-value", "gate", "result"),
            tuple(rows),
            "VaR gate tests with their measured size and power (issues 13 and 27, docs/gates.md)",
        )
    ]


def anomaly_baseline_blocks(metrics: dict[str, Any]) -> list[Block]:
    """The detector against the naive |standardised return| rule, recall by span, band."""
    if "naive_event_recall" not in metrics:
        return []

    def share(value: Any) -> str:
        number = None if value is None else float(value)
        return "not evaluated" if number is None or not math.isfinite(number) else f"{number:.1%}"

    def count(key: str) -> str:
        value = metrics.get(key)
        return "–" if value is None else str(int(float(value)))

    low, high = metrics.get("alert_rate_band_low"), metrics.get("alert_rate_band_high")
    pairs = (
        ("Event recall in the top 1%, detector", share(metrics.get("event_recall"))),
        (
            "Event recall in the top 1%, naive |ret_z| rule",
            share(metrics.get("naive_event_recall")),
        ),
        (
            "Event recall, events inside the training span",
            f"{share(metrics.get('event_recall_in_train'))} of {count('n_events_in_train')}",
        ),
        (
            "Event recall, events after the training span",
            f"{share(metrics.get('event_recall_out_of_train'))} of {count('n_events_holdout')}",
        ),
        (
            "Held-out events flagged at the deployed threshold",
            share(metrics.get("event_recall_holdout")),
        ),
        (
            "Held-out alert rate (99% binomial band for a calm period)",
            f"{share(metrics.get('alert_rate_holdout'))} ({share(low)} to {share(high)})",
        ),
        (
            "Held-out alert rate of the naive rule, same days and target (gated: McNemar)",
            f"{share(metrics.get('naive_alert_rate_holdout'))}; days only the detector "
            f"flags {count('alerts_detector_only')}, only the rule "
            f"{count('alerts_naive_only')}, p = {fmt(metrics.get('alert_rate_vs_naive_pvalue'))}",
        ),
    )
    return [Facts(pairs)]


def drift_record(drift: dict[str, Any], policy: Policy | None) -> tuple[str, str]:
    """One line: the drift share and columns, and what the policy makes of it."""
    if drift.get("evaluated") is False:  # no recent window (credit): say so, no share
        return ("Data drift record", f"not evaluated: {drift.get('reason')}")
    share = float(drift.get("share_of_drifted_columns", 0.0))
    columns = ", ".join(drift.get("drifted_columns") or []) or "none"
    if policy is None:
        role = "policy unknown"
    elif policy.data_drift.veto:
        role = f"a veto above {policy.data_drift.max_drift_share:.0%} (policy)"
    else:
        role = "recorded, not a veto (policy): a reason to monitor and retrain"
    return ("Data drift record", f"{share:.0%} of features drifted ({columns}); {role}")
