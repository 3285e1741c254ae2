"""Credit champions judged on matured outcomes: the use cases over the decision store.

* :func:`record_outcomes` -- a lender's matured outcomes joined to the recorded decisions by
  id (:func:`riskops.credit.outcome_ingestion.ingest_outcomes`): every problem reported by
  row and nothing written unless nothing blocks; what is written is one transaction, then an
  audited ``outcomes_recorded`` record sealing the outcome stream.
* :func:`run_outcome_tests` -- the supervisors' validation tests per model version and per
  grade on the matured decisions (:func:`riskops.credit.outcomes.evaluate_outcomes`) against
  each version's own initial validation (:func:`initial_validation`), and the policy's
  alarms (:func:`riskops.credit.outcome_alarms.evaluate_alarms`); each run is an audited
  ``outcome_tests`` record holding the results, the alarms and the seals of the decision
  and outcome streams it read (:meth:`riskops.evidence.store.EvidenceStore.seal`).
* champion against a challenger on the applicants both scored once their outcomes matured
  (DeLong's paired test, promotion evidence) is :mod:`riskops.credit.shadow`'s
  (:func:`~riskops.credit.shadow.shadow_pairs`, :func:`~riskops.credit.shadow.
  paired_outcome_test`): one way to do it.
* :func:`matured_training_rows` -- the matured decisions with their outcome, as training rows
  (their stored inputs), for ``riskops retrain --include-outcomes``.

Each use case takes the :class:`~riskops.lifecycle.Lifecycle` it acts in (its settings,
policies, audit trail, verified loader and acting principal) and checks the permission it
needs first (``outcomes``: record outcomes and run the tests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from riskops.credit.decisions import DECISIONS, OUTCOMES, read_decisions, read_outcomes, stamp
from riskops.credit.outcome_alarms import AlarmReport, evaluate_alarms
from riskops.credit.outcome_ingestion import IngestionResult, ingest_outcomes
from riskops.credit.outcome_policy import OutcomePolicy
from riskops.credit.outcomes import (
    InitialValidation,
    OutcomeResult,
    evaluate_outcomes,
    matured_labels,
)
from riskops.errors import BadInputError

if TYPE_CHECKING:
    from riskops.evidence.store import Appended, EvidenceStore
    from riskops.ledger.state import ModelState
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

__all__ = [
    "OUTCOMES_RECORDED",
    "OUTCOME_TESTS",
    "OutcomeTests",
    "RecordedOutcomes",
    "initial_validation",
    "latest_outcome_tests",
    "matured_training_rows",
    "outcome_policy",
    "record_outcomes",
    "run_outcome_tests",
]

OUTCOME_TESTS = "outcome_tests"
"""The audit action of one run of the validation tests on matured outcomes."""
OUTCOMES_RECORDED = "outcomes_recorded"
"""The audit action of one ingestion of outcomes."""
EVIDENCE_FILE = "gate_evidence.json"


def outcome_policy(life: Lifecycle, name: str) -> OutcomePolicy:
    """The ``rules: outcomes:`` of ``name``'s policy (the defaults when absent)."""
    from riskops.credit.rules import credit_rules

    policy = life.policies.for_model(name, "credit")
    return credit_rules(policy).outcomes or OutcomePolicy()


def _store(life: Lifecycle) -> EvidenceStore:
    from riskops.evidence.store import EvidenceStore

    return EvidenceStore(life.settings)


def _now(settings: Settings) -> pd.Timestamp:
    from riskops.clock import now

    return pd.Timestamp(now(settings))


# ----------------------------------------------------------------------- ingestion
@dataclass(frozen=True)
class RecordedOutcomes:
    """What one ingestion did: the join's verdict, the rows written, the audit record."""

    name: str
    source: str
    ingestion: IngestionResult
    written: int
    audit_seq: int | None
    seal: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "source": self.source,
            "written": self.written,
            "audit_seq": self.audit_seq,
            "seal": self.seal,
            **self.ingestion.to_dict(),
        }


def file_source(path: Any) -> str:
    """``name sha256:...`` of a file: what an outcome row says it came from."""
    from pathlib import Path

    data = Path(path).read_bytes()
    return f"{Path(path).name} sha256:{hashlib.sha256(data).hexdigest()}"


