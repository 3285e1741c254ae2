"""The volatility family: next-day variance forecasts of one index, judged out of sample.

Training scheme
---------------
The primary asset's returns are split into a training span and an evaluation window
(the last ``eval_days``, 500 by default, fewer on short histories). Over the window the
model makes rolling one-step forecasts: it is refitted on all returns before the day
every ``refit_every`` days (20) and its parameters stay fixed in between, so each
forecast only uses information available the evening before. A GARCH(1,1) with normal
innovations, the benchmark, is run through exactly the same scheme. Forecasts are
judged against the squared return, with QLIKE (primary), MSE, a Diebold–Mariano test
of equal QLIKE loss against the benchmark and a Mincer–Zarnowitz regression, whose
joint test of intercept 0 and slope 1 (HAC Wald statistic, bootstrap p-value under the
forecast: ``mz_joint_pvalue``, :func:`riskops.stats.forecast_comparison.mincer_zarnowitz_test`)
is the gated figure; the slope alone is reported. The
registered estimator is then refitted on the whole history.

HAR models learn from a realised-variance target: the squared return, or, when the
data has daily highs and lows, Parkinson's range variance scaled to the level of the
squared return (``extra["proxy"]``: ``auto``, ``squared`` or ``range``). The scale is
calibrated on the training span only, so the evaluation window never leaks into it.

Options: ``--model`` (garch, gjr, egarch, har_lightgbm, lstm, transformer), ``--dist``
(normal, t, skewt; ARCH-type models only, default t), ``--seed``; ``extra``:
``eval_days``, ``refit_every`` (default 20, 100 for the deep models, whose refits cost
seconds), ``proxy``. ``--tune`` and ``--level`` do not apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from riskops.data.market import MarketDataset
from riskops.errors import BadInputError
from riskops.families.base import Family, LiveTraits, TrainingOutcome, TrainOptions, scalar_params
from riskops.families.contracts import Contract
from riskops.market.evaluation import BENCHMARK
from riskops.market.evaluation import VARIANCE_METRICS as METRICS
from riskops.market.evaluation import compare_variance_forecasts as compare
from riskops.market.features import input_example, recent_window
from riskops.market.features import risk_features as volatility_features
from riskops.market.parameters import write_model_parameters
from riskops.volatility.plots import plot_forecasts

if TYPE_CHECKING:
    from riskops.documents.family import FamilyDocuments

__all__ = [
    "BENCHMARK",
    "METRICS",
    "VolatilityEvaluation",
    "VolatilityFamily",
    "compare",
    "make_volatility_model",
    "volatility_features",
]

"""Days before the first feature row: the 22-day realised volatility needs them."""
DEFAULT_EVAL_DAYS = 500
DEFAULT_REFIT_EVERY = 20
DEEP_REFIT_EVERY = 100
_DEEP = ("lstm", "transformer")
MIN_TRAIN_DAYS = 250
MIN_EVAL_DAYS = 50
_SHAP_ROWS = 1000
DISTS = ("normal", "t", "skewt")
"""The benchmark every model is compared with: GARCH(1,1), constant mean, normal."""


def make_volatility_model(model: str, dist: str | None = None, seed: int = 42) -> Any:
    """An unfitted volatility estimator by its ``--model`` name."""
    from riskops.market.volatility import GarchVolatility, HARVolatility

    dist = dist or "t"
    if dist not in DISTS:
        raise BadInputError(f"dist: must be one of {list(DISTS)}, got {dist!r}")
    if model == "garch":
        return GarchVolatility(dist=dist)
    if model == "gjr":
        return GarchVolatility(o=1, dist=dist)
    if model == "egarch":
        return GarchVolatility(vol="EGARCH", o=1, dist=dist, random_state=seed)
    if model == "har_lightgbm":
        return HARVolatility(random_state=seed)
    if model in _DEEP:
        import importlib

        deep = importlib.import_module("riskops.market.deep")  # raises: make install-deep
        kind = deep.LSTMVolatility if model == "lstm" else deep.TransformerVolatility
        return kind(random_state=seed)
    raise BadInputError(
        f"model: unknown volatility model {model!r}; one of {list(VolatilityFamily.models)}"
    )


def _benchmark_model() -> Any:
    from riskops.market.volatility import GarchVolatility

    spec: dict[str, Any] = {k: v for k, v in BENCHMARK.items() if k != "model"}
    return GarchVolatility(**spec)


@dataclass(frozen=True)
class VolatilityEvaluation:
    """What ``evaluate`` needs to rerun the rolling forecasts on the very same window.

    Attributes
    ----------
    dataset
        The full dataset (training span and window).
    returns
        Percent returns of the primary asset.
    target
        Training target for HAR-type models (realised-variance proxy), aligned with
        ``returns``; calibrated on the training span.
    start, end
        First and last evaluation day.
    refit_every
        Days between refits.
    benchmark
        The benchmark's rolling forecasts (``forecast``, ``realised``), computed once.
    """

    dataset: MarketDataset
    returns: pd.Series
    target: pd.Series
    start: pd.Timestamp
    end: pd.Timestamp
    refit_every: int
    proxy: str
    benchmark: pd.DataFrame

    @property
    def window(self) -> list[str]:
        return [str(self.start.date()), str(self.end.date())]

    def forecasts(self, estimator: Any) -> pd.DataFrame:
        """Rolling one-step forecasts of ``estimator``'s specification over the window."""
        from riskops.market.evaluation import rolling_variance_forecasts

        return rolling_variance_forecasts(
            estimator,
            self.returns,
            start=self.start,
            end=self.end,
            refit_every=self.refit_every,
            y=self.target,
        )


