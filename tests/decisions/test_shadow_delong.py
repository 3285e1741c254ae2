"""The shadow window's paired DeLong test at promotion, on real stores (issue 30, item 3).

On a copy of a home whose champion (v1) is LightGBM on ISLR ``Default``: a portfolio of
1,500 applicants is scored by the champion (recorded in the decision store, stamped 400 days
ago), a registered challenger in shadow answers the same applicants (rows of role
``shadow``), and their outcomes come back through ``riskops outcomes``. At the challenger's
promotion, DeLong's paired test (DeLong, DeLong & Clarke-Pearson, 1988, the fast algorithm
of Sun & Xu, 2014, checked against the pairwise definition and Hanley & McNeil's published
example in ``tests/stats/test_discrimination.py``) runs on the matured applicants both
scored:

* a challenger whose PDs are the champion's, shuffled among 60% of the applicants (the same
  PD and grade distribution, so prediction drift and grade PSI see nothing, but a worse
  ranking) is refused by ``shadow_delong`` with its z and p;
* a challenger whose PDs are the champion's with a little noise is not;
* with outcomes for only 100 applicants the gate says "not evaluated" with the counts;
* the gate decision seals the streams' heads and the digest of the matured pairs, and an
  auditor re-reading the stores up to those heads re-runs the test to the same figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskops.cli import app
from riskops.credit.decisions import DECISIONS, decision_rows
from riskops.evidence.store import EvidenceStore
from riskops.settings import Settings

from .conftest import MODEL, TRAIN_ROWS
from .test_decisions_cli import PAST, _matured_outcomes, _score, runner

PORTFOLIO = 1500


def _challenger_in_shadow(life: Any) -> int:
    """The champion's run registered again, put in shadow: its answers are the test's."""
    info = life.registry.version_for_alias(MODEL, "champion")
    version = int(life.register_version(info.run_id, MODEL, dict(info.tags)))
    assert life.shadow(MODEL, version, reason="DeLong test").outcome == "shadow_started"
    return version


def _shadow_answers(champion: pd.DataFrame, pd_: np.ndarray, grade: np.ndarray, version: int):  # type: ignore[no-untyped-def]
    return decision_rows(
        ids=champion["id"].tolist(),
        records=[json.loads(t) for t in champion["inputs"]],
        results=[
            {"pd": float(p), "grade": str(g), "reasons": []}
            for p, g in zip(pd_, grade, strict=True)
        ],
        features=["student", "balance", "income"],
        version=version,
        run_id="s" * 32,
        request_id="shadow-batch",
        decided_at=champion["decided_at"].iloc[0],
        role="shadow",
    )


def _window(islr: pd.DataFrame, tmp_path: Path, outcomes_for: int, answer: str) -> Any:
    """Champion decisions, shadow answers (``answer``: ``shuffled`` or ``noisy``) and
    ``outcomes_for`` matured outcomes, then the challenger's promotion report."""
    from riskops.lifecycle import Lifecycle

    life = Lifecycle()
    portfolio = islr.iloc[TRAIN_ROWS : TRAIN_ROWS + PORTFOLIO].reset_index(drop=True)
    assert _score(portfolio, tmp_path, **PAST).exit_code == 0
    store = EvidenceStore(Settings())
    champion = store.frame(DECISIONS, MODEL)
    version = _challenger_in_shadow(life)
    rng = np.random.default_rng(5)
    pd_, grade = champion["pd"].to_numpy(), champion["grade"].to_numpy()
    if answer == "shuffled":
        moved = np.flatnonzero(rng.random(len(champion)) < 0.6)
        order = moved.copy()
        rng.shuffle(order)
        pd_, grade = pd_.copy(), grade.copy()
        pd_[moved], grade[moved] = pd_[order], grade[order]
    else:
        pd_ = np.clip(pd_ + rng.normal(0, 0.002, len(pd_)), 0, 1)
    store.append(DECISIONS, MODEL, _shadow_answers(champion, pd_, grade, version))
    outcomes = _matured_outcomes(portfolio, champion["decided_at"]).iloc[:outcomes_for]
    outcomes.to_csv(tmp_path / "o.csv", index=False)
    args = ["outcomes", MODEL, "--data", str(tmp_path / "o.csv"), "--id-col", "loan_id"]
    args += ["--target", "default", "--positive-label", "Yes", "--observed-at", "observed"]
    assert runner.invoke(app, [*args, "--no-retrain"]).exit_code == 0
    result = life.promote(MODEL, version)
    gates = {r.gate: r for r in result.report.results}
    return life, version, result, gates, champion, pd_, portfolio


