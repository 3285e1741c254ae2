"""Compiled path-dependent Tree SHAP: SHAP's values, LightGBM's ``pred_contrib``,
Shapley's definition, additivity.

References: Lundberg et al. (2020), *Nature Machine Intelligence* 2, 56-67 (path-dependent
Tree SHAP, the conditional expectation of Algorithm 1); Liu, Ting and Zhou (2008) for the
isolation forest's path length ``h(x) = depth + c(n)``; LightGBM's ``Tree::TreeSHAP`` and
``Tree::Decision`` (``src/io/tree.cpp``, ``include/LightGBM/tree.h``) for its splits.
"""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pandas as pd
import pytest
import shap
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import IsolationForest

from riskops.anomaly.models import IsolationForestDetector
from riskops.credit.models import LightGBMPD
from riskops.treeshap import PathDependentTreeShap


def _data(seed: int, n_features: int, rows: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, n_features))
    X[:, 0] = np.round(X[:, 0])  # ties: rows that sit exactly on a threshold's side
    return X


def _rows_to_explain(forest: IsolationForest, X: np.ndarray, seed: int) -> np.ndarray:
    """Training rows, wild rows, and rows exactly on thresholds (the ``<=`` direction)."""
    rng = np.random.default_rng(seed + 1)
    on_threshold = X[:20].copy()
    tree = forest.estimators_[0].tree_
    features = forest.estimators_features_[0]
    for i, node in enumerate(np.flatnonzero(tree.children_left >= 0)[:20]):
        on_threshold[i, features[tree.feature[node]]] = tree.threshold[node]
    wild = rng.normal(scale=4.0, size=(20, X.shape[1]))
    return np.vstack([X[:40], on_threshold, wild])


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_features=st.integers(2, 7),
    n_estimators=st.integers(1, 12),
    max_samples=st.sampled_from([16, 64, 256]),
    max_features=st.sampled_from([1.0, 0.6]),
)
def test_values_are_shaps_own_for_any_isolation_forest(
    seed: int, n_features: int, n_estimators: int, max_samples: int, max_features: float
) -> None:
    # Given a seeded isolation forest (some with a feature subset per tree, and with few
    # features every deep path splits a feature more than once)
    # (SHAP itself cannot parse trees that see a single feature: those are left out)
    assume(max_features == 1.0 or n_features >= 4)
    X = _data(seed, n_features)
    forest = IsolationForest(
        n_estimators=n_estimators,
        max_samples=max_samples,
        max_features=max_features,
        random_state=seed,
    ).fit(X)
    rows = _rows_to_explain(forest, X, seed)
    # When both explain the same rows
    explainer = shap.TreeExplainer(forest)
    ours = PathDependentTreeShap.from_model(forest)
    # Then the values and the base value are SHAP's, to rounding
    np.testing.assert_allclose(ours.shap_values(rows), explainer.shap_values(rows), atol=1e-9)
    assert ours.expected_value == pytest.approx(float(explainer.expected_value), abs=1e-12)


def test_repeated_features_on_a_path_are_handled_as_one_player() -> None:
    # Given a forest on two features: paths of depth 8 split each feature several times
    X = _data(7, 2, rows=500)
    forest = IsolationForest(n_estimators=20, random_state=7).fit(X)
    tree = forest.estimators_[0].tree_
    assert tree.max_depth > 2  # so some path repeats a feature
    rows = _rows_to_explain(forest, X, 7)
    # When explained by both
    ours = PathDependentTreeShap.from_model(forest).shap_values(rows)
    # Then they agree
    np.testing.assert_allclose(ours, shap.TreeExplainer(forest).shap_values(rows), atol=1e-9)


def test_missing_values_follow_the_default_child_like_shap() -> None:
    # Given rows with missing values (SHAP sends them to each node's default child)
    X = _data(3, 4)
    forest = IsolationForest(n_estimators=15, random_state=3).fit(X)
    rows = X[:30].copy()
    rows[::3, 1] = np.nan
    rows[::4, 2] = np.nan
    # When explained by both
    ours = PathDependentTreeShap.from_model(forest).shap_values(rows)
    # Then they agree
    np.testing.assert_allclose(ours, shap.TreeExplainer(forest).shap_values(rows), atol=1e-9)


