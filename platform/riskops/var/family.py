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
are backtested at both levels (see
:func:`~riskops.market.var_backtests.coverage_backtests`: the gated small-sample tests --
one-sided exact binomial on the last 250 days and the whole window, the 99% exceptions
given the 95% ones, Christoffersen independence with a Monte Carlo p-value -- and the
reported asymptotic Kupiec/Christoffersen tests; Basel traffic light;
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

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from riskops.data.market import MarketDataset
from riskops.errors import BadInputError
from riskops.families.base import Family, LiveTraits, TrainingOutcome, TrainOptions, scalar_params
from riskops.families.contracts import Contract, ContractError
from riskops.market.features import input_example, recent_window
from riskops.market.features import risk_features as var_features
from riskops.market.parameters import write_model_parameters
from riskops.market.var import FORECAST_LEVELS, VAR_MODELS, make_var_model
from riskops.market.var_backtests import (
    backtest_forecasts,
    backtest_table,
    coverage_backtests,
    coverage_evidence,
    loss_comparison,
)
from riskops.var.plots import plot_exceedances, plot_traffic_light_history

if TYPE_CHECKING:
    from riskops.documents.family import FamilyDocuments

__all__ = [
    "LEVELS",
    "VaREvaluation",
    "VaRFamily",
    "backtest_forecasts",
    "coverage_backtests",
    "coverage_evidence",
    "loss_comparison",
    "var_features",
]

LEVELS = FORECAST_LEVELS
DEFAULT_EVAL_DAYS = 1000
DEFAULT_REFIT_EVERY = 10
SLOW_REFIT_EVERY = 50
MIN_TRAIN_DAYS = 500
MIN_EVAL_DAYS = 100
BENCHMARK_WINDOW = 500
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
    challenger: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    """The challenger's forecasts on the window (``ret``, ``var_{lvl}``), once fitted: a
    champion evaluated here is compared with them day by day."""

    @property
    def window(self) -> list[str]:
        return [str(self.start.date()), str(self.end.date())]

    def forecasts(self, estimator: Any) -> pd.DataFrame:
        """Rolling one-day-ahead VaR/ES of ``estimator``'s specification over the window."""
        from riskops.market.rolling import RollingBacktest

        engine = RollingBacktest(estimator, refit_every=self.refit_every, levels=self.levels)
        return engine.run(self.returns.loc[: self.end], start=self.start)

    def benchmark(self) -> pd.DataFrame:
        """The benchmark's VaR on the window: historical simulation over the previous
        :data:`BENCHMARK_WINDOW` days (``var_{lvl}`` columns), the model every VaR must
        not lose to in tick loss."""
        from riskops.market.rolling import level_tag

        returns = self.returns.loc[: self.end]
        window = returns.loc[self.start :].index
        out = {}
        for level in self.levels:
            quantile = returns.rolling(BENCHMARK_WINDOW, min_periods=MIN_TRAIN_DAYS // 2).quantile(
                1.0 - level
            )
            # Day t's VaR is the quantile of the returns up to t - 1.
            out[f"var_{level_tag(level)}"] = -quantile.shift(1).reindex(window)
        return pd.DataFrame(out, index=window)


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
        metrics, results = backtest_forecasts(
            forecasts, evaluation.levels, evaluation.seed, evaluation.benchmark()
        )
        metrics["kupiec_pvalue"] = _kupiec_at(level, metrics)
        evaluation = replace(evaluation, challenger=forecasts)

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

    def check_outputs(self, estimator: Any, example: Any) -> list[str]:
        """Next-day VaR and ES at every level are finite, and ES is at least the VaR."""
        frame = estimator.forecast(None, levels=LEVELS)
        problems = []
        for level, row in frame.iterrows():
            var, es = float(row["var"]), float(row["es"])
            if not (np.isfinite(var) and np.isfinite(es)) or es < var - 1e-9 * max(1.0, abs(var)):
                problems.append(f"VaR {var!r} and ES {es!r} at level {level}")
        return problems

    def live_traits(self) -> LiveTraits:
        """Each series alone; its VaR exceptions watched against the promotion backtest
        (``forecasts.parquet``); a shadow window judged by the comparative backtest of both
        VaRs on the same matured days (:mod:`riskops.market.shadow_backtest`)."""
        from riskops.market.shadow_backtest import var_shadow_backtest

        return LiveTraits(
            exception_watch=True,
            reference_evidence="forecasts.parquet",
            shadow_backtest=var_shadow_backtest,
        )

    def online(self, estimator: Any, history: Any = None, checkpoint: Any = None) -> Any:
        """The live state (:func:`riskops.market.online.online_state`): VaR and ES at 95% and
        99% after each return, conditioned on ``history`` (percent returns; ``None``: the
        training returns), the fitted parameters fixed; or ``checkpoint`` resumed."""
        from riskops.market.online import online_state, restore_state

        if checkpoint is not None:
            return restore_state(estimator, checkpoint)
        return online_state(estimator, levels=LEVELS, history=history)

    def rules(self, policy: Any) -> Any:
        """The policy's ``rules: shadow_comparison`` (the shadow window's comparative
        backtest), parsed; ``None`` when absent. Exit 2 naming the field."""
        from riskops.market.shadow_backtest import shadow_rule

        return shadow_rule(policy)

    def extra_gates(self, policy: Any) -> list[tuple[str, Any]]:
        """The shadow window's comparative backtest, for a version that was in shadow:
        exceptions and the policy's coverage tests of both, Diebold-Mariano on tick loss
        (:func:`riskops.market.shadow_backtest.shadow_backtest_gate`)."""
        from functools import partial

        from riskops.market.shadow_backtest import shadow_backtest_gate

        gate = partial(shadow_backtest_gate, rule=self.rules(policy), backtests=policy.backtests)
        return [("shadow_backtest", gate)]

    def service_route(self) -> Any:
        from riskops.var.serving import ROUTE

        return ROUTE

    def documents(self) -> FamilyDocuments:
        """The var family's part of cards and reports (:mod:`riskops.var.documents`)."""
        from riskops.var.documents import DOCUMENTS

        return DOCUMENTS

    def evaluate(self, estimator: Any, evaluation: VaREvaluation) -> dict[str, float]:
        """The same metrics for ``estimator``'s specification, rerun on the same window.

        Once the challenger's forecasts are known (``evaluation.challenger``), the tick
        losses of ``estimator`` (the champion) and the challenger are also compared day
        by day: ``loss_dm_vs_challenger_pvalue_{lvl}`` is the one-sided Diebold-Mariano
        p-value (Newey-West errors) of "the challenger's expected tick loss is higher".
        """
        forecasts = evaluation.forecasts(estimator)
        metrics, _ = backtest_forecasts(
            forecasts, evaluation.levels, evaluation.seed, evaluation.benchmark()
        )
        level = float(getattr(estimator, "level", 0.99))
        metrics["kupiec_pvalue"] = _kupiec_at(level, metrics)
        challenger = evaluation.challenger
        if challenger is not None and challenger.index.equals(forecasts.index):
            from riskops.market.rolling import level_tag

            for lv in evaluation.levels:
                tag = level_tag(lv)
                compared, _ = loss_comparison(
                    forecasts["ret"], challenger[f"var_{tag}"], forecasts[f"var_{tag}"], lv
                )
                metrics[f"loss_dm_vs_challenger_stat_{tag}"] = compared["loss_dm_stat"]
                metrics[f"loss_dm_vs_challenger_pvalue_{tag}"] = compared["loss_dm_pvalue"]
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
