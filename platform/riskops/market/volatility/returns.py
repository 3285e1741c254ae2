"""Validated returns in, validated variances out: the input and output schemas every
volatility model of :mod:`riskops.market.volatility` shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from riskops.errors import DataValidationError, Violation


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
