"""How good is an unsupervised detector? Calibration, stability and known-event recall.

There are no labels, so three kinds of evidence stand in for them:

* **calibration**: the share of held-out days flagged, against the target alert rate
  the threshold was calibrated to on the training days;
* **stability**: the Spearman rank correlation between the scores of two refits of the
  same specification on different random 80% subsamples of the training days, with
  different seeds (1 means the ranking does not depend on the sample or the seed);
* **known-event recall**: the share of curated stress days
  (:mod:`riskops.anomaly.events`) that rank among the top 1% of all days by score, and
  the precision of those top days (``k`` = the number of top-1% days).

A detector must also beat a one-line rule: ``naive_event_recall`` is the recall of
ranking the same days by the absolute standardised return ``|ret_z|`` (the return in
units of the previous quarter's daily volatility), with the same top ``k``; the policy
requires ``event_recall >= naive_event_recall``. Recall in the top 1% is reported
separately for the events inside the training span (``event_recall_in_train``: the
detector saw those days) and after it (``event_recall_out_of_train``), and
``event_recall_holdout`` is the share of held-out events the deployed threshold
actually flags. The held-out alert rate is reported against a band from the binomial
distribution of the number of alerts among the held-out days at the target rate
(``alert_rate_band_low``/``_high``, a 99% interval), which assumes a held-out period as
calm as the training days: a crisis in it (2008 in a 2005-2018 hold-out) moves any
detector outside. The gated figure is conditional on the regime:
``alert_rate_vs_naive_pvalue`` (:func:`alert_rate_against_naive`) places the detector's
held-out alerts between those of two naive rules calibrated to the same target rate on
the same training days, the regime-neutral ``|ret_z|`` and the regime-following
``|ret|``, day by day on the held-out days.

Exact-day figures are the headline. Because a shock can peak the day after the event
(news after the close) or the event can be the second day of a two-day shock, the
same figures are also given with a tolerance of one trading day either side
(``*_tol1``): an event counts as found when any of its three days is in the top 1%,
and a top day counts as relevant when it lies within one trading day of an event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.base import clone

from riskops.anomaly.events import events_in
from riskops.stats.proportions import alert_rate_band

__all__ = [
    "AnomalyEvaluation",
    "alert_rate",
    "alert_rate_against_naive",
    "alert_rate_band",
    "evaluate_detector",
    "event_metrics",
    "event_table",
    "naive_scores",
    "score_stability",
    "top_k",
]

TOP_FRACTION = 0.01
STABILITY_SUBSAMPLE = 0.8


@dataclass
class AnomalyEvaluation:
    """The window every detector is judged on: all days' features and a held-out tail.

    Attributes
    ----------
    features
        Feature rows of every day, training days first (see
        :func:`~riskops.anomaly.features.build_features`).
    holdout_start
        First held-out day; days before it are the training days.
    events
        Curated stress days inside ``features``' index (``name``, ``description``...).
    top_fraction
        Share of days that make up the "top" for event recall (1%).
    seed
        Seed of the stability refits.
    """

    features: pd.DataFrame
    holdout_start: pd.Timestamp
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    top_fraction: float = TOP_FRACTION
    seed: int = 42

    @classmethod
    def split(
        cls,
        features: pd.DataFrame,
        holdout_fraction: float = 0.2,
        top_fraction: float = TOP_FRACTION,
        seed: int = 42,
    ) -> AnomalyEvaluation:
        """Hold out the last ``holdout_fraction`` of days (at least one)."""
        n_holdout = min(max(1, round(len(features) * holdout_fraction)), len(features) - 1)
        return cls(
            features=features,
            holdout_start=features.index[len(features) - n_holdout],
            events=events_in(features.index),
            top_fraction=top_fraction,
            seed=seed,
        )

    @property
    def train(self) -> pd.DataFrame:
        return self.features.loc[self.features.index < self.holdout_start]

    @property
    def holdout(self) -> pd.DataFrame:
        return self.features.loc[self.features.index >= self.holdout_start]


def top_k(n_days: int, top_fraction: float = TOP_FRACTION) -> int:
    """Number of days in the top ``top_fraction`` (rounded up, at least one)."""
    return max(1, math.ceil(top_fraction * n_days))


def alert_rate(estimator: Any, features: pd.DataFrame) -> float:
    """Share of rows the fitted detector flags."""
    if len(features) == 0:
        return float("nan")
    return float(np.mean(estimator.predict(features)))


def naive_scores(features: pd.DataFrame) -> pd.Series:
    """The naive rule: each day's absolute standardised return ``|ret_z|``."""
    if "ret_z" not in features:
        raise ValueError("the naive rule needs the ret_z feature")
    return features["ret_z"].abs().rename("naive_score")


