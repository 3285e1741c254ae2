"""PD models: exact explanations, calibrated PDs, contract, robustness, the fast path."""

from __future__ import annotations

import json
import pickle

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from riskops.credit.models import LightGBMPD, LogisticPD, RandomForestPD
from riskops.errors import BadInputError, DataValidationError

from .synthetic import HOMES, JOBS


def _small(kind: str, **params: object) -> object:
    """Models small enough for 800 rows and a quick test run."""
    if kind == "lightgbm":
        return LightGBMPD(n_estimators=80, learning_rate=0.08, min_child_samples=20, **params)
    if kind == "random_forest":
        return RandomForestPD(n_estimators=25, **params)
    return LogisticPD(**params)


KINDS = ["lightgbm", "random_forest", "logistic"]


@pytest.fixture(scope="module")
def fitted(applicants: tuple[pd.DataFrame, pd.Series]) -> dict[str, object]:
    X, y = applicants
    return {kind: _small(kind).fit(X.iloc[:600], y.iloc[:600]) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_contributions_plus_base_value_equal_the_raw_score(
    kind: str, fitted: dict, applicants: tuple
) -> None:
    # Given a fitted model and held-out applicants
    model, X = fitted[kind], applicants[0].iloc[600:]
    # When they are explained
    pd_, raw, contributions, base_value = model.explain(X)
    # Then Shapley values sum to the raw score the model itself computes
    assert contributions.shape == X.shape
    np.testing.assert_allclose(base_value + contributions.sum(axis=1), raw, atol=1e-9)
    np.testing.assert_allclose(raw, model.decision_function(X), atol=1e-9)
    np.testing.assert_allclose(pd_, model.predict_pd(X), atol=1e-12)
    assert base_value == pytest.approx(model.base_value_)


def test_logistic_contributions_are_centred_on_the_training_data(
    fitted: dict, applicants: tuple
) -> None:
    # Given the logistic model's exact linear contributions coef * (x - mean)
    model, X = fitted["logistic"], applicants[0].iloc[:600]
    # When averaged over its training rows
    contributions = model.explain(X).contributions
    # Then every feature averages zero (the base value is the mean log-odds)
    np.testing.assert_allclose(contributions.mean(axis=0), 0.0, atol=1e-10)


def test_logistic_fast_design_equals_the_fitted_column_transformer(
    fitted: dict, applicants: tuple
) -> None:
    # Given the encoded applicants, including unseen and missing values
    model = fitted["logistic"]
    X = applicants[0].iloc[600:].copy()
    X.loc[X.index[:3], "home"] = ["never seen before", None, "  own, outright  "]
    Z = model.encoder_.transform(X)
    # When / Then: the NumPy fast path is the scikit-learn ColumnTransformer
    np.testing.assert_allclose(model.design_matrix(Z), model.design_.transform(Z), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic", None])
def test_calibrated_pd_lies_in_the_unit_interval(
    kind: str, calibration: str | None, applicants: tuple
) -> None:
    # Given a model with each calibration
    X, y = applicants
    model = _small(kind, calibration=calibration, cv=2).fit(X.iloc[:600], y.iloc[:600])
    # When scoring held-out applicants
    pd_ = model.predict_pd(X.iloc[600:])
    proba = model.predict_proba(X.iloc[600:])
    # Then PDs are probabilities, floored and capped, and the two columns sum to one
    assert np.all((pd_ >= model.pd_floor) & (pd_ <= 1 - model.pd_floor))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], pd_)
    assert set(model.predict(X.iloc[600:])) <= {0, 1}


def test_platt_calibration_keeps_the_ranking_and_matches_the_default_rate(
    fitted: dict, applicants: tuple
) -> None:
    # Given the LightGBM model calibrated by Platt scaling on out-of-fold scores
    model, X, y = fitted["lightgbm"], applicants[0].iloc[600:], applicants[1].iloc[600:]
    pd_, raw = model.predict_pd(X), model.decision_function(X)
    # When / Then: PDs are a strictly increasing function of the raw score
    order = np.argsort(raw)
    assert np.all(np.diff(pd_[order]) >= 0)
    # And the mean PD is close to the held-out default rate
    assert abs(pd_.mean() - y.mean()) < 0.06