def test_a_challenger_ranking_matured_applicants_worse_is_refused(
    champion_home: Path, islr: pd.DataFrame, tmp_path: Path
) -> None:
    from riskops.credit.decisions import OUTCOMES, read_outcomes
    from riskops.credit.performance import outcome_policy
    from riskops.credit.shadow import paired_outcome_test, read_window
    from riskops.stats.discrimination import delong_paired_test

    # Given a challenger in shadow that ranks 60% of the applicants at random, and the
    # outcomes of all 1,500 applicants
    life, version, result, gates, champion, shuffled, portfolio = _window(
        islr, tmp_path, PORTFOLIO, "shuffled"
    )
    # Then its PDs and grades are distributed as the champion's: the drift gates pass
    assert gates["shadow_prediction_drift"].passed
    assert gates["shadow_grade_psi"].observed == pytest.approx(0.0, abs=1e-12)
    # But DeLong's paired test on the matured applicants refuses it, with z and p
    delong = gates["shadow_delong"]
    assert delong.evaluated and not delong.passed, delong.reason
    assert delong.threshold == 0.05 and delong.observed < 0.05
    assert "z = " in delong.reason and "1500 matured applicants" in delong.reason
    assert result.outcome == "refused"
    # And the statistic is DeLong's on exactly those pairs, challenger first
    y = portfolio["default"].eq("Yes").to_numpy().astype(int)
    expected = delong_paired_test(y, shuffled, champion["pd"].to_numpy())
    assert delong.observed == pytest.approx(expected.pvalue_a_lower, rel=1e-12)
    assert expected.auc_a < expected.auc_b
    # And the gate decision seals what it read: both streams' heads and the pairs' digest
    record = [r for r in life.trail.records(MODEL) if r.action == "gate_decision"][-1]
    seals = record.body["report"]["seals"]
    kinds = [s["kind"] for s in seals]
    assert kinds == [DECISIONS.name, OUTCOMES.name, "shadow_matured_pairs"]
    store = EvidenceStore(Settings())
    assert seals[:2] == [store.seal(DECISIONS, MODEL), store.seal(OUTCOMES, MODEL)]
    # so that an auditor re-reads the stores up to those heads and re-runs the test
    pairs, _ = read_window(store, MODEL, 1, version, seals[0]["seq"])
    again = paired_outcome_test(
        pairs,
        read_outcomes(store, MODEL, through_seq=seals[1]["seq"]),
        as_of=pd.Timestamp(seals[2]["as_of"]),
        policy=outcome_policy(life, MODEL),
    )
    assert again["pairs_sha256"] == seals[2]["sha256"] and again["matured_pairs"] == 1500
    assert again["p_challenger_worse"] == delong.observed
    print(
        f"\nshadow DeLong (shuffled challenger): AUC {again['auc_challenger']:.4f} vs "
        f"{again['auc_champion']:.4f}, z = {again['z']:.3f}, "
        f"p = {again['p_challenger_worse']:.3g}, {again['defaults']} defaults"
    )


def test_a_challenger_ranking_them_alike_is_not_refused(
    champion_home: Path, islr: pd.DataFrame, tmp_path: Path
) -> None:
    _, _, _, gates, _, _, _ = _window(islr, tmp_path, PORTFOLIO, "noisy")
    delong = gates["shadow_delong"]
    assert delong.evaluated and delong.passed, delong.reason
    assert delong.observed >= 0.05
    print(f"\nshadow DeLong (noisy challenger): {delong.reason}")


def test_too_few_matured_pairs_are_not_evaluated_and_say_so(
    champion_home: Path, islr: pd.DataFrame, tmp_path: Path
) -> None:
    _, _, _, gates, _, _, _ = _window(islr, tmp_path, 100, "shuffled")
    delong = gates["shadow_delong"]
    assert delong.evaluated is False and delong.passed
    assert delong.reason.startswith("not evaluated: 100 matured pairs")
    assert "< minimum 200 pairs with 30 of each" in delong.reason
