"""The anomaly family's part of model cards and validation reports.

* its text (what a market-surveillance score is for and where it stops);
* performance tables: the detector against the **naive baseline** (ranking days by the
  absolute standardised return, same days, same top 1%), recall inside and outside the
  training span, recall of the held-out events at the deployed threshold and the binomial
  band of the held-out alert rate; then the curated events and their ranks;
* caveats read from the evidence (missed events, an alert rate far from its target, few
  events, none held out);
* the score timeline with the threshold, alerts and events, the run's own plot or drawn
  from its logged scores.

:data:`DOCUMENTS` is what :meth:`riskops.anomaly.family.AnomalyFamily.documents` returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from riskops.documents.blocks import Block, Facts, Table, fmt, number
from riskops.documents.family import FamilyDocuments, record_tables
from riskops.documents.figures import figure, png, pyplot, read_table
from riskops.documents.live import since_promotion
from riskops.documents.texts import FamilyText

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts
    from riskops.documents.figures import Drawn, Figure

__all__ = ["DOCUMENTS", "TEXT", "anomaly_baseline_blocks", "anomaly_timeline_png"]

FEW_EVENTS = 10
"""Event recall on fewer curated events than this gets a caveat."""

TEXT = FamilyText(
    title="Market surveillance: anomalous market days",
    purpose=(
        "Scores each trading day for how unusual its market behaviour is and raises an "
        "alert on the most anomalous days (about 1% by calibration)."
    ),
    intended_uses=(
        "Triage of stressed market days for risk managers, with the main drivers of each alert.",
        "An early-warning input to stress testing and model monitoring.",
    ),
    out_of_scope=(
        "Trade surveillance or market-abuse detection on individual orders.",
        "Automatic trading or hedging decisions.",
        "Markets or instruments other than the index it was trained on.",
    ),
    methodology=(
        "Unsupervised detectors (isolation forest, local outlier factor, autoencoder or "
        "their ensemble) on causal daily market features."
    ),
    assumptions=(
        "The training period contains mostly normal days.",
        "Curated stress events are a fair sample of what users want flagged.",
    ),
    limitations=(
        "There are no labels: event recall rests on a short, curated list of dates.",
        "An anomaly is unusual, not necessarily adverse; calm days after a crisis can "
        "also score high.",
        "Alert rates drift when volatility regimes change; the threshold is not "
        "re-calibrated between retrains.",
    ),
    evaluation=(
        "The alert threshold is calibrated to a target alert rate on the training days. "
        "Judged by recall of curated stress events against a naive |standardised return| rule, "
        "alert rate on held-out days and score stability."
    ),
    own_models=(
        "A data scientist's scikit-learn outlier detector is wrapped in the platform's "
        "OutlierDetector: scores where higher is more anomalous, the calibrated threshold, "
        "percentiles and occlusion driver shares."
    ),
)


def anomaly_baseline_blocks(metrics: dict[str, Any]) -> list[Block]:
    """The detector against the naive |standardised return| rule, recall by span, band."""
    if "naive_event_recall" not in metrics:
        return []

    def share(value: Any) -> str:
        rate = number(value)
        return "not evaluated" if rate is None else f"{rate:.1%}"

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


def tables(facts: VersionFacts) -> list[Block]:
    """The detector against the naive baseline, then the curated events and their ranks."""
    evidence, metrics = facts.evidence, facts.metrics
    if not evidence.get("events"):
        return record_tables(facts)
    events = tuple(
        (
            str(e.get("date", "")),
            str(e.get("name", "")),
            fmt(e.get("rank")),
            fmt(e.get("in_top")),
            fmt(e.get("holdout")),
        )
        for e in evidence["events"]
    )
    return [
        *anomaly_baseline_blocks(metrics),
        Table(
            ("date", "event", "rank", "in top 1%", "held out"),
            events,
            "Curated stress events and their rank among all days",
        ),
    ]


def caveats(facts: VersionFacts) -> list[str]:
    """Missed events, an alert rate far from its target, few events, none held out."""
    m, events = facts.metrics, facts.evidence.get("events") or []
    out = []
    missed = [f"{e.get('name')} ({e.get('date')})" for e in events if not e.get("in_top")]
    if missed:
        out.append(f"Missed {len(missed)} of {len(events)} curated events: {', '.join(missed)}.")
    rate, target = number(m.get("alert_rate_holdout")), number(m.get("target_alert_rate"))
    if rate is not None and target and (rate > 2 * target or rate < target / 2):
        out.append(f"Held-out alert rate {rate:.2%} is far from the {target:.2%} target.")
    if events and len(events) < FEW_EVENTS:
        out.append(f"Event recall rests on only {len(events)} curated events.")
    held = sum(1 for e in events if e.get("holdout"))
    if events and not held:
        out.append("No curated event falls in the held-out days.")
    return out


def anomaly_timeline_png(
    scores: pd.DataFrame, threshold: float | None, events: list[dict[str, Any]]
) -> bytes:
    """Anomaly score over time with the threshold, alerts and curated events."""
    fig, ax = pyplot().subplots(figsize=(12, 4))
    ax.plot(scores.index, scores["score"], color="tab:blue", lw=0.6, label="score")
    if threshold is not None:
        ax.axhline(threshold, color="tab:orange", lw=1, ls="--", label="alert threshold")
    if "alert" in scores:
        alerts = scores[scores["alert"] == 1]
        ax.scatter(alerts.index, alerts["score"], s=10, color="tab:red", zorder=3, label="alert")
    for event in events:
        colour = "tab:green" if event.get("in_top") else "tab:purple"
        ax.axvline(pd.Timestamp(event["date"]), color=colour, lw=0.7, alpha=0.6)
    if "holdout" in scores and scores["holdout"].any():
        held = scores.index[scores["holdout"].to_numpy(dtype=bool)]
        ax.axvspan(held[0], held[-1], color="0.9", zorder=0, label="held out")
    ax.set_ylabel("anomaly score")
    ax.set_title("Score timeline; green: curated event found, purple: missed", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    return png(fig)


def figures(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    """The score timeline with the threshold, alerts and curated events."""

    def generate() -> Drawn | None:
        scores = read_table(facts, "scores.parquet")
        if scores is None:
            return None
        threshold = facts.evidence.get("alert_threshold")
        events = facts.evidence.get("events") or []
        return anomaly_timeline_png(scores, threshold, events), "scores.parquet"

    return [
        figure(
            facts,
            "score_timeline",
            "Anomaly score timeline with alerts and events",
            "score_timeline.png",
            used,
            generate,
        )
    ]


DOCUMENTS = FamilyDocuments(
    TEXT, sections=since_promotion, tables=tables, caveats=caveats, figures=figures
)
"""The anomaly family's part of its versions' cards and reports."""
