"""ES of the LightGBM quantile VaR (issue 13): the ES/VaR ratio comes from cross-fitted
exceedances, and on held-out S&P 500 days it matches the realised ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskops.market.var import QuantileVaR, quantile_features

HELD_OUT_DAYS = 2000


@pytest.fixture(scope="module")
def split() -> tuple[pd.Series, pd.DataFrame, np.ndarray]:
    from riskops.data.market import load_market

    returns = load_market().series().astype(float)  # bundled S&P 500, 1999-2018
    cut = len(returns) - HELD_OUT_DAYS
    # Features known at each held-out day's previous close, and that day's return.
    features = quantile_features(returns.to_numpy()).iloc[cut - 1 : len(returns) - 1]
    return returns.iloc[:cut], features, returns.to_numpy()[cut:]


def _realised_ratio(model: QuantileVaR, level: float, features: pd.DataFrame, y: np.ndarray):
    var = -np.asarray(model.models_[level].predict(features), dtype=float)
    loss = -y
    tail = loss > var
    return float(np.mean(loss[tail] / var[tail])), int(tail.sum())


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_cross_fitted_es_ratio_matches_the_held_out_ratio(split, level: float) -> None:
    train, features, y = split
    # Given the quantile model fitted on the S&P 500 up to 2011 (cross-fitted ES ratio)
    model = QuantileVaR(levels=(0.95, 0.99), random_state=0).fit(train)
    # When its VaR meets the 2,000 held-out days that follow
    realised, exceedances = _realised_ratio(model, level, features, y)
    # Then the mean loss / VaR on the held-out exceedances is within 10% of its ES ratio
    assert exceedances >= 20
    assert model.es_ratio_[level] == pytest.approx(realised, rel=0.10)


def test_in_sample_es_ratio_is_the_understated_one(split) -> None:
    train, features, y = split
    # Given the in-sample ratio (es_folds=1: exceedances of the model's own fit)
    in_sample = QuantileVaR(levels=(0.95, 0.99), es_folds=1, random_state=0).fit(train)
    realised, _ = _realised_ratio(in_sample, 0.99, features, y)
    # Then it understates the held-out ratio by more than 10% (the finding)
    assert in_sample.es_ratio_[0.99] < 0.9 * realised