def _conditional_expectation(tree, x: np.ndarray, known: set[int], node: int = 0) -> float:
    """E[f(x) | x_S] under the tree's cover (Lundberg et al. 2020, Algorithm 1)."""
    if tree.children_left[node] < 0:
        return float(tree.values[node, 0])
    feature = int(tree.features[node])
    left, right = int(tree.children_left[node]), int(tree.children_right[node])
    if feature in known:
        nxt = left if x[feature] <= tree.thresholds[node] else right
        return _conditional_expectation(tree, x, known, nxt)
    cover = tree.node_sample_weight
    return (
        cover[left] * _conditional_expectation(tree, x, known, left)
        + cover[right] * _conditional_expectation(tree, x, known, right)
    ) / cover[node]


def test_values_are_shapley_values_of_the_path_dependent_game() -> None:
    # Given a small forest on four features and the Shapley formula written out
    X = _data(11, 4, rows=200)
    forest = IsolationForest(n_estimators=3, max_samples=64, random_state=11).fit(X)
    trees = shap.TreeExplainer(forest).model.trees
    rows = X[:5] * 1.5
    M = X.shape[1]
    expected = np.zeros(rows.shape)
    for r, x in enumerate(rows):
        for m in range(M):
            others = [j for j in range(M) if j != m]
            for size in range(M):
                weight = math.factorial(size) * math.factorial(M - size - 1) / math.factorial(M)
                for S in itertools.combinations(others, size):
                    with_m = sum(_conditional_expectation(t, x, {*S, m}) for t in trees)
                    without = sum(_conditional_expectation(t, x, set(S)) for t in trees)
                    gain = with_m - without
                    expected[r, m] += weight * gain
    # When our compiled version explains the rows
    ours = PathDependentTreeShap.from_model(forest).shap_values(rows)
    # Then it gives those Shapley values
    np.testing.assert_allclose(ours, expected, atol=1e-10)


def test_values_add_up_to_the_forests_expected_path_length() -> None:
    # Given an isolation forest (Liu et al. 2008: -score = 2 ** (-E[h(x)] / c(psi)))
    X = _data(5, 5, rows=1000)
    forest = IsolationForest(n_estimators=50, random_state=5).fit(X)
    psi = forest.max_samples_
    c = 2 * (np.log(psi - 1) + 0.5772156649) - 2 * (psi - 1) / psi
    rows = np.random.default_rng(6).normal(scale=2.0, size=(300, 5))
    # When the rows are explained, in several threads
    explainer = PathDependentTreeShap.from_model(forest)
    phi = explainer.shap_values(rows, n_threads=3)
    # Then base + sum of values is the expected path length the forest scores with
    path_length = -np.log2(-forest.score_samples(rows)) * c
    np.testing.assert_allclose(phi.sum(axis=1) + explainer.expected_value, path_length, rtol=1e-4)
    # And threads change nothing
    np.testing.assert_allclose(phi, explainer.shap_values(rows, n_threads=1), atol=1e-12)


def test_detector_explanations_are_shaps_and_the_cache_stays_out_of_pickles() -> None:
    # Given a fitted detector
    X = _data(9, 5, rows=400)
    detector = IsolationForestDetector(n_estimators=40, random_state=9).fit(X)
    # When it explains rows
    contributions, base = detector.shap_values(X[:50])
    explainer = shap.TreeExplainer(detector.forest_)
    # Then its contributions are minus SHAP's values, its base minus SHAP's expected value
    np.testing.assert_allclose(contributions, -explainer.shap_values(X[:50]), atol=1e-9)
    assert base == pytest.approx(-float(explainer.expected_value), abs=1e-12)
    # And the compiled explainer is cached but not pickled
    assert isinstance(detector._tree_explainer[1], PathDependentTreeShap)
    assert "_tree_explainer" not in pickle.loads(pickle.dumps(detector)).__dict__


def test_a_row_of_the_wrong_width_is_refused() -> None:
    # Given an explainer of a three-feature forest
    X = _data(1, 3)
    explainer = PathDependentTreeShap.from_model(IsolationForest(n_estimators=2).fit(X))
    # When given two columns, then it says what it expected
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        explainer.shap_values(X[:, :2])