def record_outcomes(
    life: Lifecycle,
    name: str,
    outcomes: pd.DataFrame,
    *,
    id_col: str = "id",
    target_col: str = "default",
    positive_label: Any = 1,
    observed_at_col: str | None = None,
    source: str = "python",
) -> RecordedOutcomes:
    """Join ``outcomes`` to ``name``'s decisions and record them, all or nothing.

    Raises
    ------
    DataValidationError
        Unknown ids, duplicate or conflicting outcomes, bad targets or dates: every
        blocking problem named by its line, and nothing written (exit 2).
    """
    from riskops.names import model_name

    name = model_name(name)
    life.require("outcomes", "record matured credit outcomes")
    life.trail.check_writable()
    policy = outcome_policy(life, name)
    store = _store(life)
    as_of = _now(life.settings)
    result = ingest_outcomes(
        outcomes,
        read_decisions(store, name),
        read_outcomes(store, name),
        id_col=id_col,
        target_col=target_col,
        positive_label=positive_label,
        observed_at_col=observed_at_col,
        as_of=as_of,
        horizon_months=policy.default_horizon_months,
    )
    result.raise_if_blocked()
    rows = _outcome_rows(result.to_write, stamp(as_of.to_pydatetime()), source)
    written: Appended | None = store.append(OUTCOMES, name, rows) if rows else None
    seal = store.seal(OUTCOMES, name)
    record = life.trail.append(
        OUTCOMES_RECORDED,
        name,
        None,
        source=source,
        rows=result.n_rows,
        written=written.written if written else 0,
        problems_by_kind=result.counts(),
        horizon_months=policy.default_horizon_months,
        seals=[seal],
    )
    return RecordedOutcomes(
        name, source, result, written.written if written else 0, record.seq, seal
    )


def _outcome_rows(to_write: pd.DataFrame, recorded_at: str, source: str) -> list[dict[str, Any]]:
    observed = to_write["observed_at"].dt.tz_convert("UTC")
    return [
        {
            "key": id_,
            "id": id_,
            "default": int(default),
            "observed_at": stamp(moment.to_pydatetime()),
            "recorded_at": recorded_at,
            "source": source[:300],
            "source_line": int(row) + 2,
        }
        for id_, default, moment, row in zip(
            to_write["id"], to_write["default"], observed, to_write["row"], strict=True
        )
    ]


# ----------------------------------------------------------------------- the tests
def initial_validation(
    life: Lifecycle, name: str, version: int, state: ModelState | None = None
) -> InitialValidation | None:
    """What ``version`` was validated on before it went live, from its own registered
    evidence (read through the verified loader): the held-out AUC, and the held-out grade
    counts as the development (PSI) and initial (Herfindahl) distributions. ``None`` for a
    version the trail does not know or whose evidence holds neither."""
    state = state or life.loader.state(name)
    if version not in state.versions:
        return None
    evidence = life.loader.read_json(name, version, EVIDENCE_FILE, state) or {}
    auc = (evidence.get("metrics") or {}).get("auc")
    grades = (evidence.get("evidence") or {}).get("grades") or []
    counts = {str(g["grade"]): int(g["n"]) for g in grades if "grade" in g and "n" in g}
    if auc is None and not counts:
        return None
    return InitialValidation(
        auc=None if auc is None else float(auc),
        development_grade_counts=counts or None,
        initial_grade_counts=counts or None,
    )


@dataclass(frozen=True)
class OutcomeTests:
    """One audited run of the validation tests: per version, the results and the alarms."""

    name: str
    as_of: str
    seals: tuple[dict[str, Any], ...]
    results: tuple[OutcomeResult, ...]
    alarms: tuple[AlarmReport, ...]
    audit_seq: int | None = None
    references: dict[str, Any] = field(default_factory=dict)

    @property
    def fired(self) -> bool:
        return any(report.fired for report in self.alarms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "as_of": self.as_of,
            "seals": list(self.seals),
            "fired": self.fired,
            "audit_seq": self.audit_seq,
            "versions": [
                {**result.to_dict(), "alarms": report.to_dict()}
                for result, report in zip(self.results, self.alarms, strict=True)
            ],
        }

    def event_payload(self, family: str) -> dict[str, Any]:
        """What the ``riskops.performance.degraded`` event carries: the model to refit (its
        own stored specification and data source, plus its matured outcomes), the family,
        the audit record of this run and the alarms that fired."""
        from riskops.families.alarms import performance_payload

        alarms = [
            {"version": r.model_version, **check.to_dict()}
            for r in self.alarms
            for check in r.alarms
        ]
        return performance_payload(
            model=self.name,
            family=family,
            monitor=OUTCOME_TESTS,
            audit_seq=self.audit_seq,
            models=[self.name],
            include_outcomes=True,
            as_of=self.as_of,
            alarms=alarms,
        )


