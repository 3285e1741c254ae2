"""The market-anomaly family: unsupervised detectors of stressed market days.

Training scheme
---------------
Anomaly detection has no labels to leak, so fitting on all history would be
defensible; we still hold out the last 20% of days (``holdout_fraction``) and fit on
the rest. That buys two honest checks that an all-history fit cannot give: whether
the threshold calibrated on the training days flags the target share of *new* days
(``alert_rate_holdout``), and whether the curated stress days inside the tail
(2015-2018 on the bundled data) are found by a model that never saw them. Event
recall is computed over all days (training and held-out), since most curated events
lie in the training span; the evidence marks which events were held out.

Data
----
The reference data is ``us_indices`` (S&P 500 and NASDAQ Composite with OHLCV): it
gives every feature, including the cross-asset ones, and the curated events are US
events. Any other market dataset works with the features its columns allow; the
events only count where their dates fall inside the data.

What the detectors find besides the curated days (read from ``top_alerts.json``):
the dot-com years' days when the NASDAQ and the S&P 500 parted ways (high
``dispersion``, e.g. the Fed's surprise cut on 2001-01-03), and shortened sessions
before holidays (very low ``volume_change``), which the autoencoder in particular
flags. The LOF also treats the record-calm 2017 as unusual, which raises its held-out
alert rate. These are genuine departures from the training days, not stress.

The target alert rate is ``extra["alert_rate"]`` when given, else ``1 - level``
(``--level 0.99`` gives 1%). Other ``extra`` keys: ``holdout_fraction`` (0.2) and
``explain_sample`` (500: ordinary days explained, besides the top days and the
curated events, for the global SHAP plots). ``--tune`` is ignored: without labels there is nothing
to tune against except the curated events, and tuning on them would turn the
evaluation into training data.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from riskops.anomaly.evaluate import AnomalyEvaluation, evaluate_detector, event_table, top_k
from riskops.anomaly.features import WARMUP_DAYS, build_features
from riskops.anomaly.models import (
    AutoencoderDetector,
    EnsembleDetector,
    IsolationForestDetector,
    LOFDetector,
    score_frame,
    top_shares,
)
from riskops.data.market import MarketDataset
from riskops.errors import BadInputError
from riskops.families.base import Family, LiveTraits, TrainingOutcome, TrainOptions, scalar_params
from riskops.families.contracts import Contract

if TYPE_CHECKING:
    from riskops.documents.family import FamilyDocuments

__all__ = ["AnomalyFamily", "make_detector"]

RECENT_DAYS = 250
_TOP_DRIVERS = 3
_REPORTED_METRICS = (
    "event_recall",
    "precision_at_k",
    "event_recall_tol1",
    "precision_at_k_tol1",
    "alert_rate_holdout",
    "alert_rate_train",
    "target_alert_rate",
    "alert_rate_band_low",
    "alert_rate_band_high",
    "score_stability",
    "n_events",
    "n_days",
    "naive_event_recall",
    "naive_precision_at_k",
    "event_recall_in_train",
    "event_recall_out_of_train",
    "event_recall_holdout",
    "n_events_in_train",
    "n_events_holdout",
    "naive_alert_rate_holdout",
    "abs_return_alert_rate_holdout",
    "alerts_detector_only",
    "alerts_naive_only",
    "alert_rate_vs_naive_pvalue",
)


def _alert_rate(options: TrainOptions) -> float:
    """The target alert rate: ``extra["alert_rate"]``, else ``1 - level``."""
    alert_rate = float(options.extra.get("alert_rate", round(1.0 - options.level, 10)))
    if not 0 < alert_rate < 0.5:
        raise BadInputError(f"alert_rate: must be in (0, 0.5), got {alert_rate}")
    return alert_rate


def make_detector(model: str, alert_rate: float = 0.01, seed: int | None = 42) -> Any:
    """An unfitted detector by its ``--model`` name."""
    if model == "ensemble":
        return EnsembleDetector(alert_rate=alert_rate, random_state=seed)
    if model == "isolation_forest":
        return IsolationForestDetector(alert_rate=alert_rate, random_state=seed)
    if model == "lof":
        return LOFDetector(alert_rate=alert_rate)
    if model == "autoencoder":
        return AutoencoderDetector(alert_rate=alert_rate, random_state=seed)
    raise BadInputError(
        f"model: unknown anomaly model {model!r}; one of {list(AnomalyFamily.models)}"
    )


class AnomalyFamily(Family):
    """Daily market-anomaly detection on index histories (see the module docstring).

    The contract for a user's model: a scikit-learn outlier detector (``IsolationForest``,
    ``LocalOutlierFactor(novelty=True)``, ``OneClassSVM``...) with ``fit(X)`` and
    ``score_samples(X)`` or ``decision_function(X)`` (lower = more abnormal, scikit-learn's
    convention).
    """

    name: ClassVar[str] = "anomaly"
    registered_name: ClassVar[str] = "market_anomaly"
    domain: ClassVar[str] = "market"
    models: ClassVar[tuple[str, ...]] = ("ensemble", "isolation_forest", "lof", "autoencoder")
    pyfunc_predict_fn: ClassVar[str] = "predict"
    primary_metric: ClassVar[str] = "event_recall"
    key_metrics: ClassVar[tuple[str, ...]] = (
        "event_recall",
        "naive_event_recall",
        "alert_rate_holdout",
    )
    fit_cost: ClassVar[int] = 3
    contract: ClassVar[Contract] = Contract(
        required=(("fit",), ("score_samples", "decision_function")),
        hint="a scikit-learn outlier detector",
    )
    trusted_types: ClassVar[tuple[str, ...]] = (
        # sklearn's tree structure has a skops loader; the LOF's KD-tree and its metric and
        # the autoencoder's Adam state are plain Cython/Python state
        "riskops.anomaly.models.AutoencoderDetector",
        "riskops.anomaly.models.EmpiricalTail",
        "riskops.anomaly.models.EnsembleDetector",
        "riskops.anomaly.models.IsolationForestDetector",
        "riskops.anomaly.models.LOFDetector",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.tree._tree.Tree",
    )
    default_dataset = "us_indices"

    def builtin(self, kind: str, options: TrainOptions) -> Any:
        return make_detector(kind, _alert_rate(options), options.seed)

    def adapt(self, spec: Any, options: TrainOptions) -> Any:
        """A user's outlier detector wrapped in
        :class:`~riskops.anomaly.any_model.OutlierDetector` (scores higher = more anomalous,
        a calibrated threshold, drivers); the target alert rate applied to either."""
        from riskops.anomaly.any_model import OutlierDetector, implements_platform_detector

        alert_rate = _alert_rate(options)
        if not implements_platform_detector(spec):
            spec = OutlierDetector(spec, alert_rate=alert_rate)
        if "alert_rate" in spec.get_params(deep=False):
            spec.set_params(alert_rate=alert_rate)
        return spec

    def _fit(
        self,
        dataset: MarketDataset,
        options: TrainOptions,
        workdir: Path,
        spec: Any,
        kind: str,
    ) -> TrainingOutcome:
        """Fit ``spec`` (a built-in detector or a user's scikit-learn outlier detector,
        adapted) on the training days, evaluate it on held-out days and known events."""
        estimator, model = spec, kind
        extra = dict(options.extra)
        alert_rate = _alert_rate(options)
        holdout_fraction = float(extra.get("holdout_fraction", 0.2))
        if not 0 < holdout_fraction < 1:
            raise BadInputError(f"holdout_fraction: must be in (0, 1), got {holdout_fraction}")

        features = build_features(dataset)
        evaluation = AnomalyEvaluation.split(features, holdout_fraction, seed=options.seed)
        train = evaluation.train
        if len(train) < 50:
            raise BadInputError(
                f"data: {len(train)} training days after the {WARMUP_DAYS}-day warm-up; need 50"
            )
        estimator.fit(train)
        metrics, scores = evaluate_detector(estimator, evaluation)

        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        frame = score_frame(estimator, features)
        frame["rank"] = scores.rank(ascending=False, method="min").astype(int)
        frame["holdout"] = features.index >= evaluation.holdout_start
        frame.to_parquet(workdir / "scores.parquet")

        events = event_table(scores, evaluation.events, evaluation.top_fraction)
        events["holdout"] = events.index >= evaluation.holdout_start
        event_records = _records(events)
        (workdir / "events.json").write_text(json.dumps(event_records, indent=2))

        k = top_k(len(scores), evaluation.top_fraction)
        top_index = scores.sort_values(ascending=False, kind="stable").index[:k]
        explained = _explained_rows(
            features, top_index, events.index, options.seed, int(extra.get("explain_sample", 500))
        )
        shares = estimator.feature_shares(explained)
        shares.to_parquet(workdir / "attributions.parquet")
        top_alerts = _top_alerts(shares.loc[top_index], features, frame, evaluation.events)
        (workdir / "top_alerts.json").write_text(json.dumps(top_alerts, indent=2))
        _write_shap(estimator, explained, workdir / "shap")
        plot_timeline(dataset, frame, estimator.decision_threshold_, events, workdir)

        params = {
            "model": model,
            "alert_rate": alert_rate,
            "holdout_fraction": holdout_fraction,
            "top_fraction": evaluation.top_fraction,
            "seed": options.seed,
            "features": ",".join(features.columns),
            "n_train": len(train),
            "n_holdout": len(evaluation.holdout),
            "train_start": str(train.index[0].date()),
            "train_end": str(train.index[-1].date()),
            "holdout_start": str(evaluation.holdout_start.date()),
            "holdout_end": str(features.index[-1].date()),
            "dataset": dataset.name,
        } | {f"detector_{k}": v for k, v in scalar_params(estimator, deep=True).items()}
        return TrainingOutcome(
            estimator=estimator,
            model_kind=model,
            params=params,
            metrics={name: metrics[name] for name in _REPORTED_METRICS},
            evidence={
                "events": event_records,
                "top_alerts": top_alerts,
                "alert_threshold": float(estimator.decision_threshold_),
                "k": k,
                "holdout_start": str(evaluation.holdout_start.date()),
            },
            artifact_dir=workdir,
            input_example=features.iloc[:5].copy(),
            reference=train.copy(),
            evaluation=evaluation,
        )

    def live_traits(self) -> LiveTraits:
        """One state per detector reading a bar of all its assets; its live alert rate read
        against the training run's ``target_alert_rate``."""
        return LiveTraits(multi_asset=True, reference_metric="target_alert_rate")

    def online(self, estimator: Any, history: Any = None, checkpoint: Any = None) -> Any:
        """The live state (:class:`riskops.anomaly.online.AnomalyState`): each day's bar in,
        its score, percentile and alert out. ``history`` is the
        :class:`~riskops.data.market.MarketDataset` of the days before the stream (a
        detector keeps no raw data, so there is no default); or ``checkpoint`` resumed."""
        from riskops.anomaly.online import AnomalyState

        if checkpoint is not None:
            return AnomalyState.from_dict(checkpoint, estimator)
        return AnomalyState(estimator, history=history)

    def service_route(self) -> Any:
        from riskops.anomaly.serving import ROUTE

        return ROUTE

    def documents(self) -> FamilyDocuments:
        """The anomaly family's part of cards and reports (:mod:`riskops.anomaly.documents`)."""
        from riskops.anomaly.documents import DOCUMENTS

        return DOCUMENTS

    def evaluate(self, estimator: Any, evaluation: AnomalyEvaluation) -> dict[str, float]:
        trained_on = [str(c) for c in getattr(estimator, "feature_names_in_", [])]
        if trained_on and trained_on != list(evaluation.features.columns):
            # A champion fitted on data with other columns (e.g. close-only) cannot be
            # compared on this window; say so instead of failing inside scikit-learn.
            raise BadInputError(
                f"anomaly: the model was fitted on features {trained_on}, but this window "
                f"has {list(evaluation.features.columns)}"
            )
        metrics, _ = evaluate_detector(estimator, evaluation)
        return {name: metrics[name] for name in _REPORTED_METRICS}

    def features(self, dataset: MarketDataset) -> pd.DataFrame:
        return build_features(dataset)

    def score(self, estimator: Any, features: pd.DataFrame) -> pd.Series:
        return pd.Series(
            estimator.score_samples(features), index=features.index, name="anomaly_score"
        )

    def recent_window(self, dataset: MarketDataset) -> MarketDataset:
        """The last 250 days, plus the warm-up the rolling features need before them.

        ``features(recent_window(d))`` therefore has one row for each of the last 250
        days (fewer only where inputs are missing), identical to the rows of
        ``features(d)`` for those days.
        """
        index = dataset.returns.index
        start = index[max(0, len(index) - RECENT_DAYS - WARMUP_DAYS)]
        return dataset.window(start=start)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dict("records")
    return [
        {"date": str(date.date())} | {str(k): _plain(v) for k, v in row.items()}
        for date, row in zip(pd.DatetimeIndex(frame.index), rows, strict=True)
    ]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _top_alerts(
    shares: pd.DataFrame, features: pd.DataFrame, frame: pd.DataFrame, events: pd.DataFrame
) -> list[dict[str, Any]]:
    """The top days with score, percentile, alert flag, event name and main drivers."""
    explanation = top_shares(shares, features.loc[shares.index], _TOP_DRIVERS)
    facts: dict[Any, dict[Any, Any]] = frame.loc[shares.index].to_dict("index")
    names: dict[Any, Any] = events["name"].to_dict()
    out = []
    for date in pd.DatetimeIndex(shares.index):
        row = facts[date]
        drivers = explanation.loc[[date]]
        out.append(
            {
                "date": str(date.date()),
                "rank": int(row["rank"]),
                "score": float(row["score"]),
                "percentile": float(row["percentile"]),
                "alert": int(row["alert"]),
                "holdout": bool(row["holdout"]),
                "event": str(names[date]) if date in names else None,
                "drivers": [
                    {"feature": str(f), "share": float(sh), "value": float(v)}
                    for f, sh, v in zip(
                        drivers["feature"], drivers["share"], drivers["value"], strict=True
                    )
                ],
            }
        )
    return out


