"""Online anomaly scoring: one day's bar in, that day's features and score out.

:class:`OnlineFeatures` computes the features of :func:`~riskops.anomaly.features.build_features`
for the newest day from a bounded window of the past days (67 returns and 23 volumes: the
longest window, 66 days, plus the day before it that ``ret_z`` divides by), instead of
recomputing the rolling statistics over the whole history. Each statistic is recomputed
over its window from the stored values (never a running sum, which would drift), so the
online features equal the batch ones to rounding: the tests compare them day by day on the
bundled S&P 500 and NASDAQ. :class:`AnomalyState` then scores the row with the fitted
detector, exactly as ``score_samples`` does.

A bar is a mapping with ``ret`` (percent returns, one per asset: a mapping from asset name
or a sequence in the state's asset order) and, when the detector uses them, ``high``,
``low`` (prices) and ``volume``. A missing value (``None``, or an asset left out of a
mapping) is missing data, as in a dataset: the features that need it are undefined that day
and the day gets no score, as ``build_features`` drops such a row.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np

from riskops.anomaly.features import (
    CORR_WINDOWS,
    TRADING_DAYS,
    VOL_WINDOWS,
    VOLUME_WINDOW,
    WARMUP_DAYS,
)
from riskops.errors import BadInputError
from riskops.market.online import (
    Forecast,
    ObservationRejected,
    OnlineState,
    _array_digest,
    _floats_in,
    _floats_out,
)

__all__ = ["AnomalyState", "OnlineFeatures"]

RETURN_DAYS = WARMUP_DAYS + 1
"""Returns kept: the quarter's window and the day before it (``ret_z``'s volatility)."""
VOLUME_DAYS = VOLUME_WINDOW + 1
"""Volumes kept: the day's and the month before it (``volume_change``'s baseline)."""
_MIN_VOLUME_DAYS = VOLUME_WINDOW // 2


def _row_mean(values: np.ndarray) -> float:
    """pandas' ``mean(axis=1)`` of one row: missing values skipped, none left gives NaN."""
    present = ~np.isnan(values)
    count = int(present.sum())
    if count == 0:
        return math.nan
    return float(np.where(present, values, 0.0).sum() / count)


def _window_mean(values: np.ndarray, required: int) -> np.ndarray:
    """Per-column mean of the last ``required`` rows; NaN where fewer exist or one is missing
    (``rolling(window, min_periods=window).mean()``)."""
    if values.shape[0] < required:
        return np.full(values.shape[1], np.nan)
    return values[-required:].mean(axis=0)


