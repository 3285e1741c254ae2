"""A green-zone 99% VaR is promoted (issue 13), end to end on real MLflow (SQLite in
tmp_path): ``riskops train var`` on a user CSV, then ``riskops promote market_var``.

The constructed history has 1,750 days of Student-t returns and a calm last year: its
VaR has no exception in the last 250 days, Basel's green zone (Basel Committee 1996),
which the two-sided Kupiec (1995) test rejects (p = 0.025) and no supervisor would.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from riskops.cli import app
from riskops.registry import CHAMPION, Registry
from riskops.settings import Settings

runner = CliRunner()


def _calm_last_year_csv(path: Path, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    df = 5
    unit_t = rng.standard_t(df, size=2000) / np.sqrt(df / (df - 2))
    scale = np.r_[np.full(1750, 1.0), np.full(250, 0.3)]  # percent; the last year is calm
    returns = unit_t * scale
    close = 100 * np.cumprod(np.r_[1.0, 1 + returns / 100])
    dates = pd.bdate_range("2010-01-04", periods=close.size)
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": close}).to_csv(path, index=False)
    return path


def _cli_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_green_zone_var_with_no_recent_exception_is_promoted(
    settings: Settings, tmp_path: Path
) -> None:
    # Given a 99% historical-simulation VaR trained on a history whose last year is calm
    csv = _calm_last_year_csv(tmp_path / "index.csv")
    code, trained = _cli_json(
        "train", "var", "--data", str(csv), "--date-col", "Date", "--price-col", "Close",
        "--model", "historical",
    )  # fmt: skip
    assert code == 0, trained
    metrics = trained["metrics"]
    # with no exception in the last 250 days, green, which two-sided Kupiec rejects
    assert metrics["exceptions_99_last250"] == 0
    assert metrics["kupiec_pvalue_99_last250"] < 0.05
    assert metrics["binomial_pvalue_99_last250"] == 1.0
    # When it is promoted
    code, promotion = _cli_json("promote", "market_var")
    # Then it becomes champion, every VaR gate passing
    assert code == 0, [r for r in promotion["report"]["results"] if not r["passed"]]
    assert promotion["promoted"] is True
    gates = {r["gate"]: r for r in promotion["report"]["results"]}
    assert gates["backtest:binomial_pvalue_99_last250"]["passed"]
    assert gates["backtest:traffic_light_zone_last_250_99"]["observed"] == "green"
    assert gates["backtest:clustering_mc_pvalue_95"]["passed"]
    # and it covers without losing to the historical-simulation benchmark in tick loss
    assert gates["backtest:loss_dm_pvalue_99"]["passed"]
    # and the calm year's drift is on record without vetoing (market_var's policy)
    assert gates["data_drift"]["passed"]
    assert "recorded, not a veto (policy)" in gates["data_drift"]["reason"]
    champion = Registry(settings).version_for_alias("market_var", CHAMPION)
    assert champion is not None
    assert champion.version == trained["model"]["version"]