def alert_rate_against_naive(
    flags: pd.Series,
    naive: pd.Series,
    holdout: np.ndarray,
    target: float,
    absolute: pd.Series | None = None,
) -> dict[str, float]:
    """The detector's held-out alerts against two naive rules' on the same days.

    Both rules are calibrated to the target rate on the training days: the
    regime-neutral ``|ret_z|`` (a return in units of the previous quarter's volatility,
    which alerts about as often in a crisis as in calm times) and, when ``absolute`` is
    given, the regime-following ``|ret|`` (which alerts far more often in a crisis).
    A detector calibrated on the training days alerts, on held-out days, somewhere
    between the two: a crisis raises the upper rule's rate too, so it is the regime, not
    a miscalibration. Paired day by day, McNemar's exact test asks whether the detector
    alerts significantly more than the rule with the higher held-out rate (one-sided,
    on the days only one of the two flags: ``b ~ Binomial(b + c, 1/2)``) or
    significantly less than the rule with the lower one; ``alert_rate_vs_naive_pvalue``
    is twice the smaller of the two (Bonferroni), and the gate refuses below 0.01.
    """
    from scipy.stats import binomtest

    train = ~holdout
    detector = flags.to_numpy().astype(bool)
    rules = {"ret_z": naive} | ({"abs_ret": absolute} if absolute is not None else {})
    rates: dict[str, float] = {}
    paired: dict[str, tuple[int, int]] = {}
    for name, score in rules.items():
        values = score.to_numpy(dtype=float)
        threshold = float(np.nanquantile(values[train], 1.0 - target)) if train.any() else math.nan
        rule = values > threshold
        rates[name] = float(rule[holdout].mean()) if holdout.any() else math.nan
        paired[name] = (
            int(np.sum(detector[holdout] & ~rule[holdout])),
            int(np.sum(~detector[holdout] & rule[holdout])),
        )
    low = min(rates, key=lambda k: rates[k])
    high = max(rates, key=lambda k: rates[k])

    def more(b: int, c: int) -> float:
        return float(binomtest(b, b + c, 0.5, alternative="greater").pvalue) if b + c else 1.0

    p_more = more(*paired[high])
    p_less = more(paired[low][1], paired[low][0])
    return {
        "naive_alert_rate_holdout": rates["ret_z"],
        "abs_return_alert_rate_holdout": rates.get("abs_ret", math.nan),
        "alerts_detector_only": float(paired["ret_z"][0]),
        "alerts_naive_only": float(paired["ret_z"][1]),
        "alert_rate_vs_naive_pvalue": min(1.0, 2.0 * min(p_more, p_less)),
    }


def score_stability(
    estimator: Any,
    train: pd.DataFrame,
    features: pd.DataFrame,
    seed: int = 42,
    subsample: float = STABILITY_SUBSAMPLE,
) -> float:
    """Spearman correlation of the scores of two refits on different subsamples and seeds.

    Each refit clones ``estimator`` (its unfitted specification), sets a different
    ``random_state`` when it has one, and fits on a different random ``subsample``
    share of ``train`` drawn without replacement (with replacement, duplicated rows
    would sit at distance zero and break the LOF's densities). Both score ``features``.
    """
    rng = np.random.default_rng(seed)
    size = max(2, round(subsample * len(train)))
    scores = []
    for refit in range(2):
        spec = clone(estimator)
        if "random_state" in spec.get_params(deep=False):
            spec.set_params(random_state=seed + 1 + refit)
        rows = np.sort(rng.choice(len(train), size=size, replace=False))
        scores.append(spec.fit(train.iloc[rows]).score_samples(features))
    return float(spearmanr(scores[0], scores[1]).statistic)


def event_table(
    scores: pd.Series, events: pd.DataFrame, top_fraction: float = TOP_FRACTION
) -> pd.DataFrame:
    """Rank and score of each curated event among all days (rank 1 = most anomalous).

    Columns: ``name``, ``rank``, ``score``, ``in_top`` (rank within the top
    ``top_fraction``), ``in_top_tol1`` (any day within one trading day is in the top).
    """
    k = top_k(len(scores), top_fraction)
    ranks = scores.rank(ascending=False, method="min")
    in_top = ranks <= k
    # Tolerance by trading-day position, not calendar day: a Friday event's
    # neighbour is the next Monday.
    near_top = in_top | in_top.shift(1, fill_value=False) | in_top.shift(-1, fill_value=False)
    present = events.index.intersection(scores.index)
    return pd.DataFrame(
        {
            "name": events.loc[present, "name"],
            "rank": ranks.loc[present].astype(int),
            "score": scores.loc[present].astype(float),
            "in_top": in_top.loc[present].astype(bool),
            "in_top_tol1": near_top.loc[present].astype(bool),
        },
        index=pd.DatetimeIndex(present, name="date"),
    )


