"""The VaR promotion gates of issue 13: small-sample tests, one-sided in coverage.

Known values come from the Basel Committee (1996), Table 1 (exact type I errors of the
number of exceptions in 250 days at 99%) and from the exact distribution of runs of a
uniformly random placement of exceptions (the null of :func:`independence_mc`).
Properties: zero or few exceptions never fail coverage, through the policy's whole gate
set; a hit rate far above the level always does.
"""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops import backtests as bt
from riskops.backtests import exact as exact_tests
from riskops.gates import evaluate
from riskops.policy import load_policies
from riskops.var.family import coverage_backtests, coverage_evidence

POLICIES = Path(__file__).parents[2] / "platform" / "riskops" / "policies.yaml"
COVERAGE_GATES = {
    "backtest:traffic_light_zone_last_250_99",
    "backtest:binomial_pvalue_99_last250",
    "backtest:binomial_pvalue_95_last250",
    "backtest:traffic_light_zone_99",
    "backtest:binomial_pvalue_99",
    "backtest:tail_pvalue_99",
    "backtest:binomial_pvalue_95",
}


@pytest.fixture(scope="module")
def var_policy():
    return load_policies(POLICIES).for_model("market_var")


def _hits(n: int, days: list[int] | set[int]) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[sorted(days)] = True
    return out


def _gate_report(var_policy, hits95: np.ndarray, hits99: np.ndarray):
    metrics, results = coverage_backtests({0.95: hits95, 0.99: hits99})
    # Exceptions alone say nothing of tick loss; that gate has its own tests below
    # (a VaR no worse than the benchmark here).
    metrics |= {"loss_dm_pvalue_99": 1.0, "loss_dm_pvalue_95": 1.0}
    evidence = {
        "metrics": metrics,
        "evidence": coverage_evidence(results),
        "data_drift": {"share_of_drifted_columns": 0.0, "drifted_columns": []},
        "champion": None,
    }
    return evaluate("market_var", 1, evidence, var_policy)


# Basel Committee (1996), "Supervisory framework for the use of backtesting...", Table 1,
# 250 observations, coverage 99%: exact type I error (probability of at least this many
# exceptions under a correct model), in percent, one decimal.
BASEL_TYPE1 = {0: 100.0, 1: 91.9, 2: 71.4, 3: 45.7, 4: 24.2, 5: 10.8, 6: 4.1, 7: 1.4, 8: 0.4}


@pytest.mark.parametrize(("exceptions", "type1_percent"), sorted(BASEL_TYPE1.items()))
def test_binomial_pvalue_is_the_basel_type1_error(exceptions: int, type1_percent: float) -> None:
    # Given 250 days with this many exceptions at 99%
    hits = _hits(250, set(range(10, 10 + 20 * exceptions, 20)))
    # When the one-sided binomial test runs
    result = bt.binomial_coverage(hits, 0.99)
    # Then its p-value is Basel's exact type I error
    assert result.exceptions == exceptions
    assert round(100 * result.pvalue, 1) == type1_percent
    assert result.passed is (result.pvalue >= 0.05)


def test_zero_exceptions_pass_where_two_sided_kupiec_fails() -> None:
    # Given a green-zone 99% VaR with no exception in its last 250 days (the issue's case)
    hits = np.zeros(250, dtype=bool)
    # Then the two-sided Kupiec test rejects it (p = 0.025) but the one-sided test does not
    assert bt.kupiec_pof(hits, 0.99).pvalue == pytest.approx(0.0250, abs=1e-4)
    assert bt.binomial_coverage(hits, 0.99).pvalue == 1.0
    assert bt.traffic_light(hits, 0.99).zone == "green"


def test_tail_coverage_is_the_conditional_binomial() -> None:
    # Given 50 exceptions at 95% in 1,000 days, 18 of them also at 99% (expected 10)
    base = _hits(1000, set(range(5, 1000, 20)))
    hits = base & _hits(1000, set(range(5, 18 * 20, 20)))
    # When the tail test runs
    result = bt.tail_coverage(hits, base, 0.99, 0.95)
    # Then the p-value is P(Binomial(50, 0.2) >= 18), summed exactly
    exact = sum(comb(50, k) * 0.2**k * 0.8 ** (50 - k) for k in range(18, 51))
    assert (result.trials, result.exceptions, result.probability) == (50, 18, pytest.approx(0.2))
    assert result.pvalue == pytest.approx(exact, rel=1e-9)