def run_outcome_tests(life: Lifecycle, name: str, *, as_of: Any = None) -> OutcomeTests:
    """The validation tests on ``name``'s matured decisions, per version, audited.

    ``as_of`` (default: now) decides which decisions have matured and which outcomes were
    known; the streams are sealed first and read up to their seals, so the audit record
    names exactly the evidence the results come from.
    """
    from riskops.names import model_name

    name = model_name(name)
    life.require("outcomes", "run the validation tests on matured outcomes")
    life.trail.check_writable()
    policy = outcome_policy(life, name)
    when = _now(life.settings) if as_of is None else pd.Timestamp(as_of)
    store = _store(life)
    seals = (store.seal(DECISIONS, name), store.seal(OUTCOMES, name))
    decisions = read_decisions(store, name, through_seq=seals[0]["seq"])
    outcomes = read_outcomes(store, name, through_seq=seals[1]["seq"])
    state = life.loader.state(name)
    references = {}
    for version in sorted({int(v) for v in decisions["model_version"].unique()}):
        reference = initial_validation(life, name, version, state)
        if reference is not None:
            references[(name, str(version))] = reference
    results = evaluate_outcomes(
        decisions[["id", "decided_at", "model_name", "model_version", "pd", "grade"]],
        outcomes[["id", "default", "observed_at"]],
        as_of=when,
        policy=policy,
        references=references,
    )
    alarms = tuple(evaluate_alarms(result, policy.alarms) for result in results)
    tests = OutcomeTests(
        name,
        when.isoformat(),
        seals,
        results,
        alarms,
        references={
            version: {"auc": ref.auc, "grade_counts": dict(ref.development_grade_counts or {})}
            for (_, version), ref in references.items()
        },
    )
    body = tests.to_dict()
    record = life.trail.append(
        OUTCOME_TESTS,
        name,
        None,
        as_of=body["as_of"],
        seals=body["seals"],
        fired=body["fired"],
        horizon_months=policy.default_horizon_months,
        references=tests.references,
        versions=body["versions"],
    )
    return OutcomeTests(name, tests.as_of, seals, results, alarms, record.seq, tests.references)


def latest_outcome_tests(records: Iterable[Any]) -> dict[str, Any] | None:
    """The newest ``outcome_tests`` audit record among ``records`` (a model's), as
    ``{"seq", "ts", "actor", **body}``; ``None`` when the tests never ran."""
    newest = None
    for record in records:
        if record.action == OUTCOME_TESTS and (newest is None or record.seq > newest.seq):
            newest = record
    if newest is None:
        return None
    return {"seq": newest.seq, "ts": newest.ts, "actor": newest.actor, **newest.body}


