"""Size and power of the market shadow window's comparative backtest gate at the window sizes
it sees (issue 30).

The gate (``market_var`` and ``market_volatility``'s ``rules: shadow_comparison`` in
``policies.yaml``; :func:`riskops.market.shadow_backtest.shadow_backtest_gate`) refuses a
challenger in shadow when, on the matured live days both versions forecast, it fails one of
the policy's coverage tests (VaR; the promotion backtest's own metrics and thresholds) or its
loss (tick loss at each VaR level; QLIKE for volatility) is higher than the champion's by the
one-sided Diebold-Mariano test with Newey-West errors at ``alpha``.

Each trial simulates ``n`` days of GARCH(1,1)-t(5) percent returns (``bench_gates.garch_t``:
clustered like an index) with the true conditional standard deviation ``sigma``, then the
champion's and the challenger's forecasts of one scenario, and runs the very functions the
promotion runs (:func:`~riskops.market.shadow_backtest.var_shadow_backtest` /
``volatility_shadow_backtest`` and the gate, ``min_days`` set to ``n`` so that each size is
judged). Scenarios (VaR at 95% and 99%, from the true quantile ``q = sigma * t-quantile``):

* ``equal`` -- both ``q * exp(0.1 e)``, independent ``e ~ N(0, 1)``: two equally good, slightly
  noisy models (estimation error). The share refused is the gate's **size** (the coverage
  tests' family-wise 5% of the policy plus the DM test's ``alpha`` per level);
* ``optimistic_0.7`` -- champion ``q``, challenger ``0.7 q`` (the issue's optimistic model):
  power;
* ``conservative_1.5`` -- champion ``q``, challenger ``1.5 q`` (covers, but too high: only the
  loss test sees it): power.

Volatility: ``equal`` (both ``sigma^2 exp(0.2 e)``), ``understated_0.7`` (challenger ``0.7
sigma^2``), ``constant`` (challenger: the unconditional variance every day).

Sizes 60, 125, 250, 500 days (a quarter to two years of shadow). Standard errors are binomial.
Run: ``.venv/bin/python bench/bench_shadow_backtest.py`` (about a minute on a loaded core);
writes ``bench/results/bench_shadow_backtest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gates import garch_t, rate, t_quantile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "bench_shadow_backtest.json"
SIZES = (60, 125, 250, 500)
LEVELS = ((0.95, "95"), (0.99, "99"))


def _frame(ret: np.ndarray, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    days = pd.bdate_range("2020-01-01", periods=ret.size)
    return pd.DataFrame({"series": "sim", "day": days, "ret": ret, **columns})


def _refusals(results: list[Any]) -> dict[str, bool]:
    failed = [r for r in results if not r.passed]
    return {
        "any": bool(failed),
        "coverage": any(r.gate.startswith("shadow_backtest:") for r in failed),
        "loss": any(r.gate.startswith("shadow_backtest_loss") for r in failed),
    }


def bench_var(rng: np.random.Generator, trials: int, policy: Any) -> list[dict[str, Any]]:
    from riskops.market.shadow_backtest import (
        ShadowBacktestRule,
        shadow_backtest_gate,
        shadow_rule,
        var_shadow_backtest,
    )

    alpha = (shadow_rule(policy) or ShadowBacktestRule()).alpha
    out = []
    for n in SIZES:
        rule = ShadowBacktestRule(alpha=alpha, min_days=n)
        ret, sigma = garch_t(rng, trials, n)
        cells: dict[str, list[dict[str, bool]]] = {}
        for i in range(trials):
            q = {tag: sigma[i] * t_quantile(level) for level, tag in LEVELS}
            noise = rng.normal(size=(2, n))
            scenarios = {
                "equal": (np.exp(0.1 * noise[0]), np.exp(0.1 * noise[1])),
                "optimistic_0.7": (1.0, 0.7),
                "conservative_1.5": (1.0, 1.5),
            }
            for scenario, (champion, challenger) in scenarios.items():
                columns = {}
                for _, tag in LEVELS:
                    columns[f"var_{tag}_champion"] = q[tag] * champion
                    columns[f"var_{tag}_challenger"] = q[tag] * challenger
                facts = var_shadow_backtest(_frame(ret[i], columns))
                results = shadow_backtest_gate(
                    {"shadow": {"comparison": facts}}, rule=rule, backtests=policy.backtests
                )
                cells.setdefault(scenario, []).append(_refusals(results))
        out += _rows("var", n, cells)
    return out


def bench_volatility(rng: np.random.Generator, trials: int, policy: Any) -> list[dict[str, Any]]:
    from riskops.market.shadow_backtest import (
        ShadowBacktestRule,
        shadow_backtest_gate,
        shadow_rule,
        volatility_shadow_backtest,
    )

    alpha = (shadow_rule(policy) or ShadowBacktestRule()).alpha
    out = []
    for n in SIZES:
        rule = ShadowBacktestRule(alpha=alpha, min_days=n)
        ret, sigma = garch_t(rng, trials, n)
        unconditional = 0.02 / (1 - 0.08 - 0.90)
        cells: dict[str, list[dict[str, bool]]] = {}
        for i in range(trials):
            h = sigma[i] ** 2
            noise = rng.normal(size=(2, n))
            scenarios = {
                "equal": (h * np.exp(0.2 * noise[0]), h * np.exp(0.2 * noise[1])),
                "understated_0.7": (h, 0.7 * h),
                "constant": (h, np.full(n, unconditional)),
            }
            for scenario, (champion, challenger) in scenarios.items():
                facts = volatility_shadow_backtest(
                    _frame(
                        ret[i], {"variance_champion": champion, "variance_challenger": challenger}
                    )
                )
                results = shadow_backtest_gate(
                    {"shadow": {"comparison": facts}}, rule=rule, backtests=()
                )
                cells.setdefault(scenario, []).append(_refusals(results))
        out += _rows("volatility", n, cells)
    return out


def _rows(family: str, n: int, cells: dict[str, list[dict[str, bool]]]) -> list[dict[str, Any]]:
    rows = []
    for scenario, trials in cells.items():
        kind = "size" if scenario == "equal" else "power"
        rows.append(
            {
                "family": family,
                "n_days": n,
                "scenario": scenario,
                "kind": kind,
                "refused": rate([t["any"] for t in trials]),
                "refused_by_coverage": rate([t["coverage"] for t in trials]),
                "refused_by_loss": rate([t["loss"] for t in trials]),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument(
        "--only", choices=("var", "volatility"), default=None, help="rerun one family's rows"
    )
    args = parser.parse_args()

    from riskops.policy import load_policies
    from riskops.settings import Settings

    book = load_policies(Settings().policy_file)
    load = os.getloadavg()
    started, cpu = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(args.seed)
    rows = []
    if args.only in (None, "var"):
        rows += bench_var(rng, args.trials, book.for_model("market_var", "var"))
    if args.only in (None, "volatility"):
        policy = book.for_model("market_volatility", "volatility")
        rows += bench_volatility(rng, args.trials, policy)
    if args.only is not None and RESULTS.exists():
        # One family rerun: the other family's rows (and their run's facts) are kept.
        before = json.loads(RESULTS.read_text())
        kept = [r for r in before["rows"] if r["family"] != args.only]
        rows = kept + rows
    out = {
        "bench": "bench_shadow_backtest",
        "seed": args.seed,
        "trials_per_cell": args.trials,
        "sizes": list(SIZES),
        "load_average_start": [round(x, 2) for x in load],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "rows": rows,
    }
    if args.only is not None:
        out["rerun"] = args.only
    RESULTS.write_text(json.dumps(out, indent=1))
    for r in rows:
        print(
            f"{r['family']:10s} n={r['n_days']:4d} {r['scenario']:17s} {r['kind']:5s} "
            f"refused {r['refused']['rate']:.3f} (se {r['refused']['se']:.3f}; coverage "
            f"{r['refused_by_coverage']['rate']:.3f}, loss {r['refused_by_loss']['rate']:.3f})"
        )
    print(f"wall {out['wall_s']} s, load {out['load_average_start']}")


if __name__ == "__main__":
    main()