def test_tail_coverage_never_refuses_a_count_at_or_below_expectation() -> None:
    # Given 3 exceptions at 95% that are all exceptions at 99% (10 expected at 99%)
    base = _hits(1000, {100, 500, 900})
    # Then the tail test has nothing to say
    assert bt.tail_coverage(base, base, 0.99, 0.95).pvalue == 1.0


def test_tail_coverage_refuses_inconsistent_hits() -> None:
    with pytest.raises(ValueError, match="lower level"):
        bt.tail_coverage(_hits(100, {3}), _hits(100, {4}), 0.99, 0.95)


def _runs_tail_probability(n: int, x: int, pairs: int) -> float:
    """P(at least ``pairs`` adjacent exception pairs) for x exceptions placed uniformly in
    n days: x exceptions in r runs can be placed in C(x-1, r-1) C(n-x+1, r) ways, and
    the number of adjacent pairs is x - r."""
    ways = sum(comb(x - 1, r - 1) * comb(n - x + 1, r) for r in range(1, x - pairs + 1))
    return ways / comb(n, x)


def test_independence_mc_matches_the_exact_permutation_pvalue() -> None:
    # Given 4 exceptions in 20 days, two of them consecutive
    hits = _hits(20, {3, 4, 11, 16})
    observed = bt.christoffersen_independence(hits).statistic
    # and the exact null: the statistic of every one of the C(20, 4) = 4,845 placements
    from itertools import combinations

    placements = np.array(list(combinations(range(20), 4)))
    null = exact_tests._lr_independence_placements(placements, 20)
    exact = float(np.mean(null >= observed - 1e-9))
    # When the Monte Carlo test runs (9,999 draws), then it agrees within 4 standard errors
    result = bt.independence_mc(hits, 0.99)
    assert result.statistic == pytest.approx(observed)
    assert result.pvalue == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 9999))


def test_independence_mc_on_the_issues_window() -> None:
    # Given 13 exceptions in 1,000 days, two pairs of them on consecutive days (the
    # issue's 1,000-day window), none on the first or last day
    days = {50, 51, 300, 301, 100, 200, 400, 500, 600, 700, 800, 900, 950}
    hits = _hits(1000, days)
    # When the Monte Carlo independence test runs
    result = bt.independence_mc(hits, 0.99)
    # Then the p-value is close to the exact chance of two or more adjacent pairs among 13
    # uniformly placed exceptions (0.0096, from the runs distribution), not below it
    exact_pairs = _runs_tail_probability(1000, 13, 2)
    assert exact_pairs == pytest.approx(0.00957, abs=1e-5)
    assert exact_pairs - 0.002 <= result.pvalue <= exact_pairs + 0.004


def test_independence_mc_is_one_without_two_exceptions() -> None:
    assert bt.independence_mc(np.zeros(1000, dtype=bool), 0.99).pvalue == 1.0
    assert bt.independence_mc(_hits(1000, {7}), 0.99).pvalue == 1.0


def test_independence_mc_refuses_a_cluster() -> None:
    # Given 10 exceptions, 5 of them on consecutive days
    hits = _hits(1000, {100, 101, 102, 103, 104, 300, 500, 600, 800, 900})
    # Then independence is rejected at any usual size
    assert bt.independence_mc(hits, 0.99).pvalue < 0.001


def test_conditional_coverage_mc_has_the_chi2_statistic() -> None:
    hits = _hits(1000, set(range(3, 1000, 90)))
    mc = bt.conditional_coverage_mc(hits, 0.99)
    assert mc.statistic == pytest.approx(bt.conditional_coverage(hits, 0.99).statistic)
    assert 0.0 < mc.pvalue <= 1.0


def _few(n: int, limit: float) -> st.SearchStrategy[set[int]]:
    return st.sets(st.integers(0, n - 1), max_size=int(limit))


@settings(max_examples=15, deadline=None)
@given(data=st.data(), n=st.sampled_from([250, 1000]))
def test_few_exceptions_never_fail_coverage(var_policy, data, n: int) -> None:
    # Given at most the expected number of exceptions at 95% and at 99% (99% ones also 95%)
    days95 = data.draw(_few(n, 0.05 * n))
    days99 = data.draw(
        st.sets(st.sampled_from(sorted(days95)), max_size=int(0.01 * n))
        if days95
        else st.just(set())
    )
    hits95, hits99 = _hits(n, days95), _hits(n, days99)
    # When the policy's whole VaR gate set runs
    report = _gate_report(var_policy, hits95, hits99)
    # Then no coverage gate refuses
    refused = {r.gate for r in report.failures}
    assert not refused & COVERAGE_GATES, [r.reason for r in report.failures]