# ------------------------------------------------------------------ champion vs shadow
# ------------------------------------------------------------------ retraining
def matured_training_rows(
    settings: Settings,
    name: str,
    dataset: Any,
    policy: OutcomePolicy,
    *,
    as_of: Any = None,
) -> tuple[Any, dict[str, Any]]:
    """``dataset`` with ``name``'s matured decisions added as labelled training rows.

    The rows are the champion's decisions' stored inputs, labelled by their outcome under
    the default definition (:func:`riskops.credit.outcomes.matured_labels`): the target
    column gets the dataset's positive label for a default and its other label otherwise; a
    date column gets the decision time, an id column the application id. Returns the
    combined dataset and its lineage: what was added (rows, defaults, the added frame's
    content hash), the dataset's hash before, and the seals of the streams read.

    Raises
    ------
    BadInputError
        Nothing matured to add, the decisions kept no inputs (the policy's
        ``store_inputs: false``), or the dataset has protected columns the stored inputs
        lack.
    """
    import orjson

    from riskops.data.hashing import content_hash
    from riskops.evidence.store import EvidenceStore

    store = EvidenceStore(settings)
    when = _now(settings) if as_of is None else pd.Timestamp(as_of)
    protected = list(getattr(dataset, "protected", ()) or ())
    if protected:
        raise BadInputError(
            f"--include-outcomes: the decisions of {name} do not hold the protected columns "
            f"{protected} the training data has"
        )
    seals = (store.seal(DECISIONS, name), store.seal(OUTCOMES, name))
    decisions = read_decisions(store, name, through_seq=seals[0]["seq"], inputs=True)
    outcomes = read_outcomes(store, name, through_seq=seals[1]["seq"])
    labels = matured_labels(
        decisions, outcomes, as_of=when, horizon_months=policy.default_horizon_months
    )
    if labels.empty:
        raise BadInputError(
            f"--include-outcomes: {name} has no matured decision with a recorded outcome "
            f"as of {when.date()} (horizon {policy.default_horizon_months} months)"
        )
    chosen = decisions.set_index("id").loc[labels["id"]]
    kept = chosen["inputs"].notna().to_numpy()
    if not kept.any():
        raise BadInputError(
            f"--include-outcomes: the decisions of {name} keep no input rows (its policy's "
            "rules: decisions: store_inputs is false); there is nothing to train on"
        )
    inputs = pd.DataFrame.from_records([orjson.loads(t) for t in chosen["inputs"][kept]])
    y = labels["default"].to_numpy()[kept]
    frame = dataset.frame
    target = dataset.target
    negatives = frame[target].astype(str)
    negatives = negatives[negatives != str(dataset.positive_label)]
    if negatives.empty:
        raise BadInputError(f"{target}: the training data has no non-default label")
    negative = negatives.value_counts().index[0]
    added = pd.DataFrame(index=range(len(inputs)))
    for column in frame.columns:
        if column == target:
            values: Any = [dataset.positive_label if v else negative for v in y]
        elif column == dataset.date_col:
            decided = pd.to_datetime(chosen["decided_at"][kept].to_numpy(), utc=True)
            values = decided.tz_convert(None) if frame[column].dt.tz is None else decided
        elif column == getattr(dataset, "id_col", None):
            values = chosen.index.to_numpy()[kept]
        elif column in inputs.columns:
            values = inputs[column].to_numpy()
        else:
            values = None
        added[column] = values
    features_missing = sorted(c for c in dataset.features if c not in inputs.columns)
    combined = pd.concat([frame, added], ignore_index=True)
    lineage = {
        "rows_added": len(added),
        "defaults_added": int(y.sum()),
        "decisions_without_inputs": int((~kept).sum()),
        "added_content_hash": content_hash(added),
        "dataset_before": getattr(dataset, "content_hash", None),
        "as_of": when.isoformat(),
        "horizon_months": policy.default_horizon_months,
        "decision_versions": sorted(int(v) for v in chosen["model_version"][kept].unique()),
        "features_missing": features_missing,
        "seals": list(seals),
    }
    grown = dataset.with_frame(combined, name=f"{dataset.name}+{len(added)} matured outcomes")
    return grown, lineage


class OutcomeMonitor:
    """The credit family's live monitor (:meth:`riskops.credit.family.CreditFamily.monitors`):
    :func:`run_outcome_tests` as of now."""

    name = OUTCOME_TESTS

    def run(self, life: Lifecycle, name: str) -> OutcomeTests:
        return run_outcome_tests(life, name)

    def status(
        self, store: EvidenceStore, name: str, version: int, records: Iterable[Any]
    ) -> dict[str, Any] | None:
        """The decisions recorded for the model and the newest audited run of the tests."""
        decisions = store.head(DECISIONS, name)[0]
        outcomes = store.head(OUTCOMES, name)[0]
        latest = latest_outcome_tests(records)
        if not decisions and latest is None:
            return None
        if latest is None:
            line = f"{decisions:,} decisions, {outcomes:,} outcomes; not tested yet"
        else:
            verdict = "ALARM" if latest.get("fired") else "tests pass"
            line = f"{verdict} as of {str(latest.get('as_of', ''))[:10]} ({outcomes:,} outcomes)"
        return {
            "status": line,
            "decisions": decisions,
            "outcomes": outcomes,
            "tested_as_of": None if latest is None else latest.get("as_of"),
            "fired": None if latest is None else bool(latest.get("fired")),
            "audit_seq": None if latest is None else latest["seq"],
        }


OUTCOME_MONITOR = OutcomeMonitor()
