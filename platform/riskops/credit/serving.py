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
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from riskops.errors import BadInputError, DataValidationError
from riskops.reasons import load_reason_texts, with_texts
from riskops.serving.errors import invalid, output_refused, unprocessable
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
            "champion's; GET /models shows its request schema."
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


def score(
    champion: Champion, request: CreditScoreRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """PD, grade and reason codes per applicant (the hot path: no DataFrame, no registry)."""
    state: RowState = champion.state
    try:
        records = state.validator.validate_python(request.applicants)
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
    texts = _reason_texts(champion.name, champion.version)
    results = [{**r, "reasons": with_texts(r["reasons"], texts)} for r in results]
    version = champion.version
    log = [
        {
            "request_id": request_id,
            "model_version": version,
            **{f: record.get(f) for f in state.features},
            "pd": result["pd"],
            "grade": result["grade"],
            "top_reason": result["reasons"][0]["feature"] if result["reasons"] else None,
        }
        for record, result in zip(records, results, strict=True)
    ]
    return {"model": model_ref(champion), "results": results}, log


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
)
