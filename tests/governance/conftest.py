"""One governed RiskOps home, built once by the real lifecycle, shared by the governance tests.

Training is the expensive part (two credit models), so the home is built once per session
from the same migrated MLflow database the ``riskops_home`` fixture copies, with the same
environment. Each test then points the environment at it the way ``riskops_home`` does.

History of ``credit_pd`` in that home (actors in brackets):

1. v1 trained with seed 42 (its held-out grades are not monotone), v2 with seed 7 and
   five grades (ordered) [trainer];
2. v2 promoted to champion [reviewer];
3. v1 refused: its evidence predates champion v2 (``evidence_current``) [reviewer];
4. v3 trained with seed 11 while v2 is champion: compared with v2 on its window [trainer];
5. v1 forced to champion with a reason (override) [approver];
6. rolled back to v2 [approver]; v3 remains the challenger.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MODEL = "credit_pd"
# The promotion policy of this home, pinned so that the scenario below does not move when the
# shipped policies.yaml evolves; the governance documents read whatever policy applies.
POLICY = """
credit_pd:
  family: credit
  floors:
    - {metric: auc, min: 0.75, why: "discriminatory power expected of an application scorecard"}
    - {metric: ks, min: 0.30}
    - {metric: ece, max: 0.05, why: "calibrated PDs feed pricing and provisions"}
  data_drift: {max_drift_share: 0.3}
  prediction_drift: {max_psi: 0.25}
  champion:
    - {metric: auc, higher_is_better: true, max_degradation: 0.01}
    - {metric: brier, higher_is_better: false, max_degradation: 0.005}
"""
OVERRIDE_REASON = "business sign-off despite the grade inversion"
ROLLBACK_REASON = "grade inversion confirmed in monitoring"
# Variables MLflow, Prefect and BentoML defaults are written to; restored after building.
_EXPORTED = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "BENTOML_HOME",
    "PREFECT_HOME",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR",
)


@dataclass(frozen=True)
class GovernedHome:
    home: Path
    non_monotone: int
    """v1: refused, forced to champion, rolled back."""
    champion: int
    """v2: promoted, champion again after the rollback."""
    challenger: int
    """v3: trained against champion v2, never promoted."""


def _point_at(monkeypatch: pytest.MonkeyPatch, home: Path, actor: str) -> None:
    for key in list(os.environ):
        if key.startswith("RISKOPS_") or key in _EXPORTED:
            monkeypatch.delenv(key)
    monkeypatch.setenv("RISKOPS_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("RISKOPS_ACTOR", actor)
    monkeypatch.setenv("RISKOPS_POLICY_FILE", str(home / "policies.yaml"))


@pytest.fixture(scope="session")
def governed_home(
    tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path
) -> GovernedHome:
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

    home = tmp_path_factory.mktemp("governed") / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    (home / "policies.yaml").write_text(POLICY)
    from riskops.data import DataSource
    from riskops.data.credit import load_credit

    # Recent applications (labels dropped) for the data-drift gate and its Evidently report.
    recent_csv = home / "recent_applications.csv"
    load_credit().frame.sample(1500, random_state=0).drop(columns=["Status"]).to_csv(
        recent_csv, index=False
    )
    recent = DataSource(
        domain="credit",
        path=recent_csv,
        target="Status",
        positive_label="bad",
        labels_optional=True,
    )
    with pytest.MonkeyPatch.context() as mp:
        _point_at(mp, home, "trainer")
        trainer = Lifecycle(Settings())
        first = trainer.train("credit", options=TrainOptions(seed=42), recent=recent)
        # Five grades instead of eight: on the held-out rows their default rates are ordered.
        second = trainer.train(
            "credit", options=TrainOptions(seed=7, extra={"n_grades": 5}), recent=recent
        )
        mp.setenv("RISKOPS_ACTOR", "reviewer")
        reviewer = Lifecycle(Settings())
        assert reviewer.promote(MODEL, second.version).promoted
        assert reviewer.promote(MODEL, first.version).refused
        mp.setenv("RISKOPS_ACTOR", "trainer")
        third = Lifecycle(Settings()).train("credit", options=TrainOptions(seed=11), recent=recent)
        assert third.champion_version == second.version
        mp.setenv("RISKOPS_ACTOR", "approver")
        approver = Lifecycle(Settings())
        assert approver.promote(MODEL, first.version, force=True, reason=OVERRIDE_REASON).forced
        approver.rollback(MODEL, reason=ROLLBACK_REASON)
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()
    return GovernedHome(home, first.version, second.version, third.version)


@pytest.fixture
def governed(governed_home: GovernedHome, monkeypatch: pytest.MonkeyPatch) -> GovernedHome:
    """The shared home, with the environment pointing at it for this test only."""
    _point_at(monkeypatch, governed_home.home, "auditor")
    return governed_home


@pytest.fixture
def settings_of(governed: GovernedHome):  # type: ignore[no-untyped-def]
    from riskops.settings import Settings

    return Settings()


@pytest.fixture
def facts_of(settings_of, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def]
    """Collects the facts of a version of the shared home into this test's tmp_path."""
    from riskops.governance.facts import collect

    def collect_version(version: int):  # type: ignore[no-untyped-def]
        return collect(settings_of, MODEL, version, workdir=tmp_path / f"v{version}")

    return collect_version


@pytest.fixture
def version_facts(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Builds :class:`VersionFacts` by hand around small tables (no tracking store): each call
    gets a folder of its own, where ``files`` are written as Parquet artifacts."""
    from itertools import count

    from riskops.documents.facts import VersionFacts
    from riskops.registry import VersionInfo

    numbers = count()

    def make(  # type: ignore[no-untyped-def]
        family: str,
        *,
        files=None,
        tags=None,
        params=None,
        metrics=None,
        evidence=None,
        lineage=None,
        gate_evidence=None,
        audit=(),
        policy=None,
    ):
        folder = tmp_path / f"facts-{next(numbers)}"
        folder.mkdir()
        for name, frame in (files or {}).items():
            frame.to_parquet(folder / name)
        return VersionFacts(
            info=VersionInfo(
                "m", 1, "run1", "src", {"family": family, "model_kind": "k", **(tags or {})}
            ),
            family=family,
            run={"params": params or {}, "metrics": metrics or {}},
            lineage=lineage or {},
            gate_evidence={"evidence": evidence or {}, **(gate_evidence or {})},
            gate_reports=[],
            audit=list(audit),
            audit_check=None,
            champion=None,
            previous=None,
            parent=None,
            champion_metrics={},
            policy=policy,
            artifacts=sorted(files or {}),
            local_dir=folder,
        )

    return make
