"""Validation derived from a champion's schema, without a server."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from riskops.anomaly.serving import AnomalyRequest
from riskops.credit.serving import applicant_validator
from riskops.serving.payloads import feature_row_validator, validation_detail
from riskops.var.serving import VaRRequest
from riskops.volatility.serving import VolatilityRequest

# The layout of FeatureEncoder.input_schema_ for a credit model (riskops.credit.encoding).
SCHEMA: dict[str, dict[str, Any]] = {
    "Age": {"kind": "numeric", "nullable": False},
    "Income": {"kind": "numeric", "nullable": True},
    "Home": {"kind": "categorical", "categories": ["owner", "rent"], "nullable": True},
    "Records": {"kind": "categorical", "categories": ["no", "yes"], "nullable": False},
}
validator, row_schema = applicant_validator(SCHEMA)


def _errors(applicants: list[Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        validator.validate_python(applicants)
    return [(tuple(e["loc"]), e["type"]) for e in validation_detail(caught.value, ("applicants",))]


finite = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**12), 10**12)


@settings(max_examples=60, deadline=None)
@given(
    age=finite,
    income=st.none() | finite,
    home=st.sampled_from(["owner", "rent", None, "absent"]),
    records=st.sampled_from(["no", "yes"]),
)
def test_any_applicant_within_the_schema_is_accepted_as_sent(age, income, home, records) -> None:
    applicant = {"Age": age, "Income": income, "Records": records}
    if home != "absent":
        applicant["Home"] = home
    [valid] = validator.validate_python([applicant])
    assert valid["Age"] == float(age)
    assert valid.get("Home") == (None if home == "absent" else home)
    assert set(valid) == set(applicant)


@pytest.mark.parametrize(
    ("applicant", "loc", "kind"),
    [
        ({"Records": "no"}, ("applicants", 0, "Age"), "missing"),
        ({"Age": None, "Records": "no"}, ("applicants", 0, "Age"), "float_type"),
        ({"Age": "30", "Records": "no"}, ("applicants", 0, "Age"), "float_type"),
        ({"Age": True, "Records": "no"}, ("applicants", 0, "Age"), "float_type"),
        ({"Age": math.nan, "Records": "no"}, ("applicants", 0, "Age"), "finite_number"),
        ({"Age": -math.inf, "Records": "no"}, ("applicants", 0, "Age"), "finite_number"),
        ({"Age": 30, "Records": "maybe"}, ("applicants", 0, "Records"), "literal_error"),
        ({"Age": 3, "Records": "no", "Home": "castle"}, ("applicants", 0, "Home"), "literal_error"),
        ({"Age": 30, "Records": "no", "Agee": 31}, ("applicants", 0, "Agee"), "extra_forbidden"),
    ],
)
def test_each_broken_rule_is_reported_on_its_field(applicant, loc, kind) -> None:
    assert (loc, kind) in _errors([applicant])


def test_the_published_row_schema_matches_the_rules() -> None:
    assert row_schema["additionalProperties"] is False
    assert set(row_schema["required"]) == {"Age", "Records"}
    assert row_schema["properties"]["Records"]["enum"] == ["no", "yes"]


def test_anomaly_rows_need_exactly_the_detectors_features() -> None:
    rows, schema = feature_row_validator(["ret", "abs_ret"])
    assert rows.validate_python([{"ret": -1.5, "abs_ret": 1.5}]) == [{"ret": -1.5, "abs_ret": 1.5}]
    with pytest.raises(ValidationError) as caught:
        rows.validate_python([{"ret": 1.0, "vol": 2.0}])
    kinds = {(tuple(e["loc"]), e["type"]) for e in caught.value.errors()}
    assert kinds == {((0, "abs_ret"), "missing"), ((0, "vol"), "extra_forbidden")}
    assert schema["required"] == ["ret", "abs_ret"]


@pytest.mark.parametrize(
    "body",
    [
        {"returns": [1.0, -100.0]},  # a return of -100% is a total loss, not a return series
        {"returns": [1.0, 1000.5]},
        {"levels": [0.4]},
        {"levels": [1.0]},
        {"returns": [1.0, 2.0], "series": "sp500"},
        {"asset": "sp500"},
        {"series": "ftse"},
        {"unknown": 1},
    ],
)
def test_var_requests_outside_their_domain_are_refused(body) -> None:
    with pytest.raises(ValidationError):
        VaRRequest.model_validate(body)


def test_anomaly_requests_take_one_source_and_ordered_prices() -> None:
    bar = {"date": "2020-01-02", "close": 100.0}
    with pytest.raises(ValidationError, match="exactly one"):
        AnomalyRequest.model_validate({"series": "sp500", "rows": [{"ret": 1.0}]})
    with pytest.raises(ValidationError, match="strictly increasing"):
        AnomalyRequest.model_validate({"prices": [bar, bar]})
    with pytest.raises(ValidationError, match="greater than 0"):
        AnomalyRequest.model_validate({"prices": [bar, {"date": "2020-01-03", "close": 0.0}]})
    ok = AnomalyRequest.model_validate(
        {"prices": [bar, {"date": "2020-01-03", "close": 101.0, "volume": 0}]}
    )
    assert ok.prices is not None
    assert len(ok.prices) == 2


def test_openapi_bounds_are_inclusive_so_that_openapi_3_0_can_express_them() -> None:
    # BentoML publishes OpenAPI 3.0.2, where exclusiveMinimum is a boolean
    for model in (VaRRequest, VolatilityRequest, AnomalyRequest):
        text = str(model.model_json_schema())
        assert "exclusiveMinimum" not in text
        assert "exclusiveMaximum" not in text


def test_applicants_outside_what_the_model_saw_are_refused_on_their_field() -> None:
    # Given a credit model's schema with the ranges seen in training (ages 18 to 68)
    from riskops.credit.encoding import FeatureEncoder

    frame = pd.DataFrame({"Age": [18.0, 40.0, 68.0], "Records": ["no", "yes", "no"]})
    schema = FeatureEncoder().fit(frame).input_schema_
    assert (schema["Age"]["min"], schema["Age"]["max"]) == (18.0, 68.0)
    ranged, published = applicant_validator(schema)
    # When an applicant of age -5 or 500 arrives, it is refused naming Age
    for age, kind in ((-5, "greater_than_equal"), (500, "less_than_equal")):
        with pytest.raises(ValidationError) as caught:
            ranged.validate_python([{"Age": age, "Records": "no"}])
        detail = validation_detail(caught.value, ("applicants",))
        assert [(tuple(e["loc"]), e["type"]) for e in detail] == [(("applicants", 0, "Age"), kind)]
    # And a new applicant just outside the training range is scored
    assert ranged.validate_python([{"Age": 75, "Records": "no"}])[0]["Age"] == 75.0
    # And /models publishes the bounds: 0 (training had no negative age) to 68 + 68
    assert published["properties"]["Age"]["minimum"] == 0.0
    assert published["properties"]["Age"]["maximum"] == 136.0
