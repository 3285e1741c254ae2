"""Portfolio VaR/ES by historical and filtered historical simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from riskops.errors import BadInputError
from riskops.market.portfolio import PortfolioVaR, portfolio_returns, portfolio_var_es


@pytest.fixture(scope="module")
def us():
    from riskops.data.market import load_market

    return load_market(bundled="us_indices").returns.iloc[-1500:]


@pytest.fixture(scope="module")
def eu():
    from riskops.data.market import load_market

    return load_market(bundled="eustocks").returns


def test_portfolio_return_is_the_weighted_sum(us: pd.DataFrame) -> None:
    p = portfolio_returns(us, {"sp500": 0.7, "nasdaq": 0.3})
    np.testing.assert_allclose(p, 0.7 * us["sp500"] + 0.3 * us["nasdaq"])
    np.testing.assert_allclose(portfolio_returns(us), us.mean(axis=1))
    with pytest.raises(BadInputError, match="unknown assets"):
        portfolio_returns(us, {"dax": 1.0})
    with pytest.raises(BadInputError, match="weights"):
        portfolio_returns(us, [1.0, 2.0, 3.0])


def test_historical_portfolio_var_is_the_empirical_quantile(us: pd.DataFrame) -> None:
    weights = [0.5, 0.5]
    out = portfolio_var_es(us, weights, method="historical", levels=(0.99,))
    pnl = us.to_numpy() @ np.array(weights)
    q = np.quantile(pnl, 0.01)
    assert out.loc[0.99, "var"] == pytest.approx(-q)
    assert out.loc[0.99, "es"] == pytest.approx(-pnl[pnl <= q].mean())


def test_single_asset_portfolio_fhs_matches_the_univariate_model(us: pd.DataFrame) -> None:
    from riskops.market.var import FilteredHistoricalVaR

    one = us[["sp500"]]
    portfolio = PortfolioVaR({"sp500": 1.0}, method="fhs").fit(one).forecast()
    single = FilteredHistoricalVaR(o=1).fit(one["sp500"]).forecast()
    np.testing.assert_allclose(portfolio.to_numpy(), single.to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("method", ["historical", "fhs"])
def test_joint_scenarios_keep_whole_days(eu: pd.DataFrame, method: str) -> None:
    model = PortfolioVaR(method=method).fit(eu)
    scen = model.scenarios()
    assert list(scen.columns) == ["DAX", "SMI", "CAC", "FTSE"]
    assert len(scen) == len(eu)
    # Resampling whole days keeps the cross-asset correlation of the data.
    data_corr = eu.corr().to_numpy()
    np.testing.assert_allclose(scen.corr().to_numpy(), data_corr, atol=0.1)
    out = model.forecast()
    assert (out["es"] >= out["var"]).all()
    # Diversification: the portfolio VaR is below the weighted sum of the assets' VaRs.
    singles = [
        PortfolioVaR({a: 1.0}, method=method).fit(eu[[a]]).forecast().loc[0.99, "var"]
        for a in eu.columns
    ]
    assert out.loc[0.99, "var"] < np.mean(singles)


def test_correlation_to_one_is_comonotonic(eu: pd.DataFrame) -> None:
    # Comonotonic long positions: VaR and ES are additive over the assets.
    joint = PortfolioVaR(method="historical", comonotonic=True).fit(eu).forecast(levels=(0.99,))
    singles = [
        PortfolioVaR({a: 1.0}, method="historical").fit(eu[[a]]).forecast(levels=(0.99,))
        for a in eu.columns
    ]
    mean_es = np.mean([s.loc[0.99, "es"] for s in singles])
    assert joint.loc[0.99, "es"] == pytest.approx(mean_es, rel=1e-9)
    actual = PortfolioVaR(method="historical").fit(eu).forecast(levels=(0.99,))
    assert joint.loc[0.99, "es"] > actual.loc[0.99, "es"]


def test_contract_and_predict(eu: pd.DataFrame) -> None:
    spec = PortfolioVaR(method="fhs", level=0.95)
    assert clone(spec).get_params() == spec.get_params()
    fitted = spec.fit(eu)
    row = fitted.predict(eu.iloc[-250:])
    assert row.shape == (1, 2)
    assert row.loc[0, "var"] == pytest.approx(fitted.forecast(eu.iloc[-250:]).loc[0.95, "var"])
    with pytest.raises(BadInputError, match="method"):
        PortfolioVaR(method="delta").fit(eu)