def test_compiled_kernels_are_cached_under_riskops_home(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Given a fresh process whose RISKOPS_HOME is empty and no NUMBA_CACHE_DIR
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["RISKOPS_HOME"] = str(home)
    script = (
        "import numpy as np\n"
        "from sklearn.ensemble import IsolationForest\n"
        "from riskops.treeshap import PathDependentTreeShap\n"
        "X = np.random.default_rng(0).normal(size=(200, 3))\n"
        "forest = IsolationForest(n_estimators=3, random_state=0).fit(X)\n"
        "print(PathDependentTreeShap.from_model(forest).shap_values(X[:5]).shape)\n"
    )
    # When it explains rows with the compiled kernels
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    # Then numba's machine-code cache was written under the home, like all RiskOps state
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(5, 3)"
    cached = list((home / "cache" / "numba").rglob("*.nbi"))
    assert len(cached) == 2, cached


def _booster(seed: int, missing: str, rows: int = 400) -> tuple[object, np.ndarray]:
    """A seeded LightGBM booster with numerical splits (missing values per ``missing``), a
    categorical feature of 70 categories (two 64-bit words of categories) and one of 4."""
    import lightgbm as lgb

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5))
    X[:, 3] = rng.integers(0, 70, size=rows)
    X[:, 4] = rng.integers(0, 4, size=rows)
    X[rng.random(rows) < 0.15, 0] = np.nan
    X[rng.random(rows) < 0.15, 1] = 0.0
    logit = X[:, 1] - np.nan_to_num(X[:, 0]) + (X[:, 3] % 7 == 0) + 0.5 * X[:, 4]
    y = (logit + rng.logistic(size=rows) > 0).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": 8,
        "min_data_in_leaf": 5,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": 2,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "use_missing": missing != "off",
        "zero_as_missing": missing == "zero",
        "seed": seed,
        "deterministic": True,
        "verbose": -1,
    }
    data = lgb.Dataset(X, label=y, categorical_feature=[3, 4], params={"verbose": -1})
    return lgb.train(params, data, num_boost_round=25), X


def _lightgbm_rows(X: np.ndarray, seed: int) -> np.ndarray:
    """Training rows, missing values everywhere, zeros, unseen and negative categories,
    fractional and huge category codes, and rows far outside the training range."""
    rng = np.random.default_rng(seed + 1)
    odd = X[:40].copy()
    odd[:10, :] = np.nan
    odd[10:15, [0, 1, 2]] = 0.0
    odd[15:20, 3] = [70, 200, -1, -0.5, 1e12]
    odd[20:25, 4] = [3.7, 0.2, 64, np.nan, -3]
    odd[25:40] = rng.normal(scale=10.0, size=(15, 5))
    odd[25:40, 3:] = np.abs(np.round(odd[25:40, 3:]))
    return np.vstack([X[:60], odd])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), missing=st.sampled_from(["nan", "zero", "off"]))
def test_values_are_lightgbms_own_pred_contrib(seed: int, missing: str) -> None:
    # Given a seeded LightGBM booster with categorical splits and each missing-value rule
    booster, X = _booster(seed, missing)
    rows = _lightgbm_rows(X, seed)
    # When both explain the same rows
    reference = booster.predict(rows, pred_contrib=True)
    ours = PathDependentTreeShap.from_lightgbm(booster)
    # Then the values and the base value are LightGBM's, to rounding
    np.testing.assert_allclose(ours.shap_values(rows), reference[:, :-1], atol=1e-9)
    assert ours.expected_value == pytest.approx(float(reference[0, -1]), abs=1e-12)
    # And they add up to the raw score
    raw = booster.predict(rows, raw_score=True)
    np.testing.assert_allclose(ours.shap_values(rows).sum(axis=1) + ours.expected_value, raw)


def test_the_credit_model_explains_with_the_compiled_values_and_saves_no_cache() -> None:
    # Given the LightGBM PD model fitted on a small seeded sample with a categorical feature
    rng = np.random.default_rng(4)
    X = pd.DataFrame(
        {
            "income": rng.lognormal(4, 0.5, 600),
            "debt": np.where(rng.random(600) < 0.1, np.nan, rng.gamma(2, 100, 600)),
            "home": rng.choice(["rent", "owner", "parents"], 600),
        }
    )
    y = (rng.random(600) < 0.2 + 0.2 * (X["home"] == "rent")).astype(int)
    model = LightGBMPD(n_estimators=40, cv=2).fit(X, y)
    # When it explains applicants through the compiled explainer and through LightGBM
    Z = model.encoder_.transform(X)
    contributions, base = model._contributions(Z)
    reference = model.booster_.predict(Z, pred_contrib=True)
    # Then both agree, and the PD is the calibrated sum
    assert isinstance(model._tree_shap(), PathDependentTreeShap)
    np.testing.assert_allclose(contributions, reference[:, :-1], atol=1e-9)
    assert base == pytest.approx(float(reference[0, -1]), abs=1e-12)
    explanation = model.explain(X)
    np.testing.assert_allclose(explanation.pd, model.predict_pd(X), rtol=1e-9)
    # And the cache is not part of what is saved
    assert "_tree_shap_cache" not in pickle.loads(pickle.dumps(model)).__dict__
