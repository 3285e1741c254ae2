"""The VaR family: next-day Value-at-Risk and Expected Shortfall of one index, backtested.

Training scheme
---------------
The primary asset's percent returns are split into a training span and an evaluation
window, the last ``eval_days`` (1,000 by default; on short histories at most half the
data, keeping at least 500 days to train). Over the window the model makes rolling
one-day-ahead forecasts of VaR and ES at 95% and 99% with
:class:`~riskops.market.rolling.RollingBacktest`: refitted on all returns before the day
every ``refit_every`` days (10; 50 for the LightGBM model, whose fits cost a second),
warm-started from the previous fit, with fixed parameters in between. The exceptions
are backtested at both levels (see :func:`coverage_backtests`: the gated small-sample
tests -- one-sided exact binomial on the last 250 days and the whole window, the 99%
exceptions given the 95% ones, Christoffersen independence with a Monte Carlo p-value
-- and the reported asymptotic Kupiec/Christoffersen tests; Basel traffic light;
McNeil-Frey and Acerbi-Szekely ES tests) and the forecasts scored by the tick loss.
The registered estimator is then refitted on the whole history.

Options: ``--model`` (fhs, garch_t, historical, quantile_lightgbm), ``--level`` (the
level of ``predict``, default 0.99), ``--dist`` (fhs only: the filter's likelihood, t
or normal), ``--seed`` (ES test simulations, LightGBM); ``extra``: ``eval_days``,
``refit_every``, ``window`` (historical simulation window, 500).

Metric names use ``{lvl}`` = 95 or 99: ``exceptions_{lvl}``, ``exception_rate_{lvl}``,
``kupiec_stat_{lvl}``, ``kupiec_pvalue_{lvl}``, ``binomial_pvalue_{lvl}``,
``independence_pvalue_{lvl}``, ``independence_mc_pvalue_{lvl}``, ``cc_stat_{lvl}``,
``cc_pvalue_{lvl}``, ``cc_mc_pvalue_{lvl}``, ``traffic_light_plus_{lvl}``,
``es_pvalue_{lvl}`` (McNeil-Frey, bootstrap), ``quantile_loss_{lvl}`` (tick loss, lower
is better), the last 250 days' ``exceptions_{lvl}_last250``,
``kupiec_pvalue_{lvl}_last250``, ``binomial_pvalue_{lvl}_last250``,
``cc_pvalue_{lvl}_last250``, ``tail_pvalue_99`` (99% given 95%), ``n_eval``, and
``kupiec_pvalue`` (at ``--level``, the primary metric).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from riskops.data.market import MarketDataset
from riskops.errors import BadInputError
from riskops.families.base import Family, TrainingOutcome, TrainOptions, scalar_params
from riskops.families.contracts import Contract, ContractError
from riskops.market.features import input_example, recent_window
from riskops.market.features import risk_features as var_features
from riskops.market.parameters import write_model_parameters
from riskops.market.var import FORECAST_LEVELS, VAR_MODELS, make_var_model

__all__ = [
    "LEVELS",
    "VaREvaluation",
    "VaRFamily",
    "backtest_forecasts",
    "coverage_backtests",
    "coverage_evidence",
    "var_features",
]

LEVELS = FORECAST_LEVELS
DEFAULT_EVAL_DAYS = 1000
DEFAULT_REFIT_EVERY = 10
SLOW_REFIT_EVERY = 50
MIN_TRAIN_DAYS = 500
MIN_EVAL_DAYS = 100
TRAFFIC_LIGHT_DAYS = 250
ES_BOOTSTRAPS = 2000
_SHAP_ROWS = 2000


@dataclass(frozen=True)
class VaREvaluation:
    """What ``evaluate`` needs to rerun the rolling forecasts on the very same window."""

    returns: pd.Series
    start: pd.Timestamp
    end: pd.Timestamp
    refit_every: int
    seed: int
    levels: tuple[float, ...] = LEVELS

    @property
    def window(self) -> list[str]:
        return [str(self.start.date()), str(self.end.date())]

    def forecasts(self, estimator: Any) -> pd.DataFrame:
        """Rolling one-day-ahead VaR/ES of ``estimator``'s specification over the window."""
        from riskops.market.rolling import RollingBacktest

        engine = RollingBacktest(estimator, refit_every=self.refit_every, levels=self.levels)
        return engine.run(self.returns.loc[: self.end], start=self.start)


