"""Per-asset universe models: the library, and the flow that fans them out over Dask."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.errors import BadInputError, DataValidationError
from riskops.universe import (
    SIMULATION_RANGES,
    UniverseSpec,
    fit_asset,
    fit_universe,
    results_table,
    simulate_universe,
    simulation_parameters,
    universe_dataset,
    universe_summary,
)

N_SERIES = 6
N_DAYS = 1000
SEED = 11
SPEC = UniverseSpec(backtest_days=250, refit_every=25)


def _without_timing(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "seconds"}


# -- simulation ------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_simulated_parameters_lie_in_the_documented_ranges(n: int, seed: int) -> None:
    # Given the parameters drawn for n series
    truth = simulation_parameters(n, seed)

    # Then each lies in its documented range and the model is stationary with a positive beta
    for name in ("mu", "alpha", "persistence", "unconditional_variance", "nu"):
        lo, hi = SIMULATION_RANGES[name]
        assert truth[name].between(lo, hi).all(), name
    assert (truth["beta"] > 0).all()
    assert np.allclose(truth["alpha"] + truth["beta"], truth["persistence"])
    assert np.allclose(truth["omega"], truth["unconditional_variance"] * (1 - truth["persistence"]))
    # And adding series never changes the earlier ones
    assert simulation_parameters(n + 3, seed).iloc[:n].equals(truth)


def test_simulated_universe_is_seeded_and_recovers_its_parameters() -> None:
    # Given two series of 4,000 days simulated twice with the same seed
    first = simulate_universe(2, 4000, seed=3)
    again = simulate_universe(2, 4000, seed=3)
    other = simulate_universe(2, 4000, seed=4)
    truth = simulation_parameters(2, 3)

    # Then the data are identical for the same seed only, on a business-day calendar
    pd.testing.assert_frame_equal(first.returns, again.returns)
    assert not first.returns.equals(other.returns)
    assert first.assets == ["sim_000", "sim_001"]
    assert first.returns.index[-1] == pd.Timestamp("2024-12-31")
    assert (first.returns.index.dayofweek < 5).all()

    # And arch's GARCH(1,1)-t estimates lie within 4 standard errors of the true values
    from riskops.market.volatility import GarchVolatility

    for asset, row in truth.iterrows():
        fit = GarchVolatility(dist="t").fit(first.series(str(asset)))
        estimates, errors = fit.result_.params, fit.result_.std_err
        for name, true in (
            ("omega", row.omega),
            ("alpha[1]", row.alpha),
            ("beta[1]", row.beta),
            ("nu", row.nu),
        ):
            assert abs(estimates[name] - true) < 4 * errors[name], (asset, name)


def test_universe_joins_real_and_simulated_series() -> None:
    # Given the European indices and three simulated series
    dataset = universe_dataset(3, real=("eustocks",), n_days=500, seed=1)

    # Then each keeps its own span in one wide frame
    assert dataset.assets == ["DAX", "SMI", "CAC", "FTSE", "sim_000", "sim_001", "sim_002"]
    assert len(dataset.series("DAX")) == 1859  # EuStockMarkets: 1,860 closes
    assert len(dataset.series("sim_002")) == 500
    assert dataset.series("DAX").index.max() < dataset.series("sim_000").index.min()
    with pytest.raises(BadInputError):
        universe_dataset(0, real=())


# -- one asset -------------------------------------------------------------------------


def test_fit_asset_is_the_volatility_and_var_models_of_the_library() -> None:
    # Given one simulated series
    series = simulate_universe(1, N_DAYS, seed=SEED).series("sim_000")

    # When the asset is fitted
    result = fit_asset(series, "sim_000", SPEC)

    # Then the volatility model is arch's GARCH(1,1)-t and the VaR is FHS on the same filter
    # (fit_asset pins BLAS to one thread; OpenBLAS's threaded sums round differently, which
    # moves arch's optimum within its tolerance, so the reference runs the same way)
    from threadpoolctl import threadpool_limits

    from riskops.market.rolling import rolling_forecasts
    from riskops.market.var import FilteredHistoricalVaR
    from riskops.market.volatility import GarchVolatility

    with threadpool_limits(limits=1, user_api="blas"):
        vol = GarchVolatility(mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(series)
        fhs = FilteredHistoricalVaR(o=0, dist="t").fit(series).forecast(levels=(0.95, 0.99))
    assert result["volatility"]["params"] == pytest.approx(dict(vol.params_), rel=1e-12)
    assert result["volatility"]["next_day_vol"] == pytest.approx(
        float(np.sqrt(vol.forecast_variance()[0])), rel=1e-12
    )
    assert result["var"]["forecast"]["99"]["var"] == pytest.approx(fhs.loc[0.99, "var"])
    assert result["var"]["forecast"]["95"]["es"] == pytest.approx(fhs.loc[0.95, "es"])
    # And the backtest counts the exceptions of the rolling engine over the last 250 days
    path = rolling_forecasts(
        FilteredHistoricalVaR(o=0, dist="t"), series, n_forecasts=250, refit_every=25
    )
    for tag in ("95", "99"):
        expected = int((-path["ret"] > path[f"var_{tag}"]).sum())
        assert result["backtest"]["levels"][tag]["exceptions"] == expected
    assert result["backtest"]["days"] == 250
    # And the result is plain data
    assert pickle.loads(pickle.dumps(result)) == result
    json.dumps(result)


def test_a_short_series_fails_alone() -> None:
    # Given a universe where one series is too short for training plus backtest
    dataset = simulate_universe(2, 600, seed=SEED)
    short = dataset.returns.copy()
    short.iloc[:200, 1] = np.nan
    spec = UniverseSpec(backtest_days=250, refit_every=50, min_train_days=300)

    # When fitted strictly, and as a universe
    with pytest.raises(DataValidationError):
        fit_asset(short["sim_001"], "sim_001", spec)
    results = fit_universe(type(dataset)("short", "test", short), spec)

    # Then only that asset is recorded as failed, with the reason
    assert [r["ok"] for r in results] == [True, False]
    assert "need at least 550 returns" in results[1]["error"]
    table = results_table(results)
    assert table["ok"].tolist() == [True, False]
    assert universe_summary(results)["n_failed"] == 1.0


def test_spec_refuses_nonsense() -> None:
    with pytest.raises(BadInputError, match="var_model"):
        UniverseSpec(var_model="magic")
    with pytest.raises(BadInputError, match="history_days"):
        UniverseSpec(history_days=100)


# -- the flow on Dask ------------------------------------------------------------------


def test_universe_flow_on_dask_matches_the_sequential_run(
    prefect_api: str, riskops_home: Path
) -> None:
    # Given a universe of 6 simulated series of 1,000 days
    from pipelines.universe import universe_flow

    # When the flow fans it out over a local Dask cluster of 2 worker processes
    out = universe_flow(
        n_simulated=N_SERIES,
        workers=2,
        real=[],
        n_days=N_DAYS,
        seed=SEED,
        backtest_days=SPEC.backtest_days,
        refit_every=SPEC.refit_every,
    )
    sequential = fit_universe(simulate_universe(N_SERIES, N_DAYS, SEED), SPEC)

    # Then every asset has a result, equal to the sequential run's
    assert [r["asset"] for r in out["results"]] == [f"sim_{i:03d}" for i in range(N_SERIES)]
    assert all(r["ok"] for r in out["results"]), out["failed"]
    assert [_without_timing(r) for r in out["results"]] == [_without_timing(r) for r in sequential]
    assert out["runner"] == {"address": None, "workers": 2}

    # And one MLflow run holds the table, the raw results and the universe-wide metrics
    from riskops import tracking
    from riskops.registry import Registry
    from riskops.settings import Settings

    settings = Settings()
    facts = tracking.run_facts(settings, out["run_id"])
    assert facts["status"] == "FINISHED"
    assert facts["metrics"]["n_assets"] == N_SERIES
    assert facts["metrics"]["n_ok"] == N_SERIES
    assert facts["params"]["var_model"] == "fhs"
    assert facts["tags"]["registered"] == "false"
    artifacts = set(tracking.list_artifacts(settings, out["run_id"]))
    assert {
        "universe/universe.csv",
        "universe/universe.parquet",
        "universe/results.json",
    } <= artifacts
    local = tracking.download_files(
        settings, out["run_id"], ["universe/universe.csv"], riskops_home / "dl"
    )[0]
    table = pd.read_csv(local)
    assert table["asset"].tolist() == [r["asset"] for r in sequential]
    assert table["alpha"].to_numpy() == pytest.approx(
        [r["volatility"]["params"]["alpha[1]"] for r in sequential], rel=1e-12
    )
    # And nothing was registered per asset
    assert Registry(settings).model_names() == []

    # And the Prefect API saw one completed task run per asset
    import asyncio

    from prefect.client.orchestration import get_client

    async def fit_runs() -> list[tuple[str, str]]:
        async with get_client() as client:
            runs = await client.read_task_runs()
        return sorted((r.name, r.state.type.value) for r in runs if r.name.startswith("fit-"))

    assert asyncio.run(fit_runs()) == [(f"fit-sim_{i:03d}", "COMPLETED") for i in range(N_SERIES)]
