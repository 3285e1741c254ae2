"""A champion's live record since its promotion: the forecasts it issued, what happened, scored.

:func:`live_frame` joins a stream's scores (each observation) with the forecast issued for
it, in :class:`~riskops.market.rolling.RollingBacktest`'s layout, so that
:func:`~riskops.market.live_backtest.live_scores` scores it with the promotion backtest's
own functions. :func:`live_summary` is what a risk desk reads every morning (``GET
/market/live``, ``riskops live``, the card's "since promotion" section, the retrained
challenger's gate evidence): last observation, zone, exceptions, p-values, alarms, and the
seals of the streams it was computed from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskops.evidence.store import EvidenceStore
from riskops.live import kinds

__all__ = [
    "champion_record",
    "live_desk",
    "live_frame",
    "live_streams",
    "live_summary",
    "model_record",
]

REPORTED = (
    "binomial_pvalue_{tag}_last250",
    "binomial_pvalue_{tag}",
    "kupiec_pvalue_{tag}",
    "independence_mc_pvalue_{tag}",
    "clustering_mc_pvalue_{tag}",
    "cc_mc_pvalue_{tag}",
    "es_pvalue_{tag}",
)
"""The p-values a live summary shows per level (the promotion backtest's names)."""


def live_streams(store: EvidenceStore, name: str, version: int | None = None) -> list[str]:
    """The live streams of a model (of one version), oldest version first."""
    prefix = f"{name}/" if version is None else f"{name}/v{int(version)}/"
    return sorted(s for s in store.streams(kinds.SCORES) if s.startswith(prefix))


def live_frame(store: EvidenceStore, stream: str, through_seq: int | None = None) -> pd.DataFrame:
    """One row per scored observation, oldest first, indexed by its timestamp: ``ret`` and
    the forecast issued for it (``var_{lvl}``/``es_{lvl}``; ``variance`` and
    ``benchmark_variance``; ``alert`` and ``score``); up to score row ``through_seq`` (what a
    seal of the scores taken before covers) when given."""
    scores = store.rows(kinds.SCORES, stream)
    if through_seq is not None:
        scores = [s for s in scores if s["seq"] <= through_seq]
    forecasts = {r["key"]: kinds.loads(r["forecast"]) for r in store.rows(kinds.FORECASTS, stream)}
    rows = []
    for score in scores:
        issued = forecasts.get(str(score["forecast_seq"])) or {}
        outcome = kinds.loads(score["outcome"]) or {}
        row: dict[str, Any] = {"ts": pd.Timestamp(score["ts"]), "ret": score["ret"]}
        for tag, value in (issued.get("var") or {}).items():
            row[f"var_{tag}"] = value
        for tag, value in (issued.get("es") or {}).items():
            row[f"es_{tag}"] = value
        # A VaR model's variance is an input of its VaR, not a forecast it is judged on.
        for name in ("variance", "benchmark_variance"):
            if issued.get(name) is not None and not issued.get("var"):
                row[name] = issued[name]
        if "alert" in outcome:
            row["alert"] = np.nan if outcome["alert"] is None else float(bool(outcome["alert"]))
            row["score"] = outcome.get("score")
        rows.append(row)
    if not rows:
        return pd.DataFrame({"ret": pd.Series(dtype=float)})
    return pd.DataFrame(rows).set_index("ts")


def live_summary(
    store: EvidenceStore,
    stream: str,
    *,
    backtest_hits: dict[float, np.ndarray] | None = None,
    target_alert_rate: float | None = None,
) -> dict[str, Any]:
    """The live record of one stream, scored (:func:`~riskops.market.live_backtest.live_scores`)
    and summarised: last observation, exceptions, zone, p-values, alarms, seals."""
    from riskops.live.watch import LEVEL, cusum_design
    from riskops.market.live_backtest import live_scores
    from riskops.market.rolling import level_tag

    name, version_text, series = stream.split("/", 2)
    version = int(version_text.removeprefix("v"))
    frame = live_frame(store, stream)
    var_columns = [c for c in frame.columns if c.startswith("var_")]
    scored = frame.drop(columns=[c for c in ("score",) if c in frame])
    if "alert" in scored:
        scored = scored.dropna(subset=["alert"])
    if var_columns:
        scored = scored.dropna(subset=var_columns)
    if "variance" in scored:
        scored = scored.dropna(subset=["variance"])
    scores = live_scores(
        scored,
        backtest_hits=backtest_hits,
        cusum=cusum_design() if var_columns else None,
        target_alert_rate=target_alert_rate,
    )
    summary: dict[str, Any] = {
        "model": name,
        "version": version,
        "series": series,
        "stream": stream,
        "days": scores.n,
        "first_day": scores.start,
        "last_day": scores.end,
        "last_observation": None,
        "not_evaluated": dict(scores.not_evaluated),
    }
    if len(frame):
        last = frame.iloc[-1]
        summary["last_observation"] = {"ts": str(frame.index[-1]), "ret": float(last["ret"])}
    head = store.rows(
        kinds.FORECASTS, stream, after_seq=max(0, store.head(kinds.FORECASTS, stream)[0] - 1)
    )
    summary["next_forecast"] = (
        kinds.loads(head[0]["forecast"]) | {"based_on": head[0]["based_on"]} if head else None
    )
    levels: dict[str, Any] = {}
    for tag, section in scores.var.items():
        metrics = section["metrics"]
        levels[tag] = {
            "exceptions": section["exceptions"],
            "expected": section["expected"],
            "exception_rate": section["exception_rate"],
            "traffic_light_last_250": section["traffic_light_last_250"].get("zone"),
            "traffic_light_with_backtest_last_250": (
                section.get("traffic_light_with_backtest_last_250") or {}
            ).get("zone"),
            "pvalues": {
                key.format(tag=tag): metrics.get(key.format(tag=tag))
                for key in REPORTED
                if key.format(tag=tag) in metrics
            },
        }
        if "cusum" in section:
            levels[tag]["cusum"] = section["cusum"]
    if levels:
        summary["var"] = levels
        watched = levels.get(level_tag(LEVEL), {})
        summary["zone"] = watched.get("traffic_light_with_backtest_last_250") or watched.get(
            "traffic_light_last_250"
        )
    if scores.volatility is not None:
        summary["volatility"] = scores.volatility
    if scores.anomaly is not None:
        summary["anomaly"] = scores.anomaly
    summary["alarms"] = [
        {
            "key": r["key"],
            "detector": r["detector"],
            "day": r["ts"],
            "detail": kinds.loads(r["detail"]),
        }
        for r in store.rows(kinds.ALARMS, name)
        if r["version"] == version and r["series"] == series
    ]
    summary["seals"] = {
        "scores": store.seal(kinds.SCORES, stream),
        "forecasts": store.seal(kinds.FORECASTS, stream),
        "alarms": store.seal(kinds.ALARMS, name),
    }
    return summary


def model_record(
    store: EvidenceStore,
    name: str,
    version: int,
    *,
    backtest_hits: dict[float, np.ndarray] | None = None,
    target_alert_rate: float | None = None,
) -> dict[str, Any]:
    """Every live stream of one champion version, summarised (the "since promotion" record
    of its card and of a retrained challenger's gate evidence)."""
    streams = live_streams(store, name, version)
    return {
        "model": name,
        "version": int(version),
        "streams": [
            live_summary(store, s, backtest_hits=backtest_hits, target_alert_rate=target_alert_rate)
            for s in streams
        ],
    }


def live_desk(settings: Any, name: str | None = None) -> list[dict[str, Any]]:
    """The morning view: every live champion (or ``name``'s) with each of its streams'
    summary (what ``GET /market/live`` and ``riskops live`` show)."""
    from riskops.ledger.loader import VerifiedLoader
    from riskops.live.champions import backtest_hits, live_champions, live_facts

    loader = VerifiedLoader(settings)
    store = EvidenceStore(settings)
    out = []
    for model, (version, family) in sorted(live_champions(loader).items()):
        if name is not None and model != name:
            continue
        backtest, rate = live_facts(loader, model, version)
        record = model_record(
            store, model, version, backtest_hits=backtest_hits(backtest), target_alert_rate=rate
        )
        out.append(record | {"family": family})
    return out


def champion_record(loader: Any, name: str, version: int) -> dict[str, Any] | None:
    """A champion version's live record for the gate evidence of its challenger: every
    stream summarised, and under ``audit`` what the register record keeps of it (the audit
    records of its alarms and the seals of its streams), or ``None`` without a live record."""
    from riskops.live.champions import backtest_hits, live_facts

    store = EvidenceStore(loader.settings)
    if not live_streams(store, name, version):
        return None
    backtest, rate = live_facts(loader, name, version)
    record = model_record(
        store, name, int(version), backtest_hits=backtest_hits(backtest), target_alert_rate=rate
    )
    alarms = [
        {"seq": r.seq, "alarm": r.body.get("alarm"), "detector": r.body.get("detector")}
        for r in loader.trail.records(name)
        if r.action == "alarm" and r.version == int(version)
    ]
    record["audit"] = {
        "version": int(version),
        "alarms": alarms,
        "seals": [s["seals"] for s in record["streams"]],
        "days": {s["series"]: s["days"] for s in record["streams"]},
    }
    return record
