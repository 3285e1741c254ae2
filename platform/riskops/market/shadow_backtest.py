"""The comparative backtest of a market challenger's shadow window (issue 30): the forecasts
the champion and the challenger in shadow issued for the same live days, each scored against
what then happened, and the gate that judges them at the challenger's promotion.

The rows (:func:`riskops.live.shadow.read_shadow_window`) hold one matured day of one series:
``series``, ``day``, ``ret`` (the realised percent return) and each forecast of both
versions, suffixed ``_champion`` and ``_challenger`` (``var_99_champion``,
``variance_challenger``...). Everything here is pure:

* VaR (:func:`var_shadow_backtest`): exceptions of both per level on the same days, the
  policy's exception-based coverage tests for both
  (:func:`~riskops.market.var_backtests.coverage_backtests`, the promotion backtest's own
  function and metric names), and the one-sided Diebold-Mariano test with Newey-West errors
  of "the challenger's tick loss is higher than the champion's"
  (:func:`~riskops.market.var_backtests.loss_comparison`, the champion as the benchmark);
* volatility (:func:`volatility_shadow_backtest`): QLIKE of both against the squared return
  and the one-sided Diebold-Mariano test on the QLIKE differences.

:func:`shadow_backtest_gate` refuses a challenger whose window fails a coverage test of the
policy, or whose loss is significantly higher than the champion's at the rule's ``alpha``
(:class:`ShadowBacktestRule`, the family's ``rules: shadow_comparison``). A window shorter
than ``min_days`` is "not evaluated: window too small", visibly, never a pass in silence.
Size and power at the window sizes it sees: ``bench/bench_shadow_backtest.py``.

Several series are pooled day by day: the exact coverage tests then assume their exceptions
independent across series, which one series (the live path's default) satisfies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riskops.errors import BadInputError

__all__ = [
    "GATE",
    "ShadowBacktestRule",
    "shadow_backtest_gate",
    "shadow_rule",
    "var_shadow_backtest",
    "volatility_shadow_backtest",
    "window_facts",
]

GATE = "shadow_backtest"
ROLES = ("champion", "challenger")


class ShadowBacktestRule(BaseModel):
    """The family's ``rules: shadow_comparison``: the one-sided Diebold-Mariano test's size
    ``alpha`` and the fewest matured days (``min_days``) the window needs to be judged (the
    smallest at which the bench measures the power the policy's comment cites)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(default=0.01, gt=0, lt=1)
    min_days: int = Field(default=250, ge=3)
    why: str = "the challenger did worse than the champion on the same live days"


def shadow_rule(policy: Any) -> ShadowBacktestRule | None:
    """The policy's ``rules: shadow_comparison`` parsed (``None`` when absent); exit 2 naming
    the field."""
    raw = (getattr(policy, "rules", None) or {}).get("shadow_comparison")
    if raw is None:
        return None
    try:
        return ShadowBacktestRule.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadInputError(
            f"rules.shadow_comparison.{where}: {first['msg']} (got {first.get('input')!r})"
        ) from None


def window_facts(rows: pd.DataFrame) -> dict[str, Any]:
    """The window: matured rows, distinct days, series, first and last day."""
    if rows.empty:
        return {"rows": 0, "days": 0, "series": [], "first": None, "last": None}
    days = pd.to_datetime(rows["day"])
    return {
        "rows": len(rows),
        "days": int(days.nunique()),
        "series": sorted(str(s) for s in rows["series"].unique()),
        "first": str(days.min().date()),
        "last": str(days.max().date()),
    }


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["day", "series"], kind="stable").reset_index(drop=True)


def _levels(rows: pd.DataFrame) -> list[tuple[float, str]]:
    tags = {
        c[len("var_") : -len("_champion")]
        for c in rows.columns
        if c.startswith("var_") and c.endswith("_champion") and f"{c[:-9]}_challenger" in rows
    }
    return sorted((float(tag) / 100.0, tag) for tag in tags)


