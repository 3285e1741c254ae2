"""Realised-variance proxies: the squared return and Parkinson's range variance, rescaled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskops.errors import BadInputError


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
