"""The VaR family's part of model cards and validation reports.

* its text (what a one-day VaR/ES forecast is for and where it stops);
* performance tables: the small-sample gate tests per level, above all the **1,000-day
  independence result** (Christoffersen 1998 statistic, Monte Carlo p-value after
  Dufour 2006), next to the one-sided coverage tests and the reported-only conditional
  coverage, each with its gate limit; then every backtest per level;
* caveats read from the backtests (traffic-light zone, rejected coverage, clustered
  exceptions, ES tests, a short window);
* figures: returns against VaR and ES with the breaches, and the traffic-light history,
  the run's own plots or drawn from its logged forecasts.

:data:`DOCUMENTS` is what :meth:`riskops.var.family.VaRFamily.documents` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from riskops.documents.blocks import Block, Table, fmt, number
from riskops.documents.family import FamilyDocuments
from riskops.documents.figures import figure, png_of_file, read_table
from riskops.documents.live import market_sections
from riskops.documents.texts import FamilyText

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts
    from riskops.documents.figures import Drawn, Figure
    from riskops.policy import Policy

__all__ = ["DOCUMENTS", "TEXT", "backtests_table", "var_gate_blocks"]

SMALL_EVAL_DAYS = 250
"""Evaluation windows shorter than a trading year get a low-power caveat."""

TEXT = FamilyText(
    title="Market risk: next-day Value-at-Risk and Expected Shortfall",
    purpose=(
        "Forecasts the one-day 95% and 99% Value-at-Risk and Expected Shortfall of an "
        "index position, in percent of its value."
    ),
    intended_uses=(
        "Daily risk limits and monitoring of a single index exposure.",
        "Backtesting evidence (Kupiec, Christoffersen, Basel traffic light, ES tests) for "
        "internal model validation.",
    ),
    out_of_scope=(
        "Multi-asset or non-linear portfolios (options), which need full revaluation.",
        "Horizons beyond one day without a validated scaling rule.",
        "Regulatory capital on its own: the Basel traffic light here is a diagnostic, "
        "not a supervisory determination.",
    ),
    methodology=(
        "Filtered historical simulation, GARCH-t, historical simulation or LightGBM quantile "
        "regression of the next day's return distribution, its VaR and ES read at both levels."
    ),
    assumptions=(
        "Returns are computed from close prices; the position is held constant for a day.",
        "The conditional distribution of returns changes slowly relative to the refit period.",
        "Exceptions are independent once volatility clustering is filtered.",
    ),
    limitations=(
        "Backtests at 99% have little power on short windows: a few hundred days "
        "contain only a handful of expected exceptions.",
        "Parameter uncertainty is not reflected in the VaR figure.",
        "Sudden regime changes (crashes, market closures) are only learned after they happen.",
    ),
    evaluation=(
        "Rolling one-day-ahead forecasts over the evaluation window, refitted on all "
        "returns before each refit day. Exceptions are backtested at both levels and "
        "forecasts scored with the tick loss."
    ),
    own_models=(
        "A data scientist's model subclasses riskops.market.var.VaRModel; the platform "
        "refits it through the same rolling backtest as the built-in kinds."
    ),
)

_VAR_TESTS = (
    (
        "clustering_mc",
        "clustering, Ljung-Box over ten lags, Monte Carlo p-value",
        "whole window",
    ),
    (
        "tick_loss_vs_benchmark",
        "tick loss vs historical simulation (Diebold-Mariano, Newey-West; one-sided)",
        "whole window",
    ),
    (
        "independence_mc",
        "independence, first order, Monte Carlo p-value (Dufour 2006)",
        "whole window",
    ),
    ("binomial_coverage", "one-sided binomial, too many exceptions", "whole window"),
    ("binomial_coverage_last_250", "one-sided binomial, too many exceptions", "last 250 days"),
    ("tail_coverage", "exceptions given the lowest level's (Kratz et al. 2018)", "whole window"),
    (
        "conditional_coverage_mc",
        "conditional coverage, Monte Carlo (reported only)",
        "whole window",
    ),
)


def _limit(policy: Policy | None, metric: str) -> str:
    if policy is None:
        return "–"
    for check in policy.backtests:
        if check.metric == metric and check.min is not None:
            return f"p ≥ {check.min:g}"
    return "not gated"


def _metric_of(test: str, tag: str) -> str:
    return {
        "clustering_mc": f"clustering_mc_pvalue_{tag}",
        "tick_loss_vs_benchmark": f"loss_dm_pvalue_{tag}",
        "independence_mc": f"independence_mc_pvalue_{tag}",
        "binomial_coverage": f"binomial_pvalue_{tag}",
        "binomial_coverage_last_250": f"binomial_pvalue_{tag}_last250",
        "tail_coverage": f"tail_pvalue_{tag}",
        "conditional_coverage_mc": f"cc_mc_pvalue_{tag}",
    }[test]


def var_gate_blocks(evidence: dict[str, Any], policy: Policy | None) -> list[Block]:
    """The VaR family's small-sample gate tests per level, with their gate limits."""
    rows = []
    for tag, tests in (evidence.get("backtests") or {}).items():
        for test, label, window in _VAR_TESTS:
            res = tests.get(test)
            if not res:
                continue
            limit = _limit(policy, _metric_of(test, tag))
            pvalue = res.get("pvalue")
            if limit.startswith("p ≥") and pvalue is not None:
                verdict = "pass" if float(pvalue) >= float(limit[4:]) else "FAIL"
            else:
                verdict = "reported"
            rows.append(
                (
                    f"{tag}%",
                    label,
                    window,
                    f"{res.get('exceptions')} / {res.get('n')}",
                    fmt(pvalue),
                    limit,
                    verdict,
                )
            )
    if not rows:
        return []
    return [
        Table(
            ("level", "test", "window", "exceptions / days", "p-value", "gate", "result"),
            tuple(rows),
            "VaR gate tests with their measured size and power (docs/gates.md)",
        )
    ]


