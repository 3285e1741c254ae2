"""Every credit decision kept and identifiable, and the outcomes joined back to it.

Two kinds of live evidence (:mod:`riskops.evidence.store`: append-only, one hash chain per
stream, idempotent by key), one stream per registered model (``credit_pd``, ``card_pd``...):

``credit_decisions`` -- one row per scored applicant, by the service (``POST /credit/score``)
or offline (``riskops score``):

===============  ===========================================================================
column           content
===============  ===========================================================================
``key``          the row's idempotency key: the applicant's ``id`` for the champion's
                 decision; ``{id}#{role}-v{version}`` for any other role (a shadow's answer
                 to the same applicant, :func:`decision_key`)
``id``           the lender's application id (sent with the applicant), or one generated
                 for it (``{request_id}-{n}``) and returned
``decided_at``   when it was scored (ISO 8601, UTC, microseconds; :func:`riskops.clock.now`)
``model_version`` the registered version that answered
``run_id``       that version's identity (its training run)
``role``         ``champion`` (the answer sent) or ``shadow`` (a challenger scoring the same
                 request off the hot path, issue 30)
``request_id``   the HTTP request (``x-request-id``), or the offline run
``caller``       who asked (the authenticated service account, ``anonymous`` on an open
                 local service, the principal of ``riskops score``)
``pd``           the probability of default returned
``grade``        the rating grade returned
``reasons``      the reason codes returned: their features, as a JSON list, in order
``input_hash``   SHA-256 of the input row as scored (:func:`canonical_inputs`)
``inputs``       that row itself (JSON), unless the policy says not to keep it
                 (``rules: decisions: {store_inputs: false}``); then ``null``
===============  ===========================================================================

The champion's decision of an id is unique per model: an id already decided is refused
(``409`` over HTTP, exit 2 offline), so that an outcome joins to exactly one decision.

``credit_outcomes`` -- one row per matured loan (``riskops outcomes``), keyed by ``id``:
``default`` (0/1), ``observed_at`` (ISO 8601 UTC: the default's date, or when no default
was observed), ``recorded_at``, ``source`` (file name and SHA-256) and ``source_line``.
Outcomes are never replaced; :mod:`riskops.credit.outcome_ingestion` decides what may be
written and reports every problem by row.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from riskops.errors import BadInputError
from riskops.evidence.store import EvidenceKind

if TYPE_CHECKING:
    import pandas as pd

    from riskops.evidence.store import EvidenceStore
    from riskops.settings import Settings

__all__ = [
    "DECISIONS",
    "OUTCOMES",
    "ROLES",
    "canonical_inputs",
    "decision_key",
    "decision_rows",
    "inputs_allowed",
    "read_decisions",
    "read_outcomes",
    "served_inputs",
    "stamp",
    "valid_id",
    "with_role",
]

ROLES = ("champion", "shadow")

DECISIONS = EvidenceKind(
    "credit_decisions",
    (
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(200), nullable=False),
        sa.Column("pd", sa.Float, nullable=False),
        sa.Column("grade", sa.String(40), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text, nullable=True),
    ),
)
"""The decisions of one model per stream (see the module docstring)."""

OUTCOMES = EvidenceKind(
    "credit_outcomes",
    (
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("default", sa.Integer, nullable=False),
        sa.Column("observed_at", sa.String(40), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("source_line", sa.Integer, nullable=True),
    ),
)
"""Matured outcomes of one model's decisions per stream, keyed by the application id."""

_ID = re.compile(r"[!\"$-~]{1,128}")
ID_RULE = "1 to 128 printable ASCII characters, without spaces or '#'"


def valid_id(value: Any, where: str) -> str:
    """An application id as stored: text (an integer is taken as its digits) matching
    :data:`ID_RULE`; else :class:`~riskops.errors.BadInputError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadInputError(f"{where}: {value!r} is not an id ({ID_RULE})")
    text = str(value)
    if not _ID.fullmatch(text):
        raise BadInputError(f"{where}: {text[:40]!r} is not an id ({ID_RULE})")
    return text


def decision_key(id_: str, role: str = "champion", version: int | None = None) -> str:
    """The row key of a decision: the id for the champion's answer (one per id and model),
    ``{id}#{role}-v{version}`` for another role's answer to the same applicant."""
    if role == "champion":
        return id_
    if role not in ROLES:
        raise BadInputError(f"role: {role!r} is not one of {list(ROLES)}")
    return f"{id_}#{role}-v{version}"


def with_role(rows: Sequence[Mapping[str, Any]], role: str) -> list[dict[str, Any]]:
    """``rows`` (a version's decisions, as :func:`decision_rows` or the route built them) as
    the answers of another ``role``: the role and the key changed (:func:`decision_key`),
    everything else kept, so that a shadow version's answers to a request sit beside the
    champion's in the model's stream, joined to the same outcomes by ``id``."""
    return [
        {**row, "role": role, "key": decision_key(row["id"], role, int(row["model_version"]))}
        for row in rows
    ]