class VolatilityFamily(Family):
    """Next-day variance of one index (see the module docstring).

    The contract for a user's model: ``fit(returns) -> self``;
    ``forecast_variance(returns=None, horizon=1) -> ndarray`` (the next ``horizon`` daily
    variances, percent², after ``returns``, the training returns by default, with the fitted
    parameters kept fixed); ``variance_path(returns=None) -> Series`` (one-step-ahead
    variances aligned with the returns: row ``t`` forecasts day ``t + 1``). See
    :class:`riskops.market.any_model.VolatilityModel`.
    """

    name: ClassVar[str] = "volatility"
    registered_name: ClassVar[str] = "market_volatility"
    domain: ClassVar[str] = "market"
    models: ClassVar[tuple[str, ...]] = (
        "garch",
        "gjr",
        "egarch",
        "har_lightgbm",
        "lstm",
        "transformer",
    )
    pyfunc_predict_fn: ClassVar[str] = "predict"
    primary_metric: ClassVar[str] = "qlike"
    key_metrics: ClassVar[tuple[str, ...]] = ("qlike", "qlike_benchmark", "dm_pvalue")
    fit_cost: ClassVar[int] = 1
    contract: ClassVar[Contract] = Contract(
        required=(("fit",), ("forecast_variance",), ("variance_path",)),
        hint="fit(returns), forecast_variance(returns=None, horizon=1), "
        "variance_path(returns=None)",
    )
    trusted_types: ClassVar[tuple[str, ...]] = (
        # state is plain data (PlainState); HAR's LightGBM regressor carries its booster as
        # text; the deep models keep their weights as NumPy arrays (no torch class)
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMRegressor",
        "riskops.market.deep.LSTMVolatility",
        "riskops.market.deep.TransformerVolatility",
        "riskops.market.rolling.GarchFit",
        "riskops.market.volatility.GarchVolatility",
        "riskops.market.volatility.HARVolatility",
    )

    def builtin(self, kind: str, options: TrainOptions) -> Any:
        return make_volatility_model(kind, options.dist, options.seed)

    def adapt(self, spec: Any, options: TrainOptions) -> Any:
        """A user's forecaster wrapped in
        :class:`~riskops.market.any_model.VolatilityForecaster` (``predict`` for MLflow's
        pyfunc, the service's checks); the built-in kinds are used as they are."""
        from riskops.market.any_model import VolatilityForecaster, implements_platform_volatility

        return spec if implements_platform_volatility(spec) else VolatilityForecaster(spec)

    def _fit(
        self,
        dataset: MarketDataset,
        options: TrainOptions,
        workdir: Path,
        spec: Any,
        kind: str,
    ) -> TrainingOutcome:
        """Backtest ``spec`` against GARCH(1,1), then refit it on all returns. ``spec``: a
        built-in kind or any model honouring
        :class:`~riskops.market.any_model.VolatilityModel`, adapted."""
        from riskops.market.volatility import realised_proxy

        estimator, model = spec, kind
        extra = dict(options.extra)
        returns = dataset.series().astype(float)
        n = len(returns)
        if model in _DEEP and "refit_every" not in extra:
            # A network refit costs seconds, not milliseconds: refit every 100 days.
            extra["refit_every"] = DEEP_REFIT_EVERY
        eval_days, refit_every = _window_sizes(n, extra)
        proxy_kind = str(extra.get("proxy", "auto"))
        first_eval = n - eval_days
        high, low = _range(dataset, returns.index)
        target = realised_proxy(returns, high, low, kind=proxy_kind, calibrate_on=first_eval)
        proxy_used = str(target.attrs["proxy"])

        start, end = returns.index[first_eval], returns.index[-1]
        from riskops.market.evaluation import rolling_variance_forecasts

        benchmark = rolling_variance_forecasts(
            _benchmark_model(), returns, start=start, end=end, refit_every=refit_every
        )
        evaluation = VolatilityEvaluation(
            dataset=dataset,
            returns=returns,
            target=target,
            start=start,
            end=end,
            refit_every=refit_every,
            proxy=proxy_used,
            benchmark=benchmark,
        )
        forecasts = evaluation.forecasts(estimator)
        metrics = compare(forecasts, benchmark)

        # The registered model sees the whole history, its target calibrated on all of it.
        final_target = realised_proxy(returns, high, low, kind=proxy_kind)
        estimator.fit(returns, final_target)

        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        table = forecasts.assign(benchmark=benchmark["forecast"])
        table = table[["realised", "forecast", "benchmark", "fitted_through"]]
        table.index.name = "date"
        table.to_parquet(workdir / "forecasts.parquet")
        write_model_parameters(estimator, workdir)  # spec + named estimates, for reviewers
        plot_forecasts(table, metrics, model, dataset.primary, workdir)
        if hasattr(estimator, "explain"):
            _write_shap(estimator, returns, workdir / "shap")

        params: dict[str, Any] = {
            "model": model,
            "asset": dataset.primary,
            "dataset": dataset.name,
            "eval_days": eval_days,
            "refit_every": refit_every,
            "proxy": proxy_used,
            "realised": "squared_return",
            "seed": options.seed,
            "n_train": first_eval,
            "n_obs": n,
            "train_start": str(returns.index[0].date()),
            "eval_start": str(start.date()),
            "eval_end": str(end.date()),
        } | {f"estimator_{k}": v for k, v in scalar_params(estimator).items()}
        evidence = {
            "params": fitted_params(estimator),
            "benchmark": dict(BENCHMARK),
            "eval_window": evaluation.window,
            "forecasts": _summary(table),
            "proxy": proxy_used,
            "refit_every": refit_every,
        }
        reference = volatility_features(dataset.window(end=returns.index[first_eval - 1]))
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
        """The next days' variances are positive and finite."""
        variance = np.asarray(estimator.forecast_variance(None, horizon=5), dtype=float)
        if variance.size == 0 or not np.all(np.isfinite(variance) & (variance > 0)):
            return [f"variances {variance[:5].tolist()} are not positive and finite"]
        return []

    def live_traits(self) -> LiveTraits:
        """Each series alone, with the GARCH(1,1)-normal benchmark followed beside it; a
        shadow window judged by QLIKE and Diebold-Mariano on the same matured days
        (:mod:`riskops.market.shadow_backtest`)."""
        from riskops.market.shadow_backtest import volatility_shadow_backtest
        from riskops.volatility.live import GarchBenchmark

        return LiveTraits(benchmark=GarchBenchmark(), shadow_backtest=volatility_shadow_backtest)

    def online(self, estimator: Any, history: Any = None, checkpoint: Any = None) -> Any:
        """The live state (:func:`riskops.market.online.online_state`): the next day's
        variance after each return, conditioned on ``history`` (percent returns; ``None``:
        the training returns), the fitted parameters fixed; or ``checkpoint`` resumed."""
        from riskops.market.online import online_state, restore_state

        if checkpoint is not None:
            return restore_state(estimator, checkpoint)
        return online_state(estimator, history=history)

    def rules(self, policy: Any) -> Any:
        """The policy's ``rules: shadow_comparison`` (the shadow window's comparative
        backtest), parsed; ``None`` when absent. Exit 2 naming the field."""
        from riskops.market.shadow_backtest import shadow_rule

        return shadow_rule(policy)

    def extra_gates(self, policy: Any) -> list[tuple[str, Any]]:
        """The shadow window's comparative backtest, for a version that was in shadow: QLIKE
        of both, Diebold-Mariano on their differences
        (:func:`riskops.market.shadow_backtest.shadow_backtest_gate`)."""
        from functools import partial

        from riskops.market.shadow_backtest import shadow_backtest_gate

        gate = partial(shadow_backtest_gate, rule=self.rules(policy), backtests=policy.backtests)
        return [("shadow_backtest", gate)]

    def service_route(self) -> Any:
        from riskops.volatility.serving import ROUTE

        return ROUTE

    def documents(self) -> FamilyDocuments:
        """The volatility family's part of cards and reports
        (:mod:`riskops.volatility.documents`)."""
        from riskops.volatility.documents import DOCUMENTS

        return DOCUMENTS

    def evaluate(self, estimator: Any, evaluation: VolatilityEvaluation) -> dict[str, float]:
        """The same metrics for ``estimator``'s specification, rerun on the same window."""
        return compare(evaluation.forecasts(estimator), evaluation.benchmark)

    def features(self, dataset: MarketDataset) -> pd.DataFrame:
        return volatility_features(dataset)

    def score(self, estimator: Any, features: pd.DataFrame) -> pd.Series:
        """One-step variance forecasts (percent²), one per row of ``features``."""
        values = estimator.variance_path(features["ret"])
        return pd.Series(np.asarray(values, dtype=float), index=features.index, name="variance")

    def recent_window(self, dataset: MarketDataset) -> MarketDataset:
        """The last 250 trading days, plus the 21 warm-up days the features need."""
        return recent_window(dataset)


