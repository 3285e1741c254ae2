"""Volatility models: fit time and rolling out-of-sample evaluation time, side by side.

All in this one process on the bundled S&P 500 (arch.data.sp500, 5,030 percent returns):

* fit: each model fitted once on the full history (median of ``--repeat`` runs); HAR
  and deep models learn from the range-based proxy, as in the volatility family;
* rolling: the volatility family's evaluation scheme, one-step forecasts over the last
  ``--eval-days`` days with a refit every ``--refit-every`` days (expanding window,
  GARCH refits warm-started), timed with ``rolling_variance_forecasts``; the QLIKE
  and Diebold–Mariano statistic against GARCH(1,1)-normal on that window are shown too;
* arch: ``arch_model(y).fit(disp="off")`` as the reference for the GARCH fit time;
* long: a simulated 25,000-day price history written as a date + price CSV, loaded with
  ``load_market`` and put through ``VolatilityFamily.fit`` (GARCH), end to end.

Ratios are against GARCH(1,1)-normal in the same run. Deep models run only when
PyTorch is installed (``make install-deep``). Prints a table and writes
``bench/results/bench_volatility.json``.

    .venv/bin/python bench/bench_volatility.py [--repeat 3] [--eval-days 500] [--no-long]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def models() -> dict[str, Any]:
    from riskops.market.volatility import GarchVolatility, HARVolatility

    out: dict[str, Any] = {
        "garch11_normal": GarchVolatility(),
        "garch11_t": GarchVolatility(dist="t"),
        "gjr_t": GarchVolatility(o=1, dist="t"),
        "egarch_t": GarchVolatility(vol="EGARCH", o=1, dist="t"),
        "har_linear": HARVolatility(regressor="linear"),
        "har_lightgbm": HARVolatility(),
    }
    if importlib.util.find_spec("torch") is not None:
        from riskops.market.deep import LSTMVolatility, TransformerVolatility

        out["lstm"] = LSTMVolatility()
        out["transformer"] = TransformerVolatility()
    return out


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def long_history(n: int, workdir: Path) -> dict[str, Any]:
    from riskops.data.market import load_market
    from riskops.families.base import TrainOptions
    from riskops.market.volatility import GarchVolatility
    from riskops.volatility.family import VolatilityFamily

    sim = GarchVolatility().simulate(n, params=[0.04, 0.02, 0.09, 0.89], random_state=1)
    prices = 100 * np.cumprod(1 + sim["data"].to_numpy() / 100)
    dates = pd.bdate_range("1920-01-01", periods=n)
    path = workdir / "long_index.csv"
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": prices}).to_csv(path, index=False)
    start = time.perf_counter()
    dataset = load_market(path, date_col="Date", price_col="Close")
    loaded = time.perf_counter() - start
    outcome = VolatilityFamily().fit(
        dataset, TrainOptions(model="garch", dist="normal"), workdir / "out"
    )
    total = time.perf_counter() - start
    params = outcome.evidence["params"]
    return {
        "days": n,
        "load_s": round(loaded, 3),
        "family_fit_s": round(total - loaded, 3),
        "persistence": round(params["alpha[1]"] + params["beta[1]"], 4),
        "true_persistence": 0.98,
        "qlike": round(outcome.metrics["qlike"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fit timings: median of k runs")
    parser.add_argument("--eval-days", type=int, default=500)
    parser.add_argument("--refit-every", type=int, default=20)
    parser.add_argument("--deep-refit-every", type=int, default=100)
    parser.add_argument("--long-days", type=int, default=25_000)
    parser.add_argument("--no-long", action="store_true", help="skip the long-history run")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from arch import arch_model

    from riskops.data.market import load_market
    from riskops.market.evaluation import diebold_mariano, qlike_loss, rolling_variance_forecasts
    from riskops.market.volatility import realised_proxy

    dataset = load_market()
    returns = dataset.series()
    start = len(returns) - args.eval_days
    # HAR and deep models learn from the range proxy, as in the family (GARCH ignores it).
    high, low = (f[dataset.primary].reindex(returns.index) for f in (dataset.high, dataset.low))
    target = realised_proxy(returns, high, low, calibrate_on=start)
    arch_fit, _ = timed(lambda: arch_model(returns).fit(disp="off"), args.repeat)

    rows: dict[str, dict[str, Any]] = {}
    benchmark = None
    for name, spec in models().items():
        deep = name in ("lstm", "transformer")
        repeat = 1 if deep else args.repeat
        fit_s, _ = timed(lambda spec=spec: spec.fit(returns, target), repeat)
        refit_every = args.deep_refit_every if deep else args.refit_every
        roll_start = time.perf_counter()
        forecasts = rolling_variance_forecasts(
            spec, returns, start=start, refit_every=refit_every, y=target
        )
        roll_s = time.perf_counter() - roll_start
        if name == "garch11_normal":
            benchmark = forecasts
        assert benchmark is not None
        realised = forecasts["realised"].to_numpy()
        loss = qlike_loss(realised, forecasts["forecast"])
        row = {
            "fit_s": round(fit_s, 4),
            "rolling_s": round(roll_s, 3),
            "refit_every": refit_every,
            "refits": int(forecasts["fitted_through"].nunique()),
            "qlike": round(float(loss.mean()), 4),
        }
        if refit_every == args.refit_every:
            bench_loss = qlike_loss(realised, benchmark["forecast"])
            row["dm_stat_vs_garch11"] = round(diebold_mariano(loss, bench_loss).stat, 3)
        rows[name] = row
    base = rows["garch11_normal"]
    for row in rows.values():
        row["fit_ratio"] = round(row["fit_s"] / base["fit_s"], 2)
        row["rolling_ratio"] = round(row["rolling_s"] / base["rolling_s"], 2)

    long = None
    if not args.no_long:
        with tempfile.TemporaryDirectory() as tmp:
            long = long_history(args.long_days, Path(tmp))

    print(f"S&P 500, {len(returns)} returns; rolling: last {args.eval_days} days")
    header = f"{'model':16} {'fit s':>8} {'x garch':>8} {'rolling s':>10} {'x garch':>8} "
    print(header + f"{'refits':>7} {'QLIKE':>8} {'DM':>7}")
    for name, row in rows.items():
        dm = row.get("dm_stat_vs_garch11")
        print(
            f"{name:16} {row['fit_s']:8.3f} {row['fit_ratio']:8.2f} {row['rolling_s']:10.2f} "
            f"{row['rolling_ratio']:8.2f} {row['refits']:7d} {row['qlike']:8.4f} "
            f"{'' if dm is None else f'{dm:7.2f}'}"
        )
    print(f"arch_model(...).fit() reference: {arch_fit:.3f} s")
    if long:
        print(
            f"long CSV history, {long['days']} days: load {long['load_s']} s, family fit "
            f"{long['family_fit_s']} s, persistence {long['persistence']} (true 0.98)"
        )

    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "bench_volatility",
        "dataset": "arch.data.sp500",
        "n_returns": len(returns),
        "eval_days": args.eval_days,
        "repeat": args.repeat,
        "models": rows,
        "arch_fit_s": round(arch_fit, 4),
        "long_history": long,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    path = args.out / "bench_volatility.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
