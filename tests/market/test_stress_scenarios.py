"""Stress testing: historical windows found in the data, shocks, the stress table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskops.errors import BadInputError
from riskops.market.stress import run_stress, worst_windows, write_stress_table
from riskops.market.var import GarchTVaR, HistoricalVaR


@pytest.fixture(scope="module")
def sp500() -> pd.Series:
    from riskops.data.market import load_market

    return load_market().series()


def test_autumn_2008_is_found_in_the_sp500(sp500: pd.Series) -> None:
    # Given 20 years of S&P 500 returns and no list of crises...
    for length in (20, 60):
        worst = worst_windows(sp500, length=length, n=3)
        first = worst.iloc[0]
        # ...the worst window of 20 and of 60 days spans the crash of October 2008.
        assert pd.Timestamp("2008-08-01") <= first["start"] <= pd.Timestamp("2008-10-01")
        assert pd.Timestamp("2008-10-01") <= first["end"] <= pd.Timestamp("2008-12-31")
        assert first["cumulative_return"] < -25
    by_vol = worst_windows(sp500, length=20, n=1, by="volatility").iloc[0]
    assert by_vol["start"].year == 2008
    assert by_vol["start"].month in (9, 10, 11)


def test_worst_windows_do_not_overlap_and_are_ranked() -> None:
    # Given a known path: a -3% x 5 crash, a -2% x 5 dip, calm elsewhere.
    r = pd.Series(0.1, index=pd.bdate_range("2020-01-01", periods=100))
    r.iloc[10:15] = -3.0
    r.iloc[50:55] = -2.0
    worst = worst_windows(r, length=5, n=3)
    assert list(worst["start"][:2]) == [r.index[10], r.index[50]]
    assert worst.loc[0, "cumulative_return"] == pytest.approx((0.97**5 - 1) * 100)
    spans = [set(pd.bdate_range(s, e)) for s, e in zip(worst["start"], worst["end"], strict=True)]
    assert all(not (a & b) for i, a in enumerate(spans) for b in spans[i + 1 :])
    assert worst["cumulative_return"].is_monotonic_increasing
    with pytest.raises(BadInputError):
        worst_windows(r, length=500)


def test_stress_table_on_the_sp500(sp500: pd.Series, tmp_path) -> None:
    returns = sp500.loc["2005":"2012"]
    table = run_stress(
        returns,
        GarchTVaR(),
        window_lengths=(20,),
        n_windows=2,
        vol_factors=(2.0,),
        return_shocks=(-10.0,),
        output=tmp_path / "stress.csv",
    )
    assert list(table["kind"]) == ["baseline", "historical", "historical", "volatility", "return"]
    assert (table["es_99"] >= table["var_99"]).all()
    assert table.loc[0, "var_ratio"] == 1.0
    # The model conditioned on the end of autumn 2008 forecasts far more risk than today's.
    assert table.loc[1, "start"].startswith("2008")
    assert table.loc[1, "var_99"] > 2 * table.loc[0, "var_99"]
    # Shocks raise the VaR.
    assert (table.loc[3:, "var_ratio"] > 1).all()
    saved = pd.read_csv(tmp_path / "stress.csv")
    assert list(saved.columns) == list(table.columns)


def test_historical_vol_shock_scales_the_recent_losses() -> None:
    # Given historical simulation over the last 22 days only, scaling them by 2 doubles VaR.
    r = pd.Series(np.random.default_rng(0).standard_t(5, 300))
    table = run_stress(
        r, HistoricalVaR(window=22), window_lengths=(), vol_factors=(2.0,), return_shocks=()
    )
    assert table.loc[1, "var_99"] == pytest.approx(2 * table.loc[0, "var_99"])


def test_portfolio_stress_adds_the_correlation_scenario(tmp_path) -> None:
    from riskops.data.market import load_market

    eu = load_market(bundled="eustocks")
    weights = {"DAX": 0.4, "SMI": 0.2, "CAC": 0.2, "FTSE": 0.2}
    table = run_stress(
        eu,
        "historical",
        weights,
        window_lengths=(20,),
        n_windows=1,
        vol_factors=(),
        return_shocks=(),
    )
    corr = table[table["kind"] == "correlation"].reset_index(drop=True)
    assert len(corr) == 2
    # Perfect dependence of long positions: ES can only grow (ES is subadditive).
    assert corr.loc[1, "es_99"] >= corr.loc[0, "es_99"]
    path = write_stress_table(table, tmp_path / "stress.json")
    records = json.loads(path.read_text())
    assert records[0]["scenario"] == "baseline"
    with pytest.raises(BadInputError):
        write_stress_table(table, tmp_path / "stress.txt")
    with pytest.raises(BadInputError):
        run_stress(eu.series(), "fhs", weights)


def test_historical_windows_are_forecast_without_hindsight(sp500: pd.Series) -> None:
    # Given the S&P 500 of 2005-2012, and a copy whose returns after autumn 2008 are noise
    returns = sp500.loc["2005":"2012"]
    altered = returns.copy()
    after = altered.index > pd.Timestamp("2009-01-31")
    altered[after] = np.random.default_rng(0).normal(0.05, 0.5, int(after.sum()))
    kwargs = {
        "window_lengths": (20,),
        "n_windows": 1,
        "vol_factors": (),
        "return_shocks": (),
        "hindsight": True,
    }
    # When both are stress tested with a GARCH-t VaR, hindsight variant included
    table = run_stress(returns, GarchTVaR(), **kwargs).set_index("kind")
    other = run_stress(altered, GarchTVaR(), **kwargs).set_index("kind")
    # Then the worst window is autumn 2008, fitted only on the returns before it
    row = table.loc["historical"]
    assert row["start"].startswith("2008")
    assert pd.Timestamp(row["fitted_through"]) < pd.Timestamp(row["start"])
    assert "as forecast at the time" in row["note"]
    # and what came later changes nothing "as forecast at the time"...
    for column in ("var_99", "es_99", "ex_ante_var_99", "exceptions_99"):
        assert other.loc["historical", column] == pytest.approx(row[column]), column
    # ...while the hindsight variant, labelled as such, moves with the later data
    assert "hindsight" in table.loc["historical_hindsight", "scenario"]
    assert other.loc["historical_hindsight", "var_99"] != pytest.approx(
        table.loc["historical_hindsight", "var_99"]
    )
    # The VaR of the evening before the crash started was breached inside the window
    assert row["exceptions_99"] >= 1
    assert row["ex_ante_var_99"] < row["var_99"]


def test_window_without_history_is_not_evaluated() -> None:
    # Given a crash in the first days of the data, nothing is known before it
    r = pd.Series(0.5 * np.random.default_rng(1).standard_normal(600))
    r.index = pd.bdate_range("2015-01-01", periods=600)
    r.iloc[:5] = -6.0
    table = run_stress(r, HistoricalVaR(window=250), window_lengths=(5,), n_windows=1,
                       vol_factors=(), return_shocks=())  # fmt: skip
    row = table.iloc[1]
    assert row["kind"] == "historical"
    assert row["note"].startswith("not evaluated")
    assert np.isnan(row["var_99"])
