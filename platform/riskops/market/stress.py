"""Stress tests of a VaR/ES model: historical episodes found in the data, and shocks.

Historical scenarios are found, not listed: :func:`worst_windows` ranks the
non-overlapping windows of ``length`` days by cumulative return (or by realised
volatility) -- on the S&P 500 of 1999-2018 the worst 20- and 60-day windows are the
autumn of 2008. Each is run **as forecast at the time** (kind ``historical``): the
model's specification is fitted only on the returns before the window starts (its
parameters, and for FHS its residuals, know nothing of the window or what followed),
then fed the window's returns day by day with those parameters fixed. The row gives
the VaR/ES it forecast for the window's first day (``ex_ante_var_*``), the number of
days in the window whose loss exceeded the VaR forecast the evening before
(``exceptions_*``), and the VaR/ES it forecast at the end of the window, next to what
the window realised. A window with too little history before it to fit the model is
reported as not evaluated (``note``), never silently dropped.

``hindsight=True`` adds the older variant, labelled ``historical_hindsight``: the
model fitted on the whole sample, including the window and later data, conditioned on
the market at the end of the window. It shows what today's model makes of the episode,
not what anyone could have forecast then.

Hypothetical shocks, applied to today's history with the fitted parameters kept:

* ``volatility xk`` -- the last ``vol_shock_days`` returns multiplied by ``k``, a
  sudden rise of volatility to ``k`` times its recent level;
* ``return x%`` -- tomorrow's forecast after a day with a return of ``x`` percent;
* ``correlation -> 1`` (portfolios only) -- the assets coupled by rank, every asset at
  the same quantile on the same scenario (:class:`~riskops.market.portfolio.PortfolioVaR`
  with ``comonotonic=True``), next to the same per-asset scenarios with the data's own
  dependence (historical simulation for a historical model, FHS otherwise).

:func:`run_stress` puts them in one table (``write_stress_table`` saves it as CSV or
JSON, e.g. to log as an artifact); it is what ``riskops stress`` runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskops.errors import BadInputError

__all__ = ["run_stress", "worst_windows", "write_stress_table"]

_BY = ("return", "volatility")


def worst_windows(
    returns: pd.Series, length: int = 20, n: int = 3, by: str = "return"
) -> pd.DataFrame:
    """The ``n`` worst non-overlapping windows of ``length`` trading days.

    Parameters
    ----------
    returns
        Daily percent returns with a date index.
    length
        Window length in trading days.
    n
        Number of windows.
    by
        ``"return"``: lowest compounded return over the window; ``"volatility"``:
        highest realised volatility (root mean square of the returns).

    Returns
    -------
    pandas.DataFrame
        One row per window, worst first: ``start``, ``end``, ``days``,
        ``cumulative_return`` (percent, compounded), ``realised_vol`` (daily, percent),
        ``worst_day`` (lowest daily return) and ``worst_day_date``.
    """
    if by not in _BY:
        raise BadInputError(f"by: one of {list(_BY)}, got {by!r}")
    r = pd.Series(returns, dtype=float).dropna()
    length = int(length)
    if length < 2 or length > len(r):
        raise BadInputError(f"length: must be in [2, {len(r)}], got {length}")
    log_growth = np.log1p(r.to_numpy() / 100)
    cum = np.convolve(log_growth, np.ones(length), mode="valid")
    vol = np.sqrt(np.convolve(r.to_numpy() ** 2, np.ones(length), mode="valid") / length)
    # Score: lower is worse. Windows are indexed by their first day.
    score = cum if by == "return" else -vol
    taken = np.zeros(score.size, dtype=bool)
    rows: list[dict[str, Any]] = []
    for i in np.argsort(score, kind="stable"):
        if len(rows) >= int(n):
            break
        if taken[i]:
            continue
        taken[max(0, i - length + 1) : i + length] = True
        window = r.iloc[i : i + length]
        rows.append(
            {
                "start": window.index[0],
                "end": window.index[-1],
                "days": length,
                "cumulative_return": float(np.expm1(cum[i]) * 100),
                "realised_vol": float(vol[i]),
                "worst_day": float(window.min()),
                "worst_day_date": window.idxmin(),
            }
        )
    return pd.DataFrame(rows)


def _estimator(estimator_or_spec: Any, seed: int) -> tuple[Any, bool]:
    """The estimator to use and whether it still needs fitting."""
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if isinstance(estimator_or_spec, str):
        from riskops.market.var import make_var_model

        return make_var_model(estimator_or_spec, seed=seed), True
    try:
        check_is_fitted(estimator_or_spec, "n_obs_")
    except NotFittedError:
        return clone(estimator_or_spec), True
    return estimator_or_spec, False


def _row(scenario: str, kind: str, frame: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    from riskops.market.rolling import level_tag

    row: dict[str, Any] = {"scenario": scenario, "kind": kind}
    for level, values in zip(frame.index, frame.to_dict("records"), strict=True):
        tag = level_tag(float(level))
        row[f"var_{tag}"] = float(values["var"])
        row[f"es_{tag}"] = float(values["es"])
    return row | extra


def run_stress(
    dataset: Any,
    estimator_or_spec: Any = "fhs",
    weights: Any = None,
    *,
    levels: Sequence[float] = (0.95, 0.99),
    window_lengths: Sequence[int] = (20, 60),
    n_windows: int = 3,
    vol_factors: Sequence[float] = (1.5, 2.0, 3.0),
    vol_shock_days: int = 22,
    return_shocks: Sequence[float] = (-5.0, -10.0, -20.0),
    seed: int = 42,
    output: str | Path | None = None,
    hindsight: bool = False,
) -> pd.DataFrame:
    """Stressed VaR/ES table of a model on a dataset.

    Parameters
    ----------
    dataset
        A :class:`~riskops.data.market.MarketDataset`, or a Series of percent returns.
    estimator_or_spec
        A VaR estimator (fitted: used as is; unfitted: fitted on the data) or a model
        name of the VaR family (``fhs``, ``garch_t``, ``historical``, ``quantile_lightgbm``).
    weights
        Portfolio weights (mapping of asset to weight, or a sequence in column order)
        for a multi-asset dataset; the model is then applied to the portfolio return and
        the ``correlation -> 1`` scenario is added. ``None``: the primary asset alone.
    levels
        VaR/ES confidence levels.
    window_lengths, n_windows
        Historical scenarios: the ``n_windows`` worst windows of each length.
    vol_factors, vol_shock_days
        Volatility shocks: the last ``vol_shock_days`` returns times each factor.
    return_shocks
        One-day return shocks, percent.
    seed
        Seed of the model when it is built from a name.
    output
        If given, the table is also written there (``.csv`` or ``.json``).
    hindsight
        Also run the historical windows with the full-sample fit (kind
        ``historical_hindsight``).

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario``, ``kind`` (baseline, historical, volatility,
        return, correlation), ``var_{lvl}``/``es_{lvl}`` (positive losses, percent),
        ``var_ratio`` (99% VaR, or the highest level's, over the baseline's) and, for
        historical windows, ``start``, ``end``, ``cumulative_return``, ``realised_vol``,
        ``worst_day``, ``fitted_through`` (last day the parameters saw),
        ``ex_ante_var_{lvl}``, ``exceptions_{lvl}`` and ``note``.
    """
    from riskops.market.rolling import level_tag

    series, frame = _series(dataset, weights)
    estimator, needs_fit = _estimator(estimator_or_spec, seed)
    if needs_fit:
        estimator.fit(series)
    history = series.to_numpy()
    rows = [_row("baseline", "baseline", estimator.forecast(series, levels=levels))]

    for length in window_lengths:
        worst = worst_windows(series, length=int(length), n=int(n_windows))
        for k, w in enumerate(worst.to_dict("records"), start=1):
            start, end = pd.Timestamp(w["start"]), pd.Timestamp(w["end"])
            facts = {
                "start": str(start.date()),
                "end": str(end.date()),
                "cumulative_return": w["cumulative_return"],
                "realised_vol": w["realised_vol"],
                "worst_day": w["worst_day"],
            }
            rows.append(
                _as_forecast_at_the_time(
                    f"worst {length}-day window #{k}", estimator, series, start, end, levels
                )
                | facts
            )
            if hindsight:
                forecast = estimator.forecast(series.loc[:end], levels=levels)
                rows.append(
                    _row(
                        f"worst {length}-day window #{k} (hindsight: full-sample fit)",
                        "historical_hindsight",
                        forecast,
                        **facts,
                    )
                )
    days = min(int(vol_shock_days), history.size)
    for factor in vol_factors:
        shocked = history.copy()
        shocked[-days:] *= float(factor)
        rows.append(
            _row(
                f"volatility x{factor:g} (last {days} days)",
                "volatility",
                estimator.forecast(shocked, levels=levels),
            )
        )
    for shock in return_shocks:
        shocked = np.append(history, float(shock))
        rows.append(
            _row(f"return {shock:+g}%", "return", estimator.forecast(shocked, levels=levels))
        )
    if frame is not None:
        from riskops.market.portfolio import PortfolioVaR
        from riskops.market.var import HistoricalVaR

        # Per-asset scenarios of the same kind as the model: historical simulation for a
        # historical model, filtered historical simulation otherwise.
        historical = isinstance(estimator, HistoricalVaR)
        method = "historical" if historical else "fhs"
        window = int(estimator.window) if historical else None
        for comonotonic, label in ((False, f"as in the data ({method})"), (True, "-> 1")):
            model = PortfolioVaR(weights, method=method, window=window, comonotonic=comonotonic)
            forecast = model.fit(frame).forecast(levels=levels)
            rows.append(_row(f"correlation {label}", "correlation", forecast))

    table = pd.DataFrame(rows)
    top = level_tag(max(float(x) for x in levels))
    baseline = float(table[f"var_{top}"].iloc[0])
    table.insert(2, "var_ratio", table[f"var_{top}"] / baseline)
    if output is not None:
        write_stress_table(table, output)
    return table


def _as_forecast_at_the_time(
    scenario: str,
    estimator: Any,
    series: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    levels: Sequence[float],
) -> dict[str, Any]:
    """A historical window with the model fitted only on the returns before ``start``."""
    from sklearn.base import clone

    from riskops.market.rolling import level_tag

    before = series.loc[series.index < start]
    window = series.loc[start:end]
    row: dict[str, Any] = {"scenario": scenario, "kind": "historical"}
    if before.empty:
        return row | {"note": "not evaluated: no returns before the window"}
    row["fitted_through"] = str(before.index[-1].date())
    try:
        model = clone(estimator).fit(before)
        # Day by day, the forecast made the evening before, parameters fixed.
        daily = [
            model.forecast(series.loc[series.index < day], levels=levels) for day in window.index
        ]
        at_end = model.forecast(series.loc[:end], levels=levels)
    except (BadInputError, ValueError) as exc:
        return row | {"note": f"not evaluated: {len(before)} returns before the window ({exc})"}
    row = _row(scenario, "historical", at_end) | row
    for level in levels:
        tag = level_tag(float(level))
        var = np.array([float(f.loc[level, "var"]) for f in daily])
        row[f"ex_ante_var_{tag}"] = float(var[0])
        row[f"exceptions_{tag}"] = int(np.sum(-window.to_numpy() > var))
    row["note"] = "as forecast at the time: fitted on the returns before the window"
    return row


def _series(dataset: Any, weights: Any) -> tuple[pd.Series, pd.DataFrame | None]:
    if isinstance(dataset, pd.Series):
        if weights is not None:
            raise BadInputError("weights: a single return series has no assets to weigh")
        return dataset.astype(float).dropna(), None
    returns = dataset.returns
    if weights is None or returns.shape[1] == 1:
        return dataset.series().astype(float), None
    from riskops.market.portfolio import portfolio_returns

    frame = returns.astype(float).dropna(how="any")
    return portfolio_returns(frame, weights), frame


def write_stress_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the stress table as CSV or JSON (records), chosen by the file suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix.lower() == ".json":
        path.write_text(table.to_json(orient="records", indent=2, date_format="iso"))
    else:
        raise BadInputError(f"output: use a .csv or .json file, got {path.name!r}")
    return path