@pytest.mark.parametrize("kind", KINDS)
def test_clone_and_pickle_round_trip(kind: str, fitted: dict, applicants: tuple) -> None:
    # Given a fitted model
    model, X = fitted[kind], applicants[0].iloc[600:]
    # When cloned
    fresh = clone(model)
    # Then the clone holds the same hyperparameters and is not fitted
    assert fresh.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict_pd(X)
    # And pickled copies (cloudpickle, as MLflow does) predict and explain the same
    for restored in (
        cloudpickle.loads(cloudpickle.dumps(model)),
        pickle.loads(pickle.dumps(model)),
    ):
        np.testing.assert_array_equal(restored.predict_pd(X), model.predict_pd(X))
        np.testing.assert_allclose(
            restored.explain(X).contributions, model.explain(X).contributions, atol=1e-12
        )


@pytest.mark.parametrize("kind", KINDS)
def test_unseen_category_and_all_missing_row_do_not_crash(kind: str, fitted: dict) -> None:
    # Given an unseen category, an all-missing row, and a numeric given as text
    model = fitted[kind]
    X = pd.DataFrame(
        {
            "age": [40.0, None, "52"],
            "income": [1800.0, None, 2500.0],
            "debt ratio": [0.3, None, 0.1],
            "home": ["houseboat (unseen!)", None, HOMES[0]],
            "job": [JOBS[0], None, "astronaut, part-time"],
        }
    )
    # When scored as a frame and as records (one of them empty)
    pd_ = model.predict_pd(X)
    scored = model.score_records([{"home": "houseboat (unseen!)"}, {}])
    # Then every PD is a probability; an unseen category counts as missing
    assert np.all((pd_ > 0) & (pd_ < 1))
    assert [s["pd"] for s in scored] == pytest.approx(
        model.predict_pd(X.iloc[[1, 1]]).tolist(), abs=1e-12
    )
    missing_home = X.iloc[[0]].assign(home=[None])
    assert model.predict_pd(X.iloc[[0]]) == pytest.approx(model.predict_pd(missing_home))


def test_bad_input_is_reported_by_column(fitted: dict, applicants: tuple) -> None:
    # Given a model and inputs with a missing column or a non-numeric amount
    model, X = fitted["lightgbm"], applicants[0].iloc[600:605]
    # When / Then: the failing column is named
    with pytest.raises(DataValidationError) as missing:
        model.predict_pd(X.drop(columns=["income"]))
    assert missing.value.columns == ["income"]
    with pytest.raises(DataValidationError) as typed:
        model.score_records([{"income": "a lot"}])
    assert typed.value.columns == ["income"]


@pytest.mark.parametrize("kind", KINDS)
def test_score_records_equals_the_dataframe_path(
    kind: str, fitted: dict, applicants: tuple
) -> None:
    # Given held-out applicants as JSON records (missing values become null)
    model, X = fitted[kind], applicants[0].iloc[600:700]
    records = json.loads(json.dumps(X.astype(object).where(X.notna(), None).to_dict("records")))
    # When scored on the fast path and on the DataFrame path
    fast = model.score_records(records, k=3)
    pd_ = model.predict_pd(X)
    # Then PDs, grades and reason codes agree
    np.testing.assert_allclose([r["pd"] for r in fast], pd_, rtol=1e-12, atol=1e-15)
    assert [r["grade"] for r in fast] == model.grade(pd_).tolist()
    slow = model.reason_codes(X, k=3)
    for got, want in zip(fast, slow, strict=True):
        assert [g["feature"] for g in got["reasons"]] == [w["feature"] for w in want]
        np.testing.assert_allclose(
            [g["contribution"] for g in got["reasons"]],
            [w["contribution"] for w in want],
            rtol=1e-12,
            atol=1e-15,
        )
        assert [g["value"] for g in got["reasons"]] == [w["value"] for w in want]


def test_reason_codes_are_the_largest_adverse_contributions(
    fitted: dict, applicants: tuple
) -> None:
    # Given LightGBM explanations
    model, X = fitted["lightgbm"], applicants[0].iloc[600:650]
    contributions = model.explain(X).contributions
    # When reason codes are drawn
    codes = model.reason_codes(X, k=2)
    # Then each row lists its top positive contributions, largest first
    names = list(model.input_schema_)
    for row, reasons in zip(contributions, codes, strict=True):
        positive = sorted((c for c in row if c > 0), reverse=True)[:2]
        assert [r["contribution"] for r in reasons] == pytest.approx(positive)
        for r in reasons:
            assert row[names.index(r["feature"])] == pytest.approx(r["contribution"])