def _window_sizes(n: int, extra: dict[str, Any]) -> tuple[int, int]:
    try:
        requested = int(extra.get("eval_days", DEFAULT_EVAL_DAYS))
        refit_every = int(extra.get("refit_every", DEFAULT_REFIT_EVERY))
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"eval_days/refit_every: must be integers ({exc})") from None
    if refit_every < 1:
        raise BadInputError(f"refit_every: must be at least 1, got {refit_every}")
    if n < MIN_TRAIN_DAYS + MIN_EVAL_DAYS:
        raise BadInputError(
            f"data: {n} returns; the volatility family needs at least "
            f"{MIN_TRAIN_DAYS + MIN_EVAL_DAYS} ({MIN_TRAIN_DAYS} to train, "
            f"{MIN_EVAL_DAYS} to evaluate)"
        )
    # Short histories keep at least half (and 250 days) for training.
    eval_days = min(requested, n - max(MIN_TRAIN_DAYS, n // 2))
    if eval_days < MIN_EVAL_DAYS:
        raise BadInputError(f"eval_days: must be at least {MIN_EVAL_DAYS}, got {requested}")
    return eval_days, refit_every


def _range(dataset: MarketDataset, index: pd.Index) -> tuple[pd.Series | None, pd.Series | None]:
    if dataset.high is None or dataset.low is None:
        return None, None
    asset = dataset.primary
    return dataset.high[asset].reindex(index), dataset.low[asset].reindex(index)


def fitted_params(estimator: Any) -> dict[str, Any]:
    """The fitted parameters of a volatility estimator, as plain JSON values."""
    if hasattr(estimator, "params_"):
        return {str(k): float(v) for k, v in estimator.params_.items()}
    if hasattr(estimator, "fitted_params"):
        return dict(estimator.fitted_params())
    inner: Any = getattr(estimator, "model_", None)
    names = getattr(estimator, "feature_names_", [])
    if hasattr(inner, "coef_"):
        coefs = {name: float(c) for name, c in zip(names, inner.coef_, strict=True)}
        return {"intercept": float(inner.intercept_)} | coefs
    if hasattr(inner, "booster_"):
        gain = inner.booster_.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {
            "n_trees": int(inner.booster_.num_trees()),
            "gain_share": {name: float(g) / total for name, g in zip(names, gain, strict=True)},
        }
    return {}


def _summary(table: pd.DataFrame) -> dict[str, Any]:
    def plain(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    forecast, realised = table["forecast"], table["realised"]
    return {
        "n": len(table),
        "mean_forecast": plain(forecast.mean()),
        "mean_benchmark": plain(table["benchmark"].mean()),
        "mean_realised": plain(realised.mean()),
        "min_forecast": plain(forecast.min()),
        "max_forecast": plain(forecast.max()),
        "corr_forecast_realised": plain(forecast.corr(realised)),
        "refits": int(table["fitted_through"].nunique()),
        "last_forecast": plain(forecast.iloc[-1]),
    }


def _write_shap(estimator: Any, returns: pd.Series, out_dir: Path) -> None:
    from riskops.explain import write_shap_artifacts

    contributions, base_value, X = estimator.explain(returns.iloc[-_SHAP_ROWS:])
    write_shap_artifacts(contributions, base_value, X.reset_index(drop=True), out_dir)
