"""Live risk: the alarms' run lengths, and the online update against arch, side by side.

Part 1 -- alarms (``--part alarms``). The Bernoulli CUSUM on the 99% VaR's exceptions,
designed for an in-control average run length (ARL0) of ``--target-arl0`` days
(:func:`riskops.stats.sequential.design_bernoulli_cusum`, exact by Markov chain), and the
zone-change rule (Basel traffic light over the last 250 days, its window starting full of
in-control exceptions, as if seeded with the promotion backtest's last 250 days). Run
lengths are simulated, ``--reps`` replications, in days, under:

* ``iid_calibrated`` -- i.i.d. exceptions at 1%;
* ``garch_t_calibrated`` -- GARCH(1,1) returns with standardised Student's t innovations
  (parameters: GarchTVaR fitted on the bundled S&P 500) and the true conditional 99% VaR;
* ``garch_t_estimated`` -- the same returns, the VaR of a GarchTVaR *fitted* on each
  replication's own 2,000 preceding days (estimation error: the real in-control case);
* ``covers_98`` -- the VaR is the true 98% quantile (2% exceptions);
* ``scaled_0.7`` -- the true 99% VaR times 0.7 (an optimistic model, the issue's test).

The change scenarios are run twice: from the start (zero-state: a model wrong from its
promotion) and after ``--change-day`` (500) in-control days (replications that alarmed
before are left out: the delay of a model that drifts later). The exact Markov values are
printed beside the simulated ones for i.i.d. exceptions.

Part 2 -- throughput (``--part throughput``). A universe of ``--series`` (500) series,
each the S&P 500 returns rotated by a different offset, each with its own online state of
one fitted champion; ``--days`` new returns per series are absorbed. Observations per
second of the online update, per champion kind, against (a) refitting
``arch_model(...).fit()`` per observation and (b) the maintainers' workaround,
``arch_model(growing series).fix(params)`` and its one-step forecast per observation --
both for the GARCH(1,1)-t of the VaR champion. (a) and (b) are slow, so they are timed on a
*sample* of ``--sample-a`` and ``--sample-b`` observations and their rate extrapolated;
(b)'s forecasts are checked against the online ones on the sample.

Part 3 -- the live path (``--part stream``). The same universe (``--series`` series, the
GARCH(1,1)-t VaR champion) through :class:`riskops.live.book.LiveBook`, side by side with the
bare online update in the same run:

* ``ledger_append`` -- observations per second of the whole path for one message per series
  per batch: checks, score, update, and one transaction appending the observations,
  forecasts, scores and state checkpoints to the evidence store (SQLite, WAL, synchronous
  FULL: one fsync per batch);
* ``ledger_checkpoints`` -- the same path with the online states checkpointed at every bar
  (as before the log replay) and every ``CHECKPOINT_EVERY`` (50) bars, for the GARCH(1,1)-t
  VaR and the FHS VaR (whose residual window makes a checkpoint of kilobytes): CPU per
  observation and the ratio;
* ``broker_latency`` -- a real ``redis-server`` (started here), a producer *process*
  sending ``--rate`` (1,000) observations per second for ``--seconds`` over the universe,
  one consumer (:class:`riskops.live.consumer.Consumer`, batches of up to 100): p50/p99 of
  the time from a message's send to its forecast published on the output stream, and the
  consumer process's CPU per message. The consumer's default durability: the batch
  committed with ``synchronous = NORMAL``, published, acknowledged after a durable point
  (a WAL checkpoint every 50 ms). ``broker_latency_strict``: the same, in the same run,
  with one synced (FULL) commit per batch, acknowledged before publishing (the path before
  the deferred durability). Both at ``--rate`` and at ``--low-rate`` (200). The states are
  built before the clock starts.

Writes ``bench/results/bench_live.json`` (date, machine, load average before and after);
running one part keeps the others' figures.

    .venv/bin/python bench/bench_live.py [--part all] [--reps 2000] [--series 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

LEVEL = 0.99
WINDOW = 250


# -- part 1: alarms --------------------------------------------------------------------


class _Truth:
    """GARCH(1,1)-t returns for ``reps`` replications, one day at a time (vectorised)."""

    def __init__(self, params: np.ndarray, reps: int, rng: np.random.Generator) -> None:
        self.mu, self.omega, self.alpha, self.beta, self.nu = (float(v) for v in params)
        self.rng = rng
        self.reps = reps
        self.sigma2 = np.full(reps, self.omega / (1.0 - self.alpha - self.beta))
        self.t_scale = math.sqrt((self.nu - 2.0) / self.nu)

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        """The day's returns and the variance they were drawn with; advances the filter."""
        sigma2 = self.sigma2
        z = self.rng.standard_t(self.nu, size=self.reps) * self.t_scale
        r = self.mu + np.sqrt(sigma2) * z
        e = r - self.mu
        self.sigma2 = self.omega + self.alpha * e * e + self.beta * sigma2
        return r, sigma2