def backtests_table(evidence: dict[str, Any]) -> Table:
    """VaR/ES backtests per level and test, from the family's evidence."""
    rows = []
    for tag, tests in (evidence.get("backtests") or {}).items():
        for name, res in tests.items():
            counts = (
                f"{res['exceptions']} / {res['n']}"
                if "n" in res and "exceptions" in res
                else fmt(res.get("exceptions", res.get("n")))
            )
            rows.append(
                (
                    f"{tag}%",
                    name.replace("_", " "),
                    fmt(res.get("statistic")),
                    fmt(res.get("pvalue")),
                    counts,
                    fmt(res.get("zone")),
                    "pass" if res.get("passed") else "fail",
                )
            )
    return Table(
        ("level", "test", "statistic", "p-value", "exceptions / days", "zone", "result"),
        tuple(rows),
        "VaR and ES backtests over the evaluation window",
    )


def tables(facts: VersionFacts) -> list[Block]:
    """The gate tests with their limits, then every backtest."""
    evidence = facts.evidence
    if not evidence.get("backtests"):
        return []
    return [*var_gate_blocks(evidence, facts.policy), backtests_table(evidence)]


def caveats(facts: VersionFacts) -> list[str]:
    """Traffic-light zones, rejected coverage or independence, ES tests, a short window."""
    out = []
    ev, m = facts.evidence, facts.metrics
    for tag, tests in (ev.get("backtests") or {}).items():
        tl = tests.get("traffic_light") or {}
        if tl.get("zone") in ("yellow", "red"):
            out.append(
                f"Basel traffic light in the {tl['zone']} zone at {tag}%: {tl.get('exceptions')} "
                f"exceptions in {tl.get('n')} days (plus factor {fmt(tl.get('plus_factor'))})."
            )
        last = tests.get("traffic_light_last_250") or {}
        if last.get("zone") in ("yellow", "red") and last.get("zone") != tl.get("zone"):
            out.append(
                f"The last {last.get('n')} days alone are in the {last['zone']} zone at "
                f"{tag}% ({last.get('exceptions')} exceptions)."
            )
        pof = tests.get("kupiec_pof") or {}
        if pof and not pof.get("passed", True):
            out.append(
                f"Unconditional coverage rejected at {tag}% (Kupiec p={fmt(pof.get('pvalue'))}"
                f"): {pof.get('exceptions')} exceptions vs {fmt(pof.get('expected'))} "
                "expected."
            )
        ind = tests.get("christoffersen_independence") or {}
        if ind and not ind.get("passed", True):
            out.append(
                f"Exceptions cluster in time at {tag}% (Christoffersen independence "
                f"p={fmt(ind.get('pvalue'))})."
            )
        for key in ("mcneil_frey", "acerbi_szekely_z2"):
            es = tests.get(key) or {}
            if es and not es.get("passed", True):
                out.append(
                    f"ES at {tag}% underestimates tail losses ({key.replace('_', ' ')} "
                    f"p={fmt(es.get('pvalue'))})."
                )
    n = number(m.get("n_eval"))
    if n is not None and n < SMALL_EVAL_DAYS:
        out.append(f"Only {int(n)} evaluation days: the 99% backtests have little power.")
    return out


def figures(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    """Returns, VaR, ES and breaches per level (99% first), and the traffic-light history."""
    from riskops.var.plots import plot_exceedances, plot_traffic_light_history

    asset = facts.params.get("asset", "asset")
    tags = sorted(
        (facts.evidence.get("backtests") or {"99": None, "95": None}), reverse=True, key=float
    )

    def exceedances(tag: str) -> Callable[[], Drawn | None]:
        def generate() -> Drawn | None:
            table = read_table(facts, "forecasts.parquet")
            if table is None:
                return None
            image = png_of_file(
                lambda d: plot_exceedances(table, float(tag) / 100, asset, d), facts
            )
            return image, "forecasts.parquet"

        return generate

    def traffic() -> Drawn | None:
        table = read_table(facts, "forecasts.parquet")
        if table is None:
            return None
        return png_of_file(lambda d: plot_traffic_light_history(table, 0.99, d), facts), (
            "forecasts.parquet"
        )

    out = [
        figure(
            facts,
            f"exceedances_{tag}",
            f"Returns, {tag}% VaR and ES, and breaches",
            f"exceedances_{tag}.png",
            used,
            exceedances(tag),
        )
        for tag in tags
    ]
    out.append(
        figure(
            facts,
            "traffic_light",
            "Basel traffic-light history",
            "traffic_light_history.png",
            used,
            traffic,
        )
    )
    return out


DOCUMENTS = FamilyDocuments(
    TEXT, sections=market_sections, tables=tables, caveats=caveats, figures=figures
)
"""The VaR family's part of its versions' cards and reports."""
