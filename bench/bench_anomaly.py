"""Market anomaly detectors side by side: known-event recall, calibration, stability, cost.

All figures use the family's own split (first 80% of days to fit, last 20% held out) and
the curated stress days of ``riskops.anomaly.events``, fixed before any model was run.

1. The four detectors on ``us_indices`` (S&P 500 + NASDAQ, OHLCV), seed 42 (the
   default): event recall in the top 1% (exact day and +-1 trading day), precision at
   k, held-out alert rate against the 1% target, stability, fit time as a ratio to the
   isolation forest's.
2. Seed sensitivity of the ensemble (seeds 0-4): the same data, other seeds.
3. The ensemble fitted on all history (no held-out tail), for comparison with the
   family's choice.
4. Other histories: S&P 500 alone, the NASDAQ as a close-only CSV, and EuStockMarkets
   (no curated events in 1991-1998: calibration and stability only); and transfer, an
   ensemble fitted on the S&P 500 alone scoring the NASDAQ.

Run: ``.venv/bin/python bench/bench_anomaly.py`` (a few minutes on two cores).
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from riskops.anomaly.evaluate import AnomalyEvaluation, evaluate_detector, event_metrics
from riskops.anomaly.events import events_in
from riskops.anomaly.family import AnomalyFamily, make_detector
from riskops.anomaly.features import build_features
from riskops.data.market import MarketDataset, load_market

SEED = 42
MODELS = AnomalyFamily.models
KEEP = (
    "event_recall",
    "event_recall_tol1",
    "precision_at_k",
    "precision_at_k_tol1",
    "alert_rate_holdout",
    "alert_rate_train",
    "score_stability",
    "n_events",
    "n_days",
    "k",
)


def run(
    model: str, evaluation: AnomalyEvaluation, seed: int = SEED, stability: bool = True
) -> dict[str, Any]:
    detector = make_detector(model, 0.01, seed)
    started = time.perf_counter()
    detector.fit(evaluation.train)
    fit_s = time.perf_counter() - started
    metrics, scores = evaluate_detector(detector, evaluation, stability=stability)
    out = {k: _round(metrics[k]) for k in KEEP}
    out["fit_s"] = round(fit_s, 2)
    missed = evaluation.events.index.difference(
        scores.index[scores.rank(ascending=False, method="min") <= metrics["k"]]
    )
    out["missed"] = [str(d.date()) for d in missed]
    return out


def _round(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 4)


def close_only_nasdaq(folder: Path) -> MarketDataset:
    nasdaq = load_market(bundled="nasdaq")
    path = folder / "nasdaq_close.csv"
    nasdaq.close.rename(columns={"nasdaq": "close"}).rename_axis("date").to_csv(path)
    return load_market(path, date_col="date", price_col="close", asset="nasdaq_csv")


def main() -> None:
    result: dict[str, Any] = {"seed": SEED, "split": "first 80% fit, last 20% held out"}
    us = AnomalyEvaluation.split(build_features(load_market(bundled="us_indices")), seed=SEED)
    result["us_indices"] = {
        "train": [str(us.train.index[0].date()), str(us.train.index[-1].date())],
        "holdout": [str(us.holdout.index[0].date()), str(us.holdout.index[-1].date())],
        "models": {m: run(m, us) for m in MODELS},
    }
    models = result["us_indices"]["models"]
    base = models["isolation_forest"]["fit_s"]
    for m in MODELS:
        models[m]["fit_time_ratio_vs_iforest"] = round(models[m]["fit_s"] / base, 2)

    seeds = {s: run("ensemble", us, seed=s, stability=False)["event_recall"] for s in range(5)}
    result["ensemble_seed_sensitivity"] = {
        "event_recall_by_seed": seeds,
        "min": min(seeds.values()),
        "median": statistics.median(seeds.values()),
        "max": max(seeds.values()),
    }

    everything = make_detector("ensemble", 0.01, SEED).fit(us.features)
    scores = pd.Series(everything.score_samples(us.features), index=us.features.index)
    result["ensemble_fit_on_all_history"] = {
        k: _round(v) for k, v in event_metrics(scores, us.events).items()
    }

    with tempfile.TemporaryDirectory() as tmp:
        others = {
            "sp500": load_market(bundled="sp500"),
            "nasdaq_close_only_csv": close_only_nasdaq(Path(tmp)),
            "eustocks": load_market(bundled="eustocks"),
        }
        result["other_histories"] = {}
        for name, dataset in others.items():
            features = build_features(dataset)
            evaluation = AnomalyEvaluation.split(features, seed=SEED)
            result["other_histories"][name] = {
                "features": list(features.columns),
                "ensemble": run("ensemble", evaluation),
            }

    sp500 = AnomalyEvaluation.split(build_features(load_market(bundled="sp500")), seed=SEED)
    nasdaq_features = build_features(load_market(bundled="nasdaq"))
    transfer = make_detector("ensemble", 0.01, SEED).fit(sp500.train)
    nasdaq_scores = pd.Series(transfer.score_samples(nasdaq_features), index=nasdaq_features.index)
    result["transfer_sp500_to_nasdaq"] = {
        k: _round(v)
        for k, v in event_metrics(nasdaq_scores, events_in(nasdaq_scores.index)).items()
    }

    _print_table(result)
    out = Path(__file__).parent / "results" / "bench_anomaly.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


def _print_table(result: dict[str, Any]) -> None:
    header = (
        f"{'us_indices':<18}{'recall':>8}{'±1 day':>8}{'prec@k':>8}"
        f"{'alerts ho':>10}{'stability':>10}{'fit s':>8}{'ratio':>7}"
    )
    print(header)
    for model, row in result["us_indices"]["models"].items():
        print(
            f"{model:<18}{row['event_recall']:>8.3f}{row['event_recall_tol1']:>8.3f}"
            f"{row['precision_at_k']:>8.3f}{row['alert_rate_holdout']:>10.4f}"
            f"{row['score_stability']:>10.3f}{row['fit_s']:>8.2f}"
            f"{row['fit_time_ratio_vs_iforest']:>7.2f}"
        )
    seeds = result["ensemble_seed_sensitivity"]
    print(f"ensemble recall over seeds 0-4: {seeds['event_recall_by_seed']}")
    print(f"ensemble fitted on all history: {result['ensemble_fit_on_all_history']}")
    for name, row in result["other_histories"].items():
        e = row["ensemble"]
        print(
            f"{name:<24} recall={e['event_recall']} tol1={e['event_recall_tol1']} "
            f"alerts_holdout={e['alert_rate_holdout']} stability={e['score_stability']} "
            f"features={len(row['features'])}"
        )
    print(f"transfer sp500 -> nasdaq: {result['transfer_sp500_to_nasdaq']}")


if __name__ == "__main__":
    main()
