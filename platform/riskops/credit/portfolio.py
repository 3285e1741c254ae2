"""A portfolio scored offline: ``riskops score credit_pd --data applicants.csv --id-col ID``.

The champion the audit trail names (loaded through the verified loader) scores every row,
with the service's own validation of an applicant (:func:`riskops.credit.serving.
applicant_validator`: kinds, categories, training ranges) and its reason codes, and every
decision is recorded in the decision store (:mod:`riskops.credit.decisions`) in one
transaction before the scored file is published: a file with a bad row, a repeated id or
an id the model already decided records nothing (exit 2, naming the rows).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskops.errors import (
    BadInputError,
    DataValidationError,
    NotFoundError,
    RiskOpsError,
    Violation,
)

if TYPE_CHECKING:
    from riskops.lifecycle import Lifecycle

__all__ = ["ScoredPortfolio", "score_portfolio"]

CHUNK = 2_000
"""Applicants scored at once (memory stays flat on a large file)."""


@dataclass(frozen=True)
class ScoredPortfolio:
    """What was scored and recorded."""

    name: str
    version: int
    run_id: str
    request_id: str
    scored: pd.DataFrame
    """``id, decided_at, model_name, model_version, pd, grade, reason_1..k, input_hash``."""
    written: int
    seal: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        grades = self.scored["grade"].value_counts().to_dict()
        return {
            "model": {"name": self.name, "version": self.version, "run_id": self.run_id},
            "request_id": self.request_id,
            "rows": len(self.scored),
            "written": self.written,
            "mean_pd": float(self.scored["pd"].mean()) if len(self.scored) else None,
            "grades": {str(k): int(v) for k, v in sorted(grades.items())},
            "seal": self.seal,
        }


def _ids(
    frame: pd.DataFrame, id_col: str | None, request_id: str
) -> tuple[list[str], list[Violation]]:
    """The applicants' ids (the column's, else generated), every bad one named by line."""
    from riskops.credit.decisions import ID_RULE, valid_id
    from riskops.credit.outcome_ingestion import _as_text

    if id_col is None:
        return [f"{request_id}-{n}" for n in range(len(frame))], []
    if id_col not in frame.columns:
        raise BadInputError(f"--id-col: {id_col!r} is not a column of the data")
    texts = _as_text(frame[id_col].reset_index(drop=True)).tolist()
    bad, ids = [], []
    for n, text in enumerate(texts):
        try:
            ids.append(valid_id(text, id_col) if text is not None else "")
        except BadInputError:
            ids.append("")
        if not ids[-1]:
            bad.append(n)
    violations = []
    if bad:
        violations.append(
            Violation(
                id_col,
                f"not an id ({ID_RULE}): lines {_lines(bad)}",
                tuple(texts[n] for n in bad[:5]),
            )
        )
    repeated = pd.Series(ids).duplicated(keep="first").to_numpy() & (np.asarray(ids) != "")
    if repeated.any():
        rows = np.flatnonzero(repeated).tolist()
        violations.append(
            Violation(
                id_col,
                f"repeated ids, one decision per id: lines {_lines(rows)}",
                tuple(ids[n] for n in rows[:5]),
            )
        )
    return ids, violations


def _lines(rows: list[int], shown: int = 20) -> str:
    text = ", ".join(str(r + 2) for r in rows[:shown])
    return text + (f" and {len(rows) - shown} more" if len(rows) > shown else "")


def _records(
    frame: pd.DataFrame, features: list[str], validator: Any
) -> tuple[list[dict[str, Any]], list[Violation]]:
    """The rows as the service would receive them, validated alike (every bad cell named)."""
    from pydantic import ValidationError

    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise BadInputError(f"--data: the champion needs the column(s) {missing}")
    part = frame[features]
    records = part.astype(object).where(part.notna(), None).to_dict("records")
    try:
        return list(validator.validate_python(records)), []
    except ValidationError as exc:
        found: dict[str, list[int]] = {}
        for error in exc.errors(include_url=False):
            loc = error["loc"]
            column = str(loc[1]) if len(loc) > 1 else "row"
            found.setdefault(f"{column}: {error['msg']}", []).append(int(loc[0]))
        return [], [
            Violation(rule.split(":", 1)[0], f"{rule.split(': ', 1)[1]}: lines {_lines(rows)}")
            for rule, rows in found.items()
        ]


def score_portfolio(
    life: Lifecycle,
    name: str,
    frame: pd.DataFrame,
    *,
    id_col: str | None = None,
    reasons: int = 4,
    out: Path | None = None,
) -> ScoredPortfolio:
    """Score ``frame`` with ``name``'s audited champion and record every decision.

    ``out`` (Parquet) is written only after the decisions are committed: a file that exists
    is a file of recorded decisions.
    """
    from riskops.clock import now
    from riskops.credit.decisions import DECISIONS, decision_rows, inputs_allowed, stamp
    from riskops.credit.serving import applicant_validator
    from riskops.evidence.store import EvidenceStore
    from riskops.names import model_name

    name = model_name(name)
    life.require("score", "record the decisions of a portfolio scored offline")
    state = life.loader.state(name)
    if state.champion is None:
        raise NotFoundError(f"model: the audit trail names no champion of {name}")
    version = state.champion
    estimator = life.loader.load(name, version, state).estimator
    if not hasattr(estimator, "score_records") or not hasattr(estimator, "input_schema_"):
        raise BadInputError(f"{name} v{version} is not a credit PD model that scores applicants")
    run_id = state.versions[version].identity.run_id
    request_id = f"batch-{uuid.uuid4().hex}"
    ids, wrong_ids = _ids(frame, id_col, request_id)
    features = list(estimator.input_schema_)
    validator, _ = applicant_validator(estimator.input_schema_)
    records, wrong_rows = _records(frame, features, validator)
    if wrong_ids or wrong_rows:
        raise DataValidationError("applicants", [*wrong_ids, *wrong_rows])
    results: list[dict[str, Any]] = []
    for start in range(0, len(records), CHUNK):
        results += estimator.score_records(records[start : start + CHUNK], k=reasons)
    pds = np.array([r["pd"] for r in results], dtype=float)
    if len(pds) and not np.all(np.isfinite(pds) & (pds >= 0.0) & (pds <= 1.0)):
        raise RiskOpsError(f"{name} v{version} produced PDs outside [0, 1]; nothing recorded")
    decided_at = stamp(now(life.settings))
    rows = decision_rows(
        ids=ids,
        records=records,
        results=results,
        features=features,
        version=version,
        run_id=run_id,
        request_id=request_id,
        decided_at=decided_at,
        caller=life.principal.name,
        store_inputs=inputs_allowed(life.settings, name),
    )
    scored = pd.DataFrame(
        {
            "id": ids,
            "decided_at": decided_at,
            "model_name": name,
            "model_version": version,
            "pd": pds,
            "grade": [r["grade"] for r in results],
            **{
                f"reason_{k + 1}": [
                    r["reasons"][k]["feature"] if len(r["reasons"]) > k else None for r in results
                ]
                for k in range(reasons)
            },
            "input_hash": [row["input_hash"] for row in rows],
        }
    )
    staged = None
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.with_name(f".{out.name}.{request_id}.tmp")
        scored.to_parquet(staged, index=False)
    store = EvidenceStore(life.settings)
    try:
        appended = store.append(DECISIONS, name, rows)
    except BaseException:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    if staged is not None and out is not None:
        staged.replace(out)
    return ScoredPortfolio(
        name, version, run_id, request_id, scored, appended.written, store.seal(DECISIONS, name)
    )
