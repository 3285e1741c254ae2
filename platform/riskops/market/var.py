"""Value-at-Risk and Expected Shortfall models on percent returns.

Four estimators share one interface:

* :class:`HistoricalVaR` -- empirical quantile and tail mean of the last ``window`` days.
* :class:`FilteredHistoricalVaR` -- GARCH filtered historical simulation (Barone-Adesi
  et al., 1999): the empirical distribution of the GARCH standardised residuals,
  scaled by the next day's forecast volatility.
* :class:`GarchTVaR` -- parametric GARCH with standardised Student's t innovations,
  with the analytic t quantile and Expected Shortfall.
* :class:`QuantileVaR` -- LightGBM quantile regression of the next day's return on
  lagged return and volatility features.

``fit(returns)`` learns from a return series. ``forecast(returns=None, levels=(0.95,
0.99))`` gives the next day's VaR and ES for each level -- positive losses in percent,
a frame indexed by level -- conditional on ``returns`` (the training series by
default) with the fitted parameters kept fixed. ``predict(X)`` takes a frame with a
``ret`` column and returns the one-row forecast at the estimator's ``level``; it is
what MLflow's generic pyfunc calls.

VaR at level ``c`` is the loss exceeded with probability ``1 - c``; ES is the mean
loss beyond it, so ``es >= var > 0`` is checked on every output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from riskops.errors import BadInputError, DataValidationError, Violation
from riskops.market.rolling import (
    fit_garch,
    garch_backcast,
    garch_variance,
    std_t_quantile_es,
)
from riskops.market.volatility import as_returns
from riskops.serialization import PlainState

__all__ = [
    "FilteredHistoricalVaR",
    "GarchTVaR",
    "HistoricalVaR",
    "QuantileVaR",
    "VaRForecast",
    "VaRModel",
]


class VaRForecast(pa.DataFrameModel):
    """Model output: next-day VaR and ES per level, positive losses in percent."""

    var: Series[float] = pa.Field(gt=0, nullable=False)
    es: Series[float] = pa.Field(gt=0, nullable=False)

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="es must be >= var")
    @classmethod
    def es_not_below_var(cls, df: pd.DataFrame) -> pd.Series:
        # A relative slack absorbs rounding when the tail is a single point.
        return df["es"] >= df["var"] * (1 - 1e-12)


def _levels(levels: Sequence[float] | float) -> tuple[float, ...]:
    out = tuple(float(x) for x in np.atleast_1d(np.asarray(levels, dtype=float)))
    if not out or any(not 0.5 <= x < 1 for x in out):
        raise BadInputError(f"levels must be VaR confidence levels in [0.5, 1), got {levels!r}")
    return out


def _validated(var: np.ndarray, es: np.ndarray, levels: tuple[float, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"var": np.asarray(var, dtype=float), "es": np.asarray(es, dtype=float)},
        index=pd.Index(levels, name="level"),
    )
    try:
        return VaRForecast.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        violations = [
            Violation(str(col), str(check), tuple(grp["failure_case"].head(5)))
            for (col, check), grp in cases.groupby(["column", "check"], dropna=False, sort=False)
        ]
        raise DataValidationError("VaR forecast", violations) from None


def _empirical_tail(sample: np.ndarray, p: float) -> tuple[float, float]:
    """Lower ``p``-quantile of ``sample`` (linear interpolation) and the mean of the
    values at or below it: the VaR and ES of a scenario set, as returns."""
    q = float(np.quantile(sample, p))
    tail = sample[sample <= q]
    return q, float(tail.mean()) if tail.size else q


class _VaRModel(PlainState, BaseEstimator):
    """Base class of every VaR/ES model, public as :class:`VaRModel`.

    A user's own VaR model subclasses it (``from riskops.market.var import VaRModel``) and
    implements two methods on plain arrays of percent returns, oldest first:

    ``_fit_values(self, y, start=None) -> self``
        Learn from the returns ``y`` (``start``: optional warm-start state from the
        previous refit, see ``_warm_state``); set learned attributes ending in ``_`` and
        call ``self._mark_fitted(y)``.
    ``_forecast_values(self, y, levels) -> (var, es)``
        Next-day VaR and ES after the returns ``y`` for each level of ``levels`` (a tuple of
        confidence levels in [0.5, 1)), as positive losses in percent, ``es >= var``, with
        the fitted parameters kept fixed.

    ``__init__`` stores hyperparameters only (scikit-learn contract) and should have a
    ``level`` (the level ``predict`` and the family's headline figures use). The base class
    adds ``fit(returns)``, ``forecast(returns=None, levels=(0.95, 0.99))`` (validated: a
    frame indexed by level with ``var`` and ``es``) and ``predict`` (MLflow's pyfunc); the
    var family's rolling backtests and the service call the two methods above directly.

    Its saved state is plain data (:class:`~riskops.serialization.PlainState`), so the
    built-in models are stored with skops, which runs no code on load.
    """

    level: float

    def fit(self, returns: Any, y: Any = None) -> _VaRModel:
        """Fit on percent returns (a Series, a frame with a ``ret`` column, or an array)."""
        series = as_returns(returns)
        self._fit_values(series.to_numpy(), start=None)
        self.returns_ = series
        self.n_obs_ = int(series.size)
        return self

    def _history(self, returns: Any) -> np.ndarray:
        if returns is None:
            return self.returns_.to_numpy()
        return as_returns(returns).to_numpy()

    def forecast(
        self, returns: Any = None, levels: Sequence[float] | float = (0.95, 0.99)
    ) -> pd.DataFrame:
        """Next-day VaR and ES after ``returns`` (the training series by default).

        Returns
        -------
        pandas.DataFrame
            Index ``level``; columns ``var`` and ``es``, positive losses in percent.
        """
        check_is_fitted(self, "n_obs_")
        lv = _levels(levels)
        var, es = self._forecast_values(self._history(returns), lv)
        return _validated(var, es, lv)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """One-row frame of ``var`` and ``es`` at ``level`` for the day after ``X["ret"]``."""
        check_is_fitted(self, "n_obs_")
        if not isinstance(X, pd.DataFrame) or "ret" not in X.columns:
            raise DataValidationError("input", [Violation("ret", "a column 'ret' is required")])
        out = self.forecast(X[["ret"]], levels=(float(self.level),))
        return out.reset_index(drop=True)

    # The rolling engine calls these directly on arrays, skipping validation.
    def _fit_values(self, y: np.ndarray, start: Any = None) -> _VaRModel:
        raise NotImplementedError

    def _forecast_values(
        self, y: np.ndarray, levels: tuple[float, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _warm_state(self) -> Any:
        return None

    def _mark_fitted(self, y: np.ndarray) -> None:
        # The engine fits on arrays; keep the public attributes consistent.
        self.n_obs_ = int(y.size)


VaRModel = _VaRModel
"""The public base class of VaR/ES models (see :class:`_VaRModel`)."""


class HistoricalVaR(_VaRModel):
    """Historical simulation: the empirical loss distribution of the last ``window`` days.

    Parameters
    ----------
    window : int
        Number of most recent returns used (all of them when fewer are available).
    level : float
        Confidence level of ``predict``.

    Notes
    -----
    VaR is the negated ``1 - level`` quantile of the window's returns (linear
    interpolation); ES is the negated mean of the returns at or below that quantile.
    """

    def __init__(self, window: int = 500, level: float = 0.99) -> None:
        self.window = window
        self.level = level

    def _fit_values(self, y: np.ndarray, start: Any = None) -> HistoricalVaR:
        if int(self.window) < 2:
            raise BadInputError(f"window must be at least 2, got {self.window!r}")
        self._mark_fitted(y)
        return self

    def _forecast_values(
        self, y: np.ndarray, levels: tuple[float, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        sample = y[-int(self.window) :]
        pairs = [_empirical_tail(sample, 1.0 - lv) for lv in levels]
        return -np.array([q for q, _ in pairs]), -np.array([m for _, m in pairs])


class _GarchVaR(_VaRModel):
    """A GARCH(1,1)/GJR-GARCH(1,1,1) model estimated by :func:`fit_garch` (or, when
    ``volatility`` is given, by that :class:`~riskops.market.volatility.GarchVolatility`)."""

    o: int
    dist: str
    volatility: Any

    def _fit_values(self, y: np.ndarray, start: Any = None) -> _GarchVaR:
        if self.volatility is not None:
            from sklearn.base import clone

            vol = clone(self.volatility).fit(pd.Series(y, name="ret"))
            self.volatility_ = vol
            self.params_ = vol.params_.copy()
            self.std_resid_ = np.asarray(vol.std_resid_, dtype=float)
            self.fit_ = None
        else:
            fit = fit_garch(y, o=int(self.o), dist=str(self.dist), start=start)
            self.fit_ = fit
            self.params_ = pd.Series(fit.params, index=list(fit.names), name="params")
            self.std_resid_ = fit.std_resid(y)
            self.loglikelihood_ = fit.loglikelihood
        self._mark_fitted(y)
        return self

    def _warm_state(self) -> Any:
        # The whole previous fit: its optimum and its curvature start the next one.
        return getattr(self, "fit_", None)

    def _mean_sigma(self, y: np.ndarray) -> tuple[float, float]:
        """Mean and volatility of the day after ``y``, with the fitted parameters."""
        if self.fit_ is None:
            vol = self.volatility_
            variance = float(vol.forecast_variance(pd.Series(y, name="ret"))[0])
            # arch's estimates are in its rescaled units when it rescaled the data.
            mu = float(self.params_.get("mu", 0.0)) / float(getattr(vol, "scale_", 1.0))
            return mu, float(np.sqrt(variance))
        # Conditioning on a new history: like arch's fixed-parameter models, the backcast
        # is recomputed from its residuals.
        theta = self.fit_.params
        backcast = garch_backcast(y - theta[0])
        _, nxt = garch_variance(theta, y, backcast, self.fit_.o)
        return float(theta[0]), float(np.sqrt(nxt))


class GarchTVaR(_GarchVaR):
    """Parametric VaR/ES of a GARCH model with standardised Student's t innovations.

    ``r_{t+1} = mu + sigma_{t+1} z`` with ``z`` unit-variance Student's t with ``nu``
    degrees of freedom, so ``VaR = -(mu + sigma q_nu)`` and ``ES = -mu + sigma ES_nu``
    where ``q_nu`` is the ``1 - level`` quantile of ``z`` and ``ES_nu`` its analytic tail
    mean, ``f(t) (nu + t^2) / ((nu - 1) p) sqrt((nu - 2) / nu)``.

    Parameters
    ----------
    o : {0, 1}
        0: GARCH(1,1); 1: GJR-GARCH(1,1,1) with a leverage term.
    level : float
        Confidence level of ``predict``.
    volatility : GarchVolatility or None
        Estimate with this arch-based model instead (it must have ``dist="t"``); by
        default the fast built-in estimator of the same model as
        ``GarchVolatility(mean="Constant", vol="GARCH", p=1, o=o, q=1, dist="t")``.

    Attributes
    ----------
    params_ : pandas.Series
        Estimates under arch's names (``mu``, ``omega``, ``alpha[1]``, ``beta[1]``, ``nu``).
    std_resid_ : numpy.ndarray
        In-sample standardised residuals.
    """

    def __init__(self, o: int = 0, level: float = 0.99, volatility: Any = None) -> None:
        self.o = o
        self.level = level
        self.volatility = volatility

    @property
    def dist(self) -> str:  # type: ignore[override]
        return "t"

    def _fit_values(self, y: np.ndarray, start: Any = None) -> GarchTVaR:
        if self.volatility is not None and str(getattr(self.volatility, "dist", "")) != "t":
            raise BadInputError("volatility: GarchTVaR needs a model with dist='t'")
        super()._fit_values(y, start=start)
        return self

    def _forecast_values(
        self, y: np.ndarray, levels: tuple[float, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        mu, sigma = self._mean_sigma(y)
        nu = float(self.params_["nu"])
        var, es = [], []
        for lv in levels:
            q, tail = std_t_quantile_es(1.0 - lv, nu)
            var.append(-(mu + sigma * q))
            es.append(-mu + sigma * tail)
        return np.array(var), np.array(es)


class FilteredHistoricalVaR(_GarchVaR):
    """GARCH filtered historical simulation.

    The model is fitted by (quasi) maximum likelihood; its standardised residuals
    ``z_t = (r_t - mu) / sigma_t`` form the scenario set, and the next day's return
    scenarios are ``mu + sigma_{t+1} z_t``. VaR and ES are the empirical quantile and
    tail mean of those scenarios.

    Parameters
    ----------
    o : {0, 1}
        0: GARCH(1,1); 1 (default): GJR-GARCH(1,1,1), for the leverage effect of equities.
    dist : {"t", "normal"}
        Likelihood used to estimate the filter (the residuals' own distribution is used
        for the forecast, whatever this is).
    window : int or None
        Use only the last ``window`` standardised residuals as scenarios (all by default).
    level : float
        Confidence level of ``predict``.
    volatility : GarchVolatility or None
        Filter with this arch-based model instead of the built-in fast estimator.
    """

    def __init__(
        self,
        o: int = 1,
        dist: str = "t",
        window: int | None = None,
        level: float = 0.99,
        volatility: Any = None,
    ) -> None:
        self.o = o
        self.dist = dist
        self.window = window
        self.level = level
        self.volatility = volatility

    def _forecast_values(
        self, y: np.ndarray, levels: tuple[float, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        mu, sigma = self._mean_sigma(y)
        z = self.std_resid_ if self.window is None else self.std_resid_[-int(self.window) :]
        pairs = [_empirical_tail(z, 1.0 - lv) for lv in levels]
        var = np.array([-(mu + sigma * q) for q, _ in pairs])
        es = np.array([-(mu + sigma * m) for _, m in pairs])
        return var, es


def quantile_features(returns: pd.Series | np.ndarray, lags: int = 5) -> pd.DataFrame:
    """Features known at the close of day ``t``, for the return of day ``t + 1``.

    ``ret_lag{k}`` (the return ``k - 1`` days before, ``ret_lag1`` being day ``t``),
    ``abs_ret``, realised volatilities over 5 and 22 days (root mean square) and the
    RiskMetrics EWMA volatility (lambda 0.94). Rows before 22 days of history are NaN.
    """
    r = pd.Series(np.asarray(returns, dtype=float))
    feats = {f"ret_lag{k}": r.shift(k - 1) for k in range(1, int(lags) + 1)}
    feats["abs_ret"] = r.abs()
    sq = r**2
    feats["rv5"] = np.sqrt(sq.rolling(5).mean())
    feats["rv22"] = np.sqrt(sq.rolling(22).mean())
    feats["ewma_vol"] = np.sqrt(sq.ewm(alpha=0.06, adjust=False).mean())
    frame = pd.DataFrame(feats)
    frame.iloc[:21] = np.nan
    return frame


class QuantileVaR(_VaRModel):
    """LightGBM quantile regression of the next day's return on lagged features.

    One model per VaR level predicts the ``1 - level`` return quantile from
    :func:`quantile_features`; VaR is its negative.

    Expected Shortfall is by tail averaging of scaled exceedances: assuming the loss
    beyond the VaR scales with the VaR (a zero-mean location-scale tail), ``ES_t =
    k * VaR_t`` where ``k`` is the mean of ``loss / VaR`` over the training days whose
    loss exceeded the VaR. That VaR is **cross-fitted** (``es_folds`` contiguous blocks
    of the training days, each predicted by a model fitted on the other blocks): the
    in-sample quantile of a boosted model hugs its own training losses, so its
    exceedances are the mildest ones and the in-sample ratio understated ES by about
    25% on the S&P 500 (1.06 where the out-of-sample ratio is 1.36, issue 13). With
    fewer than ``min_tail`` exceedances, ``k`` is the normal distribution's ``ES / VaR``
    ratio. (Separate deeper-quantile models were tried for ES; LightGBM's extreme
    quantiles were too coarse and crossed.) ``es_folds=1`` restores the in-sample
    ratio, for comparison only.

    Parameters
    ----------
    levels : sequence of float
        VaR levels a model is trained for; ``forecast`` accepts only these.
    level : float
        Confidence level of ``predict`` (must be in ``levels``).
    lags : int
        Number of lagged returns among the features.
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings.
    min_tail : int
        Minimum number of training exceedances to estimate the ES ratio.
    es_folds : int
        Contiguous blocks for the cross-fitted VaR of the ES ratio (1: in-sample).
    random_state : int
        Seed of LightGBM.

    Attributes
    ----------
    models_ : dict of float to lightgbm.LGBMRegressor
        Quantile model per level.
    es_ratio_ : dict of float to float
        ``ES / VaR`` ratio per level.
    """

    def __init__(
        self,
        levels: Sequence[float] = (0.95, 0.99),
        level: float = 0.99,
        lags: int = 5,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        min_tail: int = 10,
        es_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.levels = levels
        self.level = level
        self.lags = lags
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.min_tail = min_tail
        self.es_folds = es_folds
        self.random_state = random_state

    def _fit_values(self, y: np.ndarray, start: Any = None) -> QuantileVaR:
        import lightgbm as lgb
        from scipy import stats

        levels = _levels(self.levels)
        if float(self.level) not in levels:
            raise BadInputError(f"level {self.level} is not among levels {self.levels}")
        X = quantile_features(y, int(self.lags))
        target = pd.Series(y).shift(-1)
        ok = (X.notna().all(axis=1) & target.notna()).to_numpy()
        if int(ok.sum()) < 100:
            raise BadInputError("QuantileVaR needs at least 123 returns")
        Xf, yf = X[ok], target[ok].to_numpy()
        folds = int(self.es_folds)
        if folds < 1:
            raise BadInputError(f"es_folds: must be at least 1, got {folds}")

        def regressor(lv: float) -> Any:
            return lgb.LGBMRegressor(
                objective="quantile",
                alpha=1.0 - lv,
                n_estimators=int(self.n_estimators),
                learning_rate=float(self.learning_rate),
                num_leaves=int(self.num_leaves),
                min_child_samples=int(self.min_child_samples),
                random_state=int(self.random_state),
                n_jobs=1,
                verbose=-1,
            )

        models: dict[float, Any] = {}
        ratios: dict[float, float] = {}
        for lv in levels:
            model = regressor(lv)
            models[lv] = model.fit(Xf, yf)
            if folds == 1:
                predicted = np.asarray(model.predict(Xf), dtype=float)
            else:
                # Cross-fitted: each block's quantile from a model that never saw it.
                predicted = np.empty(yf.size)
                for block in np.array_split(np.arange(yf.size), folds):
                    rest = np.ones(yf.size, dtype=bool)
                    rest[block] = False
                    fold_model = regressor(lv).fit(Xf[rest], yf[rest])
                    predicted[block] = fold_model.predict(Xf.iloc[block])
            var = np.maximum(-predicted, 1e-8)
            loss = -yf
            tail = loss > var
            if int(tail.sum()) >= int(self.min_tail):
                ratios[lv] = float(np.mean(loss[tail] / var[tail]))
            else:
                z = stats.norm.ppf(lv)
                ratios[lv] = float(stats.norm.pdf(z) / (1 - lv) / z)
        self.models_ = models
        self.es_ratio_ = ratios
        self.feature_names_ = list(X.columns)
        self._mark_fitted(y)
        return self

    def _forecast_values(
        self, y: np.ndarray, levels: tuple[float, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        missing = [lv for lv in levels if lv not in self.models_]
        if missing:
            raise BadInputError(
                f"QuantileVaR was trained for levels {sorted(self.models_)}, not {missing}"
            )
        if y.size < 22:
            raise BadInputError("QuantileVaR needs at least 22 returns of history")
        X = quantile_features(y[-60:], int(self.lags)).iloc[[-1]]
        trained = sorted(self.models_)
        raw = np.array([-self.models_[lv].predict(X)[0] for lv in trained])
        raw = np.maximum.accumulate(raw)  # VaR never decreases with the level
        by_level = dict(zip(trained, raw, strict=True))
        var = np.array([by_level[lv] for lv in levels])
        es = np.array([by_level[lv] * self.es_ratio_[lv] for lv in levels])
        return var, np.maximum(es, var)

    def explain(self, returns: Any = None) -> tuple[np.ndarray, float, pd.DataFrame]:
        """TreeSHAP contributions to the VaR at ``level`` over ``returns``' days.

        Returns ``(contributions, base_value, X)`` on the VaR scale (a positive
        contribution raises the VaR), ready for
        :func:`riskops.explain.write_shap_artifacts`.
        """
        check_is_fitted(self, "models_")
        y = self._history(returns)
        X = quantile_features(y, int(self.lags)).dropna()
        contrib = self.models_[float(self.level)].predict(X, pred_contrib=True)
        # The model predicts the return quantile; VaR is its negative.
        return -contrib[:, :-1], float(-contrib[0, -1]), X.reset_index(drop=True)


VAR_MODELS = ("fhs", "garch_t", "historical", "quantile_lightgbm")
"""The built-in VaR models by their ``--model`` names; the first is the default."""
FORECAST_LEVELS = (0.95, 0.99)
"""The levels every built-in model forecasts (the VaR family backtests both)."""


def make_var_model(
    model: str, *, level: float = 0.99, dist: str | None = None, seed: int = 42, window: int = 500
) -> VaRModel:
    """An unfitted VaR estimator by its ``--model`` name."""
    if model == "fhs":
        dist = dist or "t"
        if dist not in ("t", "normal"):
            raise BadInputError(f"dist: fhs filters with a t or normal likelihood, not {dist!r}")
        return FilteredHistoricalVaR(o=1, dist=dist, level=level)
    if dist not in (None, "t") and model == "garch_t":
        raise BadInputError(f"dist: garch_t has Student's t innovations, not {dist!r}")
    if model == "garch_t":
        return GarchTVaR(level=level)
    if model == "historical":
        return HistoricalVaR(window=int(window), level=level)
    if model == "quantile_lightgbm":
        levels = tuple(sorted({*FORECAST_LEVELS, float(level)}))
        return QuantileVaR(levels=levels, level=level, random_state=seed)
    raise BadInputError(f"model: unknown VaR model {model!r}; one of {list(VAR_MODELS)}")