def _explained_rows(
    features: pd.DataFrame, top_index: pd.Index, event_index: pd.Index, seed: int, sample: int
) -> pd.DataFrame:
    """Top days first (so the SHAP waterfalls show the top three), then events, then a
    seeded sample of ``sample`` other days for the global SHAP plots."""
    chosen = list(top_index) + [d for d in event_index if d not in set(top_index)]
    rest = features.index.difference(pd.DatetimeIndex(chosen))
    n_sample = min(max(sample, 0), len(rest))
    drawn = np.random.default_rng(seed).choice(len(rest), size=n_sample, replace=False)
    return features.loc[chosen + list(rest[np.sort(drawn)])]


def _write_shap(estimator: Any, rows: pd.DataFrame, out_dir: Path) -> None:
    """Tree SHAP of the isolation forest (the ensemble's member), when there is one."""
    inputs: Any
    if isinstance(estimator, EnsembleDetector):
        # The members were fitted on the ensemble's validated array, without names.
        forest, inputs = estimator.members_["isolation_forest"], rows.to_numpy()
    elif isinstance(estimator, IsolationForestDetector):
        forest, inputs = estimator, rows
    else:
        return
    from riskops.explain import write_shap_artifacts

    contributions, base_value = forest.shap_values(inputs)
    write_shap_artifacts(contributions, base_value, rows.reset_index(drop=True), out_dir)


