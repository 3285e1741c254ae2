"""What every backtest shares: the exceedance series, argument checks and the results'
JSON form."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class _Result:
    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-serialisable dict (non-finite numbers become ``None``)."""
        # Fields are scalars, so a shallow read is the dict asdict would deep-copy.
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


def exceedances(returns: Any, var: Any) -> np.ndarray:
    """Boolean exceptions: the loss ``-returns`` is strictly above the VaR ``var`` (> 0)."""
    r = np.asarray(returns, dtype=float)
    v = np.asarray(var, dtype=float)
    if r.shape != v.shape:
        raise ValueError(f"returns {r.shape} and var {v.shape} differ in shape")
    return -r > v


def _hits(hits: Any) -> np.ndarray:
    h = np.asarray(hits)
    if h.ndim != 1:
        raise ValueError("hits must be one-dimensional")
    if h.dtype != bool:
        if not np.isin(h, (0, 1)).all():
            raise ValueError("hits must be boolean (or 0/1)")
        h = h.astype(bool)
    if h.size == 0:
        raise ValueError("hits is empty")
    return h


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.5 <= level < 1.0:
        raise ValueError(f"level must be a VaR confidence level in [0.5, 1), got {level}")
    return level
