"""Per-asset risk models over a universe of return series: the unit of work for scale-out.

A universe is a :class:`~riskops.data.market.MarketDataset` with many columns: the bundled
real indices (``us_indices``, ``eustocks``) and, to reach hundreds of series without
network access, simulated GARCH(1,1)-t series with known parameters
(:func:`simulate_universe`). For each asset, :func:`fit_asset` estimates

* a volatility model, GARCH(1,1) with standardised Student's t innovations estimated by
  arch (:class:`~riskops.market.volatility.GarchVolatility`),
* a VaR/ES model, GARCH filtered historical simulation or parametric GARCH-t
  (:mod:`riskops.market.var`), with its next-day VaR and ES,
* a short walk-forward backtest of that VaR model with the rolling engine
  (:class:`~riskops.market.rolling.RollingBacktest`): Kupiec, Christoffersen and the
  Basel traffic light per level (:mod:`riskops.backtests`),

and returns plain, picklable data. Nothing here knows how the work is distributed:
:func:`fit_universe` runs it sequentially; ``pipelines/universe.py`` fans the very same
:func:`fit_asset` out over a Dask cluster. The library imports neither Prefect nor Dask.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskops.errors import BadInputError, DataValidationError, RiskOpsError, Violation

__all__ = [
    "SIMULATION_RANGES",
    "UniverseSpec",
    "fit_asset",
    "fit_universe",
    "results_table",
    "simulate_universe",
    "simulation_parameters",
    "universe_dataset",
    "universe_summary",
]

SIMULATION_RANGES: dict[str, tuple[float, float]] = {
    "mu": (0.0, 0.06),
    "alpha": (0.03, 0.12),
    "persistence": (0.90, 0.99),
    "unconditional_variance": (0.5, 4.0),
    "nu": (5.0, 12.0),
}
"""Uniform ranges the simulated GARCH(1,1)-t parameters are drawn from, per series.

