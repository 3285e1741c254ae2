"""Portfolio VaR and ES of several assets with fixed weights.

Two methods, both scenario-based so that the cross-asset dependence is the data's own:

* ``"historical"`` -- historical simulation: each past day's vector of asset returns is
  a scenario for tomorrow, the portfolio return is ``w @ r``.
* ``"fhs"`` -- filtered historical simulation with a GARCH model per asset (Barone-Adesi
  et al., 1999): each asset's standardised residuals are rescaled by that asset's
  forecast volatility, and whole days of residual vectors are resampled together, which
  keeps the cross-asset dependence of the shocks while each asset gets its own
  volatility.

``comonotonic=True`` couples the assets' scenario distributions by rank instead (every
asset at the same quantile on the same scenario): the correlation-goes-to-one stress.

Weights are fractions of portfolio value, applied to percent returns, so the portfolio
return is ``sum_i w_i r_i`` (constant weights, rebalanced daily).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from riskops.errors import BadInputError, DataValidationError, Violation

__all__ = ["PortfolioVaR", "portfolio_returns", "portfolio_var_es"]

_METHODS = ("historical", "fhs")


def _weights(weights: Any, columns: Sequence[str]) -> np.ndarray:
    if weights is None:
        return np.full(len(columns), 1.0 / len(columns))
    if isinstance(weights, Mapping):
        unknown = sorted(set(map(str, weights)) - set(map(str, columns)))
        if unknown:
            raise BadInputError(f"weights: unknown assets {unknown}; assets are {list(columns)}")
        w = np.array([float(weights.get(c, 0.0)) for c in columns])
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.size != len(columns):
            raise BadInputError(f"weights: {w.size} weights for {len(columns)} assets")
    if not np.isfinite(w).all() or not np.any(w):
        raise BadInputError("weights: must be finite and not all zero")
    return w


def _frame(returns: Any) -> pd.DataFrame:
    if not isinstance(returns, pd.DataFrame):
        raise BadInputError("returns: a DataFrame with one column of percent returns per asset")
    frame = returns.astype(float).dropna(how="any")
    if len(frame) < 30:
        raise DataValidationError(
            "returns", [Violation("rows", "need at least 30 days with all assets", (len(frame),))]
        )
    if not np.isfinite(frame.to_numpy()).all():
        raise DataValidationError("returns", [Violation("returns", "must be finite")])
    return frame


def portfolio_returns(returns: pd.DataFrame, weights: Any = None) -> pd.Series:
    """Daily percent return of the constant-weight portfolio (equal weights by default),
    on the days every asset has a return."""
    frame = _frame(returns)
    w = _weights(weights, list(map(str, frame.columns)))
    return pd.Series(frame.to_numpy() @ w, index=frame.index, name="portfolio")


class PortfolioVaR(BaseEstimator):
    """VaR and ES of a fixed-weight portfolio by historical or filtered historical simulation.

    Parameters
    ----------
    weights : mapping of asset to weight, sequence, or None
        Fractions of portfolio value (equal weights if ``None``).
    method : {"fhs", "historical"}
        Scenario generator (see the module docstring).
    level : float
        Confidence level of ``predict``.
    window : int or None
        Use only the last ``window`` days as scenarios (all by default).
    o : {0, 1}
        FHS only: GJR leverage term in each asset's GARCH(1,1).
    dist : {"t", "normal"}
        FHS only: likelihood of the per-asset GARCH fits.
    comonotonic : bool
        Couple the assets by rank (correlation -> 1) instead of by day.

    Attributes
    ----------
    assets_ : list of str
    weights_ : numpy.ndarray
    fits_ : dict of str to GarchFit
        FHS only: per-asset GARCH estimates.
    residuals_ : pandas.DataFrame
        FHS: standardised residuals, one column per asset, aligned by day.
    """

    def __init__(
        self,
        weights: Any = None,
        method: str = "fhs",
        level: float = 0.99,
        window: int | None = None,
        o: int = 1,
        dist: str = "t",
        comonotonic: bool = False,
    ) -> None:
        self.weights = weights
        self.method = method
        self.level = level
        self.window = window
        self.o = o
        self.dist = dist
        self.comonotonic = comonotonic

    def fit(self, returns: pd.DataFrame, y: Any = None) -> PortfolioVaR:
        """Fit on aligned percent returns, one column per asset."""
        from riskops.market.rolling import fit_garch

        if self.method not in _METHODS:
            raise BadInputError(f"method: one of {list(_METHODS)}, got {self.method!r}")
        frame = _frame(returns)
        self.assets_ = list(map(str, frame.columns))
        self.weights_ = _weights(self.weights, self.assets_)
        self.returns_ = frame
        if self.method == "fhs":
            self.fits_ = {
                a: fit_garch(frame[a].to_numpy(), o=int(self.o), dist=str(self.dist))
                for a in self.assets_
            }
            self.residuals_ = pd.DataFrame(
                {a: self.fits_[a].std_resid(frame[a].to_numpy()) for a in self.assets_},
                index=frame.index,
            )
        self.n_obs_ = len(frame)
        return self

    def scenarios(self, returns: pd.DataFrame | None = None) -> pd.DataFrame:
        """Tomorrow's asset-return scenarios (percent), one row per scenario, conditional
        on ``returns`` (the training data by default) with the fitted parameters."""
        from riskops.market.rolling import garch_backcast, garch_variance

        check_is_fitted(self, "n_obs_")
        history = self.returns_ if returns is None else _frame(returns)[self.assets_]
        if self.method == "historical":
            sample = history.to_numpy()
        else:
            mu, sigma = [], []
            for a in self.assets_:
                fit = self.fits_[a]
                y = history[a].to_numpy()
                _, nxt = garch_variance(fit.params, y, garch_backcast(y - fit.params[0]), fit.o)
                mu.append(fit.params[0])
                sigma.append(np.sqrt(nxt))
            sample = np.asarray(mu) + self.residuals_.to_numpy() * np.asarray(sigma)
        if self.window is not None:
            sample = sample[-int(self.window) :]
        if self.comonotonic:
            # Every asset at the same rank on the same scenario: perfect dependence.
            sample = np.sort(sample, axis=0)
        return pd.DataFrame(sample, columns=self.assets_)

    def forecast(
        self, returns: pd.DataFrame | None = None, levels: Sequence[float] | float = (0.95, 0.99)
    ) -> pd.DataFrame:
        """Next-day portfolio VaR and ES per level (positive losses, percent)."""
        from riskops.market.var import _empirical_tail, _levels, _validated

        lv = _levels(levels)
        pnl = self.scenarios(returns).to_numpy() @ self.weights_
        pairs = [_empirical_tail(pnl, 1.0 - x) for x in lv]
        return _validated(-np.array([q for q, _ in pairs]), -np.array([m for _, m in pairs]), lv)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """One-row ``var``/``es`` at ``level`` after the asset returns ``X``."""
        return self.forecast(X, levels=(float(self.level),)).reset_index(drop=True)


def portfolio_var_es(
    returns: pd.DataFrame,
    weights: Any = None,
    *,
    method: str = "fhs",
    levels: Sequence[float] = (0.95, 0.99),
    window: int | None = None,
    comonotonic: bool = False,
) -> pd.DataFrame:
    """Shorthand: fit :class:`PortfolioVaR` on ``returns`` and forecast tomorrow."""
    model = PortfolioVaR(weights, method=method, window=window, comonotonic=comonotonic)
    return model.fit(returns).forecast(levels=levels)
