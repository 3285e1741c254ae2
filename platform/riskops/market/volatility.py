"""Volatility models with one interface: ``fit(returns)``, ``forecast_variance``, ``predict``.

:class:`GarchVolatility` wraps arch's ARCH-family models, composed as arch composes
them (a mean model, a volatility process and an innovation distribution), and gives
exactly arch's estimates. :class:`HARVolatility` is a HAR-style machine-learning model
(LightGBM or linear) on lagged realised-variance features.

All returns and variances are in percent (``100 * pct_change``) and percent squared,
following arch's convention. ``predict`` takes a frame with a ``ret`` column and
returns, for each row ``t``, the variance forecast for day ``t + 1`` made with the
information up to ``t``: its last value is the forecast for the next, unseen day.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from riskops.errors import BadInputError, DataValidationError, Violation
from riskops.serialization import PlainState

__all__ = [
    "GarchVolatility",
    "HARVolatility",
    "ReturnsFrame",
    "VarianceForecast",
    "as_returns",
    "har_features",
    "parkinson_variance",
    "realised_proxy",
]

_MEANS = ("constant", "zero")
_VOLS = ("garch", "egarch")
_DISTS = {"normal": "Normal", "t": "StudentsT", "skewt": "SkewStudent"}


class ReturnsFrame(pa.DataFrameModel):
    """Model input: one row per day, ``ret`` the percent return of that day."""

    ret: Series[float] = pa.Field(gt=-100, le=1000, nullable=False)

    class Config:
        strict = True
        coerce = True


class VarianceForecast(pa.DataFrameModel):
    """Model output: one-step variance forecasts, percent squared."""

    variance: Series[float] = pa.Field(gt=0, nullable=False)

    class Config:
        strict = True
        coerce = True


def as_returns(returns: Any, name: str = "returns") -> pd.Series:
    """Validated percent returns as a float Series, from a Series, a ``ret`` frame or an array.

    Raises
    ------
    DataValidationError
        When values are missing, not finite or outside (-100, 1000] percent, or when a
        frame has other columns than ``ret``.
    """
    if isinstance(returns, pd.DataFrame):
        frame = returns
    elif isinstance(returns, pd.Series):
        frame = returns.rename("ret").to_frame()
    else:
        values = np.asarray(returns, dtype=float)
        if values.ndim != 1:
            raise DataValidationError(name, [Violation("ret", "must be one-dimensional")])
        frame = pd.DataFrame({"ret": values})
    try:
        valid = ReturnsFrame.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        violations = [
            Violation(str(col), str(check), tuple(grp["failure_case"].head(5)))
            for (col, check), grp in cases.groupby(["column", "check"], dropna=False, sort=False)
        ]
        raise DataValidationError(name, violations) from None
    series = valid["ret"].astype(float)
    if not np.isfinite(series.to_numpy()).all():
        raise DataValidationError(name, [Violation("ret", "must be finite")])
    if len(series) < 2:
        raise DataValidationError(
            name, [Violation("ret", "need at least 2 returns", (len(series),))]
        )
    return series


def _as_variance(values: np.ndarray, index: Any = None) -> np.ndarray:
    frame = pd.DataFrame({"variance": np.asarray(values, dtype=float)}, index=index)
    try:
        VarianceForecast.validate(frame)
    except pa.errors.SchemaError as exc:
        raise DataValidationError("variance forecast", [Violation("variance", str(exc))]) from None
    return frame["variance"].to_numpy()


class GarchVolatility(PlainState, BaseEstimator):
    """ARCH-family volatility model estimated by arch, under the scikit-learn contract.

    The model is composed like arch's: a mean model (``mean``), a volatility process
    (``vol`` with orders ``p``, ``o``, ``q``) and a distribution of the standardised
    innovations (``dist``). ``vol="GARCH", o=1`` is the GJR-GARCH of Glosten, Jagannathan
    and Runkle (1993); ``vol="EGARCH"`` is Nelson's (1991) exponential GARCH.

    Parameters
    ----------
    mean : {"Constant", "Zero"}
        Mean model: ``r_t = mu + e_t`` or ``r_t = e_t``.
    vol : {"GARCH", "EGARCH"}
        Volatility process.
    p, o, q : int
        Orders of the symmetric shock, asymmetric shock and lagged variance terms.
    dist : {"normal", "t", "skewt"}
        Innovation distribution: standard normal, standardised Student's t or Hansen's
        skewed t.
    rescale : bool
        Let arch rescale the data when its scale would hinder the optimiser. Parameters
        are then in the rescaled units (``scale_``); forecasts are always in percent².
    starting_values : array-like or None
        Starting values for the optimiser (a warm start), in arch's parameter order.
        ``fit(..., starting_values=...)`` overrides it for one call.
    random_state : int or None
        Seed for simulation-based forecasts (EGARCH beyond one step) and ``simulate``.
    simulations : int
        Number of paths for simulation-based forecasts.

    Attributes
    ----------
    result_ : arch.univariate.base.ARCHModelResult or ARCHModelFixedResult
        arch's estimation result. It is not saved with the model (arch's objects hold
        Cython state no safe format can store): on a loaded model it is rebuilt on first
        use as arch's fixed-parameter result of ``params_`` on ``returns_``, with the
        same fitted variances, residuals and log-likelihood but no standard errors.
    params_ : pandas.Series
        Estimates under arch's names (``mu``, ``omega``, ``alpha[1]``, ``gamma[1]``,
        ``beta[1]``, ``nu``, ``eta``, ``lambda``).
    conditional_volatility_ : pandas.Series
        In-sample conditional volatility, percent.
    std_resid_ : pandas.Series
        Standardised residuals ``(r_t - mu) / sigma_t``.
    loglikelihood_ : float
        Maximised log-likelihood.
    scale_ : float
        Factor arch multiplied the data by (1 unless ``rescale``).
    converged_ : bool
        Whether the optimiser reported convergence.
    n_obs_ : int
        Number of returns the model was fitted on.
    returns_ : pandas.Series
        The training returns, the default history for ``forecast_variance``.

    Examples
    --------
    >>> import arch.data.sp500
    >>> returns = 100 * arch.data.sp500.load()["Adj Close"].pct_change().dropna()
    >>> GarchVolatility(p=1, q=1, dist="normal").fit(returns).params_.round(4)
    mu          0.0564
    omega       0.0175
    alpha[1]    0.1022
    beta[1]     0.8852
    Name: params, dtype: float64
    """

    def __init__(
        self,
        mean: str = "Constant",
        vol: str = "GARCH",
        p: int = 1,
        o: int = 0,
        q: int = 1,
        dist: str = "normal",
        rescale: bool = False,
        starting_values: Sequence[float] | None = None,
        random_state: int | None = None,
        simulations: int = 1000,
    ) -> None:
        self.mean = mean
        self.vol = vol
        self.p = p
        self.o = o
        self.q = q
        self.dist = dist
        self.rescale = rescale
        self.starting_values = starting_values
        self.random_state = random_state
        self.simulations = simulations

    _transient_state = ("_result",)
    """arch's result is a cache: rebuilt from the plain parameters (see ``result_``)."""

    # -- composition ---------------------------------------------------------------

    def _check_spec(self) -> None:
        problems = []
        if str(self.mean).lower() not in _MEANS:
            problems.append(f"mean={self.mean!r} (one of Constant, Zero)")
        if str(self.vol).lower() not in _VOLS:
            problems.append(f"vol={self.vol!r} (one of GARCH, EGARCH)")
        if str(self.dist).lower() not in _DISTS:
            problems.append(f"dist={self.dist!r} (one of {', '.join(_DISTS)})")
        for order in ("p", "o", "q"):
            value = getattr(self, order)
            if not isinstance(value, (int, np.integer)) or value < 0:
                problems.append(f"{order}={value!r} (a non-negative integer)")
        orders_ok = all(isinstance(getattr(self, k), (int, np.integer)) for k in ("p", "o"))
        if orders_ok and self.p + self.o < 1:
            problems.append("p + o must be at least 1")
        if problems:
            raise BadInputError("GarchVolatility: bad specification: " + "; ".join(problems))

    def _model(self, y: pd.Series | None, rescale: bool | None = False, seed: Any = None) -> Any:
        """The arch model for ``y`` (``None`` for simulation), assembled from its parts."""
        from arch.univariate import (
            EGARCH,
            GARCH,
            ConstantMean,
            Normal,
            SkewStudent,
            StudentsT,
            ZeroMean,
        )

        distributions: dict[str, Any] = {
            "Normal": Normal,
            "StudentsT": StudentsT,
            "SkewStudent": SkewStudent,
        }
        distribution = distributions[_DISTS[str(self.dist).lower()]](seed=seed)
        process_class = GARCH if str(self.vol).lower() == "garch" else EGARCH
        process = process_class(p=self.p, o=self.o, q=self.q)
        mean_class = ConstantMean if str(self.mean).lower() == "constant" else ZeroMean
        return mean_class(y, volatility=process, distribution=distribution, rescale=rescale)

    # -- estimation ----------------------------------------------------------------

    def fit(
        self,
        returns: Any,
        y: Any = None,
        *,
        starting_values: Sequence[float] | None = None,
    ) -> GarchVolatility:
        """Estimate by (quasi) maximum likelihood, exactly as ``arch_model(...).fit()``.

        Parameters
        ----------
        returns : pandas.Series or DataFrame with a ``ret`` column
            Percent returns.
        y : ignored
            Present for scikit-learn compatibility.
        starting_values : array-like, optional
            Warm start for this call; defaults to the ``starting_values`` hyperparameter.

        Returns
        -------
        GarchVolatility
            The fitted estimator.
        """
        self._check_spec()
        series = as_returns(returns)
        start = self.starting_values if starting_values is None else starting_values
        model = self._model(series, rescale=bool(self.rescale), seed=self.random_state)
        with warnings.catch_warnings():
            # Overflow while the optimiser probes extreme parameters is harmless; arch's
            # convergence warning is off (show_warning) and replaced by scikit-learn's.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = model.fit(
                disp="off",
                starting_values=None if start is None else np.asarray(start, dtype=float),
                show_warning=False,
            )
        self._result = result
        self.scale_ = float(result.scale if result.scale is not None else 1.0)
        self.params_ = result.params.copy()
        self.conditional_volatility_ = result.conditional_volatility / self.scale_
        self.std_resid_ = result.std_resid
        self.loglikelihood_ = float(result.loglikelihood)
        self.converged_ = result.convergence_flag == 0
        self.n_obs_ = len(series)
        self.returns_ = series
        if not self.converged_:
            warnings.warn(
                f"GarchVolatility: the optimiser did not converge "
                f"({result.optimization_result.message})",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    @property
    def result_(self) -> Any:
        """arch's result: the estimation result after ``fit``, else (a loaded model) arch's
        fixed-parameter result of ``params_`` on the training returns, built once."""
        result = self.__dict__.get("_result")
        if result is None:
            check_is_fitted(self, "params_")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                result = self._fixed_model(self.returns_).fix(self.params_.to_numpy())
            self._result = result
        return result

    # -- forecasting ---------------------------------------------------------------

    def _history(self, returns: Any) -> pd.Series:
        if returns is None:
            return self.returns_
        return as_returns(returns)

    def _fixed_model(self, history: pd.Series) -> Any:
        return self._model(history * self.scale_, rescale=False, seed=self.random_state)

    def forecast_variance(self, returns: Any = None, horizon: int = 1) -> np.ndarray:
        """Variance forecasts for the ``horizon`` days after ``returns``, percent².

        The fitted parameters are kept fixed; the recursion is run over ``returns``
        (the training returns when ``None``), so a new history gives a new forecast
        without refitting.

        Parameters
        ----------
        returns : pandas.Series, optional
            The history to condition on.
        horizon : int
            Number of days ahead.

        Returns
        -------
        numpy.ndarray
            ``horizon`` variances: days 1, ..., ``horizon`` after the last return.
        """
        check_is_fitted(self, "params_")
        if int(horizon) < 1:
            raise BadInputError(f"horizon must be at least 1, got {horizon!r}")
        history = self._history(returns)
        model = self._fixed_model(history)
        analytic = str(self.vol).lower() == "garch" or int(horizon) == 1
        forecast = model.forecast(
            self.params_,
            horizon=int(horizon),
            method="analytic" if analytic else "simulation",
            simulations=int(self.simulations),
            reindex=False,
        )
        variance = forecast.variance.iloc[-1].to_numpy() / self.scale_**2
        return _as_variance(variance)

    def variance_path(self, returns: Any = None) -> pd.Series:
        """One-step forecasts for every day of ``returns``: row ``t`` forecasts day ``t + 1``."""
        check_is_fitted(self, "params_")
        history = self._history(returns)
        model = self._fixed_model(history)
        forecast = model.forecast(self.params_, horizon=1, start=0, reindex=False)
        values = forecast.variance["h.1"].to_numpy() / self.scale_**2
        return pd.Series(_as_variance(values), index=history.index, name="variance")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """One-step variance forecasts for a frame with a ``ret`` column (MLflow's pyfunc).

        Row ``t`` of the output forecasts the variance of day ``t + 1`` from the returns
        up to ``t``; the last value is the forecast for the next day.
        """
        check_is_fitted(self, "params_")
        return self.variance_path(as_returns(X, name="predict input")).to_numpy()

    # -- distribution and simulation ------------------------------------------------

    @property
    def distribution_params_(self) -> pd.Series:
        """Estimated shape parameters of the innovation distribution (empty if normal)."""
        check_is_fitted(self, "params_")
        k = self.result_.model.distribution.num_params
        return self.params_.iloc[len(self.params_) - k :]

    def distribution_ppf(self, q: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Quantiles of the fitted standardised innovation distribution (unit variance).

        ``mu + sqrt(variance) * distribution_ppf(alpha)`` is the ``alpha`` quantile of
        the next return: the building block of a parametric VaR.
        """
        check_is_fitted(self, "params_")
        q_arr = np.atleast_1d(np.asarray(q, dtype=float))
        if ((q_arr <= 0) | (q_arr >= 1)).any():
            raise BadInputError(f"quantile levels must be in (0, 1), got {q!r}")
        distribution = self.result_.model.distribution
        return np.asarray(distribution.ppf(q_arr, self.distribution_params_.to_numpy()))

    def simulate(
        self,
        nobs: int,
        params: Sequence[float] | pd.Series | None = None,
        burn: int = 500,
        random_state: int | None = None,
    ) -> pd.DataFrame:
        """Simulate returns from the model.

        Parameters
        ----------
        nobs : int
            Number of days to return.
        params : array-like, optional
            Parameters in arch's order; defaults to the fitted ones (which need ``fit``),
            so an unfitted specification can simulate from known parameters.
        burn : int
            Days simulated and discarded first, so the start value does not matter.
        random_state : int, optional
            Seed; defaults to the ``random_state`` hyperparameter.

        Returns
        -------
        pandas.DataFrame
            Columns ``data`` (returns), ``volatility`` and ``errors``, arch's layout.
        """
        seed = self.random_state if random_state is None else random_state
        self._check_spec()
        if params is None:
            check_is_fitted(self, "params_")
            params, scale = self.params_, self.scale_
        else:
            scale = 1.0
        model = self._model(None, seed=np.random.default_rng(seed))
        frame = model.simulate(np.asarray(params, dtype=float), int(nobs), burn=int(burn))
        return frame / scale


# -- realised-variance proxies ------------------------------------------------------


def parkinson_variance(high: pd.Series, low: pd.Series) -> pd.Series:
    """Parkinson's (1980) range-based daily variance, percent²: ``(100 ln(H/L))² / (4 ln 2)``.

    It is several times more efficient than the squared return but, built from the
    trading range only, it misses overnight moves; :func:`realised_proxy` rescales it.
    """
    log_range = 100 * np.log(high.astype(float) / low.astype(float))
    return (log_range**2 / (4 * np.log(2))).rename("parkinson")


def realised_proxy(
    returns: pd.Series,
    high: pd.Series | None = None,
    low: pd.Series | None = None,
    kind: str = "auto",
    calibrate_on: int | None = None,
) -> pd.Series:
    """A daily realised-variance proxy, percent², aligned with ``returns``.

    Parameters
    ----------
    returns : pandas.Series
        Percent returns.
    high, low : pandas.Series, optional
        Daily high and low prices on the same dates.
    kind : {"auto", "squared", "range"}
        ``squared``: the squared return. ``range``: Parkinson's range variance, scaled
        so that its mean equals the mean squared return (which puts the overnight
        variance back, as in Hansen and Lunde, 2005). ``auto``: ``range`` when high and
        low are given and complete, else ``squared``. The kind used is recorded in
        the result's ``attrs["proxy"]``.
    calibrate_on : int, optional
        Use only the first ``calibrate_on`` days for the range scale factor, so that an
        evaluation window never leaks into the training target.
    """
    squared = (returns.astype(float) ** 2).rename("realised")
    if kind not in ("auto", "squared", "range"):
        raise BadInputError(f"proxy must be auto, squared or range, got {kind!r}")
    parkinson = None
    if high is not None and low is not None:
        candidate = parkinson_variance(high, low).reindex(returns.index)
        if candidate.notna().all() and (candidate > 0).mean() > 0.99:
            parkinson = candidate
    has_range = parkinson is not None
    if kind == "squared" or (kind == "auto" and not has_range):
        squared.attrs["proxy"] = "squared"
        return squared
    if parkinson is None:
        raise BadInputError("proxy=range needs complete high and low prices")
    calibration = slice(None, calibrate_on)
    factor = squared.iloc[calibration].mean() / parkinson.iloc[calibration].mean()
    scaled = (parkinson * factor).rename("realised")
    scaled.attrs["proxy"] = "range"
    return scaled


# -- HAR-type machine-learning model ------------------------------------------------

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
