"""Live scoring against the offline backtest functions on the same days.

The live record is made by the online state (one forecast issued before each day); the
offline one by the promotion's rolling engine with the parameters fixed over the window.
On the same days they must find the same exceptions and the same p-values.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskops import backtests as bt
from riskops.anomaly.evaluate import alert_rate_band
from riskops.data.market import load_market
from riskops.market.evaluation import rolling_variance_forecasts
from riskops.market.live_backtest import live_scores
from riskops.market.online import online_state
from riskops.market.rolling import RollingBacktest, level_tag
from riskops.market.var import GarchTVaR, HistoricalVaR
from riskops.market.volatility import GarchVolatility
from riskops.stats.sequential import BernoulliCusum, design_bernoulli_cusum
from riskops.var.family import backtest_forecasts
from riskops.volatility.family import BENCHMARK, compare

TRAIN_DAYS = 3000
LIVE_DAYS = 500
LEVELS = (0.95, 0.99)
NEVER = 10**9
"""A refit interval longer than any window: the offline engine keeps its first fit."""


@pytest.fixture(scope="module")
def returns() -> pd.Series:
    return load_market().series().iloc[: TRAIN_DAYS + LIVE_DAYS]


def live_var_frame(estimator, returns: pd.Series) -> pd.DataFrame:
    """What the live path records: each day's return and the forecast issued the day before."""
    state = online_state(estimator, levels=LEVELS)
    rows = []
    for day, r in returns.iloc[TRAIN_DAYS:].items():
        issued = state.forecast()  # before the day's return is known
        rows.append(
            {"date": day, "ret": r}
            | {f"var_{level_tag(lv)}": issued.var_at(lv) for lv in LEVELS}
            | {f"es_{level_tag(lv)}": issued.es_at(lv) for lv in LEVELS}
        )
        state.update(r, timestamp=day)
    return pd.DataFrame(rows).set_index("date")


@pytest.mark.parametrize("spec", [GarchTVaR(), HistoricalVaR(window=500)], ids=["garch_t", "hs"])
def test_live_scores_equal_offline_backtest_on_the_same_days(spec, returns) -> None:
    # Given a champion fitted on the first 3,000 days, and 500 days that follow
    estimator = spec.fit(returns.iloc[:TRAIN_DAYS])
    live = live_var_frame(estimator, returns)
    offline = RollingBacktest(spec, refit_every=NEVER, levels=LEVELS).run(returns, start=TRAIN_DAYS)
    # Then the live path finds the same exceptions, day by day...
    for lv in LEVELS:
        tag = level_tag(lv)
        live_hits = bt.exceedances(live["ret"], live[f"var_{tag}"])
        offline_hits = bt.exceedances(offline["ret"], offline[f"var_{tag}"])
        np.testing.assert_array_equal(live_hits, offline_hits)
    # ...and the live statistics are the offline backtest's: same tests, same p-values
    scores = live_scores(live)
    metrics, results = backtest_forecasts(offline, LEVELS)
    for tag in ("95", "99"):
        section = scores.var[tag]
        assert section["exceptions"] == metrics[f"exceptions_{tag}"]
        for name, value in section["metrics"].items():
            assert value == pytest.approx(metrics[name], rel=1e-9, abs=1e-12), name
        for test in ("binomial_coverage_last_250", "binomial_coverage", "independence_mc"):
            assert section["tests"][test]["pvalue"] == results[tag][test]["pvalue"], test
        light = section["tests"]["traffic_light_last_250"]
        assert light == results[tag]["traffic_light_last_250"]
        assert section["tests"]["acerbi_szekely_z2"]["pvalue"] == pytest.approx(
            results[tag]["acerbi_szekely_z2"]["pvalue"]
        )
    # The gated evidence the policy reads is there under its names
    assert {"binomial_pvalue_99_last250", "tail_pvalue_99", "independence_mc_pvalue_99"} <= set(
        scores.var["99"]["metrics"]
    )
    json.dumps(scores.to_dict(), allow_nan=False)