def var_shadow_backtest(rows: pd.DataFrame, seed: int = 42) -> dict[str, Any]:
    """Exceptions, the coverage tests and the tick-loss comparison of both VaRs (pure).

    Returns ``window`` (:func:`window_facts`), ``metrics`` and ``zones`` per role (the
    coverage metrics and traffic-light zones under the policy's names), ``exceptions`` per
    role and level, and per level ``loss``: both mean tick losses and the one-sided
    Diebold-Mariano test (``p_challenger_worse``).
    """
    from riskops import backtests as bt
    from riskops.market.var_backtests import coverage_backtests, coverage_evidence, loss_comparison

    ordered = _ordered(rows)
    levels = _levels(ordered)
    facts: dict[str, Any] = {"kind": "var", "window": window_facts(ordered)}
    if not levels:
        return {**facts, "evaluated": False, "reason": "no VaR level forecast by both versions"}
    if len(ordered) < 3:
        return {**facts, "evaluated": False, "reason": f"{len(ordered)} matured day(s)"}
    ret = ordered["ret"].to_numpy(dtype=float)
    metrics: dict[str, Any] = {}
    zones: dict[str, Any] = {}
    exceptions: dict[str, dict[str, int]] = {}
    for role in ROLES:
        hits = {
            lv: bt.exceedances(ret, ordered[f"var_{tag}_{role}"].to_numpy(dtype=float))
            for lv, tag in levels
        }
        found, results = coverage_backtests(hits, seed=seed)
        metrics[role] = found
        zones[role] = coverage_evidence(results)
        exceptions[role] = {tag: int(hits[lv].sum()) for lv, tag in levels}
    loss: dict[str, Any] = {}
    for level, tag in levels:
        compared, result = loss_comparison(
            ret,
            ordered[f"var_{tag}_challenger"].to_numpy(dtype=float),
            ordered[f"var_{tag}_champion"].to_numpy(dtype=float),
            level,
        )
        loss[tag] = {
            role_key: float(bt.tick_loss(ret, ordered[f"var_{tag}_{role}"].to_numpy(float), level))
            for role, role_key in (
                ("challenger", "tick_loss_challenger"),
                ("champion", "tick_loss_champion"),
            )
        } | {
            "dm_stat": compared["loss_dm_stat"],
            "p_challenger_worse": compared["loss_dm_pvalue"],
            "lags": result.get("lags"),
        }
    return {
        **facts,
        "evaluated": True,
        "levels": [tag for _, tag in levels],
        "output": f"var_{levels[-1][1]}",
        "expected_exceptions": {tag: len(ordered) * (1.0 - lv) for lv, tag in levels},
        "exceptions": exceptions,
        "metrics": metrics,
        "zones": zones,
        "loss": loss,
    }


def volatility_shadow_backtest(rows: pd.DataFrame) -> dict[str, Any]:
    """QLIKE of both variance forecasts against the squared return, and the one-sided
    Diebold-Mariano test with Newey-West errors on their differences (pure)."""
    from riskops.market.evaluation import qlike_loss
    from riskops.stats.forecast_comparison import diebold_mariano

    ordered = _ordered(rows)
    facts: dict[str, Any] = {"kind": "volatility", "window": window_facts(ordered)}
    if "variance_champion" not in ordered or "variance_challenger" not in ordered:
        return {**facts, "evaluated": False, "reason": "no variance forecast by both versions"}
    if len(ordered) < 3:
        return {**facts, "evaluated": False, "reason": f"{len(ordered)} matured day(s)"}
    realised = ordered["ret"].to_numpy(dtype=float) ** 2
    losses = {
        role: np.asarray(
            qlike_loss(realised, ordered[f"variance_{role}"].to_numpy(dtype=float)), dtype=float
        )
        for role in ROLES
    }
    dm = diebold_mariano(losses["challenger"], losses["champion"], alternative="greater")
    return {
        **facts,
        "evaluated": True,
        "output": "variance",
        "loss": {
            "qlike": {
                "loss_challenger": float(losses["challenger"].mean()),
                "loss_champion": float(losses["champion"].mean()),
                "dm_stat": dm.statistic,
                "p_challenger_worse": dm.pvalue,
                "lags": dm.lags,
            }
        },
    }


def _span(window: Mapping[str, Any]) -> str:
    series = ", ".join(window.get("series") or []) or "-"
    return (
        f"{window.get('days', 0)} days ({window.get('first') or '-'} to "
        f"{window.get('last') or '-'}), series {series}, {window.get('rows', 0)} matured rows"
    )


