"""One home with identities, shared by the identity tests (one pytest-xdist group).

Built once per session, like the governed home: the first admin bootstrapped through the
CLI, then people and service accounts added by that admin. Models are trained on demand
by :func:`train` (small data, 40 trees, a few seconds each) under names of the test's own,
so tests never share a model's history. The policy is the credit family's with
``approvals: 1`` (every credit model name falls back to it).

Tokens are secrets of the fixture: each test passes them as ``RISKOPS_TOKEN`` to the CLI,
or authenticates in process with :class:`riskops.identity.store.IdentityStore`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

POLICY = """
credit_pd:
  family: credit
  tier: medium
  owner: alice
  floors:
    - {metric: auc, min: 0.6}
  approvals: 1
"""
PEOPLE = {
    "alice": ["data_scientist"],
    "bob": ["data_scientist"],
    "victor": ["validator"],
    "vera": ["validator"],
    "scorer-a": ["service"],
    "scorer-b": ["service"],
}
CREDIT_ROWS = 1500
_EXPORTED = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "BENTOML_HOME", "PREFECT_HOME")

runner = CliRunner()


@dataclass
class IdentityHome:
    home: Path
    config: Path
    """XDG_CONFIG_HOME of the tests (``riskops login`` writes there)."""
    tokens: dict[str, str] = field(default_factory=dict)
    """name -> token, the admin's included."""

    def env(self, who: str | None = None) -> dict[str, str]:
        """The environment of a CLI call as ``who`` (no token: ``None``)."""
        base = {
            "RISKOPS_HOME": str(self.home),
            "MLFLOW_TRACKING_URI": f"sqlite:///{self.home / 'mlflow.db'}",
            "RISKOPS_POLICY_FILE": str(self.home / "policies.yaml"),
            "XDG_CONFIG_HOME": str(self.config),
        }
        if who is not None:
            base["RISKOPS_TOKEN"] = self.tokens[who]
        return base

    def principal(self, who: str) -> Any:
        from riskops.identity.store import IdentityStore
        from riskops.settings import Settings

        return IdentityStore(Settings()).authenticate(self.tokens[who])


def point_at(mp: pytest.MonkeyPatch, home: IdentityHome, who: str | None = None) -> None:
    """This process's environment as the CLI's would be (no RISKOPS_ACTOR)."""
    for key in list(os.environ):
        if key.startswith("RISKOPS_") or key in _EXPORTED:
            mp.delenv(key)
    for key, value in home.env(who).items():
        mp.setenv(key, value)


def cli(home: IdentityHome, who: str | None, *args: str, **extra_env: str) -> Any:
    """``riskops ARGS`` in process, as ``who``; the result carries exit code and output."""
    from riskops.cli import app

    env: dict[str, str | None] = {"RISKOPS_TOKEN": None, **home.env(who), **extra_env}
    return runner.invoke(app, list(args), env=env)  # None unsets, for this call only


@pytest.fixture(scope="session")
def identity_home(
    tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path
) -> IdentityHome:
    root = tmp_path_factory.mktemp("identity")
    home = root / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    (home / "policies.yaml").write_text(POLICY)
    from riskops.data.credit import load_credit

    load_credit().frame.sample(CREDIT_ROWS, random_state=3).to_csv(home / "credit.csv", index=False)
    built = IdentityHome(home, root / "config")
    with pytest.MonkeyPatch.context() as mp:
        point_at(mp, built)
        boot = cli(built, None, "users", "bootstrap", "Admin", "--json")
        assert boot.exit_code == 0, boot.output
        built.tokens["admin"] = json.loads(boot.stdout)["token"]
        for name, roles in PEOPLE.items():
            args = ["users", "add", name, "--json"]
            for role in roles:
                args += ["--role", role]
            added = cli(built, "admin", *args)
            assert added.exit_code == 0, added.output
            built.tokens[name] = json.loads(added.stdout)["token"]
    return built


@pytest.fixture
def ihome(identity_home: IdentityHome, monkeypatch: pytest.MonkeyPatch) -> IdentityHome:
    """The shared home, with this process's environment pointing at it (no token)."""
    point_at(monkeypatch, identity_home)
    return identity_home


def train(home: IdentityHome, name: str, who: str = "alice", seed: int = 42) -> int:
    """Train a small credit model named ``name`` as ``who``; returns its version."""
    from riskops.data import DataSource
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

    source = DataSource(
        domain="credit", path=home.home / "credit.csv", target="Status", positive_label="bad"
    )
    options = TrainOptions(seed=seed, extra={"params": {"n_estimators": 40}})
    life = Lifecycle(Settings(), principal=home.principal(who))
    result = life.train("credit", source=source, options=options, name=name)
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()
    return result.version
