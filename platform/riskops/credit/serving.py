"""The credit route, ``POST /credit/score``: PD, rating grade and reason codes per applicant.

Applicants are validated against the served champion's ``input_schema_``
(:func:`applicant_validator`):

* numeric feature -> a finite JSON number (``NaN``/``Infinity``, strings and booleans are
  refused) within a range its model could have seen (:func:`training_bounds`);
  categorical feature -> one of the categories seen in training;
* a feature whose training data had missing values (``nullable``) may be ``null`` or
  absent and is then scored as missing; any other feature is required;
* unknown fields are refused, so that a misspelt feature cannot silently become "missing".

Unseen categories are **refused**, not accepted: the encoder would score an unseen category
exactly like a missing value, which is out of distribution for a feature that never had
missing values in training, and silently so. A caller who wants that behaviour sends
``null`` for a nullable feature; the error message lists the known categories.

A PD outside [0, 1] (or not finite) from any model is never returned: the request is
answered 422 naming the model (the promotion smoke test refuses such a model first).

Every answer is a recorded decision (:mod:`riskops.credit.decisions`). An applicant may
carry its application ``id`` (text, or an integer); one without gets a generated unique id
(``{request_id}-{n}``); each result returns its id. The route's log records are the
``credit_decisions`` rows (:attr:`ROUTE.record <riskops.serving.route.Route.record>`), and
the service sends the answer only once they are committed: an id the model already decided
is answered ``409``, a store that cannot keep up ``503`` -- never a ``200`` without its
record.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from riskops.credit.decisions import DECISIONS, ID_RULE, decision_rows, stamp, valid_id
from riskops.errors import BadInputError, DataValidationError
from riskops.reasons import load_reason_texts, with_texts
from riskops.serving.errors import ServingError, invalid, output_refused, unprocessable
from riskops.serving.payloads import MAX_ROWS, ModelRef, Routed, Value
from riskops.serving.route import Champion, OutputMetric, Route, RowState, model_ref, require

INLINE_ROWS = 64
"""Batches up to this size are scored on the event loop; larger ones in a thread."""
_CHUNK = 500
"""Rows per parallel chunk of a large batch."""
_PD_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)

EXAMPLE_APPLICANT: dict[str, Value] = {
    "Seniority": 9,
    "Home": "rent",
    "Time": 60,
    "Age": 30,
    "Marital": "married",
    "Records": "no",
    "Job": "freelance",
    "Expenses": 73.0,
    "Income": 129.0,
    "Assets": 0.0,
    "Debt": 0.0,
    "Amount": 800.0,
    "Price": 846.0,
}
"""The first applicant of the bundled credit data, every field the default champion needs."""


class CreditScoreRequest(Routed):
    applicants: Annotated[list[dict[str, Value]], Field(min_length=1, max_length=MAX_ROWS)] = Field(
        description=(
            "Applicants as {feature: value}. Features, kinds and categories are the served "
            "champion's; GET /models shows its request schema. An optional 'id' is the "
            f"application's id ({ID_RULE}; an integer is taken as its digits), returned with "
            "the result and joined to the loan's outcome later; without one, a unique id is "
            "generated and returned. An id the model already decided is refused (409)."
        ),
        examples=[[EXAMPLE_APPLICANT]],
    )
    reasons: Annotated[int, Field(ge=0, le=50)] = Field(
        default=4, description="Reason codes per applicant (largest adverse contributions)."
    )


class Reason(BaseModel):
    feature: str
    value: Value
    contribution: float = Field(description="Shapley value in the model's raw-score space.")
    text: str = Field(
        description="Plain-language reason for an adverse-action notice (riskops.reasons; "
        "shipped for the bundled data, overridable in $RISKOPS_HOME/reason_texts.yaml)."
    )


class CreditResult(BaseModel):
    id: str = Field(description="The application's id: the one sent, or a generated one.")
    pd: float = Field(description="Calibrated probability of default.")
    grade: str
    reasons: list[Reason]


class CreditScoreResponse(BaseModel):
    model: ModelRef
    results: list[CreditResult]


def applicant_validator(
    input_schema: dict[str, dict[str, Any]],
) -> tuple[TypeAdapter[Any], dict[str, Any]]:
    """Validator of a list of applicants for a PD model's ``input_schema_`` (see module doc),
    and the JSON Schema of one applicant."""
    fields: dict[str, Any] = {}
    for name, spec in input_schema.items():
        kind: Any
        if spec.get("kind") == "categorical":
            categories = tuple(str(c) for c in spec.get("categories") or ())
            kind = Literal[categories] if categories else str
        else:
            bounds = training_bounds(spec)
            kind = Annotated[
                float,
                Field(strict=True, allow_inf_nan=False, ge=bounds.get("ge"), le=bounds.get("le")),
            ]
        fields[name] = NotRequired[kind | None] if spec.get("nullable") else Required[kind]
    applicant = TypedDict("Applicant", fields, total=False)  # type: ignore[misc]
    applicant.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return TypeAdapter(list[applicant]), TypeAdapter(applicant).json_schema()


def training_bounds(spec: dict[str, Any]) -> dict[str, float]:
    """``ge``/``le`` for a numeric feature from the range its model saw in training.

    A value the model could not have seen is refused: a negative one where training had
    none, or one further than the whole training range beyond its minimum or maximum
    (``Age = -5``, an income typed in cents). Values just outside the range, which a new
    applicant may well have, are scored.
    """
    low, high = spec.get("min"), spec.get("max")
    if low is None or high is None:
        return {}
    span = float(high) - float(low)
    return {
        "ge": 0.0 if low >= 0 else float(low) - span,
        "le": float(high) + max(span, abs(float(high))),
    }


@functools.lru_cache(maxsize=64)
def _reason_texts(name: str, version: int) -> dict[str, str]:
    """A champion's reason texts, read once per version (a new champion rereads the file)."""
    from riskops.settings import Settings

    return load_reason_texts(name, Settings().home)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    # LightGBM releases the GIL while predicting, so chunks of one batch run in parallel.
    return ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))


