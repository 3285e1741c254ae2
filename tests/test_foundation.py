"""Foundation: layout, settings, lazy imports, layering."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "platform" / "riskops"


def test_platform_folder_never_shadows_the_standard_library() -> None:
    # Given the repository root as working directory (it is on sys.path for `python -c`)
    # When uuid and platform are imported
    result = subprocess.run(
        [sys.executable, "-c", "import uuid, platform; print(platform.system())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # Then the standard library's platform module is the one found
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in {"Linux", "Darwin", "Windows"}
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_cli_import_pulls_in_no_heavy_library() -> None:
    code = (
        "import sys, riskops.cli\n"
        "heavy = {'mlflow', 'prefect', 'bentoml', 'evidently', 'shap', 'lightgbm', 'arch',"
        " 'pandas'}\n"
        "print(sorted(heavy & set(m.split('.')[0] for m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.replace("'", '"')) == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_library_imports_neither_prefect_nor_bentoml() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & {"prefect", "bentoml", "prefect_dask"})
        for p in CORE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


REGISTRY_CALLS = {
    "create_registered_model",
    "create_model_version",
    "set_registered_model_alias",
    "delete_registered_model_alias",
    "get_model_version_by_alias",
    "set_model_version_tag",
    "search_model_versions",
    "search_registered_models",
    "transition_model_version_stage",
    "register_model",
}


def test_exactly_one_module_talks_to_the_registry() -> None:
    talkers = set()
    for path in [
        *CORE.rglob("*.py"),
        *(ROOT / "pipelines").rglob("*.py"),
        *(ROOT / "services").rglob("*.py"),
    ]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in REGISTRY_CALLS:
                talkers.add(str(path.relative_to(ROOT)))
            if isinstance(node, ast.keyword) and node.arg == "registered_model_name":
                talkers.add(str(path.relative_to(ROOT)))
    assert talkers == {"platform/riskops/registry.py"}


class TestSettings:
    def test_defaults_put_all_state_under_home(self, riskops_home: Path) -> None:
        from riskops.settings import Settings

        settings = Settings()
        assert settings.home == riskops_home
        assert settings.audit_database_url.endswith(str(riskops_home / "audit.db"))
        assert settings.inference_log_dir.parent == riskops_home

    def test_home_defaults_to_mlruns_in_the_working_directory(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        from riskops.settings import Settings

        monkeypatch.delenv("RISKOPS_HOME", raising=False)
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        monkeypatch.chdir(tmp_path)
        settings = Settings()
        assert settings.home == tmp_path / "mlruns"
        assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"

    def test_mlflow_tracking_uri_points_at_a_server(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from riskops.settings import Settings

        monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
        assert Settings().mlflow_tracking_uri == "http://mlflow:5000"
        assert not Settings().is_local_tracking()

    def test_exported_environment_keeps_the_store_local(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        from riskops.settings import Settings

        # Given settings on a home, with no tracking URI in the environment
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        monkeypatch.setenv("RISKOPS_HOME", str(tmp_path / "home"))
        first = Settings()
        # When they export MLFLOW_TRACKING_URI and settings are built again from it
        first.export_environment()
        again = Settings()
        # Then both count the same SQLite file as local, with artifacts under the home
        assert os.environ["MLFLOW_TRACKING_URI"] == first.mlflow_tracking_uri
        assert first.is_local_tracking() and again.is_local_tracking()
        assert again.artifact_root == tmp_path / "home" / "artifacts"

    def test_a_child_in_another_directory_finds_the_same_default_home(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from riskops.settings import Settings

        # Given the default home (./mlruns) of the directory a command was started in
        user_dir, service_dir = tmp_path / "user", tmp_path / "services"
        user_dir.mkdir()
        service_dir.mkdir()
        for key in ("RISKOPS_HOME", "MLFLOW_TRACKING_URI"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.chdir(user_dir)
        started = Settings()
        # When it exports its environment and a child builds settings in another directory
        # (BentoML runs the service in the folder of the `services` package)
        started.export_environment()
        monkeypatch.chdir(service_dir)
        child = Settings()
        # Then the child's home is the command's, not ./mlruns of the child's directory
        assert started.home == user_dir / "mlruns"
        assert child.home == started.home
        assert not (service_dir / "mlruns").exists()

    @pytest.mark.parametrize(
        ("uri", "local"),
        [
            ("sqlite:////var/lib/riskops/mlflow.db", True),
            ("sqlite:///relative.db", True),
            ("file:///var/lib/riskops/mlruns", True),
            ("/var/lib/riskops/mlruns", True),
            ("http://mlflow:5000", False),
            ("https://mlflow.example.com", False),
            ("postgresql://u@db/mlflow", False),
            ("databricks", False),
        ],
    )
    def test_local_is_a_property_of_the_uri(self, uri: str, local: bool) -> None:
        from riskops.settings import is_local_uri

        assert is_local_uri(uri) is local

    def test_unknown_setting_is_rejected(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from pydantic import ValidationError

        from riskops.settings import Settings

        monkeypatch.setenv("RISKOPS_HOMEE", "/tmp/typo")
        with pytest.raises(ValidationError, match="RISKOPS_HOMEE"):
            Settings()
        monkeypatch.delenv("RISKOPS_HOMEE")
        with pytest.raises(ValidationError, match="extra"):
            Settings(not_a_setting=1)  # type: ignore[call-arg]

    def test_settings_are_frozen(self) -> None:
        from pydantic import ValidationError

        from riskops.settings import Settings

        settings = Settings()
        with pytest.raises(ValidationError):
            settings.serve_port = 1  # type: ignore[misc]


def test_new_local_store_and_tuning_trials_keep_artifacts_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from riskops import tracking
    from riskops.settings import Settings

    # Given a fresh home, and a working directory elsewhere
    home = tmp_path / "home"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for key in list(os.environ):
        if key.startswith("RISKOPS_") or key.startswith("MLFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RISKOPS_HOME", str(home))
    settings = Settings()
    # When a training run logs two tuning trials
    with tracking.training_run(settings, "credit", "with-trials") as run_id:
        tracking.log_tuning_trials([{"number": 0, "params": {"C": 1.0}, "value": 0.8}] * 2)
    # Then every experiment (Default included) and every run keeps its artifacts under home
    client = mlflow.MlflowClient(settings.mlflow_tracking_uri)
    experiments = client.search_experiments()
    parent = client.get_run(run_id)
    runs = client.search_runs([parent.info.experiment_id])
    assert len(runs) == 3
    assert {r.info.experiment_id for r in runs} == {parent.info.experiment_id}
    inside = home.resolve().as_uri()
    for uri in [e.artifact_location for e in experiments] + [r.info.artifact_uri for r in runs]:
        assert uri.startswith(inside), uri
    assert list(elsewhere.iterdir()) == []
