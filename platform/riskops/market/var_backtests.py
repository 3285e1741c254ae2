"""The VaR backtests: exception-based coverage and independence tests, ES tests, tick loss.

One set of functions for every VaR record: the promotion backtest of the VaR family
(:mod:`riskops.var.family`), the live record of a served champion
(:mod:`riskops.market.live_backtest`) and the size benchmark (``bench/bench_gates.py``) call
them, so that the evidence the gates read and the live evidence are computed alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskops.market.var import FORECAST_LEVELS as LEVELS

__all__ = [
    "BENCHMARK_NAME",
    "ES_BOOTSTRAPS",
    "TRAFFIC_LIGHT_DAYS",
    "backtest_forecasts",
    "backtest_table",
    "coverage_backtests",
    "coverage_evidence",
    "loss_comparison",
]

TRAFFIC_LIGHT_DAYS = 250
"""The supervisors' backtesting window (Basel Committee, 1996)."""
BENCHMARK_NAME = "historical simulation, previous 500 days"
ES_BOOTSTRAPS = 2000


def backtest_forecasts(
    forecasts: pd.DataFrame,
    levels: tuple[float, ...] = LEVELS,
    seed: int = 42,
    benchmark: pd.DataFrame | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Metrics (flat) and backtest results (per level, per test) of rolling forecasts.

    ``forecasts`` has ``ret`` and ``var_{lvl}``/``es_{lvl}`` columns, as
    :class:`~riskops.market.rolling.RollingBacktest` returns. The exception-based tests
    are :func:`coverage_backtests`'s; the ES tests and the tick loss need the returns.

    With a ``benchmark`` (``var_{lvl}`` on the same days), the tick losses are compared
    by :func:`loss_comparison`: a VaR that covers but is too high (inefficient) loses to
    the benchmark in tick loss, which coverage tests never see.
    """
    from riskops import backtests as bt
    from riskops.market.rolling import level_tag

    ret = forecasts["ret"].to_numpy()
    hits = {lv: bt.exceedances(ret, forecasts[f"var_{level_tag(lv)}"].to_numpy()) for lv in levels}
    metrics, results = coverage_backtests(hits, seed=seed)
    for level in levels:
        tag = level_tag(level)
        var = forecasts[f"var_{tag}"].to_numpy()
        es = forecasts[f"es_{tag}"].to_numpy()
        mf = bt.mcneil_frey(ret, var, es, bootstraps=ES_BOOTSTRAPS, seed=seed)
        z2 = bt.acerbi_szekely_z2(ret, var, es, level, simulations=ES_BOOTSTRAPS, seed=seed)
        metrics |= {
            f"es_pvalue_{tag}": mf.pvalue,
            f"quantile_loss_{tag}": bt.tick_loss(ret, var, level),
        }
        results[tag] |= {"mcneil_frey": mf.to_dict(), "acerbi_szekely_z2": z2.to_dict()}
        if benchmark is not None:
            compared, result = loss_comparison(ret, var, benchmark[f"var_{tag}"], level)
            metrics |= {f"{k}_{tag}": v for k, v in compared.items()}
            results[tag]["tick_loss_vs_benchmark"] = result
    return metrics, results


def loss_comparison(
    returns: Any, var: Any, benchmark_var: Any, level: float
) -> tuple[dict[str, float], dict[str, Any]]:
    """Tick loss of a VaR against the benchmark's, Diebold-Mariano with Newey-West errors.

    ``loss_dm_pvalue`` is one-sided, H1 "the model's expected tick loss is higher than
    the benchmark's": a small p-value means the model is significantly worse (e.g. a
    VaR three times too high). Days without a benchmark value are left out.
    """
    from riskops.stats.forecast_comparison import diebold_mariano

    r = np.asarray(returns, dtype=float)
    model = _tick_losses(r, np.asarray(var, dtype=float), level)
    bench = _tick_losses(r, np.asarray(benchmark_var, dtype=float), level)
    days = np.isfinite(model) & np.isfinite(bench)
    dm = diebold_mariano(model[days], bench[days], alternative="greater")
    metrics = {
        "quantile_loss_benchmark": float(bench[days].mean()),
        "loss_dm_stat": dm.statistic,
        "loss_dm_pvalue": dm.pvalue,
    }
    return metrics, {"benchmark": BENCHMARK_NAME, **dm.to_dict()}


def _tick_losses(returns: np.ndarray, var: np.ndarray, level: float) -> np.ndarray:
    """Per-day tick loss of the VaR as the ``1 - level`` return quantile."""
    u = returns + var
    return u * ((1.0 - level) - (u < 0))


def coverage_backtests(
    hits: dict[float, np.ndarray], seed: int = 42
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Metrics and results of the exception-based backtests, per level.

    ``hits`` maps each VaR level to its boolean exceedances over the evaluation window
    (oldest first). This is the evidence the promotion gates read, and the size
    benchmark (``bench/bench_gates.py``) runs this very function on simulated hits.

    Two windows: the most recent 250 days, the supervisors' (Basel Committee 1996),
    and the whole evaluation window (1,000 days by default). The gated tests have
    their size in small samples and refuse only a VaR that is too low:

    * ``binomial_pvalue_{lvl}_last250`` and ``binomial_pvalue_{lvl}``: exact one-sided
      binomial test of too many exceptions (zero exceptions give 1);
    * ``tail_pvalue_{lvl}``: too many exceptions at ``lvl`` given those at the lowest
      level (99% given 95%), exact conditional binomial (Kratz, Lok and McNeil 2018);
    * ``clustering_mc_pvalue_{lvl}``: the Ljung-Box statistic of the exceptions over ten
      lags with an exact Monte Carlo p-value (Dufour 2006), whole window (gated at 95%:
      about 50 exceptions in 1,000 days); ``independence_mc_pvalue_{lvl}``,
      Christoffersen's (1998) first-order statistic with the same p-value, is reported;
    * ``traffic_light_zone_last_250_{lvl}`` and ``traffic_light_zone_{lvl}`` (evidence).

    Reported, not gated: Kupiec's two-sided POF (``kupiec_pvalue_*``), the asymptotic
    Christoffersen tests (``independence_pvalue_*``, ``cc_pvalue_*``) and the Monte Carlo
    conditional coverage ``cc_mc_pvalue_{lvl}`` (two-sided in coverage).
    """
    from riskops import backtests as bt
    from riskops.market.rolling import level_tag

    levels = sorted(hits)
    base = levels[0]
    metrics: dict[str, float] = {"n_eval": float(len(hits[base]))}
    results: dict[str, dict[str, Any]] = {}
    for level in levels:
        tag = level_tag(level)
        h = np.asarray(hits[level], dtype=bool)
        pof = bt.kupiec_pof(h, level)
        ind = bt.christoffersen_independence(h)
        cc = bt.conditional_coverage(h, level)
        tl = bt.traffic_light(h, level)
        binom = bt.binomial_coverage(h, level)
        ind_mc = bt.independence_mc(h, level, seed=seed)
        clustering = bt.clustering_mc(h, level, seed=seed)
        cc_mc = bt.conditional_coverage_mc(h, level, seed=seed)
        recent = h[-TRAFFIC_LIGHT_DAYS:]
        tl_last = bt.traffic_light(recent, level)
        # Supervisors backtest on the most recent 250 days (Basel 1996); the gates read these.
        pof_last = bt.kupiec_pof(recent, level)
        cc_last = bt.conditional_coverage(recent, level)
        binom_last = bt.binomial_coverage(recent, level)
        metrics |= {
            f"exceptions_{tag}": float(pof.exceptions),
            f"exception_rate_{tag}": pof.exceptions / pof.n,
            f"kupiec_stat_{tag}": pof.statistic,
            f"kupiec_pvalue_{tag}": pof.pvalue,
            f"binomial_pvalue_{tag}": binom.pvalue,
            f"independence_pvalue_{tag}": ind.pvalue,
            f"independence_mc_pvalue_{tag}": ind_mc.pvalue,
            f"clustering_mc_pvalue_{tag}": clustering.pvalue,
            f"cc_stat_{tag}": cc.statistic,
            f"cc_pvalue_{tag}": cc.pvalue,
            f"cc_mc_pvalue_{tag}": cc_mc.pvalue,
            f"traffic_light_plus_{tag}": tl.plus_factor,
            f"exceptions_{tag}_last250": float(pof_last.exceptions),
            f"kupiec_pvalue_{tag}_last250": pof_last.pvalue,
            f"binomial_pvalue_{tag}_last250": binom_last.pvalue,
            f"cc_pvalue_{tag}_last250": cc_last.pvalue,
        }
        results[tag] = {
            "kupiec_pof": pof.to_dict(),
            "binomial_coverage": binom.to_dict(),
            "christoffersen_independence": ind.to_dict(),
            "independence_mc": ind_mc.to_dict(),
            "clustering_mc": clustering.to_dict(),
            "conditional_coverage": cc.to_dict(),
            "conditional_coverage_mc": cc_mc.to_dict(),
            "traffic_light": tl.to_dict(),
            "traffic_light_last_250": tl_last.to_dict(),
            "kupiec_pof_last_250": pof_last.to_dict(),
            "binomial_coverage_last_250": binom_last.to_dict(),
            "conditional_coverage_last_250": cc_last.to_dict(),
        }
        if level > base:
            tail = bt.tail_coverage(h, np.asarray(hits[base], dtype=bool), level, base)
            metrics[f"tail_pvalue_{tag}"] = tail.pvalue
            results[tag]["tail_coverage"] = tail.to_dict()
    return metrics, results


def coverage_evidence(results: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The traffic-light zones the policy reads from the evidence, per level."""
    out: dict[str, str] = {}
    for tag, tests in results.items():
        out[f"traffic_light_zone_{tag}"] = tests["traffic_light"]["zone"]
        out[f"traffic_light_zone_last_250_{tag}"] = tests["traffic_light_last_250"]["zone"]
    return out


def backtest_table(results: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per level and test: statistic, p-value, decision and the test's details."""
    rows = []
    for tag, tests in results.items():
        for name, res in tests.items():
            row = {
                "level": float(tag) / 100,
                "test": name,
                "statistic": res.get("statistic"),
                "pvalue": res.get("pvalue"),
                "passed": res.get("passed"),
                "exceptions": res.get("exceptions"),
                "n": res.get("n"),
                "zone": res.get("zone"),
                "plus_factor": res.get("plus_factor"),
                "cumulative_probability": res.get("cumulative_probability"),
            }
            rows.append(row)
    return pd.DataFrame(rows)
