"""Shared SHAP artifacts and reason codes (riskops.explain), independent of any model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from riskops.explain import reason_codes, write_shap_artifacts


def test_reason_codes_by_hand() -> None:
    # Given two rows of contributions over four features
    contributions = np.array([[0.5, -1.0, 2.0, 0.1], [-0.2, -0.3, -0.1, 0.0]])
    X = pd.DataFrame(
        {"a": [1.0, np.nan], "b": ["x, y", "z"], "c": [3, 4], "d": [None, "w"]},
    )
    # When the top two adverse factors are asked for
    codes = reason_codes(contributions, X, list(X.columns), k=2)
    # Then row 0 lists c (2.0) then a (0.5); row 1 has no adverse factor at all
    assert codes[0] == [
        {"feature": "c", "value": 3, "contribution": 2.0},
        {"feature": "a", "value": 1.0, "contribution": 0.5},
    ]
    assert codes[1] == []


@settings(max_examples=60, deadline=None)
@given(
    contributions=arrays(
        float,
        st.tuples(st.integers(1, 6), st.integers(1, 12)),
        elements=st.floats(-5, 5, allow_nan=False),
    ),
    k=st.integers(0, 14),
)
def test_reason_codes_are_the_k_largest_positive_contributions(
    contributions: np.ndarray, k: int
) -> None:
    # Given any contributions and any k
    names = [f"f{j}" for j in range(contributions.shape[1])]
    X = np.arange(contributions.size, dtype=float).reshape(contributions.shape)
    # When
    codes = reason_codes(contributions, X, names, k=k)
    # Then each row holds the largest positive contributions, descending, at most k
    for row, values, reasons in zip(contributions, X, codes, strict=True):
        want = sorted((c for c in row if c > 0), reverse=True)[:k]
        assert [r["contribution"] for r in reasons] == want
        for r in reasons:
            j = names.index(r["feature"])
            assert row[j] == r["contribution"]
            assert values[j] == r["value"]


def test_shap_artifacts_are_written(tmp_path: Path) -> None:
    # Given seeded contributions for numeric and awkward categorical features
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "income": rng.normal(size=300),
            "home (type)": rng.choice(["own, outright", "rent/lease", None], size=300),
            "age": rng.integers(18, 80, size=300),
        }
    )
    contributions = rng.normal(size=X.shape) * np.array([0.1, 1.0, 0.5])
    # When the artifacts are written, rows sampled down to 200
    written = write_shap_artifacts(
        contributions, -1.2, X, tmp_path, top_dependence=2, sample_rows=(0, 5), max_rows=200
    )
    # Then every promised file exists and is non-empty
    expected = {
        "shap_importance_bar.png",
        "shap_beeswarm.png",
        "shap_dependence_home_type.png",
        "shap_dependence_age.png",
        "shap_waterfall_0.png",
        "shap_waterfall_5.png",
        "shap_force_0.html",
        "shap_force_5.html",
        "shap_values.parquet",
        "shap_global_importance.json",
    }
    assert {p.name for p in written.values()} == expected
    assert all((tmp_path / name).stat().st_size > 0 for name in expected)
    # And the values file has one column per feature plus the base value
    values = pd.read_parquet(tmp_path / "shap_values.parquet")
    assert list(values.columns) == [*X.columns, "base_value"]
    assert len(values) == 200
    assert (values["base_value"] == -1.2).all()
    # And importances are mean |SHAP| of the written rows, largest first
    importance = json.loads((tmp_path / "shap_global_importance.json").read_text())
    assert list(importance) == ["home (type)", "age", "income"]
    assert importance["age"] == pytest.approx(values["age"].abs().mean())
    # And the force plot is self-contained HTML
    assert "<html" in (tmp_path / "shap_force_0.html").read_text().lower()
