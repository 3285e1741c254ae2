"""pandera schemas at the data boundary, one per domain.

``CreditApplications`` is the declared layout of the bundled credit data (and of any
extract in the same layout). Other credit files get a schema inferred from the column
mapping the user declares (:func:`riskops.data.credit.inferred_credit_schema`).
``MarketSeries`` is one asset's daily history after the user's column mapping.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

CREDIT_SCHEMA_VERSION = "credit-1"
MARKET_SCHEMA_VERSION = "market-1"


class CreditApplications(pa.DataFrameModel):
    """The ``modeldata/credit_data`` layout: one row per applicant, ``Status`` good/bad."""

    Status: Series[str] = pa.Field(isin=["good", "bad"])
    Seniority: Series[int] = pa.Field(ge=0, le=80, description="Years with the employer.")
    Home: Series[str] = pa.Field(
        nullable=True, isin=["rent", "owner", "parents", "priv", "other", "ignore"]
    )
    Time: Series[int] = pa.Field(gt=0, le=120, description="Requested term, months.")
    Age: Series[int] = pa.Field(ge=18, le=110)
    Marital: Series[str] = pa.Field(
        nullable=True, isin=["single", "married", "separated", "widow", "divorced"]
    )
    Records: Series[str] = pa.Field(isin=["no", "yes"], description="Existence of arrears.")
    Job: Series[str] = pa.Field(nullable=True, isin=["fixed", "freelance", "partime", "others"])
    Expenses: Series[float] = pa.Field(ge=0)
    Income: Series[float] = pa.Field(ge=0, nullable=True)
    Assets: Series[float] = pa.Field(ge=0, nullable=True)
    Debt: Series[float] = pa.Field(ge=0, nullable=True)
    Amount: Series[float] = pa.Field(gt=0, description="Amount requested.")
    Price: Series[float] = pa.Field(gt=0, description="Price of the good financed.")

    class Config:
        strict = True
        coerce = True


CREDIT_DATA_TARGET = "Status"
CREDIT_DATA_POSITIVE_LABEL = "bad"


class MarketSeries(pa.DataFrameModel):
    """One asset's daily history. Prices and returns are alternatives; returns are in percent."""

    date: Series[pa.DateTime] = pa.Field(unique=True)
    close: Optional[Series[float]] = pa.Field(gt=0)
    ret: Optional[Series[float]] = pa.Field(gt=-100, le=1000)
    high: Optional[Series[float]] = pa.Field(gt=0)
    low: Optional[Series[float]] = pa.Field(gt=0)
    volume: Optional[Series[float]] = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="high must be >= low")
    @classmethod
    def high_above_low(cls, df: pd.DataFrame) -> pd.Series:
        if "high" not in df or "low" not in df:
            return pd.Series(True, index=df.index)
        return (df["high"] >= df["low"]) | df["high"].isna() | df["low"].isna()

    @pa.dataframe_check(error="needs a close price or a return column")
    @classmethod
    def has_price_or_return(cls, df: pd.DataFrame) -> bool:
        return "close" in df or "ret" in df
