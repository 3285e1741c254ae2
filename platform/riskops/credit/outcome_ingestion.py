"""Outcomes joined to credit decisions: what would be written, and every problem by row.

:func:`ingest_outcomes` is pure: it reads an outcomes frame (a lender's file), the
decisions it refers to and the outcomes already recorded, and returns the rows that
would be written together with every problem found, each naming its row. It never stops
at the first problem and never writes: the caller (CLI, service) writes
:attr:`IngestionResult.to_write` only when :attr:`IngestionResult.ok`, otherwise nothing,
and exits 2 naming the rows (:meth:`IngestionResult.raise_if_blocked`).

Problems (``kind``; blocking ones prevent any write):

=========================  ========  ====================================================
kind                       blocking  meaning
=========================  ========  ====================================================
``missing_id``             yes       the id cell is empty
``invalid_target``         yes       empty target, or a third value besides the positive
                                     label and one negative label
``invalid_observed_at``    yes       empty or unparseable date, or after ``as_of``
``unknown_id``             yes       no decision was ever recorded with this id
``duplicate_in_file``      yes       a later row with the id of an earlier row
``before_decision``        yes       observed before the decision was made
``conflicts_with_recorded`` yes      contradicts the outcome already recorded for the id
``already_recorded``       no        agrees with the recorded outcome: nothing to write
``not_mature``             no        a non-default observed before the end of the default
                                     horizon: not an outcome yet, not written (send it
                                     again once the horizon has passed)
=========================  ========  ====================================================

Under the default definition with a horizon of ``h`` months, an outcome row
``(default, observed_at)`` of a decision made at ``t`` has the label

* 1 (default) if ``default == 1`` and ``observed_at <= t + h``;
* 0 (no default) if ``default == 0`` and ``observed_at >= t + h``, or ``default == 1``
  and ``observed_at > t + h`` (a default after the horizon);
* none yet if ``default == 0`` and ``observed_at < t + h``.

A row conflicts with the recorded outcome of its id when the two labels differ, when it
reports no default at or after a recorded default's date, or when it reports a default
at or before the date of a recorded non-default. Recorded outcomes are never replaced
here; a correction is a separate, audited act.

Row numbers are positions in the outcomes frame (0-based, ``row``) and, for a CSV read
with one header line, the file's line (``line = row + 2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from riskops.credit.outcomes import horizon_end
from riskops.errors import BadInputError, DataValidationError, Violation
from riskops.stats._result import Result

__all__ = [
    "BLOCKING_KINDS",
    "IngestionResult",
    "OutcomeProblem",
    "ingest_outcomes",
]

BLOCKING_KINDS = frozenset(
    {
        "missing_id",
        "invalid_target",
        "invalid_observed_at",
        "unknown_id",
        "duplicate_in_file",
        "before_decision",
        "conflicts_with_recorded",
    }
)

_PROBLEM_COLUMN = {
    "missing_id": "id",
    "unknown_id": "id",
    "duplicate_in_file": "id",
    "invalid_target": "target",
    "invalid_observed_at": "observed_at",
    "before_decision": "observed_at",
    "conflicts_with_recorded": "target",
    "already_recorded": "id",
    "not_mature": "observed_at",
}


@dataclass(frozen=True)
class OutcomeProblem(Result):
    """One problem of one row of the outcomes frame."""

    row: int
    line: int
    id: str | None
    kind: str
    blocking: bool
    detail: str


@dataclass(frozen=True)
class IngestionResult:
    """The rows that would be written and every problem found."""

    to_write: pd.DataFrame
    """``row, id, default, observed_at, decided_at, model_name, model_version`` of the rows
    without any problem (``default`` is the raw 0/1, ``observed_at`` UTC)."""
    problems: tuple[OutcomeProblem, ...]
    n_rows: int

    @property
    def blocking(self) -> tuple[OutcomeProblem, ...]:
        return tuple(p for p in self.problems if p.blocking)

    @property
    def ok(self) -> bool:
        """True when nothing blocks the write."""
        return not self.blocking

    def counts(self) -> dict[str, int]:
        """Problems per kind."""
        out: dict[str, int] = {}
        for problem in self.problems:
            out[problem.kind] = out.get(problem.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.n_rows,
            "to_write": len(self.to_write),
            "problems_by_kind": self.counts(),
            "problems": [p.to_dict() for p in self.problems],
        }

    def raise_if_blocked(self, dataset: str = "outcomes") -> None:
        """Raise :class:`~riskops.errors.DataValidationError` (exit 2) naming the rows of
        each blocking kind; do nothing when :attr:`ok`."""
        if self.ok:
            return
        by_kind: dict[str, list[OutcomeProblem]] = {}
        for problem in self.blocking:
            by_kind.setdefault(problem.kind, []).append(problem)
        violations = [
            Violation(
                column=_PROBLEM_COLUMN[kind],
                rule=f"{kind}: {len(found)} row(s), lines {_lines(found)}",
                values=tuple(p.id for p in found[:5]),
            )
            for kind, found in by_kind.items()
        ]
        raise DataValidationError(dataset, violations)


def _lines(problems: list[OutcomeProblem], shown: int = 20) -> str:
    lines = ", ".join(str(p.line) for p in problems[:shown])
    return lines + (f" and {len(problems) - shown} more" if len(problems) > shown else "")


def _as_text(values: pd.Series) -> pd.Series:
    """Values as stripped ``str`` objects, integral floats without ``.0`` (a CSV column
    with an empty cell is read as floats); missing (or blank) as ``None``. Each distinct
    value is converted once (a target column has two)."""
    missing = values.isna().to_numpy()
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values[~missing]
        if len(finite) and np.all(np.floor(finite) == finite):
            values = values.astype("Int64")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    text = texts[codes]  # code -1 (missing) takes the trailing ""
    text[text == ""] = None
    return pd.Series(text, index=values.index, dtype=object)


def ingest_outcomes(
    outcomes: pd.DataFrame,
    decisions: pd.DataFrame,
    recorded: pd.DataFrame | None = None,
    *,
    id_col: str = "id",
    target_col: str = "default",
    positive_label: Any = 1,
    observed_at_col: str | None = None,
    as_of: Any,
    horizon_months: int,
) -> IngestionResult:
    """Join outcomes to decisions by id; report every problem with its row.

    Parameters
    ----------
    outcomes
        The lender's outcomes, one row per loan.
    decisions
        Recorded decisions: ``id``, ``decided_at`` (and ``model_name``,
        ``model_version`` when present, carried into :attr:`IngestionResult.to_write`).
    recorded
        Outcomes already recorded: ``id``, ``default`` (0/1), ``observed_at``; at most one
        per id.
    id_col, target_col
        Columns of ``outcomes``.
    positive_label
        The target value meaning default (compared as text: ``1``, ``"yes"``...); any one
        other value means no default.
    observed_at_col
        Column with the date the outcome was observed (the default date); without it
        every outcome is taken as observed at ``as_of``.
    as_of
        Now: observations after it are invalid.
    horizon_months
        The default definition's horizon.
    """
    from riskops.credit.outcomes import _utc  # one parser of time stamps for the package

    for column in (id_col, target_col, *([observed_at_col] if observed_at_col else [])):
        if column not in outcomes.columns:
            raise BadInputError(
                f"{column}: not a column of the outcomes ({list(outcomes.columns)})"
            )
    for column in ("id", "decided_at"):
        if column not in decisions.columns:
            raise BadInputError(f"decisions: missing column {column!r}")
    # Time stamps are compared as naive UTC datetime64; to_write gets them back as UTC.
    as_of_ts = _utc(as_of, "as_of").tz_convert(None)
    n = len(outcomes)
    frame = pd.DataFrame({"row": np.arange(n)})
    problems: list[tuple[int, str | None, str, str]] = []

    def flag(mask: np.ndarray, kind: str, detail: Any) -> None:
        for row in np.flatnonzero(mask):
            text = detail(row) if callable(detail) else detail
            problems.append((int(row), ids_text[row], kind, text))

    ids = _as_text(outcomes[id_col].reset_index(drop=True))
    ids_text = ids.to_numpy()
    missing_id = ids.isna().to_numpy()
    flag(missing_id, "missing_id", f"{id_col} is empty")

    # Target: the positive label, and one other value meaning no default (the most
    # frequent one); a row with a third value is flagged, not guessed.
    target = _as_text(outcomes[target_col].reset_index(drop=True))
    positive = str(_as_text(pd.Series([positive_label])).iloc[0])
    is_positive = (target == positive).fillna(False).to_numpy()
    bad_target = target.isna().to_numpy()
    flag(bad_target, "invalid_target", f"{target_col} is empty")
    other_values = target[target.notna() & ~is_positive].astype(str)
    if other_values.nunique() > 1:
        frequency = other_values.value_counts()
        negative = sorted(frequency.index[frequency == frequency.max()])[0]
        third = (target.notna() & ~is_positive & (target != negative)).to_numpy()
        flag(
            third,
            "invalid_target",
            lambda row: (
                f"{target_col}={target.iloc[row]!r} is neither the positive label {positive!r} "
                f"nor the other value {negative!r} (the most frequent)"
            ),
        )
        bad_target = bad_target | third
    default = is_positive.astype(np.int8)

    # Observation time.
    if observed_at_col is None:
        observed = pd.Series(as_of_ts, index=range(n))
        bad_time = np.zeros(n, dtype=bool)
    else:
        raw = outcomes[observed_at_col].reset_index(drop=True)
        observed = _naive_utc(raw, errors="coerce")
        unparsed = observed.isna().to_numpy()
        flag(
            unparsed,
            "invalid_observed_at",
            lambda row: f"{observed_at_col}={raw.iloc[row]!r} is not a date",
        )
        future = (observed > as_of_ts).fillna(False).to_numpy()
        flag(
            future,
            "invalid_observed_at",
            lambda row: (
                f"{observed_at_col}={observed.iloc[row].isoformat()} is after "
                f"{as_of_ts.isoformat()}"
            ),
        )
        bad_time = unparsed | future

    # Join to decisions.
    # Stored ids are clean strings already: no stripping of a million of them.
    decision_ids = pd.Index(decisions["id"].astype(str).to_numpy(dtype=object))
    if not decision_ids.is_unique:
        raise BadInputError("decisions.id: ids must be unique")
    position = np.full(n, -1, dtype=np.int64)
    position[~missing_id] = decision_ids.get_indexer(ids[~missing_id].to_numpy())
    unknown = ~missing_id & (position < 0)
    flag(unknown, "unknown_id", lambda row: f"{id_col}={ids_text[row]!r} was never scored")

    duplicate = ids.duplicated(keep="first").to_numpy() & ~missing_id
    firsts = ~missing_id & ~duplicate
    first_line = pd.Series(np.flatnonzero(firsts) + 2, index=ids[firsts].to_numpy())
    flag(
        duplicate,
        "duplicate_in_file",
        lambda row: f"{id_col}={ids_text[row]!r} also on line {first_line[ids_text[row]]}",
    )

    known = position >= 0
    decided_all = _naive_utc(decisions["decided_at"].reset_index(drop=True), errors="raise")
    decided = pd.Series(
        np.where(known, decided_all.to_numpy()[np.maximum(position, 0)], np.datetime64("NaT")),
        dtype="datetime64[ns]",
    )
    end = horizon_end(decided, horizon_months)
    usable = known & ~bad_target & ~bad_time
    before = usable & (observed < decided).fillna(False).to_numpy()
    flag(
        before,
        "before_decision",
        lambda row: (
            f"observed {observed.iloc[row].isoformat()} before the decision "
            f"({decided.iloc[row].isoformat()})"
        ),
    )
    usable &= ~before

    label = _label(default, observed, end)
    checked = usable.copy()
    if recorded is not None and len(recorded):
        conflict, agree, detail = _against_recorded(
            recorded, ids, default, observed, label, decided, horizon_months, usable
        )
        flag(conflict, "conflicts_with_recorded", lambda row: detail[row])
        flag(agree, "already_recorded", lambda row: detail[row])
        checked &= ~conflict & ~agree
    immature = checked & np.isnan(label)
    flag(
        immature,
        "not_mature",
        lambda row: (
            f"no default observed {observed.iloc[row].date()}, before the end of the "
            f"{horizon_months}-month horizon ({end.iloc[row].date()})"
        ),
    )

    write = np.ones(n, dtype=bool)
    write[[p[0] for p in problems]] = False
    to_write = pd.DataFrame(
        {
            "row": frame["row"][write].to_numpy(),
            "id": ids[write].to_numpy(),
            "default": default[write],
            "observed_at": observed[write].to_numpy(),
            "decided_at": decided[write].to_numpy(),
        }
    )
    for column in ("model_name", "model_version"):
        if column in decisions.columns:
            to_write[column] = decisions[column].reset_index(drop=True).to_numpy()[position[write]]
    to_write["observed_at"] = to_write["observed_at"].dt.tz_localize("UTC")
    to_write["decided_at"] = to_write["decided_at"].dt.tz_localize("UTC")
    ordered = sorted(problems, key=lambda p: (p[0], p[2]))
    return IngestionResult(
        to_write=to_write,
        problems=tuple(
            OutcomeProblem(
                row=row,
                line=row + 2,
                id=id_,
                kind=kind,
                blocking=kind in BLOCKING_KINDS,
                detail=text,
            )
            for row, id_, kind, text in ordered
        ),
        n_rows=n,
    )


def _naive_utc(values: pd.Series, errors: Literal["raise", "coerce"]) -> pd.Series:
    """Date-times as naive UTC ``datetime64[ns]`` (naive input is taken to be UTC)."""
    try:
        parsed = pd.to_datetime(values, errors=errors, utc=True, format="ISO8601")
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"decided_at/observed_at: not date-times ({exc})") from None
    return parsed.dt.tz_convert(None).astype("datetime64[ns]")


def _label(default: np.ndarray, observed: pd.Series, end: pd.Series) -> np.ndarray:
    """1 default within the horizon, 0 none, ``nan`` not yet known (see the module)."""
    obs = observed.to_numpy(dtype="datetime64[ns]")
    stop = end.to_numpy(dtype="datetime64[ns]")
    with np.errstate(invalid="ignore"):
        inside = obs <= stop
        after_end = obs >= stop
    label = np.full(len(default), np.nan)
    label[(default == 1) & inside] = 1.0
    label[(default == 1) & ~inside] = 0.0
    label[(default == 0) & after_end] = 0.0
    return label


def _against_recorded(
    recorded: pd.DataFrame,
    ids: pd.Series,
    default: np.ndarray,
    observed: pd.Series,
    label: np.ndarray,
    decided: pd.Series,
    horizon_months: int,
    usable: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    for column in ("id", "default", "observed_at"):
        if column not in recorded.columns:
            raise BadInputError(f"recorded outcomes: missing column {column!r}")
    rec_ids = pd.Index(recorded["id"].astype(str).to_numpy(dtype=object))
    if not rec_ids.is_unique:
        raise BadInputError("recorded outcomes: at most one outcome per id")
    n = len(ids)
    at = np.full(n, -1, dtype=np.int64)
    at[usable] = rec_ids.get_indexer(ids[usable].to_numpy())
    has = at >= 0
    rec_default = np.zeros(n, dtype=np.int8)
    rec_default[has] = recorded["default"].to_numpy().astype(np.int8)[at[has]]
    rec_all = _naive_utc(recorded["observed_at"].reset_index(drop=True), errors="raise").to_numpy()
    rec_observed = pd.Series(
        np.where(has, rec_all[np.maximum(at, 0)], np.datetime64("NaT")), dtype="datetime64[ns]"
    )
    rec_label = _label(rec_default, rec_observed, horizon_end(decided, horizon_months))
    obs = observed.to_numpy(dtype="datetime64[ns]")
    rec_obs = rec_observed.to_numpy(dtype="datetime64[ns]")
    both = ~np.isnan(label) & ~np.isnan(rec_label)
    with np.errstate(invalid="ignore"):
        differ = both & (label != rec_label)
        no_default_after_default = (rec_default == 1) & (default == 0) & (obs >= rec_obs)
        default_before_no_default = (rec_default == 0) & (default == 1) & (obs <= rec_obs)
    conflict = has & (differ | no_default_after_default | default_before_no_default)
    agree = has & ~conflict
    detail = [""] * n
    for row in np.flatnonzero(has):
        recorded_text = (
            f"recorded {'default' if rec_default[row] else 'no default'} observed "
            f"{pd.Timestamp(rec_obs[row]).date()}"
        )
        new_text = (
            f"{'default' if default[row] else 'no default'} observed "
            f"{pd.Timestamp(obs[row]).date()}"
        )
        detail[row] = (
            f"{new_text} contradicts the {recorded_text}"
            if conflict[row]
            else f"{new_text} agrees with the {recorded_text}"
        )
    return conflict, agree, detail