def test_traffic_light_on_backtest_then_live(returns) -> None:
    # Given the promotion backtest's exceptions and a live record
    estimator = GarchTVaR().fit(returns.iloc[:TRAIN_DAYS])
    live = live_var_frame(estimator, returns).iloc[:100]
    before = {0.99: np.zeros(1000, dtype=bool), 0.95: np.zeros(1000, dtype=bool)}
    before[0.99][-7:] = True  # seven exceptions in the backtest's last week
    scores = live_scores(live, backtest_hits=before)
    hits = bt.exceedances(live["ret"], live["var_99"])
    combined = np.concatenate([before[0.99], hits])
    # Then the combined light is the traffic light of backtest then live days
    assert (
        scores.var["99"]["traffic_light_with_backtest"]
        == bt.traffic_light(combined, 0.99).to_dict()
    )
    last = bt.traffic_light(combined[-250:], 0.99)
    assert scores.var["99"]["traffic_light_with_backtest_last_250"] == last.to_dict()
    assert last.exceptions == 7 + int(hits.sum())


def test_cusum_over_live_exceptions(returns) -> None:
    estimator = GarchTVaR().fit(returns.iloc[:TRAIN_DAYS])
    live = live_var_frame(estimator, returns)
    # An optimistic VaR (scaled by 0.7) so that there is something to detect
    live["var_99"] *= 0.7
    design = design_bernoulli_cusum(0.99, target_arl0=500)
    section = live_scores(live, cusum=design).var["99"]
    detector = BernoulliCusum(design)
    steps = [detector.update(h) for h in bt.exceedances(live["ret"], live["var_99"])]
    assert section["cusum"]["alarm_days"] == [i for i, s in enumerate(steps) if s.alarm]
    assert section["cusum"]["statistic"] == steps[-1].statistic
    assert section["cusum"]["alarm_days"], "a 0.7-scaled VaR over 500 days must alarm"


def test_volatility_scores_equal_the_family_comparison(returns) -> None:
    # Given a GJR-t champion and the GARCH(1,1) benchmark, both live over 500 days
    train = returns.iloc[:TRAIN_DAYS]
    spec = GarchVolatility(o=1, dist="t")
    benchmark_spec = GarchVolatility(**{k: v for k, v in BENCHMARK.items() if k != "model"})
    model, benchmark = online_state(spec.fit(train)), online_state(benchmark_spec.fit(train))
    rows = []
    for day, r in returns.iloc[TRAIN_DAYS:].items():
        rows.append(
            {"date": day, "ret": r, "variance": model.forecast().variance}
            | {"benchmark_variance": benchmark.forecast().variance}
        )
        model.update(r)
        benchmark.update(r)
    live = pd.DataFrame(rows).set_index("date")
    # Then QLIKE, Diebold-Mariano and Mincer-Zarnowitz are those of the offline evaluation
    offline = rolling_variance_forecasts(spec, returns, start=TRAIN_DAYS, refit_every=NEVER)
    offline_bench = rolling_variance_forecasts(
        benchmark_spec, returns, start=TRAIN_DAYS, refit_every=NEVER
    )
    expected = compare(offline, offline_bench)
    section = live_scores(live).volatility
    assert section is not None
    for name, value in expected.items():
        assert section[name] == pytest.approx(value, rel=1e-9), name


def test_anomaly_alert_rate_band() -> None:
    alerts = np.zeros(400, dtype=int)
    alerts[[10, 50, 90, 300, 301, 302, 303, 304, 305, 306, 307]] = 1
    frame = pd.DataFrame({"alert": alerts}, index=pd.bdate_range("2020-01-01", periods=400))
    section = live_scores(frame, target_alert_rate=0.01).anomaly
    low, high = alert_rate_band(400, 0.01)
    assert section == {
        "alerts": 11,
        "n": 400,
        "alert_rate": 11 / 400,
        "target_alert_rate": 0.01,
        "band_low": low,
        "band_high": high,
        "within_band": False,
    }


def test_what_cannot_be_scored_is_said() -> None:
    # One live day, no ES, no benchmark, no target: each section names why it is missing
    frame = pd.DataFrame(
        {"ret": [-1.0], "var_99": [2.0], "variance": [1.0], "alert": [0]},
        index=pd.bdate_range("2020-01-01", periods=1),
    )
    scores = live_scores(frame)
    assert scores.var == {} and "need 2" in scores.not_evaluated["var"]
    assert scores.volatility is None and "need 3" in scores.not_evaluated["volatility"]
    assert scores.anomaly is None and "target" in scores.not_evaluated["anomaly"]
    longer = pd.concat([frame] * 5)
    longer.index = pd.bdate_range("2020-01-01", periods=5)
    scores = live_scores(longer)
    assert "es" in scores.not_evaluated and "volatility_benchmark" in scores.not_evaluated
    assert scores.var["99"]["exceptions"] == 0
