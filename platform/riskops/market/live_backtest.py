"""Live scoring of market champions: the forecasts they issued against what then happened.

:func:`live_scores` takes the forecasts a live state issued (each before its day's outcome
was known) aligned with the realised returns, and computes the evidence a risk desk reads
every morning -- with the *same functions* as the promotion backtest, so that the live
record and the offline one are comparable line by line:

* VaR/ES (columns ``var_{lvl}``, ``es_{lvl}``): live exceptions per level, and
  :func:`~riskops.market.var_backtests.backtest_forecasts` on the live days -- the policy's
  gated coverage and independence tests (exact binomial on the last 250 days and on the
  whole live record, 99% given 95%, Christoffersen's statistic with a Monte Carlo
  p-value), the reported Kupiec/Christoffersen tests, the Basel traffic light on the last
  250 live days, the McNeil-Frey and Acerbi-Szekely ES tests and the tick loss -- plus the
  traffic light on the promotion backtest's exceptions followed by the live ones (whole and
  last 250 days), and, given a design, the Bernoulli CUSUM over the live exceptions;
* volatility (``variance``, optional ``benchmark_variance`` and ``realised``): QLIKE and
  MSE, the Diebold-Mariano test against the GARCH(1,1) benchmark and the Mincer-Zarnowitz
  regression (:func:`~riskops.market.evaluation.compare_variance_forecasts`, the
  volatility family's own metrics);
* anomaly (``alert``): the live alert rate against the binomial band of the target rate
  (:func:`~riskops.stats.proportions.alert_rate_band`, the policy's band).

A section whose columns are absent or whose days are too few is *not evaluated*, with the
reason in ``not_evaluated``: never a silent pass. The frame's layout is
:class:`~riskops.market.rolling.RollingBacktest`'s (``ret``, ``var_99``, ``es_99``, ...), so
an offline backtest frame goes through the same function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from riskops.errors import BadInputError
from riskops.market.var_backtests import TRAFFIC_LIGHT_DAYS

__all__ = ["LiveScores", "live_scores"]

MIN_VAR_DAYS = 2
"""Days the exception tests need (Christoffersen's statistic needs two)."""
MIN_VOLATILITY_DAYS = 3
"""Days the Diebold-Mariano and Mincer-Zarnowitz statistics need."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class LiveScores:
    """Live evidence of one champion over the scored days (see the module docstring).

    Attributes
    ----------
    n
        Days scored.
    start, end
        First and last scored day (index labels as strings).
    var
        Per level tag (``"99"``): ``exceptions``, ``expected``, ``exception_rate``,
        ``exception_days`` (positions), ``metrics`` (the family's flat metric names, as the
        policy reads them), ``tests`` (each test's full result), ``traffic_light_last_250``,
        ``traffic_light_with_backtest`` and ``traffic_light_with_backtest_last_250``
        (backtest then live exceptions), ``cusum`` (when a design is given).
    volatility
        The volatility family's metrics on the live days.
    anomaly
        ``alerts``, ``n``, ``alert_rate``, ``target_alert_rate``, ``band_low``,
        ``band_high``, ``within_band``.
    not_evaluated
        Section (or level) -> why it was not evaluated.
    """

    n: int
    start: str | None
    end: str | None
    var: dict[str, dict[str, Any]] = field(default_factory=dict)
    volatility: dict[str, Any] | None = None
    anomaly: dict[str, Any] | None = None
    not_evaluated: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (non-finite numbers become ``None``)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


def _var_levels(frame: pd.DataFrame) -> list[tuple[float, str]]:
    levels = []
    for column in frame.columns:
        if isinstance(column, str) and column.startswith("var_"):
            tag = column[4:]
            try:
                levels.append((float(tag) / 100.0, tag))
            except ValueError:
                continue
    return sorted(levels)


def _var_section(
    frame: pd.DataFrame,
    backtest_hits: Mapping[float, Any] | None,
    cusum: Any,
    seed: int,
    not_evaluated: dict[str, str],
) -> dict[str, dict[str, Any]]:
    from riskops import backtests as bt
    from riskops.market.var_backtests import backtest_forecasts, coverage_backtests

    levels = _var_levels(frame)
    if not levels:
        not_evaluated["var"] = "no var_{level} column"
        return {}
    if "ret" not in frame:
        raise BadInputError("forecasts: VaR columns need the realised return column 'ret'")
    if len(frame) < MIN_VAR_DAYS:
        not_evaluated["var"] = f"{len(frame)} live day(s); the exception tests need {MIN_VAR_DAYS}"
        return {}
    ret = frame["ret"].to_numpy(dtype=float)
    values = {tag: frame[f"var_{tag}"].to_numpy(dtype=float) for _, tag in levels}
    if not all(np.isfinite(v).all() for v in values.values()) or not np.isfinite(ret).all():
        raise BadInputError("forecasts: 'ret' and the VaR columns must be finite on every day")
    hits = {lv: bt.exceedances(ret, values[tag]) for lv, tag in levels}
    level_values = tuple(lv for lv, _ in levels)
    has_es = all(f"es_{tag}" in frame for _, tag in levels)
    if has_es:
        # The promotion backtest's own function: same tests, same seeds, same names.
        metrics, results = backtest_forecasts(frame, level_values, seed=seed)
    else:
        metrics, results = coverage_backtests(hits, seed=seed)
        not_evaluated["es"] = "no es_{level} columns: ES tests and tick loss not evaluated"
    out: dict[str, dict[str, Any]] = {}
    for level, tag in levels:
        h = hits[level]
        section: dict[str, Any] = {
            "level": level,
            "n": int(h.size),
            "exceptions": int(h.sum()),
            "expected": float(h.size * (1.0 - level)),
            "exception_rate": float(h.mean()),
            "exception_days": [int(i) for i in np.flatnonzero(h)],
            "metrics": {k: v for k, v in metrics.items() if _belongs(k, tag)},
            "tests": results[tag],
            "traffic_light_last_250": results[tag]["traffic_light_last_250"],
        }
        before = None if backtest_hits is None else backtest_hits.get(level)
        if before is None:
            not_evaluated[f"traffic_light_with_backtest_{tag}"] = "no backtest exceptions given"
        else:
            combined = np.concatenate([np.asarray(before, dtype=bool), h])
            section["traffic_light_with_backtest"] = bt.traffic_light(combined, level).to_dict()
            section["traffic_light_with_backtest_last_250"] = bt.traffic_light(
                combined[-TRAFFIC_LIGHT_DAYS:], level
            ).to_dict()
        design = _design_for(cusum, level)
        if design is not None:
            from riskops.stats.sequential import bernoulli_cusum_path

            path, alarms = bernoulli_cusum_path(h, design)
            section["cusum"] = {
                "design": design.to_dict(),
                "statistic": int(path[-1]),
                "alarm_days": [int(i) for i in alarms],
            }
        out[tag] = section
    return out


def _belongs(metric: str, tag: str) -> bool:
    parts = metric.split("_")
    return tag in parts or metric == "n_eval"


def _design_for(cusum: Any, level: float) -> Any:
    if cusum is None:
        return None
    designs = cusum if isinstance(cusum, list | tuple) else [cusum]
    for design in designs:
        if abs(float(design.level) - level) < 1e-12:
            return design
    return None


def _volatility_section(
    frame: pd.DataFrame, not_evaluated: dict[str, str]
) -> dict[str, Any] | None:
    from riskops.market.evaluation import (
        compare_variance_forecasts,
        mincer_zarnowitz,
        mse_loss,
        qlike_loss,
    )

    if "variance" not in frame:
        not_evaluated["volatility"] = "no variance column"
        return None
    if len(frame) < MIN_VOLATILITY_DAYS:
        not_evaluated["volatility"] = (
            f"{len(frame)} live day(s); the volatility statistics need {MIN_VOLATILITY_DAYS}"
        )
        return None
    if "realised" in frame:
        realised = frame["realised"].to_numpy(dtype=float)
        proxy = "realised"
    elif "ret" in frame:
        realised = frame["ret"].to_numpy(dtype=float) ** 2
        proxy = "squared return"
    else:
        raise BadInputError("forecasts: a variance column needs 'ret' or 'realised'")
    forecasts = pd.DataFrame(
        {"forecast": frame["variance"].to_numpy(dtype=float), "realised": realised},
        index=frame.index,
    )
    if "benchmark_variance" in frame:
        benchmark = pd.DataFrame(
            {"forecast": frame["benchmark_variance"].to_numpy(dtype=float)}, index=frame.index
        )
        metrics: dict[str, Any] = dict(compare_variance_forecasts(forecasts, benchmark))
    else:
        not_evaluated["volatility_benchmark"] = (
            "no benchmark_variance column: the Diebold-Mariano comparison with GARCH(1,1) is "
            "not evaluated"
        )
        mz = mincer_zarnowitz(realised, forecasts["forecast"])
        metrics = {
            "qlike": float(qlike_loss(realised, forecasts["forecast"]).mean()),
            "mse": float(mse_loss(realised, forecasts["forecast"]).mean()),
            "mz_alpha": mz.alpha,
            "mz_beta": mz.beta,
            "mz_r2": mz.r2,
            "mz_pvalue": mz.pvalue,
            "n_eval": float(len(frame)),
        }
    return metrics | {"proxy": proxy}


def _anomaly_section(
    frame: pd.DataFrame, target: float | None, not_evaluated: dict[str, str]
) -> dict[str, Any] | None:
    from riskops.stats.proportions import alert_rate_band

    if "alert" not in frame:
        not_evaluated["anomaly"] = "no alert column"
        return None
    alerts = frame["alert"].dropna()
    if not alerts.isin([0, 1, True, False]).all():
        raise BadInputError("forecasts: 'alert' must be 0/1")
    n = int(alerts.size)
    if target is None:
        not_evaluated["anomaly"] = "no target alert rate given"
        return None
    if not 0 < float(target) < 1:
        raise BadInputError(f"target_alert_rate: must be in (0, 1), got {target!r}")
    if n == 0:
        not_evaluated["anomaly"] = "no scored day"
        return None
    count = int(alerts.astype(int).sum())
    low, high = alert_rate_band(n, float(target))
    rate = count / n
    return {
        "alerts": count,
        "n": n,
        "alert_rate": rate,
        "target_alert_rate": float(target),
        "band_low": low,
        "band_high": high,
        "within_band": bool(low <= rate <= high),
    }


def live_scores(
    forecasts: pd.DataFrame,
    *,
    backtest_hits: Mapping[float, Any] | None = None,
    cusum: Any = None,
    target_alert_rate: float | None = None,
    seed: int = 42,
) -> LiveScores:
    """Score a live record: forecasts issued before each day against the day's outcome.

    Parameters
    ----------
    forecasts
        One row per scored day, oldest first: ``ret`` (the realised percent return) and
        the forecasts issued *for* that day -- ``var_{lvl}``/``es_{lvl}`` (positive losses,
        ``{lvl}`` as :func:`~riskops.market.rolling.level_tag` writes it), ``variance``
        (with ``benchmark_variance``, and ``realised`` when the proxy is not the squared
        return), ``alert`` (0/1).
    backtest_hits
        Level -> the promotion backtest's exceptions (oldest first), for the traffic light
        on backtest followed by live days.
    cusum
        A :class:`~riskops.stats.sequential.CusumDesign` (or a list, one per level) to run
        over each level's live exceptions.
    target_alert_rate
        The anomaly detector's target alert rate.
    seed
        Seed of the Monte Carlo and bootstrap p-values (the family's default, 42).

    Returns
    -------
    LiveScores
    """
    if not isinstance(forecasts, pd.DataFrame):
        raise BadInputError("forecasts: must be a pandas DataFrame, one row per scored day")
    frame = forecasts
    not_evaluated: dict[str, str] = {}
    index = frame.index
    return LiveScores(
        n=len(frame),
        start=str(index[0]) if len(index) else None,
        end=str(index[-1]) if len(index) else None,
        var=_var_section(frame, backtest_hits, cusum, seed, not_evaluated),
        volatility=_volatility_section(frame, not_evaluated),
        anomaly=_anomaly_section(frame, target_alert_rate, not_evaluated),
        not_evaluated=not_evaluated,
    )
