"""The volatility-model protocol, and the platform's adapter for a user's own forecaster.

The public protocol a volatility model honours (``GarchVolatility`` and ``HARVolatility``
already do)::

    class MyVolatility(BaseEstimator):           # get_params/clone: the unfitted spec
        def fit(self, returns) -> "MyVolatility": ...
        def forecast_variance(self, returns=None, horizon=1) -> np.ndarray: ...
        def variance_path(self, returns=None) -> pd.Series: ...

* ``returns``: daily percent returns (a ``pandas.Series`` indexed by date).
* ``forecast_variance``: the next ``horizon`` daily variances (percent²) after ``returns``
  (the training returns when ``None``), with the fitted parameters kept fixed.
* ``variance_path``: one-step-ahead variances aligned with the returns: row ``t`` is the
  forecast of day ``t + 1`` made with the returns up to ``t``.

:class:`VolatilityForecaster` wraps such a model so that the family's rolling backtest
against GARCH(1,1), its gates, MLflow's pyfunc (``predict``) and the service treat it like
the built-ins.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["VolatilityForecaster", "VolatilityModel", "implements_platform_volatility"]


@runtime_checkable
class VolatilityModel(Protocol):
    """What the volatility family needs from a model (see the module docstring)."""

    def fit(self, returns: pd.Series) -> Any: ...

    def forecast_variance(self, returns: pd.Series | None = None, horizon: int = 1) -> Any: ...

    def variance_path(self, returns: pd.Series | None = None) -> pd.Series: ...


def _takes_target(fit: Any) -> bool:
    try:
        parameters = list(inspect.signature(fit).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def implements_platform_volatility(estimator: Any) -> bool:
    """True for models the family uses as they are: the protocol plus ``predict`` and a
    ``fit(returns, y)`` that takes a realised-variance target (the built-ins)."""
    return all(
        callable(getattr(estimator, m, None))
        for m in ("fit", "forecast_variance", "variance_path", "predict", "get_params")
    ) and _takes_target(estimator.fit)


class VolatilityForecaster(BaseEstimator):
    """A user's volatility model, served, backtested and logged like the built-ins.

    Parameters
    ----------
    model
        Unfitted model honouring :class:`VolatilityModel`.
    """

    _wraps = "model"
    """The parameter holding the user's unfitted model (see ``contracts.specification_of``)."""

    def __init__(self, model: Any = None) -> None:
        self.model = model

    def fit(self, returns: Any, y: Any = None) -> VolatilityForecaster:
        """Fit a clone of ``model`` on ``returns`` (``y``, a realised-variance target, is
        passed on only to models whose ``fit`` takes one)."""
        from riskops.families.contracts import unfitted
        from riskops.market.volatility import as_returns

        series = as_returns(returns)
        model = unfitted(self.model) if hasattr(self.model, "get_params") else self.model
        if y is not None and _takes_target(model.fit):
            fitted = model.fit(series, y)
        else:
            fitted = model.fit(series)
        self.model_ = fitted if fitted is not None else model
        self.returns_ = series
        self.n_obs_ = len(series)
        return self

    def forecast_variance(self, returns: Any = None, horizon: int = 1) -> np.ndarray:
        check_is_fitted(self, "model_")
        history = self.returns_ if returns is None else returns
        values = self.model_.forecast_variance(history, horizon=int(horizon))
        return np.asarray(values, dtype=float).reshape(-1)

    def variance_path(self, returns: Any = None) -> pd.Series:
        from riskops.market.volatility import as_returns

        check_is_fitted(self, "model_")
        history = self.returns_ if returns is None else as_returns(returns)
        path = self.model_.variance_path(history)
        return pd.Series(np.asarray(path, dtype=float), index=history.index, name="variance")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """One-step variance forecasts for a frame with a ``ret`` column (MLflow's pyfunc)."""
        from riskops.market.volatility import as_returns

        return self.variance_path(as_returns(X, name="predict input")).to_numpy()
