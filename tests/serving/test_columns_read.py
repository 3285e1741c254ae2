"""A user's pipeline is served with exactly the columns it reads, over real HTTP.

The data scientist's CSV has 22 columns: the 13 applicant columns of the bundled credit
data (Scoring, Yeh's ``credit`` data in ``modeldata``) and 9 others the pipeline's
``ColumnTransformer`` never selects (identifiers, a branch code, noise). The request
schema of the served version is the 13 columns, not the file's 22.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.serving.conftest import (
    LiveService,
    home_environment,
    start_service,
    stop_service,
    wait_ready,
    wait_until_serving,
)

pytestmark = pytest.mark.slow
NAME = "wide_pd"
UNREAD = [f"extra_{i}" for i in range(9)]


def _wide_csv(folder: Path) -> tuple[Path, list[str]]:
    """The bundled applicants with 9 more columns; the 13 applicant columns."""
    from riskops.data.credit import load_credit

    data = load_credit()
    frame = data.frame.copy()
    rng = np.random.default_rng(11)
    for i, column in enumerate(UNREAD):
        frame[column] = (
            rng.normal(size=len(frame)) if i % 2 else rng.choice(["north", "south"], len(frame))
        )
    path = folder / "wide.csv"
    frame.to_csv(path, index=False)
    return path, [str(c) for c in data.X.columns]


def _pipeline(numeric: list[str], categorical: list[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline([("prep", prep), ("logit", LogisticRegression(max_iter=1000))])


@pytest.fixture(scope="module")
def wide_service(
    tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path
) -> Iterator[tuple[LiveService, list[str], dict[str, Any]]]:
    """``wide_pd`` registered from the 22-column CSV, promoted, and served."""
    import pandas as pd

    import riskops
    from riskops.lifecycle import Lifecycle

    home = tmp_path_factory.mktemp("wide") / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    path, read = _wide_csv(home.parent)
    header = pd.read_csv(path, nrows=5)
    categorical = [c for c in read if header[c].dtype == object]
    numeric = [c for c in read if c not in categorical]
    with home_environment(home) as settings:
        trained = riskops.register(
            _pipeline(numeric, categorical),
            family="credit",
            data=str(path),
            target="Status",
            positive_label="bad",
            name=NAME,
            settings=settings,
        )
        life = Lifecycle(settings)
        if life.promote(NAME, trained.version).refused:  # type: ignore[attr-defined]
            life.promote(NAME, trained.version, force=True, reason="serving test, one model")  # type: ignore[attr-defined]
    service = start_service(home)
    try:
        wait_ready(service, probe="/livez")
        wait_until_serving(service, {NAME}, timeout=180)
        yield service, read, trained.to_dict()  # type: ignore[attr-defined]
    finally:
        stop_service(service)


def test_the_request_schema_is_the_columns_the_pipeline_reads(
    wide_service: tuple[LiveService, list[str], dict[str, Any]],
) -> None:
    service, read, trained = wide_service
    # Given a pipeline whose ColumnTransformer selects 13 of the CSV's 22 columns
    assert len(read) == 13
    # Then the registered version lists those 13 as its features
    assert trained["model"]["features"] == read
    # and the service describes a request of exactly those 13 fields
    with service.client() as client:
        served = {m["name"]: m for m in client.get("/models").json()["models"]}
    schema = served[NAME]["request_schema"]
    assert set(schema["properties"]) == set(read)
    # required: the read columns training never saw missing (every one without a gap in the
    # whole file is among them)
    from riskops.data.credit import load_credit

    gapless = {c for c, n in load_credit().X.isna().sum().items() if n == 0}
    assert gapless <= set(schema["required"]) <= set(read)


def test_an_applicant_with_only_the_read_columns_is_scored(
    wide_service: tuple[LiveService, list[str], dict[str, Any]],
) -> None:
    from riskops.data.credit import load_credit

    service, read, _ = wide_service
    # Given an applicant with the 13 columns the model reads, and nothing else
    applicant = json.loads(load_credit().X.dropna().head(1).to_json(orient="records"))[0]
    assert sorted(applicant) == sorted(read)
    with service.client() as client:
        scored = client.post("/credit/score", json={"model": NAME, "applicants": [applicant]})
        # and one that lacks Seniority (a column the model reads, never missing in training)
        lacking = client.post(
            "/credit/score",
            json={
                "model": NAME,
                "applicants": [{k: v for k, v in applicant.items() if k != "Seniority"}],
            },
        )
    # Then the first is scored (no "Field required" for the 9 columns the model never reads)
    assert scored.status_code == 200, scored.text
    assert 0.0 < scored.json()["results"][0]["pd"] < 1.0
    assert not any(column in json.dumps(scored.json()) for column in UNREAD)
    # and the second is refused naming the missing column
    assert lacking.status_code == 400 and "Seniority" in lacking.text