def test_input_schema_describes_kinds_categories_and_missing(
    fitted: dict, applicants: tuple
) -> None:
    # Given a model fitted on numeric and text columns with missing values
    schema = fitted["lightgbm"].input_schema_
    train = applicants[0].iloc[:600]
    # When / Then: kinds, missing values, and the training range of each number
    assert list(schema) == ["age", "income", "debt ratio", "home", "job"]
    age, income = train["age"], train["income"]
    assert schema["age"] == {
        "kind": "numeric",
        "nullable": False,
        "min": age.min(),
        "max": age.max(),
    }
    assert schema["income"] == {
        "kind": "numeric",
        "nullable": True,
        "min": income.min(),
        "max": income.max(),
    }
    assert schema["home"] == {"kind": "categorical", "categories": sorted(HOMES), "nullable": True}
    assert schema["job"]["categories"] == sorted(JOBS)


def test_grades_rise_with_pd_and_score_frame_is_validated(fitted: dict, applicants: tuple) -> None:
    # Given fitted grade edges
    model = fitted["lightgbm"]
    edges = model.grades_
    # Then they run from 0 to 1, strictly increasing, one band per grade
    assert edges[0] == 0.0
    assert edges[-1] == 1.0
    assert np.all(np.diff(edges) > 0)
    assert len(edges) - 1 == len(model.rating_scale_.labels_) <= model.n_grades
    # And the validated output frame holds a PD and a grade per applicant
    frame = model.score_frame(applicants[0].iloc[600:620])
    assert list(frame.columns) == ["pd", "grade"]
    assert frame["grade"].str.match(r"^G\d+$").all()


@settings(max_examples=50, deadline=None)
@given(a=st.floats(0, 1), b=st.floats(0, 1))
def test_a_higher_pd_never_gets_a_better_grade(a: float, b: float) -> None:
    from riskops.credit.calibration import RatingScale

    # Given a rating scale fitted on seeded PDs
    scale = RatingScale(n_grades=8).fit(np.random.default_rng(0).beta(1, 4, 500))
    # When two PDs are graded
    low, high = scale.grade_number(scale.grade(np.array([min(a, b), max(a, b)])))
    # Then the larger PD's grade number is not smaller
    assert low <= high


def test_monotone_constraint_makes_pd_rise_with_the_feature(applicants: tuple) -> None:
    # Given LightGBM constrained to raise the PD with the debt ratio
    X, y = applicants
    model = _small("lightgbm", monotone_constraints={"debt ratio": 1}).fit(X, y)
    # When the debt ratio sweeps 0..1 for a handful of applicants
    grid = np.linspace(0, 1, 25)
    for _, row in X.head(8).iterrows():
        sweep = pd.DataFrame([row] * len(grid)).assign(**{"debt ratio": grid})
        # Then their PD never falls
        assert np.all(np.diff(model.predict_pd(sweep)) >= -1e-12)


def test_monotone_constraint_on_a_category_is_refused(applicants: tuple) -> None:
    # Given a constraint on a categorical feature / When fitted / Then it is refused
    X, y = applicants
    with pytest.raises(BadInputError, match="categorical"):
        _small("lightgbm", monotone_constraints={"home": 1}).fit(X, y)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("columns", [["age", "income"], ["home", "job"]])
def test_only_numeric_or_only_categorical_features(
    kind: str, columns: list[str], applicants: tuple
) -> None:
    # Given applicants with a single kind of feature
    X, y = applicants[0][columns], applicants[1]
    # When fitted and explained
    model = _small(kind, cv=2).fit(X.iloc[:600], y.iloc[:600])
    explanation = model.explain(X.iloc[600:])
    # Then the contributions still add up, and an empty record still scores
    np.testing.assert_allclose(
        explanation.base_value + explanation.contributions.sum(axis=1),
        model.decision_function(X.iloc[600:]),
        atol=1e-9,
    )
    assert 0 < model.score_records([{}])[0]["pd"] < 1
    if kind == "logistic":
        Z = model.encoder_.transform(X.iloc[600:])
        np.testing.assert_allclose(model.design_matrix(Z), model.design_.transform(Z))