def stamp(moment: datetime) -> str:
    """A decision time as stored: ISO 8601 in UTC, to the microsecond."""
    return moment.isoformat(timespec="microseconds")


def canonical_inputs(record: Mapping[str, Any], features: Sequence[str]) -> bytes:
    """The input row as scored, as canonical JSON: the model's features in schema order,
    numbers as floats, a missing value (absent, ``None``, ``NaN``) as ``null``. The same
    applicant gives the same bytes over HTTP and from a file."""
    row: dict[str, Any] = {}
    for feature in features:
        value = record.get(feature)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            row[feature] = None
        elif isinstance(value, bool | str):
            row[feature] = value
        elif isinstance(value, int | float):
            row[feature] = float(value)
        elif hasattr(value, "item"):  # a numpy scalar from a DataFrame
            item = value.item()
            row[feature] = None if isinstance(item, float) and math.isnan(item) else item
        else:
            row[feature] = str(value)
    return orjson.dumps(row)


def decision_rows(
    *,
    ids: Sequence[str],
    records: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    features: Sequence[str],
    version: int,
    run_id: str,
    request_id: str,
    decided_at: str,
    caller: str = "unknown",
    role: str = "champion",
    store_inputs: bool = True,
) -> list[dict[str, Any]]:
    """One ``credit_decisions`` row per scored applicant (``results`` as
    ``score_records`` gives them: ``pd``, ``grade``, ``reasons``)."""
    rows = []
    for id_, record, result in zip(ids, records, results, strict=True):
        inputs = canonical_inputs(record, features)
        rows.append(
            {
                "key": decision_key(id_, role, version),
                "id": id_,
                "decided_at": decided_at,
                "model_version": version,
                "run_id": run_id,
                "role": role,
                "request_id": request_id,
                "caller": caller,
                "pd": result["pd"],
                "grade": result["grade"],
                "reasons": orjson.dumps([r["feature"] for r in result["reasons"]]).decode(),
                "input_hash": hashlib.sha256(inputs).hexdigest(),
                "inputs": inputs.decode() if store_inputs else None,
            }
        )
    return rows


@functools.lru_cache(maxsize=64)
def _inputs_allowed(policy_file: str, name: str) -> bool:
    from pathlib import Path

    from riskops.credit.rules import credit_rules
    from riskops.policy import load_policies

    policy = load_policies(Path(policy_file)).for_model(name, "credit")
    return credit_rules(policy).decisions.store_inputs


def inputs_allowed(settings: Settings, name: str) -> bool:
    """Whether the policy of ``name`` lets its decisions keep the input row (read once per
    process and model)."""
    return _inputs_allowed(str(settings.policy_file), name)


def read_decisions(
    store: EvidenceStore,
    name: str,
    role: str = "champion",
    version: int | None = None,
    *,
    through_seq: int | None = None,
    inputs: bool = False,
) -> pd.DataFrame:
    """The decisions of ``name`` in the frame :func:`riskops.credit.outcomes.evaluate_outcomes`
    reads (``id, decided_at, model_name, model_version, pd, grade``) plus ``seq``,
    ``run_id``, ``input_hash`` (and ``inputs`` when asked); those of ``role`` (and
    ``version``) only, up to ``through_seq`` when given."""
    where: dict[str, Any] = {"role": role}
    if version is not None:
        where["model_version"] = int(version)
    columns = ["id", "decided_at", "model_version", "run_id", "pd", "grade", "input_hash"]
    frame = store.frame(
        DECISIONS,
        name,
        [*columns, "inputs"] if inputs else columns,
        where=where,
        through_seq=through_seq,
    )
    frame.insert(3, "model_name", name)
    return frame.drop(columns="key")


def read_outcomes(
    store: EvidenceStore, name: str, *, through_seq: int | None = None
) -> pd.DataFrame:
    """The recorded outcomes of ``name``'s decisions: ``id, default, observed_at`` (and
    ``seq``, ``recorded_at``, ``source``), up to ``through_seq`` when given."""
    frame = store.frame(
        OUTCOMES,
        name,
        ["id", "default", "observed_at", "recorded_at", "source"],
        through_seq=through_seq,
    )
    return frame.drop(columns="key")


def served_inputs(store: EvidenceStore, name: str, last: int) -> pd.DataFrame:
    """The input rows of the champion's ``last`` decisions of ``name`` that kept them, one
    column per feature (what input-drift monitoring compares with the training data);
    empty when none did."""
    import pandas as pd

    frame = store.frame(DECISIONS, name, ["inputs"], where={"role": "champion"}, last=last)
    kept = frame["inputs"].dropna()
    if kept.empty:
        return pd.DataFrame()
    return pd.DataFrame.from_records([orjson.loads(text) for text in kept])