Percent returns: ``mu`` is the daily mean (0 to 0.06%, up to ~15% a year),
``unconditional_variance`` is in percent² (daily volatility 0.7% to 2%, annualised 11% to
32%), ``persistence = alpha + beta`` (half-lives of 7 to 69 days) and ``nu`` the degrees
of freedom of the standardised t innovations -- the ranges that equity-index estimates
usually fall in (e.g. arch's S&P 500 example: alpha 0.10, beta 0.89, nu 6-7).
``omega = unconditional_variance * (1 - persistence)`` and ``beta = persistence - alpha``.
"""

SIMULATED_PREFIX = "sim_"
_END_DATE = "2024-12-31"
_VAR_MODELS = ("fhs", "garch_t")


@dataclass(frozen=True)
class UniverseSpec:
    """What to fit on each asset.

    Parameters
    ----------
    var_model : {"fhs", "garch_t"}
        ``fhs``: GARCH filtered historical simulation
        (:class:`~riskops.market.var.FilteredHistoricalVaR`); ``garch_t``: parametric
        GARCH-t (:class:`~riskops.market.var.GarchTVaR`).
    o : {0, 1}
        Filter of the VaR model: 0 GARCH(1,1) (the volatility model's own
        specification), 1 GJR-GARCH(1,1,1).
    levels : tuple of float
        VaR/ES confidence levels.
    backtest_days : int
        Length of the walk-forward backtest at the end of each series.
    refit_every : int
        Refit the VaR model every this many backtest days (warm-started).
    history_days : int or None
        Use only the last ``history_days`` returns of each series (all by default).
    min_train_days : int
        Fewest returns before the backtest window; shorter series fail.
    """

    var_model: str = "fhs"
    o: int = 0
    levels: tuple[float, ...] = (0.95, 0.99)
    backtest_days: int = 250
    refit_every: int = 25
    history_days: int | None = None
    min_train_days: int = 250

    def __post_init__(self) -> None:
        problems = []
        if self.var_model not in _VAR_MODELS:
            problems.append(f"var_model={self.var_model!r} (one of {', '.join(_VAR_MODELS)})")
        if self.o not in (0, 1):
            problems.append(f"o={self.o!r} (0 or 1)")
        if not self.levels or any(not 0.5 <= float(x) < 1 for x in self.levels):
            problems.append(f"levels={self.levels!r} (in [0.5, 1))")
        for name in ("backtest_days", "refit_every", "min_train_days"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name}={getattr(self, name)!r} (at least 1)")
        if self.history_days is not None and self.history_days < self.required_days:
            problems.append(f"history_days={self.history_days!r} (at least {self.required_days})")
        if problems:
            raise BadInputError("universe spec: " + "; ".join(problems))
        object.__setattr__(self, "levels", tuple(float(x) for x in self.levels))

    @property
    def required_days(self) -> int:
        return int(self.min_train_days) + int(self.backtest_days)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def var_estimator(self) -> Any:
        """The unfitted VaR estimator this spec describes."""
        from riskops.market.var import FilteredHistoricalVaR, GarchTVaR

        if self.var_model == "fhs":
            return FilteredHistoricalVaR(o=self.o, dist="t", level=max(self.levels))
        return GarchTVaR(o=self.o, level=max(self.levels))


# -- universes -------------------------------------------------------------------------


def simulation_parameters(n: int, seed: int = 0) -> pd.DataFrame:
    """The true GARCH(1,1)-t parameters of the ``n`` series :func:`simulate_universe` draws.

    Returns
    -------
    pandas.DataFrame
        Indexed by asset (``sim_000``...); columns ``mu``, ``omega``, ``alpha``, ``beta``,
        ``nu``, ``persistence``, ``unconditional_variance`` and ``seed`` (the series' own
        simulation seed), drawn from :data:`SIMULATION_RANGES`.
    """
    if int(n) < 0:
        raise BadInputError(f"n: must be non-negative, got {n!r}")
    # One child seed per series: adding series never changes the earlier ones.
    children = np.random.SeedSequence(int(seed)).spawn(int(n))
    rows = []
    for child in children:
        rng = np.random.default_rng(child)
        draw = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in SIMULATION_RANGES.items()}
        persistence, alpha = draw["persistence"], draw["alpha"]
        rows.append(
            {
                "mu": draw["mu"],
                "omega": draw["unconditional_variance"] * (1.0 - persistence),
                "alpha": alpha,
                "beta": persistence - alpha,
                "nu": draw["nu"],
                "persistence": persistence,
                "unconditional_variance": draw["unconditional_variance"],
                "seed": int(child.generate_state(1)[0]),
            }
        )
    # Fixed-width names: a larger universe keeps the names (and data) of a smaller one.
    index = pd.Index([f"{SIMULATED_PREFIX}{i:03d}" for i in range(int(n))], name="asset")
    return pd.DataFrame(
        rows,
        index=index,
        columns=[
            "mu",
            "omega",
            "alpha",
            "beta",
            "nu",
            "persistence",
            "unconditional_variance",
            "seed",
        ],
    )


def simulate_universe(n: int, n_days: int = 2000, seed: int = 0) -> Any:
    """``n`` simulated GARCH(1,1)-t percent-return series as a ``MarketDataset``.

    Each series follows ``r_t = mu + sigma_t z_t``, ``sigma2_t = omega + alpha e_{t-1}^2 +
    beta sigma2_{t-1}`` with unit-variance Student's t ``z_t``, simulated by arch (through
    :meth:`GarchVolatility.simulate`, 500 burn-in days) with the parameters of
    :func:`simulation_parameters` ``(n, seed)``; the dates are the last ``n_days``
    business days up to 2024-12-31. The same ``(n, n_days, seed)`` gives the same data.
    """
    from riskops.data.market import MarketDataset
    from riskops.market.volatility import GarchVolatility

    if int(n) < 1 or int(n_days) < 30:
        raise BadInputError(f"simulate: need n >= 1 and n_days >= 30, got {n!r}, {n_days!r}")
    truth = simulation_parameters(n, seed)
    dates = pd.bdate_range(end=_END_DATE, periods=int(n_days), name="date")
    model = GarchVolatility(mean="Constant", vol="GARCH", p=1, q=1, dist="t")
    columns = {}
    for asset, row in truth.iterrows():
        params = [row["mu"], row["omega"], row["alpha"], row["beta"], row["nu"]]
        path = model.simulate(int(n_days), params=params, burn=500, random_state=int(row["seed"]))
        columns[str(asset)] = path["data"].to_numpy()
    returns = pd.DataFrame(columns, index=dates)
    return MarketDataset(
        name=f"simulated-garch-t-{n}x{n_days}-seed{seed}",
        source=f"riskops.universe.simulate_universe(n={n}, n_days={n_days}, seed={seed})",
        returns=returns,
    )


def universe_dataset(
    n_simulated: int = 50,
    *,
    real: Sequence[str] = ("us_indices", "eustocks"),
    n_days: int = 2000,
    seed: int = 0,
) -> Any:
    """Bundled real series side by side with ``n_simulated`` simulated ones.

    The wide frame is the outer join on dates: each asset has its own span (the US
    indices 1999-2018, the European ones 1991-1998, the simulated series the last
    ``n_days`` business days to 2024), and ``dataset.series(asset)`` drops the days it
    lacks. Only returns are kept (prices would not align across sources).
    """
    from riskops.data.market import MarketDataset, load_market

    frames = []
    sources = []
    for name in real:
        dataset = load_market(bundled=name)
        frames.append(dataset.returns)
        sources.append(dataset.source)
    if n_simulated:
        simulated = simulate_universe(n_simulated, n_days, seed)
        frames.append(simulated.returns)
        sources.append(simulated.source)
    if not frames:
        raise BadInputError("universe: no real and no simulated series")
    returns = pd.concat(frames, axis=1, join="outer").sort_index()
    duplicated = returns.columns[returns.columns.duplicated()].tolist()
    if duplicated:
        raise BadInputError(f"universe: duplicated asset names {duplicated}")
    returns.index.name = "date"
    return MarketDataset(
        name=f"universe-{len(returns.columns)}",
        source=" + ".join(sources),
        returns=returns.dropna(how="all"),
    )


# -- one asset -------------------------------------------------------------------------


def fit_asset(
    returns: pd.Series, asset: str, spec: UniverseSpec | None = None, *, on_error: str = "raise"
) -> dict[str, Any]:
    """Volatility model, VaR/ES model and a rolling backtest of one asset.

    Parameters
    ----------
    returns : pandas.Series
        Percent returns of the asset (missing days are dropped).
    asset : str
        Its name, carried into the result.
    spec : UniverseSpec, optional
        What to fit; the defaults by default.
    on_error : {"raise", "record"}
        ``record`` turns a data or estimation failure into a result with ``ok=False``
        and the ``error``, so that one bad series does not sink a whole universe.

    Returns
    -------
    dict
        Plain data: ``asset``, ``ok``, ``n_obs``, ``period``, ``volatility`` (arch's
        estimates and derived persistence, unconditional and next-day volatility),
        ``var`` (model, next-day VaR/ES per level), ``backtest`` (per level: days,
        exceptions, Kupiec and conditional-coverage p-values, traffic-light zone) and
        ``seconds`` (wall time of this asset, the one field that varies between runs).
    """
    if on_error not in ("raise", "record"):
        raise BadInputError(f"on_error: raise or record, got {on_error!r}")
    from threadpoolctl import threadpool_limits

    spec = spec or UniverseSpec()
    started = time.perf_counter()
    try:
        # One BLAS thread: a fit's matrices are tiny, so more threads only add overhead and
        # oversubscribe the cores a fan-out already fills -- and OpenBLAS's threaded sums
        # round differently, so estimates would depend on where the fit ran.
        with threadpool_limits(limits=1, user_api="blas"):
            result = _fit_asset(returns, str(asset), spec)
    except (RiskOpsError, ValueError, np.linalg.LinAlgError) as exc:
        if on_error == "raise":
            raise
        result = {"asset": str(asset), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["seconds"] = time.perf_counter() - started
    return result


def _fit_asset(returns: pd.Series, asset: str, spec: UniverseSpec) -> dict[str, Any]:
    from riskops.market.rolling import RollingBacktest
    from riskops.market.volatility import GarchVolatility, as_returns

    series = as_returns(pd.Series(returns, dtype=float).dropna(), name=asset)
    if spec.history_days is not None:
        series = series.iloc[-int(spec.history_days) :]
    if len(series) < spec.required_days:
        raise DataValidationError(
            asset,
            [Violation("ret", f"need at least {spec.required_days} returns", (len(series),))],
        )
    with warnings.catch_warnings():
        # A non-converged fit is reported in the result, not as a warning per asset.
        warnings.simplefilter("ignore")
        vol = GarchVolatility(mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(series)
    params = {k: float(v) for k, v in vol.params_.items()}
    persistence = params["alpha[1]"] + params["beta[1]"]
    next_variance = float(vol.forecast_variance()[0])
    unconditional = params["omega"] / (1 - persistence) if persistence < 1 else float("inf")
    half_life = float(np.log(0.5) / np.log(persistence)) if 0 < persistence < 1 else float("inf")

    estimator = spec.var_estimator()
    var_model = estimator.fit(series)
    forecast = var_model.forecast(levels=spec.levels)
    engine = RollingBacktest(spec.var_estimator(), refit_every=spec.refit_every, levels=spec.levels)
    path = engine.run(series, n_forecasts=spec.backtest_days)

    index = series.index
    return {
        "asset": asset,
        "ok": True,
        "n_obs": len(series),
        "period": [_day(index[0]), _day(index[-1])],
        "volatility": {
            "model": "garch(1,1)-t",
            "params": params,
            "persistence": persistence,
            "half_life_days": half_life,
            "unconditional_vol": float(np.sqrt(unconditional)),
            "next_day_vol": float(np.sqrt(next_variance)),
            "annualised_vol": float(np.sqrt(252 * next_variance)),
            "loglikelihood": float(vol.loglikelihood_),
            "converged": bool(vol.converged_),
        },
        "var": {
            "model": spec.var_model,
            "params": {k: float(v) for k, v in var_model.params_.items()},
            "forecast": {
                _tag(level): {"var": float(row["var"]), "es": float(row["es"])}
                for level, row in forecast.iterrows()
            },
        },
        "backtest": {
            "days": len(path),
            "refit_every": int(spec.refit_every),
            "start": _day(path.index[0]),
            "levels": {_tag(level): _backtest(path, level) for level in spec.levels},
        },
    }


def _backtest(path: pd.DataFrame, level: float) -> dict[str, Any]:
    from riskops import backtests as bt
    from riskops.market.rolling import level_tag

    tag = level_tag(level)
    hits = bt.exceedances(path["ret"], path[f"var_{tag}"])
    pof = bt.kupiec_pof(hits, level)
    cc = bt.conditional_coverage(hits, level)
    light = bt.traffic_light(hits, level)
    return {
        "exceptions": int(pof.exceptions),
        "expected": float(pof.expected),
        "kupiec_pvalue": float(pof.pvalue),
        "cc_pvalue": float(cc.pvalue),
        "zone": light.zone,
        "mean_var": float(path[f"var_{tag}"].mean()),
        "mean_es": float(path[f"es_{tag}"].mean()),
    }


def _tag(level: float) -> str:
    from riskops.market.rolling import level_tag

    return level_tag(float(level))


def _day(value: Any) -> str:
    stamp = pd.Timestamp(value)
    return str(stamp.date())


# -- the whole universe ----------------------------------------------------------------


def fit_universe(
    dataset: Any, spec: UniverseSpec | None = None, *, assets: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """:func:`fit_asset` on every asset, one after the other (failures recorded)."""
    spec = spec or UniverseSpec()
    names = list(assets) if assets is not None else dataset.assets
    return [fit_asset(dataset.returns[a], a, spec, on_error="record") for a in names]


def results_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per asset: the headline estimates, forecasts and backtest outcomes."""
    rows = []
    for r in results:
        row: dict[str, Any] = {
            "asset": r["asset"],
            "simulated": str(r["asset"]).startswith(SIMULATED_PREFIX),
            "ok": bool(r.get("ok")),
            "error": r.get("error", ""),
            "seconds": r.get("seconds"),
        }
        if r.get("ok"):
            vol, var, backtest = r["volatility"], r["var"], r["backtest"]
            row |= {
                "n_obs": r["n_obs"],
                "start": r["period"][0],
                "end": r["period"][1],
                "mu": vol["params"]["mu"],
                "omega": vol["params"]["omega"],
                "alpha": vol["params"]["alpha[1]"],
                "beta": vol["params"]["beta[1]"],
                "nu": vol["params"]["nu"],
                "persistence": vol["persistence"],
                "next_day_vol": vol["next_day_vol"],
                "converged": vol["converged"],
                "var_model": var["model"],
            }
            for tag, values in var["forecast"].items():
                row[f"var_{tag}"] = values["var"]
                row[f"es_{tag}"] = values["es"]
            for tag, values in backtest["levels"].items():
                row[f"exceptions_{tag}"] = values["exceptions"]
                row[f"kupiec_pvalue_{tag}"] = values["kupiec_pvalue"]
                row[f"cc_pvalue_{tag}"] = values["cc_pvalue"]
                row[f"zone_{tag}"] = values["zone"]
        rows.append(row)
    return pd.DataFrame(rows)


def universe_summary(results: Sequence[dict[str, Any]], alpha: float = 0.05) -> dict[str, float]:
    """Universe-wide metrics: counts, and shares of backtests rejected or out of green."""
    table = results_table(results)
    ok = table[table["ok"]] if len(table) else table
    out: dict[str, float] = {
        "n_assets": float(len(table)),
        "n_ok": float(len(ok)),
        "n_failed": float(len(table) - len(ok)),
        "n_simulated": float(table["simulated"].sum()) if len(table) else 0.0,
    }
    if len(ok):
        out["share_converged"] = float(ok["converged"].mean())
        out["median_persistence"] = float(ok["persistence"].median())
        out["median_next_day_vol"] = float(ok["next_day_vol"].median())
        for column in ok.columns:
            if column.startswith("kupiec_pvalue_"):
                tag = column.removeprefix("kupiec_pvalue_")
                out[f"kupiec_reject_share_{tag}"] = float((ok[column] < alpha).mean())
                out[f"cc_reject_share_{tag}"] = float((ok[f"cc_pvalue_{tag}"] < alpha).mean())
                out[f"green_share_{tag}"] = float((ok[f"zone_{tag}"] == "green").mean())
    return out
