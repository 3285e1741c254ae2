"""HAR-type machine-learning volatility model: :class:`HARVolatility` on the lagged
realised-variance features of :func:`har_features`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from riskops.errors import BadInputError, DataValidationError, Violation
from riskops.market.volatility.returns import _as_variance, as_returns
from riskops.serialization import PlainState

_HAR_LINEAR_FEATURES = ("rv_d", "rv_w", "rv_m")


def har_features(
    squared: np.ndarray,
    absolute: np.ndarray,
    negative: np.ndarray,
    weekly: int = 5,
    monthly: int = 22,
    abs_lags: int = 5,
) -> pd.DataFrame:
    """HAR features of each day ``t`` from the day's squared, absolute and negative-part returns.

    Row ``t`` only uses days up to ``t`` and serves to forecast day ``t + 1``. Means over
    the first days of a sample use the days available (an expanding window).

    Columns: ``rv_d``, ``rv_w``, ``rv_m`` (daily, weekly and monthly means of squared
    returns, Corsi 2009), ``lev_d``, ``lev_w`` (the same for squared negative returns,
    the leverage effect of Corsi and Renò 2012) and ``abs_1 .. abs_k`` (absolute
    returns of days ``t, t-1, ...``).
    """
    sq = pd.Series(squared, dtype=float)
    neg = pd.Series(negative, dtype=float)
    ab = pd.Series(absolute, dtype=float)
    columns = {
        "rv_d": sq,
        "rv_w": sq.rolling(weekly, min_periods=1).mean(),
        "rv_m": sq.rolling(monthly, min_periods=1).mean(),
        "lev_d": neg,
        "lev_w": neg.rolling(weekly, min_periods=1).mean(),
    }
    for lag in range(1, abs_lags + 1):
        # Before the first day, the earliest absolute return stands in for the missing ones.
        columns[f"abs_{lag}"] = ab.shift(lag - 1).bfill()
    return pd.DataFrame(columns)


def _har_inputs(returns: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = returns.to_numpy(dtype=float)
    return r**2, np.abs(r), np.where(r < 0, r**2, 0.0)


class HARVolatility(PlainState, BaseEstimator):
    """HAR-type next-day variance model: LightGBM (or OLS) on lagged realised variances.

    The features of day ``t`` (:func:`har_features`) forecast the realised variance of
    day ``t + 1``. With ``regressor="lightgbm"`` the default ``objective="gamma"``
    fits by gamma deviance with a log link, which is the QLIKE loss of Patton (2011):
    the forecasts are positive and the loss is robust to a noisy variance proxy.
    ``regressor="linear"`` is the HAR-RV of Corsi (2009): OLS on ``rv_d``, ``rv_w``
    and ``rv_m``.

    Parameters
    ----------
    regressor : {"lightgbm", "linear"}
    objective : {"gamma", "l2"}
        LightGBM's loss.
    weekly, monthly, abs_lags : int
        Window lengths (days) and number of absolute-return lags.
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings.
    random_state : int
    n_jobs : int
        LightGBM threads (1 keeps shared machines responsive).

    Attributes
    ----------
    model_ : lightgbm.LGBMRegressor or sklearn.linear_model.LinearRegression
    feature_names_ : list of str
    returns_ : pandas.Series
        The training returns, the default history for ``forecast_variance``.
    floor_ : float
        Smallest forecast (linear HAR can go negative): 1% of the smallest positive
        mean training variance over a month.
    n_obs_ : int
    """

    # Stored models (skops files, the families' trusted types) name this class by its public
    # path, riskops.market.volatility, which is the file format: it stays whichever file of
    # the package defines the class.
    __module__ = "riskops.market.volatility"

    def __init__(
        self,
        regressor: str = "lightgbm",
        objective: str = "gamma",
        weekly: int = 5,
        monthly: int = 22,
        abs_lags: int = 5,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.regressor = regressor
        self.objective = objective
        self.weekly = weekly
        self.monthly = monthly
        self.abs_lags = abs_lags
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _features(self, returns: pd.Series) -> pd.DataFrame:
        frame = har_features(
            *_har_inputs(returns),
            weekly=int(self.weekly),
            monthly=int(self.monthly),
            abs_lags=int(self.abs_lags),
        )
        frame.index = returns.index
        return frame

    def fit(self, returns: Any, y: Any = None) -> HARVolatility:
        """Fit on percent returns; ``y`` is an optional realised-variance proxy per day.

        Parameters
        ----------
        returns : pandas.Series or DataFrame with a ``ret`` column
        y : pandas.Series or array, optional
            Realised variance of each day (percent², e.g. :func:`realised_proxy`),
            aligned with ``returns``; defaults to the squared return.
        """
        if self.regressor not in ("lightgbm", "linear"):
            raise BadInputError(
                f"HARVolatility: regressor must be lightgbm or linear, got {self.regressor!r}"
            )
        if self.objective not in ("gamma", "l2"):
            raise BadInputError(
                f"HARVolatility: objective must be gamma or l2, got {self.objective!r}"
            )
        series = as_returns(returns)
        realised = np.asarray(series**2 if y is None else y, dtype=float)
        if realised.shape != (len(series),) or not np.isfinite(realised).all():
            raise DataValidationError(
                "realised variance",
                [Violation("y", "must be finite and aligned with the returns", (realised.shape,))],
            )
        if (realised < 0).any():
            raise DataValidationError("realised variance", [Violation("y", "must be >= 0")])
        warmup = int(self.monthly) - 1
        if len(series) < warmup + 50:
            raise DataValidationError(
                "returns",
                [
                    Violation(
                        "ret", f"HARVolatility needs at least {warmup + 50} returns", (len(series),)
                    )
                ],
            )
        features = self._features(series)
        # Day t's features forecast day t+1; the first month only warms the windows up.
        X = features.iloc[warmup:-1]
        target = realised[warmup + 1 :]
        if self.regressor == "linear":
            from sklearn.linear_model import LinearRegression

            self.feature_names_ = list(_HAR_LINEAR_FEATURES)
            self.model_ = LinearRegression().fit(X[self.feature_names_], target)
        else:
            import lightgbm as lgb

            self.feature_names_ = list(features.columns)
            self.model_ = lgb.LGBMRegressor(
                objective=self.objective,
                metric="None",  # the gamma metric refuses zero returns; no eval set anyway
                n_estimators=int(self.n_estimators),
                learning_rate=float(self.learning_rate),
                num_leaves=int(self.num_leaves),
                min_child_samples=int(self.min_child_samples),
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                random_state=int(self.random_state),
                n_jobs=int(self.n_jobs),
                verbose=-1,
            ).fit(X[self.feature_names_], target)
        monthly_mean = pd.Series(target).rolling(int(self.monthly)).mean().dropna()
        positive = monthly_mean[monthly_mean > 0]
        self.floor_ = float(0.01 * (positive.min() if len(positive) else 1e-4))
        self.returns_ = series
        self.n_obs_ = len(series)
        return self

    def _raw_predict(self, X: pd.DataFrame) -> np.ndarray:
        values = np.asarray(self.model_.predict(X[self.feature_names_]), dtype=float)
        return np.maximum(values, self.floor_)

    def variance_path(self, returns: Any = None) -> pd.Series:
        """One-step forecasts for every day of ``returns``: row ``t`` forecasts day ``t + 1``."""
        check_is_fitted(self, "model_")
        history = self.returns_ if returns is None else as_returns(returns)
        values = self._raw_predict(self._features(history))
        return pd.Series(_as_variance(values), index=history.index, name="variance")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """One-step variance forecasts for a frame with a ``ret`` column (MLflow's pyfunc)."""
        check_is_fitted(self, "model_")
        return self.variance_path(as_returns(X, name="predict input")).to_numpy()

    def forecast_variance(self, returns: Any = None, horizon: int = 1) -> np.ndarray:
        """Variance forecasts for the ``horizon`` days after ``returns``, percent².

        Beyond one day the model is iterated: each forecast variance ``v`` stands in for
        the unknown day's inputs by their expectations under a symmetric normal return,
        ``r² = v``, ``|r| = sqrt(2 v / pi)`` and negative part ``v / 2``.
        """
        check_is_fitted(self, "model_")
        if int(horizon) < 1:
            raise BadInputError(f"horizon must be at least 1, got {horizon!r}")
        history = self.returns_ if returns is None else as_returns(returns)
        # Only the last month matters to the features; keep a margin.
        keep = int(self.monthly) + int(self.abs_lags) + int(self.weekly)
        sq, ab, neg = (a[-keep:] for a in _har_inputs(history))
        out = []
        for _ in range(int(horizon)):
            features = har_features(
                sq, ab, neg, int(self.weekly), int(self.monthly), int(self.abs_lags)
            )
            v = float(self._raw_predict(features.iloc[[-1]])[0])
            out.append(v)
            sq = np.append(sq, v)
            ab = np.append(ab, np.sqrt(2 * v / np.pi))
            neg = np.append(neg, v / 2)
        return _as_variance(np.array(out))

    def explain(self, returns: Any = None) -> tuple[np.ndarray, float, pd.DataFrame]:
        """SHAP contributions of each day's forecast: ``(contributions, base_value, X)``.

        LightGBM's native TreeSHAP (``pred_contrib=True``), in the model's raw score:
        log variance with the gamma objective, variance with ``l2``. For the linear HAR,
        the exact linear contributions ``coef * (x - mean(x))`` on the variance.
        """
        check_is_fitted(self, "model_")
        history = self.returns_ if returns is None else as_returns(returns)
        X = self._features(history)[self.feature_names_]
        if self.regressor == "linear":
            means = X.mean().to_numpy()
            phi = (X.to_numpy() - means) * self.model_.coef_
            base = float(self.model_.intercept_ + means @ self.model_.coef_)
            return phi, base, X
        raw = np.asarray(self.model_.predict(X, pred_contrib=True), dtype=float)
        return raw[:, :-1], float(raw[0, -1]), X