def plot_timeline(
    dataset: MarketDataset,
    frame: pd.DataFrame,
    threshold: float,
    events: pd.DataFrame,
    out_dir: Path,
) -> Path:
    """Index level and anomaly score over time, alerts and curated events marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(13, 7), sharex=True, height_ratios=(1, 2))
    if dataset.close is not None:
        level = dataset.close[dataset.primary].loc[frame.index[0] :]
        top.plot(level.index, level.to_numpy(), color="0.3", lw=0.8)
        top.set_yscale("log")
        top.set_ylabel(f"{dataset.primary} close")
    else:
        level = (1 + dataset.returns[dataset.primary].loc[frame.index[0] :] / 100).cumprod()
        top.plot(level.index, level.to_numpy(), color="0.3", lw=0.8)
        top.set_ylabel(f"{dataset.primary} growth of 1")
    bottom.plot(frame.index, frame["score"].to_numpy(), color="tab:blue", lw=0.6, label="score")
    bottom.axhline(threshold, color="tab:orange", lw=1, ls="--", label="alert threshold")
    alerts = frame[frame["alert"] == 1]
    bottom.scatter(alerts.index, alerts["score"], s=10, color="tab:red", zorder=3, label="alert")
    for date, row in events.iterrows():
        colour = "tab:green" if row["in_top"] else "tab:purple"
        for axis in (top, bottom):
            axis.axvline(date, color=colour, lw=0.7, alpha=0.6)
        bottom.annotate(
            row["name"],
            (date, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=6,
            va="top",
            ha="right",
            color=colour,
            xytext=(-1, -2),
            textcoords="offset points",
        )
    holdout = frame.index[frame["holdout"].to_numpy()]
    if len(holdout):
        for axis in (top, bottom):
            axis.axvspan(holdout[0], holdout[-1], color="0.9", zorder=0)
    bottom.set_ylabel("anomaly score")
    bottom.legend(loc="upper left", fontsize=7)
    bottom.set_title(
        "green: curated event in the top 1%, purple: missed; grey band: held out", fontsize=8
    )
    fig.tight_layout()
    path = Path(out_dir) / "score_timeline.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