def backtest_forecasts(
    forecasts: pd.DataFrame, levels: tuple[float, ...] = LEVELS, seed: int = 42
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Metrics (flat) and backtest results (per level, per test) of rolling forecasts.

    ``forecasts`` has ``ret`` and ``var_{lvl}``/``es_{lvl}`` columns, as
    :class:`~riskops.market.rolling.RollingBacktest` returns. The exception-based tests
    are :func:`coverage_backtests`'s; the ES tests and the tick loss need the returns.
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
    return metrics, results


def coverage_backtests(
    hits: dict[float, np.ndarray], seed: int = 42
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Metrics and results of the exception-based backtests, per level.

    ``hits`` maps each VaR level to its boolean exceedances over the evaluation window
    (oldest first). This is the evidence the promotion gates read, and the size
    benchmark (``bench/bench_var_gates.py``) runs this very function on simulated hits.

    Two windows: the most recent 250 days, the supervisors' (Basel Committee 1996),
    and the whole evaluation window (1,000 days by default). The gated tests have
    their size in small samples and refuse only a VaR that is too low:

    * ``binomial_pvalue_{lvl}_last250`` and ``binomial_pvalue_{lvl}``: exact one-sided
      binomial test of too many exceptions (zero exceptions give 1);
    * ``tail_pvalue_{lvl}``: too many exceptions at ``lvl`` given those at the lowest
      level (99% given 95%), exact conditional binomial (Kratz, Lok and McNeil 2018);
    * ``independence_mc_pvalue_{lvl}``: Christoffersen's (1998) independence statistic
      with an exact Monte Carlo p-value (Dufour 2006), whole window;
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


def _must_be_var_model(family: str, estimator: Any) -> None:
    from riskops.market.var import VaRModel

    if not isinstance(estimator, VaRModel):
        raise ContractError(
            f"estimator: {type(estimator).__name__} does not meet the {family} contract: "
            "subclass riskops.market.var.VaRModel"
        )


class VaRFamily(Family):
    """Next-day VaR and ES of one index (see the module docstring).

    The contract for a user's model: a subclass of :class:`riskops.market.var.VaRModel`
    (VaR and ES at given levels from a return history).
    """

    name: ClassVar[str] = "var"
    registered_name: ClassVar[str] = "market_var"
    domain: ClassVar[str] = "market"
    models: ClassVar[tuple[str, ...]] = VAR_MODELS
    pyfunc_predict_fn: ClassVar[str] = "predict"
    primary_metric: ClassVar[str] = "kupiec_pvalue"
    key_metrics: ClassVar[tuple[str, ...]] = (
        "exceptions_99_last250",
        "binomial_pvalue_99_last250",
        "independence_mc_pvalue_99",
    )
    fit_cost: ClassVar[int] = 2
    contract: ClassVar[Contract] = Contract(
        required=(("fit",), ("forecast",), ("_fit_values",), ("_forecast_values",)),
        hint="a subclass of riskops.market.var.VaRModel",
        more=_must_be_var_model,
    )
    trusted_types: ClassVar[tuple[str, ...]] = (
        # state is plain data (PlainState); the quantile model's LightGBM regressors carry
        # their booster as text
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMRegressor",
        "riskops.market.rolling.GarchFit",
        "riskops.market.var.FilteredHistoricalVaR",
        "riskops.market.var.GarchTVaR",
        "riskops.market.var.HistoricalVaR",
        "riskops.market.var.QuantileVaR",
    )

    def builtin(self, kind: str, options: TrainOptions) -> Any:
        window = _int_option(dict(options.extra), "window", 500)
        return make_var_model(
            kind, level=float(options.level), dist=options.dist, seed=options.seed, window=window
        )

    def adapt(self, spec: Any, options: TrainOptions) -> Any:
        """The specification at ``options.level`` (the level of ``predict``)."""
        level = float(options.level)
        if not 0.5 <= level < 1:
            raise BadInputError(f"level: must be in [0.5, 1), got {level}")
        if "level" in spec.get_params():
            spec.set_params(level=level)
        return spec

    def _fit(
        self,
        dataset: MarketDataset,
        options: TrainOptions,
        workdir: Path,
        spec: Any,
        kind: str,
    ) -> TrainingOutcome:
        """Backtest ``spec`` (a built-in kind or any :class:`~riskops.market.var.VaRModel`)
        on rolling forecasts, then refit it on all returns."""
        estimator, model = spec, kind
        level = float(options.level)
        extra = dict(options.extra)
        returns = dataset.series().astype(float)
        n = len(returns)
        default_refit = SLOW_REFIT_EVERY if model == "quantile_lightgbm" else DEFAULT_REFIT_EVERY
        eval_days = _eval_days(n, _int_option(extra, "eval_days", DEFAULT_EVAL_DAYS))
        refit_every = _int_option(extra, "refit_every", default_refit)
        if refit_every < 1:
            raise BadInputError(f"refit_every: must be at least 1, got {refit_every}")
        first_eval = n - eval_days
        evaluation = VaREvaluation(
            returns=returns,
            start=returns.index[first_eval],
            end=returns.index[-1],
            refit_every=refit_every,
            seed=int(options.seed),
            levels=tuple(sorted({*LEVELS, level})),
        )
        forecasts = evaluation.forecasts(estimator)
        metrics, results = backtest_forecasts(forecasts, evaluation.levels, evaluation.seed)
        metrics["kupiec_pvalue"] = _kupiec_at(level, metrics)

        # The registered model sees the whole history.
        estimator.fit(returns)

        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        forecasts.to_parquet(workdir / "forecasts.parquet")
        write_model_parameters(estimator, workdir)  # spec + named estimates, for reviewers
        table = backtest_table(results)
        table.to_csv(workdir / "backtests.csv", index=False)
        for lv in evaluation.levels:
            plot_exceedances(forecasts, lv, dataset.primary, workdir)
        plot_traffic_light_history(forecasts, 0.99, workdir)
        if hasattr(estimator, "explain"):
            _write_shap(estimator, returns, workdir / "shap")

        params: dict[str, Any] = {
            "model": model,
            "level": level,
            "asset": dataset.primary,
            "dataset": dataset.name,
            "eval_days": eval_days,
            "refit_every": refit_every,
            "seed": options.seed,
            "n_train": first_eval,
            "n_obs": n,
            "train_start": str(returns.index[0].date()),
            "eval_start": str(evaluation.start.date()),
            "eval_end": str(evaluation.end.date()),
        } | {f"estimator_{k}": v for k, v in scalar_params(estimator).items()}
        evidence: dict[str, Any] = {
            "level": level,
            "backtests": results,
            "eval_window": evaluation.window,
            "refit_every": refit_every,
            "params": _fitted_params(estimator),
            "next_day": _next_day(estimator),
        }
        evidence |= coverage_evidence(results)
        reference = var_features(dataset.window(end=returns.index[first_eval - 1]))
        return TrainingOutcome(
            estimator=estimator,
            model_kind=model,
            params=params,
            metrics=metrics,
            evidence=evidence,
            artifact_dir=workdir,
            input_example=input_example(returns),
            reference=reference,
            evaluation=evaluation,
        )

    def service_route(self) -> Any:
        from riskops.var.serving import ROUTE

        return ROUTE

    def evaluate(self, estimator: Any, evaluation: VaREvaluation) -> dict[str, float]:
        """The same metrics for ``estimator``'s specification, rerun on the same window."""
        forecasts = evaluation.forecasts(estimator)
        metrics, _ = backtest_forecasts(forecasts, evaluation.levels, evaluation.seed)
        level = float(getattr(estimator, "level", 0.99))
        metrics["kupiec_pvalue"] = _kupiec_at(level, metrics)
        return metrics

    def features(self, dataset: MarketDataset) -> pd.DataFrame:
        return var_features(dataset)

    def score(self, estimator: Any, features: pd.DataFrame) -> pd.Series:
        """Next-day VaR at the estimator's level after each row of ``features``, using the
        returns up to that row (and the fitted parameters)."""
        level = float(getattr(estimator, "level", 0.99))
        y = features["ret"].to_numpy(dtype=float)
        minimum = 22 if hasattr(estimator, "models_") else 2
        values = np.full(y.size, np.nan)
        for t in range(minimum - 1, y.size):
            var, _ = estimator._forecast_values(y[: t + 1], (level,))
            values[t] = var[0]
        return pd.Series(values, index=features.index, name="var")

    def recent_window(self, dataset: MarketDataset) -> MarketDataset:
        """The last 250 trading days, plus the 21 warm-up days the features need."""
        return recent_window(dataset)


def _int_option(extra: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(extra.get(key, default))
    except (TypeError, ValueError):
        raise BadInputError(f"{key}: must be an integer, got {extra.get(key)!r}") from None


def _eval_days(n: int, requested: int) -> int:
    if n < MIN_TRAIN_DAYS + MIN_EVAL_DAYS:
        raise BadInputError(
            f"data: {n} returns; the VaR family needs at least {MIN_TRAIN_DAYS + MIN_EVAL_DAYS}"
            f" ({MIN_TRAIN_DAYS} to train, {MIN_EVAL_DAYS} to evaluate)"
        )
    if requested < MIN_EVAL_DAYS:
        raise BadInputError(f"eval_days: must be at least {MIN_EVAL_DAYS}, got {requested}")
    # Short histories keep at least half (and 500 days) for training.
    return min(requested, n - max(MIN_TRAIN_DAYS, n // 2))


def _kupiec_at(level: float, metrics: dict[str, float]) -> float:
    """Kupiec p-value at ``level`` when it was backtested, else at 99%."""
    from riskops.market.rolling import level_tag

    return metrics.get(f"kupiec_pvalue_{level_tag(level)}", metrics["kupiec_pvalue_99"])


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


def plot_exceedances(forecasts: pd.DataFrame, level: float, asset: str, out_dir: Path) -> Path:
    """Returns against -VaR and -ES over the window, breaches marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from riskops.market.rolling import level_tag

    tag = level_tag(level)
    ret, var, es = forecasts["ret"], forecasts[f"var_{tag}"], forecasts[f"es_{tag}"]
    breach = -ret > var
    fig, ax = plt.subplots(figsize=(12, 5))
    ax.plot(ret.index, ret, color="0.6", lw=0.6, label="return")
    ax.plot(var.index, -var, color="tab:blue", lw=1.1, label=f"-VaR {tag}%")
    ax.plot(es.index, -es, color="tab:purple", lw=0.8, ls="--", label=f"-ES {tag}%")
    ax.scatter(ret.index[breach], ret[breach], color="tab:red", s=18, zorder=3, label="breach")
    expected = (1 - level) * len(ret)
    ax.set_title(
        f"{asset}: {int(breach.sum())} breaches of the {tag}% VaR in {len(ret)} days"
        f" (expected {expected:.1f})",
        fontsize=10,
    )
    ax.set_ylabel("daily return, %")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path = Path(out_dir) / f"exceedances_{tag}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_traffic_light_history(forecasts: pd.DataFrame, level: float, out_dir: Path) -> Path:
    """Rolling 250-day exception count of the VaR at ``level``, over the Basel zones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    from riskops.market.rolling import level_tag

    tag = level_tag(level)
    hits = (-forecasts["ret"] > forecasts[f"var_{tag}"]).astype(int)
    days = min(TRAFFIC_LIGHT_DAYS, len(hits))
    count = hits.rolling(days).sum().dropna()
    p = 1 - level
    # Smallest counts whose cumulative probability reaches 95% and 99.99% (yellow, red).
    yellow = int(np.argmax(stats.binom.cdf(np.arange(days + 1), days, p) >= 0.95))
    red = int(np.argmax(stats.binom.cdf(np.arange(days + 1), days, p) >= 0.9999))
    top = max(float(count.max()) if len(count) else 0.0, red + 2)
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.axhspan(-0.5, yellow - 0.5, color="tab:green", alpha=0.15, label="green")
    ax.axhspan(yellow - 0.5, red - 0.5, color="gold", alpha=0.25, label="yellow")
    ax.axhspan(red - 0.5, top + 0.5, color="tab:red", alpha=0.15, label="red")
    ax.step(count.index, count, where="post", color="black", lw=1.2, label=f"exceptions, {days}d")
    ax.set_ylim(-0.5, top + 0.5)
    ax.set_ylabel(f"exceptions of the {tag}% VaR")
    ax.set_title(f"Basel traffic light, rolling {days}-day exception count", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(out_dir) / "traffic_light_history.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fitted_params(estimator: Any) -> dict[str, Any]:
    if hasattr(estimator, "params_"):
        return {str(k): float(v) for k, v in estimator.params_.items()}
    if hasattr(estimator, "es_ratio_"):
        return {"es_ratio": {str(k): float(v) for k, v in estimator.es_ratio_.items()}}
    return {}


def _next_day(estimator: Any) -> dict[str, dict[str, float]]:
    from riskops.market.rolling import level_tag

    out = estimator.forecast(levels=LEVELS)
    return {
        level_tag(lv): {"var": float(row["var"]), "es": float(row["es"])}
        for lv, row in out.iterrows()
    }


def _write_shap(estimator: Any, returns: pd.Series, out_dir: Path) -> None:
    from riskops.explain import write_shap_artifacts

    contributions, base_value, X = estimator.explain(returns.iloc[-_SHAP_ROWS:])
    write_shap_artifacts(contributions, base_value, X, out_dir)
