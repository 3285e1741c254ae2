"""ARCH-family volatility models estimated by arch: :class:`GarchVolatility`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from riskops.errors import BadInputError
from riskops.market.volatility.returns import _as_variance, as_returns
from riskops.serialization import PlainState

_MEANS = ("constant", "zero")
_VOLS = ("garch", "egarch")
_DISTS = {"normal": "Normal", "t": "StudentsT", "skewt": "SkewStudent"}


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

    # Stored models (skops files, the families' trusted types) name this class by its public
    # path, riskops.market.volatility, which is the file format: it stays whichever file of
    # the package defines the class.
    __module__ = "riskops.market.volatility"

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
