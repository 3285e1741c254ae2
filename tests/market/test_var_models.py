"""VaR/ES estimators: contract, known values, agreement with arch, output schema."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from riskops.errors import BadInputError, DataValidationError
from riskops.market import FilteredHistoricalVaR, GarchTVaR, HistoricalVaR, QuantileVaR


@pytest.fixture(scope="module")
def sp500() -> pd.Series:
    from riskops.data.market import load_market

    return load_market().series()


@pytest.fixture(scope="module")
def short(sp500: pd.Series) -> pd.Series:
    return sp500.iloc[2000:3200]


ESTIMATORS = [
    HistoricalVaR(window=250),
    GarchTVaR(),
    FilteredHistoricalVaR(),
    QuantileVaR(n_estimators=30),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_estimator_contract(estimator, short: pd.Series) -> None:
    # Given an unfitted estimator: clone keeps the specification, predict refuses...
    spec = clone(estimator)
    assert spec.get_params() == estimator.get_params()
    with pytest.raises(NotFittedError):
        spec.forecast(short)
    # ...when fitted, fit returns self and forecasts have the declared shape...
    assert spec.fit(short) is spec
    out = spec.forecast(levels=(0.95, 0.99))
    assert list(out.index) == [0.95, 0.99]
    assert list(out.columns) == ["var", "es"]
    assert (out["var"] > 0).all()
    assert (out["es"] >= out["var"]).all()
    assert out.loc[0.99, "var"] > out.loc[0.95, "var"]
    # ...predict gives the one-row forecast at `level` from a `ret` frame...
    frame = short.iloc[-250:].rename("ret").to_frame()
    row = spec.predict(frame)
    assert row.shape == (1, 2)
    assert row["var"].iloc[0] == pytest.approx(spec.forecast(frame["ret"], levels=0.99).iloc[0, 0])
    # ...and the fitted estimator pickles with the same forecasts.
    again = pickle.loads(pickle.dumps(spec))
    pd.testing.assert_frame_equal(again.forecast(), out)


def test_historical_var_known_values() -> None:
    # Given returns -10.0, -9.9, ..., 9.9 (200 days), the 1% quantile by linear
    # interpolation sits at position 199 * 0.01 = 1.99 of the sorted sample:
    # -9.9 + 0.99 * 0.1 = -9.801...
    returns = pd.Series(np.r_[-np.arange(1, 101), np.arange(100)].astype(float) / 10)
    out = HistoricalVaR(window=200).fit(returns).forecast(levels=(0.99,))
    assert out.loc[0.99, "var"] == pytest.approx(9.801)
    # ...and ES is the mean of the returns at or below it: -10.0 and -9.9 -> 9.95.
    assert out.loc[0.99, "es"] == pytest.approx(9.95)
    # Only the window counts: the last 150 days put the quantile at position 1.49.
    out = HistoricalVaR(window=150).fit(returns).forecast(levels=0.99)
    assert out.loc[0.99, "var"] == pytest.approx(9.851)


def test_garch_t_var_matches_arch(short: pd.Series) -> None:
    from arch import arch_model

    model = GarchTVaR().fit(short)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = arch_model(short, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    variance = ref.forecast(horizon=1, reindex=False).variance.iloc[-1, 0]
    nu = ref.params[["nu"]].to_numpy()
    out = model.forecast(levels=(0.95, 0.99))
    for level in (0.95, 0.99):
        q = ref.model.distribution.ppf(1 - level, nu)
        expected = -(ref.params["mu"] + np.sqrt(variance) * q)
        assert out.loc[level, "var"] == pytest.approx(expected, rel=1e-3)
    assert list(model.params_.index) == list(ref.params.index)


def test_fhs_is_the_scaled_residual_quantile(short: pd.Series) -> None:
    model = FilteredHistoricalVaR(o=0).fit(short)
    z = model.std_resid_
    mu = model.params_["mu"]
    sigma = np.sqrt(model.fit_.next_sigma2)
    out = model.forecast(levels=(0.99,))
    q = np.quantile(z, 0.01)
    assert out.loc[0.99, "var"] == pytest.approx(-(mu + sigma * q), rel=1e-6)
    assert out.loc[0.99, "es"] == pytest.approx(-(mu + sigma * z[z <= q].mean()), rel=1e-6)


def test_fhs_with_an_arch_volatility_model(short: pd.Series) -> None:
    from riskops.market.volatility import GarchVolatility

    vol = GarchVolatility(mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t")
    arch_based = FilteredHistoricalVaR(volatility=vol).fit(short).forecast()
    built_in = FilteredHistoricalVaR(o=1, dist="t").fit(short).forecast()
    # Same model, two estimators: the forecasts agree closely.
    np.testing.assert_allclose(arch_based.to_numpy(), built_in.to_numpy(), rtol=5e-3)


def test_conditional_forecast_uses_the_given_history(short: pd.Series) -> None:
    model = GarchTVaR().fit(short)
    calm = model.forecast(short.iloc[:-5].to_numpy())
    shocked = model.forecast(np.r_[short.iloc[:-5].to_numpy(), -8.0])
    assert (shocked["var"] > calm["var"]).all()


def test_output_schema_refuses_a_negative_var() -> None:
    # Given only gains, the 95% historical "VaR" would be a profit: the schema refuses it.
    gains = pd.Series(np.linspace(0.5, 2.0, 300))
    with pytest.raises(DataValidationError) as err:
        HistoricalVaR().fit(gains).forecast(levels=0.95)
    assert "var" in err.value.columns


def test_inputs_are_validated(short: pd.Series) -> None:
    with pytest.raises(DataValidationError):
        HistoricalVaR().fit(pd.Series([1.0, np.nan, 2.0]))
    with pytest.raises(DataValidationError):
        GarchTVaR().fit(short).predict(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(BadInputError):
        HistoricalVaR().fit(short).forecast(levels=(1.5,))


def test_quantile_var_levels_and_explanations(short: pd.Series) -> None:
    model = QuantileVaR(levels=(0.95, 0.99), n_estimators=30).fit(short)
    with pytest.raises(BadInputError, match="trained for levels"):
        model.forecast(levels=(0.975,))
    assert all(ratio >= 1.0 for ratio in model.es_ratio_.values())
    contributions, base, X = model.explain(short.iloc[-100:])
    assert contributions.shape == X.shape
    assert list(X.columns) == model.feature_names_
    # TreeSHAP is exact: contributions add up to the VaR the model predicts, day by day.
    direct = -model.models_[0.99].predict(X)
    np.testing.assert_allclose(contributions.sum(axis=1) + base, direct, rtol=1e-6)
    with pytest.raises(BadInputError, match="among levels"):
        QuantileVaR(levels=(0.95,), level=0.99).fit(short)


def test_models_work_on_another_index_given_as_csv(tmp_path, sp500: pd.Series) -> None:
    # Given NASDAQ closes written as a user CSV (prices, not returns)...
    import arch.data.nasdaq

    from riskops.data.market import load_market

    raw = arch.data.nasdaq.load()["Adj Close"].iloc[-1500:]
    path = tmp_path / "nasdaq.csv"
    pd.DataFrame({"Date": raw.index.strftime("%Y-%m-%d"), "Close": raw.to_numpy()}).to_csv(
        path, index=False
    )
    dataset = load_market(path, date_col="Date", price_col="Close")
    returns = dataset.series()
    # ...every model fits and forecasts on it.
    for estimator in (HistoricalVaR(), GarchTVaR(), FilteredHistoricalVaR()):
        out = estimator.fit(returns).forecast()
        assert (out["es"] >= out["var"]).all()
        assert (out["var"] > 0).all()


def test_garch_t_var_with_an_arch_volatility_model(short: pd.Series) -> None:
    from riskops.market.volatility import GarchVolatility

    arch_based = GarchTVaR(volatility=GarchVolatility(dist="t")).fit(short).forecast()
    np.testing.assert_allclose(arch_based.to_numpy(), GarchTVaR().fit(short).forecast(), rtol=2e-3)
    with pytest.raises(BadInputError, match="dist='t'"):
        GarchTVaR(volatility=GarchVolatility(dist="normal")).fit(short)
