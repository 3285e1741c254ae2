"""pandera schema of what a PD model hands out: one calibrated PD and one grade per row."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

__all__ = ["CreditScores"]


class CreditScores(pa.DataFrameModel):
    """Model output at the boundary: ``pd`` in [0, 1] and a rating grade ``G1`` (best) ..."""

    pd: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=False)
    grade: Series[str] = pa.Field(str_matches=r"^G[1-9][0-9]*$", nullable=False)

    class Config:
        strict = True
        coerce = True
