"""``bentoml build`` turns the repository into a deployable Bento, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_bentoml_build_packs_service_library_and_project_dependencies(tmp_path: Path) -> None:
    # Given an empty BentoML store and no network access needed
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"}

    # When the repository is built with its bentofile
    result = subprocess.run(
        [str(Path(sys.executable).with_name("bentoml")), "build", "--output", "tag"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # Then a Bento exists with the service, the library and the project's dependencies
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    bentos = list((tmp_path / "bentoml" / "bentos" / "riskops").glob("*/bento.yaml"))
    assert len(bentos) == 1
    bento = bentos[0].parent
    assert (bento / "src/services/service.py").exists()
    assert (bento / "src/platform/riskops/registry.py").exists()
    assert not (bento / "src/platform/__init__.py").exists()
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert info["entry_service"] == "riskops"
    envs = {e["name"]: e.get("value") for e in info["envs"]}
    assert envs["PYTHONPATH"] == "/home/bentoml/bento/src/platform"
    requirements = (bento / "env/python/requirements.txt").read_text()
    for dependency in ("mlflow", "lightgbm", "arch", "pandera", "bentoml"):
        assert dependency in requirements
    routes = (bento / "apis/openapi.yaml").read_text()
    for route in ("/credit/score", "/var/forecast", "/volatility/forecast", "/anomaly/score"):
        assert route in routes