class OnlineFeatures:
    """The anomaly features of the newest day, from a bounded window of bars.

    Parameters
    ----------
    assets
        Asset names, in the order of the bars' sequences.
    names
        The features to compute (a fitted detector's ``feature_names_in_``), each one of
        :data:`~riskops.anomaly.features.ALL_FEATURES`.
    """

    def __init__(self, assets: list[str], names: list[str]) -> None:
        from riskops.anomaly.features import ALL_FEATURES

        unknown = [n for n in names if n not in ALL_FEATURES]
        if unknown:
            raise BadInputError(f"features: unknown anomaly features {unknown}")
        if {"dispersion", "corr_change"} & set(names) and len(assets) < 2:
            raise BadInputError("features: dispersion and corr_change need at least two assets")
        self.assets = list(assets)
        self.names = list(names)
        self.needs_range = "range" in names
        self.needs_volume = "volume_change" in names
        self.returns: deque[np.ndarray] = deque(maxlen=RETURN_DAYS)
        self.volumes: deque[np.ndarray] = deque(maxlen=VOLUME_DAYS)
        n = len(self.assets)
        self.high = np.full(n, np.nan)
        self.low = np.full(n, np.nan)
        self.seen = 0

    def push(
        self,
        ret: np.ndarray,
        high: np.ndarray | None = None,
        low: np.ndarray | None = None,
        volume: np.ndarray | None = None,
    ) -> None:
        """Add one day (arrays in asset order, NaN where missing)."""
        n = len(self.assets)
        self.returns.append(np.asarray(ret, dtype=float))
        self.high = np.full(n, np.nan) if high is None else np.asarray(high, dtype=float)
        self.low = np.full(n, np.nan) if low is None else np.asarray(low, dtype=float)
        if self.needs_volume:
            v = np.full(n, np.nan) if volume is None else np.asarray(volume, dtype=float)
            # A zero volume is a data gap, not a quiet day (build_features).
            self.volumes.append(np.where(v > 0, v, np.nan))
        self.seen += 1

    def values(self) -> dict[str, float]:
        """Every requested feature of the newest day (NaN where undefined)."""
        R = np.vstack(self.returns)
        r = R[-1]
        sq = R * R
        out: dict[str, float] = {}
        out["ret"] = _row_mean(r)
        out["abs_ret"] = _row_mean(np.abs(r))
        with np.errstate(divide="ignore", invalid="ignore"):
            # ret_z: the day's return over the volatility of the 66 days *before* it.
            before = (
                _window_mean(sq[:-1], WARMUP_DAYS)
                if R.shape[0] > WARMUP_DAYS
                else np.full(r.shape, np.nan)
            )
            sigma = np.sqrt(before)
            out["ret_z"] = _row_mean(
                np.where(sigma > 0, r / np.where(sigma > 0, sigma, 1.0), np.nan)
            )
            log_vol = {}
            for window in VOL_WINDOWS:
                variance = _window_mean(sq, window)
                vol = np.sqrt(TRADING_DAYS * np.where(variance > 0, variance, np.nan))
                log_vol[window] = np.log(vol)
                out[f"log_vol_{window}"] = _row_mean(log_vol[window])
            out["vol_ratio"] = _row_mean(log_vol[5] - log_vol[66])
            if self.needs_range:
                out["range"] = _row_mean(100 * np.log(self.high / self.low))
            if self.needs_volume:
                out["volume_change"] = self._volume_change()
            if "dispersion" in self.names:
                present = r[~np.isnan(r)]
                out["dispersion"] = (
                    float(np.sqrt(((present - present.mean()) ** 2).sum() / present.size))
                    if present.size
                    else math.nan
                )
            if "corr_change" in self.names:
                short, long = CORR_WINDOWS
                out["corr_change"] = self._mean_corr(R, short) - self._mean_corr(R, long)
        return {name: (v if math.isfinite(v) else math.nan) for name, v in out.items()}

    def _volume_change(self) -> float:
        V = np.vstack(self.volumes)
        today, earlier = V[-1], V[:-1][-VOLUME_WINDOW:]
        counts = (~np.isnan(earlier)).sum(axis=0)
        sums = np.where(np.isnan(earlier), 0.0, earlier).sum(axis=0)
        baseline = np.where(counts >= _MIN_VOLUME_DAYS, sums / np.maximum(counts, 1), np.nan)
        return _row_mean(np.log(today / baseline))

    @staticmethod
    def _mean_corr(R: np.ndarray, window: int) -> float:
        """Mean pairwise correlation over the last ``window`` days, by pandas' rolling formula
        ``(E[xy] - E[x]E[y]) n / (n - 1) / sqrt(var x var y)``; NaN where a value is missing."""
        if R.shape[0] < window:
            return math.nan
        W = R[-window:]
        pairs = []
        for a, b in combinations(range(W.shape[1]), 2):
            x, y = W[:, a], W[:, b]
            numerator = (np.mean(x * y) - np.mean(x) * np.mean(y)) * (window / (window - 1))
            denominator = math.sqrt(float(np.var(x, ddof=1) * np.var(y, ddof=1)))
            pairs.append(numerator / denominator if denominator > 0 else math.nan)
        values = np.array(pairs, dtype=float)
        return _row_mean(np.where(np.isfinite(values), values, np.nan))

    def row(self) -> tuple[np.ndarray | None, list[str]]:
        """The feature row in ``names`` order, or ``None`` and the undefined features."""
        if self.seen <= WARMUP_DAYS or len(self.returns) <= WARMUP_DAYS:
            return None, ["warm-up"]
        values = self.values()
        undefined = [n for n in self.names if math.isnan(values[n])]
        if undefined:
            return None, undefined
        return np.array([[values[n] for n in self.names]], dtype=float), []

    def dump(self) -> dict[str, Any]:
        return {
            "returns": [_floats_out(r) for r in self.returns],
            "volumes": [_floats_out(v) for v in self.volumes],
            "high": _floats_out(self.high),
            "low": _floats_out(self.low),
            "seen": self.seen,
        }

    def load(self, data: Mapping[str, Any]) -> None:
        n = len(self.assets)
        rows = [_floats_in(r, "returns") for r in data["returns"]]
        volumes = [_floats_in(v, "volumes") for v in data["volumes"]]
        if any(r.shape != (n,) for r in rows + volumes):
            raise BadInputError(f"checkpoint: bars must have one value per asset ({n})")
        self.returns = deque(rows, maxlen=RETURN_DAYS)
        self.volumes = deque(volumes, maxlen=VOLUME_DAYS)
        self.high = _floats_in(data["high"], "high")
        self.low = _floats_in(data["low"], "low")
        self.seen = int(data["seen"])