def prepare(estimator: Any) -> RowState:
    require(estimator, "score_records", "input_schema_")
    validator, row_schema = applicant_validator(estimator.input_schema_)
    # Warm-up (lazy imports, the explainer): the model's own example applicants when it keeps
    # some, else one with every feature missing, which the built-in models always accept.
    estimator.score_records(getattr(estimator, "example_records_", None) or [{}], k=1)
    return RowState(tuple(estimator.input_schema_), validator, row_schema)


@functools.cache
def _clock_offset_days() -> float:
    """The service's clock offset (:mod:`riskops.clock`), read once per process."""
    from riskops.settings import Settings

    return Settings().clock_offset_days


def _decided_at() -> str:
    from datetime import UTC, datetime, timedelta

    moment = datetime.now(UTC)
    offset = _clock_offset_days()
    return stamp(moment + timedelta(days=offset) if offset else moment)


def applicant_ids(
    applicants: list[dict[str, Any]], request_id: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """The applicants' ids (sent, else ``{request_id}-{n}``) and the applicants without
    them; 400 naming the applicant for an invalid or repeated id."""
    if not any("id" in applicant for applicant in applicants):
        return [f"{request_id}-{n}" for n in range(len(applicants))], applicants
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    problems: list[dict[str, Any]] = []
    for n, applicant in enumerate(applicants):
        if "id" not in applicant:
            ids.append(f"{request_id}-{n}")
            rows.append(applicant)
            continue
        row = dict(applicant)
        raw = row.pop("id")
        if isinstance(raw, float) and raw.is_integer() and abs(raw) < 2**53:
            raw = int(raw)  # a JSON integer, parsed as a number
        try:
            id_ = valid_id(raw, "id")
        except BadInputError as exc:
            problems.append({"loc": ["applicants", n, "id"], "msg": str(exc), "type": "id"})
            id_ = ""
        if id_ in seen:
            problems.append(
                {
                    "loc": ["applicants", n, "id"],
                    "msg": f"id {id_!r} repeats applicant {seen[id_]}'s: one decision per id",
                    "type": "id_repeated",
                }
            )
        elif id_:
            seen[id_] = n
        ids.append(id_)
        rows.append(row)
    if problems:
        raise ServingError(400, {"error": f"{len(problems)} invalid id(s)", "detail": problems})
    return ids, rows


def score(
    champion: Champion, request: CreditScoreRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """PD, grade and reason codes per applicant (the hot path: no DataFrame, no registry),
    and the decisions to record."""
    state: RowState = champion.state
    ids, applicants = applicant_ids(request.applicants, request_id)
    try:
        records = state.validator.validate_python(applicants)
    except ValidationError as exc:
        raise invalid(exc, ("applicants",)) from None
    estimator = champion.estimator
    reasons = request.reasons
    try:
        if len(records) <= _CHUNK:
            results = estimator.score_records(records, k=reasons)
        else:
            chunks = [records[i : i + _CHUNK] for i in range(0, len(records), _CHUNK)]
            scored = _pool().map(lambda part: estimator.score_records(part, k=reasons), chunks)
            results = [row for part in scored for row in part]
    except (DataValidationError, BadInputError) as exc:
        raise unprocessable(exc) from None
    for i, result in enumerate(results):
        pd_ = result["pd"]
        if not (isinstance(pd_, float | int) and math.isfinite(pd_) and 0.0 <= pd_ <= 1.0):
            raise output_refused(
                champion.name, champion.version, f"a PD of {pd_!r} for applicant {i}"
            )
    decisions = decision_rows(
        ids=ids,
        records=records,
        results=results,
        features=state.features,
        version=champion.version,
        run_id=champion.run_id,
        request_id=request_id,
        decided_at=_decided_at(),
        store_inputs=_inputs_allowed(champion.name),
    )
    texts = _reason_texts(champion.name, champion.version)
    answers = [
        {"id": id_, **r, "reasons": with_texts(r["reasons"], texts)}
        for id_, r in zip(ids, results, strict=True)
    ]
    return {"model": model_ref(champion), "results": answers}, decisions


@functools.lru_cache(maxsize=64)
def _inputs_allowed(name: str) -> bool:
    """Whether ``name``'s policy keeps the input rows of its decisions (read once)."""
    from riskops.credit.decisions import inputs_allowed
    from riskops.settings import Settings

    return inputs_allowed(Settings(), name)


ROUTE = Route(
    family="credit",
    path="/credit/score",
    api_name="credit_score",
    request=CreditScoreRequest,
    response=CreditScoreResponse,
    prepare=prepare,
    handle=score,
    threads=2,
    inline=lambda request: len(request.applicants) <= INLINE_ROWS,
    outputs=(
        OutputMetric(
            "riskops_credit_pd", "Served probabilities of default.", "pd", buckets=_PD_BUCKETS
        ),
    ),
    summary="Probability of default, rating grade and reason codes for each applicant.",
    record=DECISIONS,
)
