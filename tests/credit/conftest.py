"""Fixtures of the credit tests."""

from __future__ import annotations

import pandas as pd
import pytest

from .synthetic import make_applicants


@pytest.fixture(scope="module")
def applicants() -> tuple[pd.DataFrame, pd.Series]:
    return make_applicants()