class AnomalyState(OnlineState):
    """Online scoring by a fitted anomaly detector (:mod:`riskops.anomaly.models`).

    Built by the anomaly family's ``online`` hook from the
    :class:`~riskops.data.market.MarketDataset` whose last days warm the features up; each
    :meth:`update` takes the next day's bar and returns that day's ``score``,
    ``percentile`` and ``alert`` (``horizon`` 0: a score of the day, not a forecast), or
    no score and a ``note`` naming the undefined features.
    """

    kind = "anomaly"
    horizon = 0

    def _accepted_levels(self, levels: Any) -> tuple[float, ...]:
        return ()

    def _setup(self, estimator: Any) -> dict[str, Any]:
        names = getattr(estimator, "feature_names_in_", None)
        if names is None or not hasattr(estimator, "decision_threshold_"):
            raise BadInputError(
                f"{type(estimator).__name__}: an online anomaly state needs a detector fitted on "
                "a feature frame (feature_names_in_) with a decision threshold"
            )
        self._names = [str(n) for n in names]
        self._threshold = float(estimator.decision_threshold_)
        scores = np.asarray(estimator.training_scores_, dtype=float)
        return {
            "detector": type(estimator).__name__,
            "features": self._names,
            "threshold": self._threshold,
            "training_scores": _array_digest(scores),
        }

    def _start(self, history: Any) -> None:
        from riskops.data.market import MarketDataset

        if not isinstance(history, MarketDataset):
            raise BadInputError(
                "history: an anomaly state starts from the MarketDataset of the days before the "
                "stream (at least the last 67), since a detector keeps no raw data"
            )
        self._features = OnlineFeatures(history.assets, self._names)
        if self._features.needs_range and (history.high is None or history.low is None):
            raise BadInputError("history: the detector uses 'range', the data has no high/low")
        if self._features.needs_volume and history.volume is None:
            raise BadInputError(
                "history: the detector uses 'volume_change', the data has no volume"
            )
        returns = history.returns.astype(float)
        index = returns.index
        keep = max(RETURN_DAYS, VOLUME_DAYS)
        frames = {
            key: None if frame is None else frame.reindex(index).astype(float).to_numpy()
            for key, frame in (
                ("high", history.high),
                ("low", history.low),
                ("volume", history.volume),
            )
        }
        values = returns.to_numpy()
        start = max(0, values.shape[0] - keep)
        for t in range(start, values.shape[0]):
            self._features.push(
                values[t],
                None if frames["high"] is None else frames["high"][t],
                None if frames["low"] is None else frames["low"][t],
                None if frames["volume"] is None else frames["volume"][t],
            )
        # The warm-up counts the history's days, as build_features does from its first row.
        self._features.seen = int(values.shape[0])

    def _read(self, observation: Any) -> dict[str, np.ndarray | None]:
        if not isinstance(observation, Mapping) or "ret" not in observation:
            raise ObservationRejected(
                "invalid", "bar: a mapping with 'ret' (percent returns per asset) is required"
            )
        bar: dict[str, np.ndarray | None] = {"ret": self._values(observation["ret"], "ret")}
        for key in ("high", "low", "volume"):
            bar[key] = None if observation.get(key) is None else self._values(observation[key], key)
        ret = bar["ret"]
        assert ret is not None
        if np.any((ret <= -100) | (ret > 1000)):
            raise ObservationRejected("invalid", "ret: percent returns must be in (-100, 1000]")
        for key in ("high", "low"):
            prices = bar[key]
            if prices is not None and np.any(prices <= 0):
                raise ObservationRejected("invalid", f"{key}: prices must be positive")
        volume = bar["volume"]
        if volume is not None and np.any(volume < 0):
            raise ObservationRejected("invalid", "volume: must be non-negative")
        return bar

    def _values(self, given: Any, key: str) -> np.ndarray:
        assets = self._features.assets
        if isinstance(given, Mapping):
            unknown = sorted(set(map(str, given)) - set(assets))
            if unknown:
                raise ObservationRejected("invalid", f"{key}: unknown assets {unknown}")
            raw = [given.get(a) for a in assets]
        elif isinstance(given, str | bytes) or not hasattr(given, "__len__"):
            if len(assets) != 1:
                raise ObservationRejected("invalid", f"{key}: one value per asset {assets}")
            raw = [given]
        else:
            raw = list(given)
            if len(raw) != len(assets):
                raise ObservationRejected(
                    "invalid", f"{key}: {len(raw)} values for {len(assets)} assets {assets}"
                )
        if any(isinstance(v, str | bytes | bool) for v in raw):
            raise ObservationRejected("invalid", f"{key}: values must be numbers")
        try:
            values = np.array([np.nan if v is None else float(v) for v in raw], dtype=float)
        except (TypeError, ValueError):
            raise ObservationRejected("invalid", f"{key}: values must be numbers") from None
        if np.any(np.isinf(values)):
            raise ObservationRejected("invalid", f"{key}: values must be finite")
        return values

    def _advance(self, value: dict[str, np.ndarray | None]) -> None:
        ret = value["ret"]
        assert ret is not None
        self._features.push(ret, value["high"], value["low"], value["volume"])

    def _forecast(self) -> Forecast:
        row, undefined = self._features.row()
        if row is None:
            return Forecast(
                kind=self.kind,
                seq=self.seq,
                timestamp=self._stamp(),
                horizon=0,
                note="no score: undefined " + ", ".join(undefined),
            )
        detector = self.estimator
        score = float(self._score(detector, row))
        percentile = float(detector.score_tail_.transform(np.array([score]))[0])
        return Forecast(
            kind=self.kind,
            seq=self.seq,
            timestamp=self._stamp(),
            horizon=0,
            score=score,
            percentile=percentile,
            alert=bool(score > self._threshold),
            features=tuple(zip(self._names, (float(v) for v in row[0]), strict=True)),
        )

    @staticmethod
    def _score(detector: Any, row: np.ndarray) -> float:
        inner = getattr(detector, "_score", None)
        if callable(inner):
            # The detectors' own scoring on a validated array: what score_samples runs
            # after checking the frame's columns, which the state has fixed.
            return float(inner(row)[0])
        import pandas as pd

        frame = pd.DataFrame(row, columns=list(detector.feature_names_in_))
        return float(detector.score_samples(frame)[0])

    def features(self) -> dict[str, float]:
        """The newest day's feature values (NaN where undefined)."""
        return self._features.values()

    def _dump(self) -> dict[str, Any]:
        return {"assets": self._features.assets, "bars": self._features.dump()}

    def _load(self, data: Mapping[str, Any]) -> None:
        self._features = OnlineFeatures([str(a) for a in data["assets"]], self._names)
        self._features.load(data["bars"])
