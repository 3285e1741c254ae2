"""The VaR family's part of cards and reports, from plain evidence: the gated clustering
result, the reported first-order independence and the other small-sample gate tests, with
their limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from riskops.policy import load_policies
from riskops.var.documents import var_gate_blocks
from riskops.var.family import coverage_backtests

BOOK = load_policies(Path(__file__).parents[2] / "platform" / "riskops" / "policies.yaml")


def test_var_card_shows_the_gated_clustering_result_and_the_reported_independence() -> None:
    # Given 1,000 days whose exceptions include a run of five (clustered)
    hits99 = np.zeros(1000, dtype=bool)
    hits99[[100, 101, 102, 103, 104, 400, 700]] = True
    hits95 = hits99.copy()
    hits95[::25] = True
    hits95[600:608] = True  # and a second cluster of 95% exceptions
    _, results = coverage_backtests({0.95: hits95, 0.99: hits99})
    # When the card's gate-test table is built with the shipped VaR policy
    (table,) = var_gate_blocks({"backtests": results}, BOOK.for_model("market_var"))
    rows = {(r[0], r[1]): r for r in table.rows}
    # Then the 95% clustering result is there, gated, and failed
    label = "clustering, Ljung-Box over ten lags, Monte Carlo p-value"
    clustering = rows[("95%", label)]
    assert clustering[3] == "51 / 1000"
    assert clustering[5] == "p ≥ 0.0025"
    assert clustering[6] == "FAIL"
    # and the first-order independence statistic is reported, not gated (issue 27)
    ind = rows[("99%", "independence, first order, Monte Carlo p-value (Dufour 2006)")]
    assert ind[3] == "7 / 1000"
    assert (ind[5], ind[6]) == ("not gated", "reported")
    # and the conditional coverage is reported, not gated
    cc = rows[("99%", "conditional coverage, Monte Carlo (reported only)")]
    assert (cc[5], cc[6]) == ("not gated", "reported")


def test_the_backtests_table_lists_a_tick_loss_comparison_without_exception_counts() -> None:
    import pandas as pd

    from riskops.var.documents import backtests_table
    from riskops.var.family import loss_comparison

    # Given a VaR's tick-loss comparison with a benchmark beside its coverage tests
    rng = np.random.default_rng(0)
    returns = pd.Series(rng.standard_t(5, 500))
    _, compared = loss_comparison(
        returns, pd.Series(2.5, index=returns.index), pd.Series(3.0, index=returns.index), 0.99
    )
    hits = np.zeros(500, dtype=bool)
    hits[[10, 200]] = True
    _, results = coverage_backtests({0.99: hits})
    results["99"]["tick_loss_vs_benchmark"] = compared
    # When the card's backtest table is built, then it has a row for it (no exception count)
    table = backtests_table({"backtests": results})
    rows = {r[1]: r for r in table.rows}
    assert "tick loss vs benchmark" in rows
    assert rows["binomial coverage"][4] == "2 / 500"