def shadow_backtest_gate(
    evidence: Mapping[str, Any], *, rule: ShadowBacktestRule | None, backtests: Any = ()
) -> list[Any]:
    """Judge the shadow window's comparative backtest (pure; see the module doc).

    ``backtests``: the policy's backtest checks; those the window's coverage metrics answer
    (exception counts and their clustering, traffic lights) are applied to both versions,
    and refuse the challenger when it fails one. Nothing when the version was never in
    shadow; "not evaluated" without the rule, without matured rows, or below ``min_days``.
    """
    from riskops.gates import GateResult, check_threshold

    shadow = evidence.get("shadow")
    if shadow is None:
        return []
    if rule is None:
        return [
            GateResult(
                GATE, True, "not evaluated: the policy sets no shadow_comparison", evaluated=False
            )
        ]
    facts = shadow.get("comparison")
    if not facts:
        why = shadow.get("reason") or "the shadow window holds no matured day"
        return [GateResult(GATE, True, f"not evaluated: {why}", evaluated=False)]
    window = facts.get("window") or {}
    days = int(window.get("days") or 0)
    if days < rule.min_days:
        return [
            GateResult(
                GATE,
                True,
                f"not evaluated: window too small ({days} days < {rule.min_days}): {_span(window)}",
                days,
                rule.min_days,
                evaluated=False,
            )
        ]
    if not facts.get("evaluated"):
        return [GateResult(GATE, True, f"not evaluated: {facts.get('reason')}", evaluated=False)]
    out = [
        GateResult(f"{GATE}_window", True, f"shadow window: {_span(window)}", days, rule.min_days)
    ]
    if facts.get("kind") == "var":
        out += _coverage_results(facts, backtests, check_threshold, GateResult)
    for name, loss in facts["loss"].items():
        p_value = float(loss["p_challenger_worse"])
        worse = not p_value >= rule.alpha  # a NaN p-value refuses: fail closed
        what = "QLIKE" if name == "qlike" else f"{name}% tick loss"
        challenger = loss.get("tick_loss_challenger", loss.get("loss_challenger"))
        champion = loss.get("tick_loss_champion", loss.get("loss_champion"))
        out.append(
            GateResult(
                f"{GATE}_loss_{name}",
                not worse,
                f"{what} on the shadow window's {days} days: {challenger:.5g} (challenger) vs "
                f"{champion:.5g} (champion), Diebold-Mariano one-sided p = {p_value:.3g} "
                f"{'<' if worse else '>='} {rule.alpha:g}" + (f": {rule.why}" if worse else ""),
                p_value,
                rule.alpha,
            )
        )
    return out


def _coverage_results(
    facts: Mapping[str, Any], backtests: Any, check_threshold: Any, result: Any
) -> list[Any]:
    """The policy's coverage checks on the challenger's window; the champion's outcome on the
    same days beside it (reported, not gated: the champion is not on trial)."""
    out = []
    sources = {
        role: {"metrics": facts["metrics"][role], "evidence": facts["zones"][role]}
        for role in ROLES
    }
    exceptions = facts["exceptions"]
    days = int((facts.get("window") or {}).get("days") or 0)
    for check in backtests:
        if check.metric not in sources["challenger"].get(check.source, {}):
            continue  # a test of the promotion backtest the window does not answer
        # The policy's explanation describes the promotion backtest's own window ("over the
        # 1,000-day window"): on the shadow window the reason gives its numbers alone.
        check = check.model_copy(update={"why": ""})
        mine = check_threshold("backtest", check, sources["challenger"])
        theirs = check_threshold("backtest", check, sources["champion"])
        tag = next((t for t in exceptions["challenger"] if t in check.metric.split("_")), None)
        count = (
            ""
            if tag is None
            else f" ({exceptions['challenger'][tag]} vs {exceptions['champion'][tag]} "
            f"{tag}% exceptions, {facts['expected_exceptions'][tag]:.1f} expected)"
        )
        out.append(
            result(
                f"shadow_{mine.gate}",
                mine.passed,
                f"shadow window ({days} days), challenger: {mine.reason}; "
                "champion on the same days: "
                f"{'passes' if theirs.passed else 'fails'}{count}",
                mine.observed,
                mine.threshold,
                evaluated=mine.evaluated,
            )
        )
    return out
