"""Decisions recorded offline and outcomes joined back, from the command line.

On a copy of a home whose champion is LightGBM on ISLR ``Default`` (``conftest.py``): a
portfolio scored with ``riskops score`` is recorded before its file is written, outcomes
with unknown ids or duplicates are refused whole (exit 2, naming the lines), clean ones are
recorded and the validation tests run on them, audited with the seals of what they read,
and shown in the model card. Decisions are stamped 400 days ago (the clock offset of a
replay), so that outcomes observed today find them matured under the 12-month horizon.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskops.cli import app
from riskops.credit.decisions import DECISIONS, OUTCOMES, canonical_inputs
from riskops.evidence.store import EvidenceStore
from riskops.settings import Settings

from .conftest import MODEL, TRAIN_ROWS

runner = CliRunner()
PAST = {"RISKOPS_CLOCK_OFFSET_DAYS": "-400"}


def _score(frame: pd.DataFrame, folder: Path, out: Path | None = None, **env: str):  # type: ignore[no-untyped-def]
    data = folder / "applicants.csv"
    frame.to_csv(data, index=False)
    args = ["score", MODEL, "--data", str(data), "--id-col", "loan_id", "--json"]
    if out is not None:
        args += ["--out", str(out)]
    return runner.invoke(app, args, env=env)


def _matured_outcomes(frame: pd.DataFrame, decided: pd.Series, seed: int = 0) -> pd.DataFrame:
    """The loans' real outcomes: a default dated within the 12 months after the decision,
    no default observed a few days after they ended."""
    rng = np.random.default_rng(seed)
    decided = pd.to_datetime(decided, utc=True).reset_index(drop=True)
    defaulted = frame["default"].eq("Yes").to_numpy()
    within = decided + pd.to_timedelta(rng.integers(1, 360, len(frame)), unit="D")
    after = decided + pd.DateOffset(months=12) + pd.Timedelta(days=5)
    observed = within.where(defaulted, after)
    return pd.DataFrame(
        {
            "loan_id": frame["loan_id"].to_numpy(),
            "default": frame["default"].to_numpy(),
            "observed": observed.dt.strftime("%Y-%m-%d").to_numpy(),
        }
    )


def test_a_portfolio_is_recorded_before_its_scored_file_and_each_id_once(
    champion_home: Path, islr: pd.DataFrame, tmp_path: Path
) -> None:
    store = EvidenceStore(Settings())
    portfolio = islr.iloc[TRAIN_ROWS : TRAIN_ROWS + 300]
    out = tmp_path / "scored.parquet"
    # When a portfolio is scored with its application ids
    done = _score(portfolio, tmp_path, out)
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["written"] == 300 and payload["model"]["version"] == 1
    # Then every decision is in the store under its id, with its input row and its hash
    recorded = store.frame(DECISIONS, MODEL)
    assert recorded["id"].tolist() == portfolio["loan_id"].tolist()
    assert set(recorded["role"]) == {"champion"} and set(recorded["model_version"]) == {1}
    first = portfolio.iloc[0]
    sent = {"income": first.income, "student": first.student, "balance": first.balance}
    expected = canonical_inputs(sent, ["student", "balance", "income"])
    assert recorded["inputs"].iloc[0] == expected.decode()
    assert recorded["input_hash"].iloc[0] == hashlib.sha256(expected).hexdigest()
    # and the scored file holds the same decisions
    scored = pd.read_parquet(out)
    assert scored["id"].tolist() == recorded["id"].tolist()
    assert scored["pd"].tolist() == recorded["pd"].tolist()
    assert set(scored["grade"]) <= {f"G{g}" for g in range(1, 9)}
    # When the same applications are scored again: refused whole, exit 2, naming the ids
    again = _score(portfolio.head(10), tmp_path, tmp_path / "again.parquet")
    assert again.exit_code == 2
    assert portfolio["loan_id"].iloc[0] in again.output
    assert not (tmp_path / "again.parquet").exists()
    # and a file with a repeated id and a negative balance records nothing, naming lines
    bad = islr.iloc[TRAIN_ROWS + 300 : TRAIN_ROWS + 310].copy()
    bad.loc[bad.index[3], "loan_id"] = bad["loan_id"].iloc[1]
    bad.loc[bad.index[6], "balance"] = -5000.0
    refused = _score(bad, tmp_path)
    assert refused.exit_code == 2
    assert "repeated ids, one decision per id: lines 5" in refused.output
    assert "balance" in refused.output and "lines 8" in refused.output
    assert len(store.frame(DECISIONS, MODEL)) == 300
    assert store.verify(DECISIONS) == []


def test_outcomes_are_refused_whole_then_recorded_and_tested(
    champion_home: Path, islr: pd.DataFrame, tmp_path: Path
) -> None:
    store = EvidenceStore(Settings())
    portfolio = islr.iloc[TRAIN_ROWS : TRAIN_ROWS + 1200].reset_index(drop=True)
    assert _score(portfolio, tmp_path, **PAST).exit_code == 0
    decided = store.frame(DECISIONS, MODEL)["decided_at"]
    outcomes = _matured_outcomes(portfolio, decided).iloc[:1000]
    # Given a file with 10 ids never scored and 5 duplicates
    unknown = pd.DataFrame(
        {"loan_id": [f"X{i}" for i in range(10)], "default": "No", "observed": "2026-01-05"}
    )
    dirty = pd.concat([outcomes, unknown, outcomes.iloc[:5]], ignore_index=True)
    dirty.to_csv(tmp_path / "dirty.csv", index=False)
    args = ["outcomes", MODEL, "--id-col", "loan_id", "--target", "default"]
    args += ["--positive-label", "Yes", "--observed-at", "observed", "--no-retrain"]
    refused = runner.invoke(app, [*args, "--data", str(tmp_path / "dirty.csv")])
    # Then it is refused, naming the rows of each problem, and nothing is written
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert "unknown_id: 10 row(s), lines 1002, 1003, 1004" in text
    assert "duplicate_in_file: 5 row(s), lines 1012, 1013, 1014, 1015, 1016" in text
    assert len(store.frame(OUTCOMES, MODEL)) == 0
    # When the clean file is fed
    outcomes.to_csv(tmp_path / "clean.csv", index=False)
    done = runner.invoke(app, [*args, "--data", str(tmp_path / "clean.csv"), "--json"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["recorded"]["written"] == 1000
    # Then the tests ran per version and per grade on the 1,000 matured outcomes
    [version] = payload["tests"]["versions"]
    assert version["counts"]["evaluated"] == 1000
    assert version["counts"]["matured"] == 1200
    assert version["counts"]["without_outcome"] == 200
    defaults = int(outcomes["default"].eq("Yes").sum())
    assert version["portfolio"]["n"] == 1000 and version["portfolio"]["defaults"] == defaults
    assert sum(g["n"] for g in version["grades"]) == 1000
    assert version["auc_vs_initial"]["auc_initial"] > 0.9  # the held-out AUC it was promoted on
    # and the run is audited with the seals of the two streams it read
    from riskops.audit import AuditTrail

    records = AuditTrail(Settings()).records(MODEL)
    actions = [r.action for r in records]
    assert actions[-2:] == ["outcomes_recorded", "outcome_tests"]
    tests = records[-1]
    assert tests.body["seals"] == [
        store.seal(DECISIONS, MODEL),
        store.seal(OUTCOMES, MODEL),
    ]
    kinds = (DECISIONS, OUTCOMES)
    assert [store.check_seal(s, k) for s, k in zip(tests.body["seals"], kinds, strict=True)] == [
        None,
        None,
    ]
    # and the inventory (`riskops models`, the console's "Live" column) shows what watches
    # the champion: its decisions and the audited run of the tests
    from riskops.inventory import inventory

    [row] = [r for r in inventory(Settings()) if r["name"] == MODEL]
    watched = row["live"]["outcome_tests"]
    assert watched["decisions"] == len(store.frame(DECISIONS, MODEL))
    assert watched["outcomes"] == 1000 and watched["audit_seq"] == tests.seq
    assert watched["fired"] is tests.body["fired"]
    verdict = "ALARM" if tests.body["fired"] else "tests pass"
    assert row["live"]["status"] == f"{verdict} as of {tests.body['as_of'][:10]} (1,000 outcomes)"
    # and the model card shows the performance on matured outcomes
    card = tmp_path / "card.md"
    report = ["report", MODEL, "--out", str(tmp_path / "r.html"), "--card", str(card)]
    written = runner.invoke(app, [*report, "--no-log", "--no-evidently"])
    assert written.exit_code == 0, written.output
    markdown = card.read_text()
    assert "Performance on matured outcomes" in markdown
    assert f"{tests.seq} ({tests.ts[:19]}, {tests.actor})" in markdown
    worst = version["grades"][-1]
    assert worst["label"] in markdown
    # and `riskops audit verify` checks the evidence the tests sealed: an outcome edited
    # afterwards is named, with the record whose seal it breaks
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    with sqlite3.connect(champion_home / "evidence.db") as db:
        db.execute('UPDATE riskops_evidence_credit_outcomes SET "default" = 1 WHERE seq = 1000')
    broken = runner.invoke(app, ["audit", "verify", "--json"])
    assert broken.exit_code == 1
    findings = json.loads(broken.stdout)["findings"]
    # (the row's digest column is left as it was: its content no longer matches it)
    assert {
        "severity": "error",
        "kind": "evidence_chain",
        "message": f"credit_outcomes {MODEL} row 1000: content does not match its digest (edited)",
        "model": MODEL,
        "seq": None,
    } in findings


def test_matured_decisions_become_training_rows_with_their_lineage(
    champion_home: Path, islr: pd.DataFrame, tmp_path: Path
) -> None:
    from riskops.credit.family import CreditFamily
    from riskops.data import DataSource, load
    from riskops.lifecycle import Lifecycle

    portfolio = islr.iloc[TRAIN_ROWS : TRAIN_ROWS + 400].reset_index(drop=True)
    assert _score(portfolio, tmp_path, **PAST).exit_code == 0
    store = EvidenceStore(Settings())
    outcomes = _matured_outcomes(portfolio, store.frame(DECISIONS, MODEL)["decided_at"])
    outcomes.iloc[:300].to_csv(tmp_path / "o.csv", index=False)
    args = ["outcomes", MODEL, "--data", str(tmp_path / "o.csv"), "--id-col", "loan_id"]
    args += ["--target", "default", "--positive-label", "Yes", "--observed-at", "observed"]
    assert runner.invoke(app, [*args, "--no-retrain"]).exit_code == 0
    life = Lifecycle()
    train = islr.iloc[:TRAIN_ROWS]
    train.to_csv(tmp_path / "train.csv", index=False)
    dataset = load(
        DataSource(
            domain="credit",
            path=tmp_path / "train.csv",
            target="default",
            positive_label="Yes",
            id_col="loan_id",
        )
    )
    policy = life.policies.for_model(MODEL, "credit")
    grown, lineage = CreditFamily().with_outcomes(dataset, MODEL, life.settings, policy)
    # The 300 matured decisions with an outcome are added, labelled by their outcome
    assert lineage["rows_added"] == 300 and len(grown.frame) == TRAIN_ROWS + 300
    added = grown.frame.iloc[TRAIN_ROWS:]
    assert added["loan_id"].tolist() == outcomes["loan_id"].iloc[:300].tolist()
    assert added["default"].tolist() == outcomes["default"].iloc[:300].tolist()
    # (as read back from the CSV that was scored: to the last of 16 digits)
    assert added["balance"].tolist() == pytest.approx(portfolio["balance"].iloc[:300].tolist())
    assert lineage["defaults_added"] == int(outcomes["default"].iloc[:300].eq("Yes").sum())
    # with the hashes of what was added and of the data before, and the seals read
    from riskops.data.hashing import content_hash

    assert lineage["added_content_hash"] == content_hash(added.reset_index(drop=True))
    assert lineage["dataset_before"] == dataset.content_hash != grown.content_hash
    assert lineage["seals"] == [store.seal(DECISIONS, MODEL), store.seal(OUTCOMES, MODEL)]
    # and the served inputs the drift checks read are the stored rows
    served = CreditFamily().served_inputs(life.settings, MODEL, 50)
    assert served["balance"].tolist() == pytest.approx(portfolio["balance"].iloc[-50:].tolist())


def test_champion_and_shadow_compared_on_the_same_matured_applicants(
    champion_home: Path, islr: pd.DataFrame, tmp_path: Path
) -> None:
    """The function the shadow work calls: DeLong's paired test on the applicants both
    the champion and a shadow version scored, once their outcomes matured."""
    from riskops.credit.decisions import decision_rows
    from riskops.credit.shadow import shadow_pairs
    from riskops.lifecycle import Lifecycle
    from riskops.stats.discrimination import delong_paired_test

    portfolio = islr.iloc[TRAIN_ROWS : TRAIN_ROWS + 1500].reset_index(drop=True)
    assert _score(portfolio, tmp_path, **PAST).exit_code == 0
    store = EvidenceStore(Settings())
    champion = store.frame(DECISIONS, MODEL)
    # Given a shadow version that scored the first 1,200 of them too, with noisier PDs
    rng = np.random.default_rng(3)
    noisy = np.clip(champion["pd"].to_numpy()[:1200] + rng.normal(0, 0.05, 1200), 0, 1)
    shadow = decision_rows(
        ids=champion["id"].iloc[:1200].tolist(),
        records=[json.loads(t) for t in champion["inputs"].iloc[:1200]],
        results=[{"pd": float(p), "grade": "G1", "reasons": []} for p in noisy],
        features=["student", "balance", "income"],
        version=2,
        run_id="s" * 32,
        request_id="shadow-batch",
        decided_at=champion["decided_at"].iloc[0],
        role="shadow",
    )
    store.append(DECISIONS, MODEL, shadow)
    # and the outcomes of 1,000 of those both scored, and of 300 only the champion scored
    outcomes = _matured_outcomes(portfolio, champion["decided_at"])
    chosen = pd.concat([outcomes.iloc[:1000], outcomes.iloc[1200:1500]])
    chosen.to_csv(tmp_path / "o.csv", index=False)
    args = ["outcomes", MODEL, "--data", str(tmp_path / "o.csv"), "--id-col", "loan_id"]
    args += ["--target", "default", "--positive-label", "Yes", "--observed-at", "observed"]
    assert runner.invoke(app, [*args, "--no-retrain"]).exit_code == 0
    # When the champion is compared with the shadow
    found = shadow_pairs(Lifecycle(), MODEL, 1, 2).delong
    # Then exactly the 1,000 matured applicants both scored are compared, by DeLong's
    # paired test on their PDs (challenger first: its one-sided p-value is "worse")
    assert found is not None
    assert found["applicants_both"] == 1200 and found["matured_pairs"] == 1000
    y = outcomes["default"].iloc[:1000].eq("Yes").to_numpy().astype(float)
    expected = delong_paired_test(y, noisy[:1000], champion["pd"].to_numpy()[:1000])
    assert found["z"] == pytest.approx(expected.z, rel=1e-12)
    assert found["p_challenger_worse"] == pytest.approx(expected.pvalue_a_lower, rel=1e-12)
    assert found["defaults"] == int(y.sum())
    assert found["seals"] == [store.seal(DECISIONS, MODEL), store.seal(OUTCOMES, MODEL)]