@settings(max_examples=5, deadline=None)
@given(n=st.sampled_from([250, 1000]))
def test_zero_exceptions_are_promoted(var_policy, n: int) -> None:
    none = np.zeros(n, dtype=bool)
    assert _gate_report(var_policy, none, none).passed


@settings(max_examples=15, deadline=None)
@given(data=st.data(), n=st.sampled_from([250, 1000]), rate=st.floats(0.04, 0.2))
def test_a_hit_rate_far_above_the_level_is_refused(var_policy, data, n: int, rate: float) -> None:
    # Given at least four times the expected 99% exceptions, scattered (95% ones calibrated)
    x = int(np.ceil(rate * n))
    days99 = data.draw(st.sets(st.integers(0, n - 1), min_size=x, max_size=x))
    days95 = set(days99) | set(range(1, n, 20))
    report = _gate_report(var_policy, _hits(n, days95), _hits(n, days99))
    # Then the gate set refuses, on a coverage gate
    assert not report.passed
    assert {r.gate for r in report.failures} & COVERAGE_GATES


def _garch_t_returns(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) returns with unit-variance Student-t(5) shocks, and their sigma."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(5, size=n) / np.sqrt(5 / 3)
    r, s = np.empty(n), np.empty(n)
    var = 0.02 / 0.02
    for t in range(n):
        s[t] = np.sqrt(var)
        r[t] = s[t] * z[t]
        var = 0.02 + 0.08 * r[t] ** 2 + 0.90 * var
    return r, s


def test_a_var_three_times_too_high_covers_but_is_refused_on_tick_loss(var_policy) -> None:
    from scipy import stats

    from riskops.var.family import loss_comparison

    # Given 1,000 days of GARCH-t returns after 500 days of history, the benchmark
    # (historical simulation over the previous 500 days), the correct conditional 99%
    # VaR and a VaR three times as high
    r, s = _garch_t_returns(1500, seed=3)
    q99 = stats.t.ppf(0.99, 5) / np.sqrt(5 / 3)
    bench = -np.array([np.quantile(r[t - 500 : t], 0.01) for t in range(500, 1500)])
    window, sigma = r[500:], s[500:]
    correct, too_high = sigma * q99, 3 * sigma * q99
    # When their tick losses are compared with the benchmark's
    right, _ = loss_comparison(window, correct, bench, 0.99)
    high, detail = loss_comparison(window, too_high, bench, 0.99)
    # Then the inflated VaR has fewer exceptions than expected (coverage cannot see it)
    assert int(np.sum(-window > too_high)) <= 1
    # And it is significantly worse than the benchmark while the correct VaR is not
    assert high["loss_dm_pvalue"] < 0.005 < right["loss_dm_pvalue"]
    assert detail["alternative"] == "greater" and detail["lags"] == 6


def test_clustering_statistic_is_ljung_box_of_the_hits() -> None:
    from statsmodels.stats.diagnostic import acorr_ljungbox

    # Ljung and Box (1978) on the 0/1 exception series, ten lags; statsmodels as reference
    hits = np.random.default_rng(4).random(1000) < 0.05
    reference = float(acorr_ljungbox(hits.astype(float), lags=[10])["lb_stat"].iloc[0])
    assert bt.clustering_mc(hits, 0.95).statistic == pytest.approx(reference, rel=1e-10)


def test_clustering_mc_matches_the_exact_permutation_p_value() -> None:
    from itertools import combinations

    # Given 3 exceptions in 12 days, every one of the C(12, 3) = 220 placements is
    # equally likely under independence: the exact p-value is a count over them
    n, observed_days = 12, [4, 5, 7]
    stat = exact_tests._ljung_box_placements(np.array([observed_days]), n, 3)[0]
    every = np.array(list(combinations(range(n), 3)))
    exact = np.mean(exact_tests._ljung_box_placements(every, n, 3) >= stat - 1e-9)
    result = bt.clustering_mc(_hits(n, observed_days), 0.95, lags=3, simulations=19999)
    assert result.pvalue == pytest.approx(exact, abs=0.01)


def test_clustering_mc_refuses_a_two_week_cluster_and_ignores_few_exceptions() -> None:
    cluster = _hits(1000, set(range(500, 510)) | {100, 300, 700, 900})
    assert bt.clustering_mc(cluster, 0.99).pvalue == pytest.approx(1 / 2000)
    assert bt.clustering_mc(_hits(1000, {3}), 0.99).pvalue == 1.0
