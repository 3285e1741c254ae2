"""MLflow conventions, on a real SQLite MLflow store: datasets, descriptions, run status."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def promoted(riskops_home: Path):  # type: ignore[no-untyped-def]
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle

    lifecycle = Lifecycle()
    trained = lifecycle.train("credit", options=TrainOptions(seed=42))
    promotion = lifecycle.promote(trained.name, trained.version)
    return trained, promotion


def test_a_registered_version_is_described_and_its_data_logged(promoted) -> None:
    import mlflow

    from riskops.data.credit import load_credit
    from riskops.tracking import dataset_digest

    trained, promotion = promoted
    client = mlflow.MlflowClient()
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
    # and after the promotion, the run's validation_status is the version's, not "pending"
    assert promotion.promoted
    run_status = client.get_run(trained.run_id).data.tags["validation_status"]
    assert run_status == version.tags["validation_status"] == "passed"