def _quantile(level: float, nu: float | np.ndarray) -> np.ndarray:
    from riskops.market.rolling import std_t_quantile_es

    nus = np.atleast_1d(np.asarray(nu, dtype=float))
    return np.array([std_t_quantile_es(1.0 - level, float(n))[0] for n in nus])


def _run(
    reps: int,
    max_days: int,
    hits_before: Any,
    hits_after: Any,
    change_day: int,
    m: int,
    threshold: int,
    zone_bounds: tuple[int, int],
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Run lengths of the CUSUM and of the zone rule over ``reps`` exception streams.

    ``hits_before``/``hits_after`` give a day's exceptions (a boolean array per replication)
    before and from ``change_day``. Returns days to the first alarm after the change (``nan``
    when censored at ``max_days``) and which replications alarmed before the change.
    """
    yellow, red = zone_bounds
    cusum = np.zeros(reps, dtype=np.int64)
    cusum_alarm = np.full(reps, np.nan)
    # The zone window starts full of in-control exceptions (the promotion backtest's).
    window = rng.random((reps, WINDOW)) < (1.0 - LEVEL)
    count = window.sum(axis=1)
    zone = np.where(count >= red, 2, np.where(count >= yellow, 1, 0))
    zone_alarm = np.full(reps, np.nan)
    for day in range(max_days):
        hits = (hits_before if day < change_day else hits_after)()
        cusum = np.maximum(cusum + m * hits - 1, 0)
        fired = (cusum >= threshold) & np.isnan(cusum_alarm)
        cusum_alarm[fired] = day + 1
        cusum[cusum >= threshold] = 0
        slot = day % WINDOW
        count += hits.astype(np.int64) - window[:, slot]
        window[:, slot] = hits
        new_zone = np.where(count >= red, 2, np.where(count >= yellow, 1, 0))
        worse = (new_zone > zone) & np.isnan(zone_alarm)
        zone_alarm[worse] = day + 1
        zone = new_zone
        if day >= change_day and not (np.isnan(cusum_alarm).any() or np.isnan(zone_alarm).any()):
            break
    out: dict[str, Any] = {}
    for name, alarm in (("cusum", cusum_alarm), ("zone", zone_alarm)):
        early = alarm <= change_day if change_day else np.zeros(reps, dtype=bool)
        kept = alarm[~early] - change_day
        done = kept[~np.isnan(kept)]
        out[name] = {
            "mean": float(done.mean()) if done.size else None,
            "std_error": float(done.std(ddof=1) / math.sqrt(done.size)) if done.size > 1 else None,
            "median": float(np.median(done)) if done.size else None,
            "p90": float(np.quantile(done, 0.9)) if done.size else None,
            "replications": int(kept.size),
            "censored": int(np.isnan(kept).sum()),
            "alarmed_before_change": int(early.sum()),
        }
    return out


def alarms(args: argparse.Namespace) -> dict[str, Any]:
    """Part 1: designs, exact ARLs and simulated run lengths (see the module docstring)."""
    from riskops.data.market import load_market
    from riskops.market.rolling import fit_garch, garch_backcast, garch_variance
    from riskops.market.var import GarchTVaR
    from riskops.stats.sequential import (
        bernoulli_cusum_arl,
        design_bernoulli_cusum,
        steady_state_arl,
        traffic_light_bounds,
    )

    started = time.perf_counter()
    design = design_bernoulli_cusum(LEVEL, target_arl0=args.target_arl0)
    designs = {
        str(int(t)): design_bernoulli_cusum(LEVEL, target_arl0=t).to_dict()
        for t in (250, 500, 1000, 2500, 5000)
    }
    zone_bounds = traffic_light_bounds(WINDOW, LEVEL)
    params = GarchTVaR().fit(load_market().series()).fit_.params
    q99, q98 = _quantile(0.99, params[-1])[0], _quantile(0.98, params[-1])[0]
    rng = np.random.default_rng(args.seed)
    reps, max_days = args.reps, args.max_days
    m, threshold = design.m, design.threshold

    def iid(p: float) -> Any:
        return lambda: rng.random(reps) < p

    def garch(quantile: float, scale: float, truth: _Truth) -> Any:
        def day() -> np.ndarray:
            r, sigma2 = truth.step()
            var = -(truth.mu + np.sqrt(sigma2) * quantile) * scale
            return -r > var

        return day

    scenarios: dict[str, Any] = {}

    def record(
        name: str, before: Any, after: Any, change: int, exact: float | None, n: int = reps
    ) -> None:
        t0 = time.perf_counter()
        result = _run(n, max_days, before, after, change, m, threshold, zone_bounds, rng)
        result["cusum"]["exact_markov"] = exact
        result["seconds"] = round(time.perf_counter() - t0, 2)
        scenarios[name] = result
        c = result["cusum"]
        print(
            f"  {name:<34} cusum {c['mean']:>8.1f} ± {c['std_error']:.1f}"
            + (f" (exact {exact:.1f})" if exact else "")
            + f"   zone {result['zone']['mean'] or float('nan'):>8.1f}"
        )

    print(f"alarms: CUSUM m={m} threshold={threshold} (h={design.h:.3f}), ARL0 {design.arl0:.1f}")
    record("iid_calibrated", iid(0.01), iid(0.01), 0, design.arl0)
    truth = _Truth(params, reps, rng)
    record("garch_t_calibrated", garch(q99, 1.0, truth), garch(q99, 1.0, truth), 0, design.arl0)
    for change in (0, args.change_day):
        tag = "zero_state" if change == 0 else f"after_{change}_days"
        exact98 = design.arl1 if change == 0 else steady_state_arl(0.01, 0.02, m, threshold)
        truth = _Truth(params, reps, rng)
        record(f"covers_98_{tag}", garch(q99, 1.0, truth), garch(q98, 1.0, truth), change, exact98)
        truth = _Truth(params, reps, rng)
        record(f"scaled_0.7_{tag}", garch(q99, 1.0, truth), garch(q99, 0.7, truth), change, None)

    # The 0.7-scaled VaR's exception rate under the GARCH-t truth, and the Markov ARL at it
    truth = _Truth(params, 20_000, np.random.default_rng(args.seed + 1))
    rate = float(np.mean([garch(q99, 0.7, truth)().mean() for _ in range(200)]))
    scenarios["scaled_0.7_zero_state"]["exception_rate"] = rate
    scenarios["scaled_0.7_zero_state"]["cusum"]["markov_at_mean_rate"] = bernoulli_cusum_arl(
        rate, m, threshold
    )

    # In control with estimated parameters: each replication's model fitted on 2,000 days
    est_reps = args.estimated_reps
    truth = _Truth(params, est_reps, rng)
    train = np.empty((2000, est_reps))
    for day in range(2000):
        train[day], _ = truth.step()
    fitted = []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(est_reps):
            fit = fit_garch(train[:, i], o=0, dist="t")
            theta = fit.params
            _, nxt = garch_variance(theta, train[:, i], garch_backcast(train[:, i] - theta[0]))
            fitted.append((*theta, nxt))
    fit_seconds = time.perf_counter() - t0
    est = np.array(fitted)
    mu, omega, alpha, beta, nu, model_sigma2 = (est[:, k].copy() for k in range(6))
    q_est = _quantile(LEVEL, nu)

    def estimated() -> np.ndarray:
        nonlocal model_sigma2
        r, _ = truth.step()
        var = -(mu + np.sqrt(model_sigma2) * q_est)
        e = r - mu
        model_sigma2 = omega + alpha * e * e + beta * model_sigma2
        return -r > var

    record("garch_t_estimated", estimated, estimated, 0, design.arl0, n=est_reps)
    scenarios["garch_t_estimated"]["fit_seconds"] = round(fit_seconds, 2)
    scenarios["garch_t_estimated"]["estimated_params_spread"] = {
        name: [float(np.quantile(est[:, k], 0.1)), float(np.quantile(est[:, k], 0.9))]
        for k, name in enumerate(("mu", "omega", "alpha[1]", "beta[1]", "nu"))
    }
    return {
        "level": LEVEL,
        "design": design.to_dict(),
        "designs_by_target_arl0": designs,
        "zone_rule": {"window": WINDOW, "yellow_from": zone_bounds[0], "red_from": zone_bounds[1]},
        "truth": {
            "model": "GARCH(1,1), standardised t innovations, GarchTVaR fitted on arch.data.sp500",
            "params": dict(
                zip(("mu", "omega", "alpha[1]", "beta[1]", "nu"), map(float, params), strict=True)
            ),
        },
        "reps": args.reps,
        "estimated_reps": est_reps,
        "max_days": max_days,
        "change_day": args.change_day,
        "seed": args.seed,
        "scenarios": scenarios,
        "seconds": round(time.perf_counter() - started, 1),
    }


# -- part 2: throughput --------------------------------------------------------------------


def _timed(work: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """Part 2: observations per second, online against arch (see the module docstring)."""
    from arch import arch_model

    from riskops.data.market import load_market
    from riskops.market.online import online_state
    from riskops.market.var import FilteredHistoricalVaR, GarchTVaR, HistoricalVaR, QuantileVaR
    from riskops.market.volatility import GarchVolatility, HARVolatility

    returns = load_market().series().to_numpy()
    train_days, history_days = args.train_days, args.history_days
    n_series, days = args.series, args.days
    base = returns[:train_days]
    # Series i: the S&P 500 rotated by 9 i days; its state starts after `history_days` days.
    offsets = [(9 * i) % returns.size for i in range(n_series)]
    paths = [np.roll(returns, -k)[: history_days + days] for k in offsets]
    kinds = {
        "garch_t_var": GarchTVaR(),
        "gjr_fhs_var": FilteredHistoricalVaR(),
        "historical_var": HistoricalVaR(window=500),
        "quantile_lightgbm_var": QuantileVaR(),
        "gjr_t_volatility": GarchVolatility(o=1, dist="t"),
        "egarch_t_volatility": GarchVolatility(vol="EGARCH", o=1, dist="t"),
        "har_lightgbm_volatility": HARVolatility(),
    }
    results: dict[str, Any] = {}
    states_by_kind: dict[str, list[Any]] = {}
    for name, spec in kinds.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = spec.fit(base)
        t0 = time.perf_counter()
        states = [online_state(model, history=path[:history_days]) for path in paths]
        setup = time.perf_counter() - t0
        live = np.array([path[history_days:] for path in paths])

        def absorb(states: list[Any] = states, live: np.ndarray = live) -> None:
            for d in range(days):
                column = live[:, d].tolist()
                for state, r in zip(states, column, strict=True):
                    state.update(r)

        wall, cpu = _timed(absorb)
        n = n_series * days
        results[name] = {
            "observations": n,
            "seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "obs_per_second": round(n / wall, 1),
            "us_per_observation": round(1e6 * wall / n, 2),
            "setup_seconds_for_all_series": round(setup, 2),
            "checkpoint_bytes_per_series": len(json.dumps(states[0].to_dict())),
        }
        states_by_kind[name] = states
        print(f"  online {name:<26} {n / wall:>12,.0f} obs/s  ({1e6 * wall / n:.1f} µs each)")

    # (a) and (b) for the GARCH(1,1)-t VaR champion, on a sample of the same observations
    model = kinds["garch_t_var"]
    params = model.fit_.params
    sample_series = list(range(0, n_series, max(1, n_series // 5)))[:5]

    def growing(i: int, d: int) -> np.ndarray:
        return paths[i][: history_days + d]

    def refit_one(i: int, d: int) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            am = arch_model(growing(i, d), mean="Constant", vol="GARCH", p=1, q=1, dist="t")
            res = am.fit(disp="off", show_warning=False)
            return float(res.forecast(horizon=1, reindex=False).variance.iloc[-1, 0])

    def refilter_one(i: int, d: int) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            am = arch_model(growing(i, d), mean="Constant", vol="GARCH", p=1, q=1, dist="t")
            res = am.fix(params)
            return float(res.forecast(horizon=1, reindex=False).variance.iloc[-1, 0])

    plan_b = [
        (i, d) for d in range(1, args.sample_b // len(sample_series) + 1) for i in sample_series
    ]
    plan_a = plan_b[: args.sample_a]
    out_b: list[float] = []
    wall_b, cpu_b = _timed(lambda: out_b.extend(refilter_one(i, d) for i, d in plan_b))
    wall_a, cpu_a = _timed(lambda: [refit_one(i, d) for i, d in plan_a])
    # The online variance after the same observations, for the agreement check
    check = []
    for i, d in plan_b:
        state = online_state(model, history=paths[i][:history_days])
        for r in paths[i][history_days : history_days + d]:
            state.update(r)
        check.append(state.forecast().variance)
    agreement = float(np.max(np.abs(np.array(out_b) / np.array(check) - 1.0)))

    online = results["garch_t_var"]["obs_per_second"]
    rate_a, rate_b = len(plan_a) / wall_a, len(plan_b) / wall_b
    print(
        f"  (a) arch refit per observation          {rate_a:>12,.2f} obs/s  (sample {len(plan_a)})"
    )
    print(
        f"  (b) arch fix(params) re-filter per obs  {rate_b:>12,.1f} obs/s  (sample {len(plan_b)})"
    )
    print(f"  online / (b) = {online / rate_b:,.0f}x   online / (a) = {online / rate_a:,.0f}x")
    return {
        "universe": {
            "series": n_series,
            "days_per_series": days,
            "data": "arch.data.sp500 percent returns; series i is the series rotated by 9 i days",
            "model_fitted_on_days": train_days,
            "history_days_per_state": history_days,
            "note": "one fitted model per kind, one state per series; the update costs the same "
            "whatever the fitted values",
        },
        "online": results,
        "arch_refit_per_observation": {
            "what": "arch_model(y[:t], mean='Constant', vol='GARCH', p=1, q=1, dist='t')"
            ".fit() and its one-step forecast, per observation",
            "sampled": True,
            "observations_timed": len(plan_a),
            "seconds": round(wall_a, 3),
            "cpu_seconds": round(cpu_a, 3),
            "obs_per_second": round(rate_a, 3),
            "ms_per_observation": round(1000 / rate_a, 1),
        },
        "arch_fixed_refilter_per_observation": {
            "what": "arch_model(y[:t], ...).fix(params).forecast(horizon=1), per observation "
            "(the maintainers' workaround)",
            "sampled": True,
            "observations_timed": len(plan_b),
            "seconds": round(wall_b, 3),
            "cpu_seconds": round(cpu_b, 3),
            "obs_per_second": round(rate_b, 2),
            "ms_per_observation": round(1000 / rate_b, 2),
            "max_relative_difference_to_online": agreement,
        },
        "ratio_online_to_fixed_refilter": round(online / rate_b, 1),
        "ratio_online_to_refit": round(online / rate_a, 1),
        "ratio_cpu_online_to_fixed_refilter": round(
            (results["garch_t_var"]["observations"] / results["garch_t_var"]["cpu_seconds"])
            / (len(plan_b) / cpu_b),
            1,
        ),
        "goal": ">= 100x (b)",
        "goal_met": bool(online / rate_b >= 100),
    }


# -- part 3: the live path ------------------------------------------------------------


def _universe(args: argparse.Namespace, days: int) -> tuple[Any, list[str], Any, Any]:
    """The champion (GARCH(1,1)-t VaR fitted on the first ``train_days``), the series names,
    their history (before) and ``days`` live days, as dated frames."""
    import pandas as pd

    from riskops.data.market import load_market
    from riskops.market.var import GarchTVaR

    returns = load_market().series().to_numpy()
    n_series = args.series
    names = [f"u{i:03d}" for i in range(n_series)]
    total = args.history_days + days
    index = pd.bdate_range("2000-01-03", periods=total)
    offsets = [(9 * i) % returns.size for i in range(n_series)]
    frame = pd.DataFrame(
        {n: np.roll(returns, -k)[:total] for n, k in zip(names, offsets, strict=True)}, index=index
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GarchTVaR().fit(returns[: args.train_days])
    return model, names, frame.iloc[: args.history_days], frame.iloc[args.history_days :]


def _book(home: Path, model: Any, history: Any, checkpoint_every: int | None = None) -> Any:
    from riskops.families import get_family
    from riskops.live.book import CHECKPOINT_EVERY, LiveBook
    from riskops.live.champions import LiveChampion
    from riskops.settings import Settings

    champion = LiveChampion("market_var", 1, get_family("var"), "bench:bench", model, ())
    settings = Settings(home=home)

    def start(champion: Any, series: str, before: Any) -> Any:
        return history[series]

    every = CHECKPOINT_EVERY if checkpoint_every is None else checkpoint_every
    return LiveBook(settings, champions=[champion], history=start, checkpoint_every=every)


def _ledger_checkpoints(
    args: argparse.Namespace, model: Any, history: Any, live: Any, tmp: str
) -> dict[str, Any]:
    """The ledger path with a state checkpoint at every bar (as before the log replay) and
    every :data:`~riskops.live.book.CHECKPOINT_EVERY` bars, side by side, for the GARCH-t
    VaR (a state of a few floats) and the FHS VaR (a residual window of hundreds)."""
    from riskops.data.market import load_market
    from riskops.live.book import CHECKPOINT_EVERY
    from riskops.live.observations import Observation
    from riskops.market.var import FilteredHistoricalVaR

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Fitted on the GARCH-t champion's training days (_universe)
        fhs = FilteredHistoricalVaR().fit(load_market().series().to_numpy()[: args.train_days])
    names = list(live.columns)
    batches = [
        [
            Observation(s, ts, float(live.at[ts, s]), source="bench", message_id=f"{s}@{d}")
            for s in names
        ]
        for d, ts in enumerate(live.index)
    ]
    n = len(names) * (len(batches) - 1)
    out: dict[str, Any] = {
        "what": "LiveBook.ingest as in ledger_append, its states checkpointed at every bar "
        f"or every {CHECKPOINT_EVERY} bars (the first bar of each series, untimed, is "
        "checkpointed in both: the timed bars are the ones between checkpoints)",
        "observations": n,
    }
    for label, champion in (("garch_t_var", model), ("gjr_fhs_var", fhs)):
        row: dict[str, Any] = {}
        for every in (1, CHECKPOINT_EVERY):
            book = _book(Path(tmp) / f"checkpoints-{label}-{every}", champion, history, every)
            book.ingest(batches[0])

            def ingest(book: Any = book) -> None:
                for batch in batches[1:]:
                    book.ingest(batch)

            wall, cpu = _timed(ingest)
            row[f"every_{every}"] = {
                "obs_per_second": round(n / wall, 1),
                "cpu_us_per_observation": round(1e6 * cpu / n, 1),
            }
        row["cpu_ratio_every_bar_to_sparse"] = round(
            row["every_1"]["cpu_us_per_observation"]
            / row[f"every_{CHECKPOINT_EVERY}"]["cpu_us_per_observation"],
            2,
        )
        out[label] = row
        print(
            f"  checkpoints {label}: every bar {row['every_1']['cpu_us_per_observation']:.0f}"
            f" us CPU/obs, every {CHECKPOINT_EVERY} "
            f"{row[f'every_{CHECKPOINT_EVERY}']['cpu_us_per_observation']:.0f} us "
            f"({row['cpu_ratio_every_bar_to_sparse']:.2f}x)"
        )
    return out


def _producer(url: str, names: list[str], live: Any, rate: float, seconds: float) -> None:
    """Send ``rate`` observations per second, round robin over the series (a process)."""
    from riskops.live.brokers import RedisStreams

    broker = RedisStreams(url, shards=16)
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    total = int(rate * seconds)
    bodies = (
        {"series": s, "timestamp": ts.date().isoformat(), "ret": float(live.at[ts, s])}
        for ts in live.index
        for s in names
    )
    started = time.perf_counter()
    sent = 0
    while sent < total:
        due = started + (sent // per_tick) * tick
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        chunk = [next(bodies) for _ in range(min(per_tick, total - sent))]
        broker.publish_observations(chunk)
        sent += len(chunk)


def stream_path(args: argparse.Namespace) -> dict[str, Any]:
    """Part 3: the live path's throughput with the ledger, and the broker latency."""
    import shutil
    import socket
    import subprocess
    import tempfile

    from riskops.live.observations import Observation
    from riskops.market.online import online_state

    # Enough days for the ledger part and for the producer's rate * seconds messages.
    days = max(args.days, math.ceil(args.rate * args.seconds / args.series) + 2)
    model, names, history, everything = _universe(args, days)
    live = everything.iloc[: args.days]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="riskops-bench-live-") as tmp:
        # -- the bare online update, the same universe, for the ratio
        states = [online_state(model, history=history[n]) for n in names]
        columns = [live[n].to_numpy() for n in names]

        def absorb() -> None:
            for d in range(1, args.days):
                for state, column in zip(states, columns, strict=True):
                    state.update(float(column[d]))

        wall, cpu = _timed(absorb)
        n = len(names) * (args.days - 1)
        bare = n / wall
        # -- the whole live path, one message per series per batch
        book = _book(Path(tmp) / "home", model, history)
        batches = [
            [
                Observation(s, ts, float(live.at[ts, s]), source="bench", message_id=f"{s}@{d}")
                for s in names
            ]
            for d, ts in enumerate(live.index)
        ]
        t0 = time.perf_counter()
        book.ingest(batches[0])  # builds the states from their history
        setup = time.perf_counter() - t0

        def ingest() -> None:
            for batch in batches[1:]:
                book.ingest(batch)

        wall, cpu = _timed(ingest)
        db = Path(tmp) / "home" / "evidence.db"
        out["ledger_append"] = {
            "what": "LiveBook.ingest: checks, score, online update, one transaction appending "
            "observations, forecasts, scores and state checkpoints (SQLite, WAL, synchronous "
            "FULL), one message per series per batch",
            "series": len(names),
            "batches": len(batches) - 1,
            "observations": n,
            "seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "obs_per_second": round(n / wall, 1),
            "us_per_observation": round(1e6 * wall / n, 1),
            "bare_online_update_obs_per_second": round(bare, 1),
            "ratio_bare_to_ledger": round(bare / (n / wall), 1),
            "setup_seconds_first_batch": round(setup, 2),
            "evidence_db_bytes": db.stat().st_size if db.exists() else None,
        }
        print(
            f"  ledger path {n / wall:,.0f} obs/s  (bare update {bare:,.0f} obs/s) "
            f"for {len(names)} series"
        )
        out["ledger_checkpoints"] = _ledger_checkpoints(args, model, history, live, tmp)
        # -- the broker latency at a fixed rate
        binary = shutil.which("redis-server")
        if binary is None:
            out["broker_latency"] = {"not_evaluated": "redis-server is not installed"}
            return out
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        redis = subprocess.Popen(
            [binary, "--port", str(port), "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Alternating modes, so that both see the same load.
            for key, durable_ms, tag in (
                ("broker_latency_strict", None, "s"),
                ("broker_latency", 50.0, "d"),
            ):
                out[key] = _latency(
                    args,
                    port,
                    model,
                    names,
                    history,
                    everything,
                    tmp,
                    args.rate,
                    tag + "a",
                    durable_ms,
                )
            for key, durable_ms, tag in (
                ("broker_latency_strict", None, "s"),
                ("broker_latency", 50.0, "d"),
            ):
                # A rate this machine sustains under its load: processing, not queue.
                out[key]["at_lower_rate"] = _latency(
                    args,
                    port,
                    model,
                    names,
                    history,
                    everything,
                    tmp,
                    args.low_rate,
                    tag + "b",
                    durable_ms,
                )
            out["broker_latency_cpu_ratio_strict_to_deferred"] = {
                f"{rate:g}_per_second": round(
                    strict["cpu_us_per_message"] / deferred["cpu_us_per_message"], 2
                )
                for rate, strict, deferred in (
                    (args.rate, out["broker_latency_strict"], out["broker_latency"]),
                    (
                        args.low_rate,
                        out["broker_latency_strict"]["at_lower_rate"],
                        out["broker_latency"]["at_lower_rate"],
                    ),
                )
            }
        finally:
            redis.terminate()
            redis.wait(timeout=10)
    return out


def _latency(
    args: argparse.Namespace,
    port: int,
    model: Any,
    names: list[str],
    history: Any,
    live: Any,
    tmp: str,
    rate: float,
    tag: str,
    durable_ms: float | None,
) -> dict[str, Any]:
    import multiprocessing
    import threading

    import redis

    from riskops.live.brokers import RedisStreams
    from riskops.live.consumer import Consumer
    from riskops.live.observations import Observation

    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    redis.Redis.from_url(url).flushdb()
    book = _book(Path(tmp) / f"latency-home-{tag}", model, history)
    # States built before the clock starts (the first day of every series).
    first = live.index[0]
    book.ingest([Observation(s, first, float(live.at[first, s]), source="warm-up") for s in names])
    rest = live.iloc[1:]
    broker = RedisStreams(url, consumer="bench", shards=16)
    broker.heartbeat()
    consumer = Consumer(book, broker, batch=100, block_ms=20, durable_ms=durable_ms)
    runner = threading.Thread(target=consumer.run, kwargs={"idle_seconds": 3.0})
    runner.start()
    context = multiprocessing.get_context("spawn")
    producer = context.Process(
        target=_producer, args=(url, names, rest, float(rate), float(args.seconds))
    )
    load_before = os.getloadavg()
    cpu = time.process_time()  # this process: the consumer's threads only, while it runs
    producer.start()
    producer.join()
    runner.join()
    cpu = time.process_time() - cpu
    load_after = os.getloadavg()
    broker.close()
    stats = consumer.stats
    latency = stats.latency()
    mode = "strict" if durable_ms is None else f"deferred {durable_ms:g} ms"
    print(
        f"  broker latency at {rate:,.0f}/s ({mode}): p50 {latency['p50_ms']:.2f} ms, "
        f"p99 {latency['p99_ms']:.2f} ms, {1e6 * cpu / max(1, stats.messages):,.0f} us CPU/msg"
    )
    return {
        "what": "message on the broker (sent by a producer process) to its forecast published "
        "on the output stream, the batch committed first",
        "durability": (
            "strict: one synced commit (SQLite WAL, synchronous FULL) per batch, acknowledged "
            "before its forecasts are published"
            if durable_ms is None
            else f"deferred: commit with synchronous NORMAL, publish, acknowledge after a "
            f"durable point (WAL checkpoint every {durable_ms:g} ms)"
        ),
        "durable_ms": durable_ms,
        "cpu_us_per_message": round(1e6 * cpu / max(1, stats.messages), 1),
        "broker": "redis-server (Redis Streams, 16 shards, one consumer)",
        "rate_per_second": rate,
        "seconds": args.seconds,
        "series": len(names),
        "messages": stats.messages,
        "batches": stats.batches,
        "mean_batch": round(stats.messages / max(1, stats.batches), 1),
        "counts": dict(stats.counts),
        **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in latency.items()},
        "goal": "p99 <= 10 ms on 2 cores",
        "goal_met": latency["p99_ms"] is not None and latency["p99_ms"] <= 10.0,
        "load_avg_during": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in load_after],
        "note": "2 cores shared with other processes: absolute times are upper bounds; the "
        "ratio of CPU per message between modes is the robust figure",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "alarms", "throughput", "stream"), default="all")
    parser.add_argument("--target-arl0", type=float, default=1000.0)
    parser.add_argument("--reps", type=int, default=2000, help="simulated run lengths")
    parser.add_argument(
        "--estimated-reps", type=int, default=150, help="fits for the estimated case"
    )
    parser.add_argument("--max-days", type=int, default=20_000, help="censoring of run lengths")
    parser.add_argument("--change-day", type=int, default=500)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--days", type=int, default=20, help="new returns per series")
    parser.add_argument("--train-days", type=int, default=4000)
    parser.add_argument("--history-days", type=int, default=1000)
    parser.add_argument("--sample-a", type=int, default=5)
    parser.add_argument("--sample-b", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=1000.0, help="broker: messages/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="broker: how long")
    parser.add_argument(
        "--low-rate", type=float, default=200.0, help="broker: a second, lower rate"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "benchmark": "live risk: alarm run lengths; online update against arch refit/re-filter; "
        "the live path with its ledger; broker latency",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_before": [round(x, 2) for x in load_before],
        },
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    if args.part in ("all", "alarms"):
        print("part 1: alarms")
        result["alarms"] = alarms(args)
    if args.part in ("all", "throughput"):
        print("part 2: throughput")
        result["throughput"] = throughput(args)
    if args.part in ("all", "stream"):
        print("part 3: the live path")
        result |= stream_path(args)
    result["machine"]["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_live.json"
    previous = json.loads(path.read_text()) if path.exists() and args.part != "all" else {}
    # A part re-run alone keeps the other parts' figures: each part's own date and load go
    # under "runs", so that every figure is shown with the run that measured it.
    run = {"date": result["date"], "machine": result["machine"]}
    parts = ("alarms", "throughput", "stream") if args.part == "all" else (args.part,)
    result["runs"] = previous.get("runs", {}) | {part: run for part in parts}
    path.write_text(json.dumps(previous | result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
