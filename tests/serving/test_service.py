"""The live service over real HTTP: routes, validation, hot swap, auth, logs, metrics.

No mocks: the champions are trained and promoted through the lifecycle (``conftest.py``)
and every answer is compared with the registered model loaded independently here.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from riskops.reasons import load_reason_texts, reason_text

pytestmark = pytest.mark.slow

API_KEY = "s3cret-serving-key"  # the key the empty service was started with (conftest)


def _applicants(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Real applicants from the bundled data as JSON objects (missing values as null)."""
    from riskops.data.credit import load_credit

    data = load_credit()
    rows = data.X.sample(n, random_state=seed)
    return [
        {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]


def _load(in_home: Any, name: str, version: int) -> Any:
    from riskops.ledger.loader import VerifiedLoader

    with in_home() as settings:
        return VerifiedLoader(settings).estimator(name, version)


# ------------------------------------------------------------------------------- routes
def test_credit_score_returns_the_models_pd_grade_and_reasons(live_service, in_home) -> None:
    # Given five real applicants, one with missing nullable fields
    applicants = _applicants(5, seed=1)
    applicants[0] = {k: v for k, v in applicants[0].items() if k not in ("Income", "Assets")}

    # When they are scored over HTTP
    with live_service.client() as client:
        response = client.post("/credit/score", json={"applicants": applicants, "reasons": 3})

    # Then each result is exactly what the registered model computes locally
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["name"] == "credit_pd"
    model = _load(in_home, "credit_pd", body["model"]["version"])
    expected = model.score_records(applicants, k=3)
    assert len(body["results"]) == 5
    for got, want in zip(body["results"], expected, strict=True):
        assert got["pd"] == pytest.approx(want["pd"], rel=1e-12)
        assert got["grade"] == want["grade"]
        assert [r["feature"] for r in got["reasons"]] == [r["feature"] for r in want["reasons"]]
        assert 0 < len(got["reasons"]) <= 3
        # reasons are adverse factors, largest first
        contributions = [r["contribution"] for r in got["reasons"]]
        assert all(c > 0 for c in contributions)
        assert contributions == sorted(contributions)[::-1]
        # and each reason code has its plain-language text beside it
        texts = load_reason_texts("credit_pd")
        for r in got["reasons"]:
            assert r["text"] == reason_text(texts, r["feature"], r["value"], r["contribution"])
            assert "estimated probability" not in r["text"]  # a shipped text, not the fallback
    # and the PD agrees with the DataFrame path of the same model
    frame = pd.DataFrame(applicants).reindex(columns=list(model.input_schema_))
    assert [r["pd"] for r in body["results"]] == pytest.approx(model.predict_pd(frame).tolist())


def test_var_forecast_is_positive_with_es_above_var(live_service, in_home) -> None:
    with live_service.client() as client:
        bundled = client.post("/var/forecast", json={"series": "sp500", "levels": [0.95, 0.99]})
        own = client.post("/var/forecast", json={"returns": [0.4, -1.2, 0.3, 2.1, -0.8] * 20})
    assert bundled.status_code == 200, bundled.text
    body = bundled.json()
    assert body["as_of"] == "2018-12-31"
    assert body["observations"] > 5000
    rows = {f["level"]: f for f in body["forecasts"]}
    for row in rows.values():
        assert row["var"] > 0
        assert row["es"] >= row["var"]
    assert rows[0.99]["var"] > rows[0.95]["var"]
    # the same numbers as the registered model on the same history
    from riskops.data.market import load_market

    model = _load(in_home, "market_var", body["model"]["version"])
    local = model.forecast(load_market(bundled="sp500").series(), levels=(0.95, 0.99))
    assert rows[0.99]["var"] == pytest.approx(float(local.loc[0.99, "var"]))
    assert rows[0.95]["es"] == pytest.approx(float(local.loc[0.95, "es"]))
    assert own.status_code == 200, own.text
    assert own.json()["observations"] == 100


def test_volatility_path_has_horizon_days(live_service, in_home) -> None:
    with live_service.client() as client:
        response = client.post("/volatility/forecast", json={"horizon": 10, "series": "sp500"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["horizon"] == 10
    assert len(body["variance"]) == 10
    assert len(body["volatility"]) == 10
    assert body["volatility"] == pytest.approx(np.sqrt(body["variance"]).tolist())
    assert all(v > 0 for v in body["variance"])
    from riskops.data.market import load_market

    model = _load(in_home, "market_volatility", body["model"]["version"])
    local = model.forecast_variance(load_market(bundled="sp500").series(), horizon=10)
    assert body["variance"] == pytest.approx(local.tolist())


def test_anomaly_scores_a_price_window_and_feature_rows(live_service, in_home, tmp_path) -> None:
    from riskops.anomaly.features import build_features
    from riskops.data.market import load_market

    # Given the last 100 S&P 500 days as price bars
    data = load_market(bundled="sp500")
    frame = pd.DataFrame(
        {
            "date": [str(d.date()) for d in data.close.index],
            "close": data.close.iloc[:, 0].to_numpy(),
            "high": data.high.iloc[:, 0].to_numpy(),  # type: ignore[union-attr]
            "low": data.low.iloc[:, 0].to_numpy(),  # type: ignore[union-attr]
            "volume": data.volume.iloc[:, 0].to_numpy(),  # type: ignore[union-attr]
        }
    ).tail(100)
    bars = frame.to_dict("records")
    # and the same bars read by the library's own loader, as a user's file
    frame.to_csv(tmp_path / "bars.csv", index=False)
    window = load_market(
        tmp_path / "bars.csv",
        date_col="date",
        price_col="close",
        high_col="high",
        low_col="low",
        volume_col="volume",
    )

    # When the service scores the window, and three of its feature rows
    with live_service.client() as client:
        by_prices = client.post("/anomaly/score", json={"prices": bars, "top_k": 2})
        assert by_prices.status_code == 200, by_prices.text
        body = by_prices.json()
        model = _load(in_home, "market_anomaly", body["model"]["version"])
        features = build_features(window)[[str(f) for f in model.feature_names_in_]]
        rows = features.tail(3).to_dict("records")
        by_rows = client.post("/anomaly/score", json={"rows": rows})

    # Then every day after the 66-day warm-up is scored, as the model scores it
    assert [r["date"] for r in body["results"]] == [str(d.date()) for d in features.index]
    scores = model.score_samples(features)
    assert [r["score"] for r in body["results"]] == pytest.approx(scores.tolist())
    for result in body["results"]:
        assert result["alert"] == (result["score"] > body["threshold"])
        assert len(result["drivers"]) == 2
        assert 0 <= result["drivers"][1]["share"] <= result["drivers"][0]["share"] <= 1
    assert by_rows.status_code == 200, by_rows.text
    assert [r["score"] for r in by_rows.json()["results"]] == pytest.approx(scores[-3:].tolist())


def test_models_lists_the_four_champions(live_service, in_home) -> None:
    from riskops.registry import CHAMPION, Registry

    with live_service.client() as client:
        body = client.get("/models").json()
    served = {m["name"]: m for m in body["models"]}
    with in_home() as settings:
        registry = Registry(settings)
        for name in ("credit_pd", "market_var", "market_volatility", "market_anomaly"):
            champion = registry.version_for_alias(name, CHAMPION)
            assert champion is not None
            assert served[name]["status"] == "serving"
            assert served[name]["alias"] == "champion"
            assert served[name]["version"] >= 1
    credit_schema = served["credit_pd"]["request_schema"]
    assert credit_schema["additionalProperties"] is False
    assert set(credit_schema["properties"]) >= {"Age", "Income", "Records"}


# ------------------------------------------------------------------------------- bad input
def _bars(first: str, n: int) -> list[dict[str, Any]]:
    """``n`` daily price bars from ``first`` on (dates beyond pandas' range included)."""
    import datetime

    start = datetime.date.fromisoformat(first)
    days = [start + datetime.timedelta(days=i) for i in range(n) if start.toordinal() + i < 3652059]
    return [{"date": d.isoformat(), "close": 100 + (i % 7)} for i, d in enumerate(days)]


NAN_BODY = '{"applicants": [{"Age": NaN}]}'


@pytest.mark.parametrize(
    ("route", "body", "status", "field"),
    [
        ("/credit/score", {"applicants": []}, 400, "applicants"),
        ("/credit/score", {"applicants": [{"Age": "thirty"}]}, 400, "Age"),
        ("/credit/score", {"applicants": [{"Agee": 30}]}, 400, "Agee"),
        ("/credit/score", {"applicants": [{"Records": "maybe"}]}, 400, "Records"),
        ("/credit/score", {"applicants": [{}] * 10_001}, 400, "applicants"),
        ("/credit/score", {"applicants": [{}], "extra": 1}, 400, "extra"),
        ("/credit/score", '{"applicants": [{"Age": 1e999}]}', 400, "Age"),
        ("/credit/score", '{"applicants": [{"Age": -Infinity}]}', 400, "Age"),
        # outside what the champion saw in training (its stored schema's range)
        ("/credit/score", {"applicants": [{"Age": -5}]}, 400, "Age"),
        ("/credit/score", '{"applicants": [', 400, None),
        ("/var/forecast", {"series": "ftse100"}, 400, "series"),
        ("/var/forecast", {"levels": [1.0]}, 400, "levels"),
        ("/var/forecast", {"returns": [1.0, -150.0]}, 400, "returns"),
        ("/var/forecast", {"returns": [1.0], "series": "sp500"}, 400, "returns"),
        ("/volatility/forecast", {"horizon": 0}, 400, "horizon"),
        ("/volatility/forecast", {"horizon": "ten"}, 400, "horizon"),
        ("/anomaly/score", {}, 400, None),
        ("/anomaly/score", {"rows": [{"ret": 1.0}]}, 400, "abs_ret"),
        ("/anomaly/score", {"prices": [{"date": "2020-01-02", "close": 1}] * 3}, 400, "prices"),
        ("/anomaly/score", {"prices": _bars("0001-01-01", 80)}, 400, "date"),
        ("/anomaly/score", {"prices": _bars("9999-09-01", 80)}, 400, "date"),
        ("/anomaly/score", {"prices": _bars("2262-04-01", 80)}, 400, "date"),
    ],
)
def test_bad_input_gets_a_field_level_4xx(live_service, route, body, status, field) -> None:
    with live_service.client() as client:
        if isinstance(body, str):
            headers = {"content-type": "application/json"}
            response = client.post(route, content=body, headers=headers)
        else:
            response = client.post(route, json=body)
    assert response.status_code == status, response.text
    payload = response.json()
    if field is not None:
        located = {str(part) for err in payload["detail"] for part in err["loc"]}
        assert field in located, payload


def test_nan_literals_and_foreign_media_types_are_refused(live_service) -> None:
    with live_service.client() as client:
        nan = client.post(
            "/credit/score", content=NAN_BODY, headers={"content-type": "application/json"}
        )
        form = client.post(
            "/credit/score",
            content=b"applicants=1",
            headers={"content-type": "multipart/form-data"},
        )
    assert nan.status_code == 400
    assert any(e["loc"][-1] == "Age" and e["type"] == "finite_number" for e in nan.json()["detail"])
    assert form.status_code == 415


def test_a_history_the_model_cannot_use_is_422(live_service) -> None:
    # A flat history has no tail: VaR would be zero, which the model's output schema refuses
    with live_service.client() as client:
        response = client.post("/var/forecast", json={"returns": [0.0] * 50})
    assert response.status_code == 422, response.text
    assert response.json()["violations"]


def test_schemathesis_finds_no_server_error(live_service) -> None:
    # Given the live OpenAPI description, When Schemathesis fuzzes every operation
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{live_service.url}/docs.json",
        "--checks",
        "not_a_server_error",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "40",
        "--seed",
        "20240501",
        "--generation-database",
        "none",
        "--request-timeout",
        "60",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    # Then no response is a 5xx
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout


# ------------------------------------------------------------------------------- hot swap
def test_a_new_champion_is_served_without_restart_or_failed_request(
    live_service, in_home, retrain_credit
) -> None:
    from riskops.families.base import TrainOptions

    applicant = _applicants(1, seed=3)
    outcomes: list[tuple[float, int, int | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with live_service.client() as client:
            while not stop.is_set():
                try:
                    r = client.post("/credit/score", json={"applicants": applicant})
                    version = r.json()["model"]["version"] if r.status_code == 200 else None
                    outcomes.append((time.monotonic(), r.status_code, version))
                except httpx.HTTPError:
                    outcomes.append((time.monotonic(), -1, None))

    with live_service.client() as client:
        before = client.post("/credit/score", json={"applicants": applicant}).json()
    old_version = before["model"]["version"]
    client_thread = threading.Thread(target=hammer, daemon=True)
    client_thread.start()
    try:
        # When a new version is trained and promoted while requests keep coming
        with in_home() as settings:
            new_version = retrain_credit(settings, TrainOptions(model="logistic"))
        promoted_at = time.monotonic()
        deadline = promoted_at + 30
        while time.monotonic() < deadline and not any(v == new_version for _, _, v in outcomes):
            time.sleep(0.1)
        time.sleep(1.0)  # keep hammering the new version for a moment
    finally:
        stop.set()
        client_thread.join(timeout=30)

    # Then no request failed, and the service switched within a few seconds, for good
    assert new_version > old_version
    assert outcomes
    statuses = {status for _, status, _ in outcomes}
    assert statuses == {200}, statuses
    versions = [v for _, _, v in outcomes]
    assert new_version in versions, f"v{new_version} never served: {set(versions)}"
    first_new = versions.index(new_version)
    assert set(versions[:first_new]) <= {old_version}
    assert set(versions[first_new:]) == {new_version}
    switched_after = outcomes[first_new][0] - promoted_at
    assert switched_after < 10, switched_after
    # and the new version's answer is the new model's
    model = _load(in_home, "credit_pd", new_version)
    with live_service.client() as client:
        after = client.post("/credit/score", json={"applicants": applicant}).json()
    assert after["results"][0]["pd"] == pytest.approx(model.score_records(applicant)[0]["pd"])


# ------------------------------------------------------------------------------- auth, 503
def test_api_key_is_required_except_for_probes_and_metrics(empty_service) -> None:
    with empty_service.client() as client:
        assert client.get("/models").status_code == 401
        assert client.get("/models", headers={"x-api-key": "wrong"}).status_code == 401
        assert client.post("/credit/score", json={"applicants": [{}]}).status_code == 401
        assert client.get("/models", headers={"x-api-key": API_KEY}).status_code == 200
        bearer = client.get("/models", headers={"Authorization": f"Bearer {API_KEY}"})
        assert bearer.status_code == 200
        for open_path in ("/livez", "/metrics", "/docs.json"):
            assert client.get(open_path).status_code == 200, open_path
        # an empty home is not ready, and the probe says so without a key
        assert client.get("/readyz").status_code == 503


def test_a_model_without_champion_answers_503_with_a_clear_message(empty_service) -> None:
    with empty_service.client(headers={"x-api-key": API_KEY}) as client:
        response = client.post("/var/forecast", json={"series": "sp500"})
        models = client.get("/models").json()["models"]
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "ModelUnavailable"
    assert "riskops promote market_var" in body["message"]
    assert response.headers["retry-after"]
    assert {m["status"] for m in models} == {"unavailable"}


# ------------------------------------------------------------------------------- logs, metrics
def test_every_credit_answer_is_a_recorded_decision_with_its_inputs(live_service, in_home) -> None:
    """The decision store holds each answer before it is sent: read right after the 200,
    without waiting for any flush."""
    import orjson

    from riskops.credit.decisions import DECISIONS
    from riskops.evidence.store import EvidenceStore

    applicants = _applicants(20, seed=11)
    applicants[0] = {"id": "APP-20261207-0001", **applicants[0]}
    with live_service.client() as client:
        response = client.post("/credit/score", json={"applicants": applicants})
    assert response.status_code == 200
    body = response.json()
    version = body["model"]["version"]
    request_id = response.headers["x-request-id"]
    model = _load(in_home, "credit_pd", version)
    features = list(model.input_schema_)
    with in_home() as settings:
        recorded = EvidenceStore(settings).frame(
            DECISIONS, "credit_pd", where={"request_id": request_id}
        )
    ids = [r["id"] for r in body["results"]]
    assert ids[0] == "APP-20261207-0001" and ids[1:] == [f"{request_id}-{n}" for n in range(1, 20)]
    assert recorded["id"].tolist() == ids
    assert (recorded["model_version"] == version).all() and (recorded["role"] == "champion").all()
    assert recorded["pd"].tolist() == [r["pd"] for r in body["results"]]
    assert recorded["grade"].tolist() == [r["grade"] for r in body["results"]]
    reasons = [orjson.loads(text) for text in recorded["reasons"]]
    assert reasons == [[x["feature"] for x in r["reasons"]] for r in body["results"]]
    inputs = [orjson.loads(text) for text in recorded["inputs"]]
    assert all(list(row) == features for row in inputs)
    ages = [a.get("Age") for a in applicants]
    assert [row["Age"] for row in inputs] == pytest.approx(
        [None if a is None else float(a) for a in ages]
    )
    # and the same id again is refused: one decision per application
    with live_service.client() as client:
        again = client.post("/credit/score", json={"applicants": applicants[:1]})
    assert again.status_code == 409
    assert again.json()["ids"] == ["APP-20261207-0001"]


def test_metrics_expose_per_model_series(live_service) -> None:
    with live_service.client() as client:
        client.post("/credit/score", json={"applicants": _applicants(2)})
        client.post("/credit/score", json={"applicants": [{"Age": "x"}]})
        text = client.get("/metrics").text
    assert 'riskops_requests_total{model="credit_pd"' in text
    assert 'status="400"' in text
    assert 'status="200"' in text
    assert "riskops_inference_seconds_bucket" in text
    assert "riskops_credit_pd_bucket" in text
    rows = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('riskops_rows_total{model="credit_pd"')
    ]
    assert rows and sum(rows) >= 2  # the two applicants of the valid request at least
    assert 'riskops_champion_version{model="credit_pd"}' in text
    # BentoML 1.4's traffic metrics, under its default namespace for new-style services
    # (api_server.metrics.namespace: bentoml_service, configuration/v2/default_configuration.yaml)
    assert "bentoml_service_request_total{" in text
