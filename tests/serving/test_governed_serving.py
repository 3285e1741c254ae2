"""Only audited, hash-verified champions are served (real HTTP, real MLflow).

Runs against the session's live service and home (see ``conftest.py``); each case puts the
home back as it found it, so the rest of the serving suite is unaffected.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
import pytest
from typer.testing import CliRunner

from tests.serving.conftest import (
    POLL_SECONDS,
    start_service,
    stop_service,
    wait_ready,
)

runner = CliRunner()
NAME = "credit_pd"


def _row(url: str, name: str) -> dict[str, Any]:
    body = httpx.get(f"{url}/models", timeout=10).json()
    return next(m for m in body["models"] if m["name"] == name)


def _one_applicant() -> list[dict[str, Any]]:
    import pandas as pd

    from riskops.data.credit import load_credit

    row = load_credit().X.sample(1, random_state=5).iloc[0]
    return [
        {
            k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v))
            for k, v in row.items()
        }
    ]


def test_an_alias_moved_with_the_plain_mlflow_client_is_not_served(live_service, in_home) -> None:
    from riskops.cli import app
    from riskops.lifecycle import Lifecycle
    from riskops.registry import CHAMPION

    with in_home() as settings:
        life = Lifecycle(settings)
        audited = life.registry.version_for_alias(NAME, CHAMPION)
        assert audited is not None
        # Given a new registered version that never passed a gate (the champion's own run,
        # registered again: loadable, audited as registered, never promoted)
        rogue = life.register_version(audited.run_id, NAME, dict(audited.tags))
        # When the champion alias is moved to it with the plain MLflow client
        life.registry.client.set_registered_model_alias(NAME, CHAMPION, str(rogue))
        try:
            deadline = time.monotonic() + 60
            row = _row(live_service.url, NAME)
            while row.get("alias_version") != rogue and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                row = _row(live_service.url, NAME)
            # Then the service keeps serving the trail's champion and says the alias is not used
            assert row["alias_version"] == rogue
            assert row["version"] == audited.version
            assert row["audited"] is True
            assert "the alias is not used" in row["note"]
            scored = httpx.post(
                f"{live_service.url}/credit/score",
                json={"applicants": _one_applicant()},
                timeout=30,
            )
            assert scored.status_code == 200
            assert scored.json()["model"]["version"] == audited.version
            assert "the alias is not used" in live_service.log_tail(400)
            # And verify exits non-zero naming the model
            verify = runner.invoke(app, ["audit", "verify"])
            assert verify.exit_code == 1
            assert f"{NAME}@champion points to v{rogue}" in verify.stdout
        finally:
            life.registry.client.set_registered_model_alias(NAME, CHAMPION, str(audited.version))


def _champion_model_file(settings: Any, name: str) -> Path:
    import mlflow

    from riskops.registry import CHAMPION, Registry

    client = Registry(settings).client
    version = client.get_model_version_by_alias(name, CHAMPION)
    run = client.get_run(version.run_id)
    logged = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{version.run_id}'",
        output_format="list",
    )[0]
    folder = Path(unquote(urlparse(logged.artifact_location).path))
    # skops for the bundled credit model (riskops.serialization), a pickle otherwise
    return next(folder / f for f in ("model.skops", "model.pkl") if (folder / f).exists())


def _second_home(serving_home: Path, folder: Path) -> Path:
    """The served home's registry and audit trail in a new home (own metrics, own BentoML).

    Artifact locations in the MLflow database are absolute, so the copy reads the very same
    model files; a second service on the shared home would reset the live one's metrics.
    """
    import shutil

    home = folder / "home"
    home.mkdir()
    for name in ("mlflow.db", "audit.db", "audit_anchor.json"):
        shutil.copy(serving_home / name, home / name)
    return home


def test_a_champion_whose_model_file_changed_is_not_served_after_a_restart(
    live_service, in_home, serving_home: Path, tmp_path: Path
) -> None:
    from riskops.cli import app

    with in_home() as settings:
        model_file = _champion_model_file(settings, NAME)
        original = model_file.read_bytes()
        # Given one byte appended to the credit champion's model file
        model_file.write_bytes(original + b"\0")
        service = None
        try:
            # Then verify fails naming the file
            verify = runner.invoke(app, ["audit", "verify"])
            assert verify.exit_code == 1
            assert f"{model_file.name} changed" in verify.stdout
            # And a service started afterwards serves the other champions but not this one
            service = start_service(_second_home(serving_home, tmp_path))
            # (alive, but never ready: readiness names the champion that cannot load)
            wait_ready(service, probe="/livez")
            deadline = time.monotonic() + 60
            row = _row(service.url, NAME)
            while time.monotonic() < deadline and (
                "last_error" not in row or _row(service.url, "market_var")["status"] != "serving"
            ):
                time.sleep(POLL_SECONDS)
                row = _row(service.url, NAME)
            assert row["status"] == "unavailable"
            assert "differ from the audited hashes" in row["last_error"]
            refused = httpx.post(
                f"{service.url}/credit/score", json={"applicants": _one_applicant()}, timeout=30
            )
            assert refused.status_code == 503
            assert _row(service.url, "market_var")["status"] == "serving"
            ready = httpx.get(f"{service.url}/readyz", timeout=30)
            assert ready.status_code == 503
            assert NAME in ready.json()["not_ready"]
        finally:
            model_file.write_bytes(original)
            if service is not None:
                stop_service(service)


@pytest.fixture(scope="module", autouse=True)
def _chain_still_verifies_afterwards(in_home):  # type: ignore[no-untyped-def]
    yield
    from riskops.ledger.verify import verify_installation

    with in_home() as settings:
        report = verify_installation(settings)
    assert report.ok, report.to_dict()