def event_metrics(
    scores: pd.Series, events: pd.DataFrame, top_fraction: float = TOP_FRACTION
) -> dict[str, float]:
    """Event recall and precision at ``k`` of the top ``top_fraction`` of days.

    Returns NaN recall and precision when no curated event falls in the scored days.
    """
    table = event_table(scores, events, top_fraction)
    k = top_k(len(scores), top_fraction)
    n_events = len(table)
    metrics = {"n_events": float(n_events), "n_days": float(len(scores)), "k": float(k)}
    if n_events == 0:
        nan = float("nan")
        return metrics | {
            "event_recall": nan,
            "precision_at_k": nan,
            "event_recall_tol1": nan,
            "precision_at_k_tol1": nan,
        }
    top_days = scores.rank(ascending=False, method="min") <= k
    is_event = pd.Series(scores.index.isin(table.index), index=scores.index)
    near_event = (
        is_event | is_event.shift(1, fill_value=False) | is_event.shift(-1, fill_value=False)
    )
    n_top = int(top_days.sum())
    return metrics | {
        "event_recall": float(table["in_top"].mean()),
        "precision_at_k": float(table["in_top"].sum() / n_top),
        "event_recall_tol1": float(table["in_top_tol1"].mean()),
        "precision_at_k_tol1": float((top_days & near_event).sum() / n_top),
    }


def evaluate_detector(
    estimator: Any, evaluation: AnomalyEvaluation, stability: bool = True
) -> tuple[dict[str, float], pd.Series]:
    """The family's metrics for a fitted detector on an evaluation window.

    Returns
    -------
    metrics : dict
        ``event_recall``, ``precision_at_k``, ``event_recall_tol1``,
        ``precision_at_k_tol1``, ``alert_rate_holdout``, ``alert_rate_train``,
        ``target_alert_rate``, ``alert_rate_band_low``, ``alert_rate_band_high``,
        ``score_stability`` (NaN when ``stability`` is False), ``n_events``,
        ``n_days``, ``k``, ``naive_event_recall``, ``naive_precision_at_k``,
        ``event_recall_in_train``, ``event_recall_out_of_train``,
        ``event_recall_holdout`` (NaN without held-out events), ``n_events_in_train``,
        ``n_events_holdout``.
    scores : pandas.Series
        The detector's score for every day of the window.
    """
    features = evaluation.features
    scores = pd.Series(estimator.score_samples(features), index=features.index, name="score")
    metrics = event_metrics(scores, evaluation.events, evaluation.top_fraction)
    flags = pd.Series(estimator.predict(features), index=features.index)
    holdout = features.index >= evaluation.holdout_start
    metrics["alert_rate_holdout"] = float(flags[holdout].mean()) if holdout.any() else math.nan
    metrics["alert_rate_train"] = float(flags[~holdout].mean()) if (~holdout).any() else math.nan
    metrics["target_alert_rate"] = float(estimator.alert_rate)
    metrics["alert_rate_band_low"], metrics["alert_rate_band_high"] = alert_rate_band(
        int(holdout.sum()), float(estimator.alert_rate)
    )
    metrics |= _baseline_and_span_metrics(scores, flags, evaluation)
    metrics |= alert_rate_against_naive(
        flags,
        naive_scores(features),
        np.asarray(holdout),
        float(estimator.alert_rate),
        features.get("abs_ret"),
    )

    metrics["score_stability"] = (
        score_stability(estimator, evaluation.train, features, seed=evaluation.seed)
        if stability
        else math.nan
    )
    return metrics, scores


def _baseline_and_span_metrics(
    scores: pd.Series, flags: pd.Series, evaluation: AnomalyEvaluation
) -> dict[str, float]:
    """The naive rule's recall on the same days and top ``k``; recall by span."""
    nan = math.nan
    naive = event_metrics(
        naive_scores(evaluation.features), evaluation.events, evaluation.top_fraction
    )
    table = event_table(scores, evaluation.events, evaluation.top_fraction)
    held_out = table.index >= evaluation.holdout_start
    inside, outside = table.loc[~held_out], table.loc[held_out]
    flagged = flags.reindex(outside.index).fillna(0).astype(bool)
    return {
        "naive_event_recall": naive["event_recall"],
        "naive_precision_at_k": naive["precision_at_k"],
        "event_recall_in_train": float(inside["in_top"].mean()) if len(inside) else nan,
        "event_recall_out_of_train": float(outside["in_top"].mean()) if len(outside) else nan,
        "event_recall_holdout": float(flagged.mean()) if len(outside) else nan,
        "n_events_in_train": float(len(inside)),
        "n_events_holdout": float(len(outside)),
    }
