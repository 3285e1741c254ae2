"""The volatility family's part of model cards and validation reports.

* its text (what a next-day variance forecast is for and where it stops);
* a performance table of the forecast evaluation: the Diebold-Mariano test against the
  GARCH(1,1)-normal benchmark and the Mincer-Zarnowitz regression, each with its reading;
* caveats read from the metrics (worse than the benchmark, no significant difference,
  biased forecasts, a short window);
* the figure of forecast and benchmark against realised volatility, the run's own plot or
  drawn from its logged forecasts.

:data:`DOCUMENTS` is what :meth:`riskops.volatility.family.VolatilityFamily.documents`
returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskops.documents.blocks import Block, Table, fmt, number
from riskops.documents.family import FamilyDocuments, record_tables
from riskops.documents.figures import figure, png_of_file, read_table
from riskops.documents.live import market_sections
from riskops.documents.texts import FamilyText

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts
    from riskops.documents.figures import Drawn, Figure

__all__ = ["DOCUMENTS", "TEXT"]

SMALL_EVAL_DAYS = 250
"""Evaluation windows shorter than a trading year get a caveat."""
SIZE = 0.05
"""The size at which the readings call a test significant."""

TEXT = FamilyText(
    title="Market risk: next-day volatility forecast",
    purpose=(
        "Forecasts the next day's return variance of an index (percent squared), for "
        "risk scaling and as an input to VaR."
    ),
    intended_uses=(
        "Volatility targeting and risk budgets for a single index.",
        "An input to VaR/ES models and stress indicators.",
    ),
    out_of_scope=(
        "Option pricing or implied-volatility surfaces.",
        "Horizons beyond one day without a validated aggregation rule.",
        "Assets other than the one the model was estimated on.",
    ),
    methodology=(
        "GARCH-type (GARCH, GJR, EGARCH), HAR (LightGBM or linear) or neural (LSTM, "
        "Transformer) models of the next day's variance."
    ),
    assumptions=(
        "The squared return (or a range-based proxy) is an unbiased, if noisy, measure "
        "of realised variance.",
        "Volatility dynamics are stable between refits.",
    ),
    limitations=(
        "The squared-return target is very noisy; rankings under QLIKE are robust to "
        "the noise but R-squared values are low by construction.",
        "Jumps and announcement days are not modelled separately.",
    ),
    evaluation=(
        "Rolling one-step forecasts over the evaluation window, refitted periodically on all "
        "prior returns, compared with a GARCH(1,1)-normal benchmark under QLIKE and MSE, a "
        "Diebold-Mariano test and a Mincer-Zarnowitz regression."
    ),
    own_models=(
        "A data scientist's forecaster (fit, forecast_variance, variance_path) is wrapped in "
        "the platform's VolatilityForecaster for MLflow's pyfunc and the service's checks."
    ),
)


def _dm_reading(metrics: dict[str, float]) -> str:
    p, stat = number(metrics.get("dm_pvalue")), number(metrics.get("dm_stat"))
    if p is None or stat is None:
        return "–"
    if p >= SIZE:
        return "no significant difference from the benchmark at 5%"
    # The family computes DM on model loss minus benchmark loss: negative favours the model.
    better = stat < 0
    return "significantly " + ("better" if better else "worse") + " than the benchmark at 5%"


def tables(facts: VersionFacts) -> list[Block]:
    """Diebold-Mariano against the benchmark and Mincer-Zarnowitz, with their readings."""
    metrics = facts.metrics
    if "dm_stat" not in metrics:
        return record_tables(facts)
    rows = (
        (
            "Diebold-Mariano (QLIKE loss vs GARCH(1,1)-normal)",
            fmt(metrics.get("dm_stat")),
            fmt(metrics.get("dm_pvalue")),
            _dm_reading(metrics),
        ),
        (
            "Mincer-Zarnowitz (realised on forecast; joint HAC Wald, bootstrap p)",
            f"α={fmt(metrics.get('mz_alpha'))}, β={fmt(metrics.get('mz_beta'))}, "
            f"R²={fmt(metrics.get('mz_r2'))}",
            fmt(_mz_pvalue(metrics)),
            "unbiasedness (α=0, β=1) "
            + ("rejected" if (number(_mz_pvalue(metrics)) or 1) < SIZE else "not rejected"),
        ),
    )
    return [Table(("test", "statistic", "p-value", "reading"), rows, "Forecast evaluation")]


def _mz_pvalue(metrics: dict[str, Any]) -> Any:
    """The gated joint test's p-value (versions before it: the asymptotic one)."""
    return metrics.get("mz_joint_pvalue", metrics.get("mz_pvalue"))


def caveats(facts: VersionFacts) -> list[str]:
    """Worse than the benchmark, not significantly different, biased, a short window."""
    m = facts.metrics
    out = []
    q, qb = number(m.get("qlike")), number(m.get("qlike_benchmark"))
    if q is not None and qb is not None and q > qb:
        out.append(f"QLIKE {q:.4f} is worse than the GARCH(1,1)-normal benchmark's {qb:.4f}.")
    p = number(m.get("dm_pvalue"))
    if p is not None and p >= SIZE:
        out.append(f"Not significantly different from the benchmark (Diebold-Mariano p={p:.3f}).")
    mzp, beta = number(_mz_pvalue(m)), number(m.get("mz_beta"))
    if mzp is not None and mzp < SIZE:
        out.append(f"Mincer-Zarnowitz rejects unbiased forecasts (p={mzp:.3g}, β={fmt(beta)}).")
    n = number(m.get("n_eval"))
    if n is not None and n < SMALL_EVAL_DAYS:
        out.append(f"Only {int(n)} evaluation days.")
    return out


def figures(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    """Forecast and benchmark against realised volatility over the evaluation window."""
    from riskops.volatility.plots import plot_forecasts

    def generate() -> Drawn | None:
        table = read_table(facts, "forecasts.parquet")
        if table is None:
            return None
        image = png_of_file(
            lambda d: plot_forecasts(
                table, facts.metrics, facts.model_kind, facts.params.get("asset", "asset"), d
            ),
            facts,
        )
        return image, "forecasts.parquet"

    return [
        figure(
            facts,
            "forecast_vs_realised",
            "Forecast vs realised volatility",
            "forecast_vs_realised.png",
            used,
            generate,
        )
    ]


DOCUMENTS = FamilyDocuments(
    TEXT, sections=market_sections, tables=tables, caveats=caveats, figures=figures
)
"""The volatility family's part of its versions' cards and reports."""
