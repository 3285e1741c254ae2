"""Turn pandera's failure cases into errors that name column, rule and values."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa

from riskops.errors import DataValidationError, Violation

if TYPE_CHECKING:
    from riskops.data.files import InputLimits


def validate_frame(
    schema: pa.DataFrameSchema | type[pa.DataFrameModel],
    frame: pd.DataFrame,
    dataset: str,
    user_names: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Validate lazily so that every failing column is reported at once.

    ``user_names`` maps the schema's canonical column names back to the names in the
    user's file, so that errors speak the user's language.
    """
    try:
        with warnings.catch_warnings():
            # pandera's failure-case formatting trips a pandas FutureWarning; not ours to fix.
            warnings.simplefilter("ignore", FutureWarning)
            return schema.validate(frame, lazy=True)
    except pa_errors.SchemaErrors as exc:
        violations = violations_from(exc.failure_cases)
        if user_names:
            violations = [replace(v, column=user_names.get(v.column, v.column)) for v in violations]
        raise DataValidationError(dataset, violations) from None


def violations_from(failure_cases: pd.DataFrame) -> list[Violation]:
    cases = failure_cases.copy()
    # A missing column is reported by pandera with the column's name as the failure case.
    missing = cases["check"].isin(["column_in_dataframe", "column_in_schema"])
    cases.loc[missing, "column"] = cases.loc[missing, "failure_case"]
    cases["column"] = cases["column"].fillna(cases["schema_context"]).astype(str)
    cases["check"] = cases["check"].astype(str)
    # A value that cannot be coerced also fails every range check after it; those
    # follow-on TypeErrors say nothing new, so only the type error is kept.
    mistyped = set(cases.loc[cases["check"].str.startswith(("coerce_dtype", "dtype")), "column"])
    follow_on = cases["column"].isin(mistyped) & cases["failure_case"].astype(str).str.contains(
        "TypeError"
    )
    cases = cases[~follow_on]
    violations: list[Violation] = []
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        values = (
            ()
            if check in ("column_in_dataframe", "column_in_schema")
            else tuple(group["failure_case"].drop_duplicates().head(5))
        )
        violation = Violation(column=str(column), rule=_rule_text(str(check)), values=values)
        if all((v.column, v.rule) != (violation.column, violation.rule) for v in violations):
            violations.append(violation)
    return violations


_COMPARISONS = {
    "greater_than_or_equal_to": ">=",
    "greater_than": ">",
    "less_than_or_equal_to": "<=",
    "less_than": "<",
    "equal_to": "==",
    "not_equal_to": "!=",
}


def _rule_text(check: str) -> str:
    if check == "column_in_dataframe":
        return "required column is missing"
    if check == "column_in_schema":
        return "column is not declared in the schema"
    if check.startswith(("coerce_dtype", "dtype")):
        return f"wrong type: cannot be read as {check.split('(', 1)[-1].rstrip(')')}"
    if check == "not_nullable":
        return "missing values are not allowed"
    if check.startswith("field_uniqueness") or check == "unique":
        return "values must be unique"
    name, _, argument = check.partition("(")
    if name in _COMPARISONS:
        return f"out of range: must be {_COMPARISONS[name]} {argument.rstrip(')')}"
    if name == "isin":
        return f"not an allowed value: must be one of {argument.rstrip(')')}"
    if name == "in_range":
        return f"out of range: must be in [{argument.rstrip(')')}]"
    return check


def read_table(
    path: str | Path, dataset: str | None = None, limits: InputLimits | None = None
) -> pd.DataFrame:
    """Read a user's CSV or Parquet file within ``limits`` (default: the settings' caps,
    ``RISKOPS_INPUT_MAX_*``); a missing, unreadable, non-regular or oversized file is bad
    input, refused before it is read (see :mod:`riskops.data.files`)."""
    from riskops.data.files import InputLimits, read_limited

    name = dataset or str(path)
    try:
        return read_limited(path, name, limits or InputLimits.from_settings())
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataValidationError(name, [Violation("--data", f"unreadable file: {exc}")]) from None


def require_columns(frame: pd.DataFrame, columns: Sequence[tuple[str, str]], dataset: str) -> None:
    """``columns`` pairs each column the user mapped with the flag that named it."""
    missing = [
        Violation(col, f"column named by {flag} is missing", tuple(frame.columns[:8]))
        for col, flag in columns
        if col not in frame.columns
    ]
    if missing:
        raise DataValidationError(dataset, missing)
