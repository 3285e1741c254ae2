"""Payload primitives every route's request and response bodies are built from.

Two layers of validation, both pydantic:

1. The static models of each family's route (``<family>/serving.py``) describe the route for
   OpenAPI and check the *shape* of a body (types, sizes, ranges, unknown fields) before the
   handler runs. BentoML answers a failure with ``400`` and pydantic's field-level ``detail``.
2. What depends on the champion is checked against the champion being served (a credit
   applicant against the PD model's ``input_schema_``, an anomaly feature row against the
   detector's features). The validators are built once per loaded version, so a hot swap that
   changes the schema changes the validation with it. Failures answer ``400`` in the same
   format.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Required

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import TypedDict

MAX_ROWS = 10_000
"""Largest batch a request may carry (applicants, feature rows, returns, price bars)."""


def above(bound: float) -> Any:
    """A validator of ``value > bound`` (exclusive bounds are checked by validators, not
    ``Field(gt=...)``: BentoML publishes OpenAPI 3.0, where ``exclusiveMinimum`` is a boolean,
    and pydantic would write JSON Schema's number)."""

    def check(value: float) -> float:
        if not value > bound:
            raise ValueError(f"must be greater than {bound:g}")
        return value

    return AfterValidator(check)


def below(bound: float) -> Any:
    """A validator of ``value < bound`` (see :func:`above`)."""

    def check(value: float) -> float:
        if not value < bound:
            raise ValueError(f"must be less than {bound:g}")
        return value

    return AfterValidator(check)


Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(ge=0, allow_inf_nan=False), above(0)]
Value = float | str | bool | None


class Body(BaseModel):
    """A request body: unknown fields are refused, so a misspelt one is never ignored."""

    model_config = ConfigDict(extra="forbid")


ModelName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
]


class Routed(Body):
    """Every model route can name the registered model that answers it."""

    model: ModelName | None = Field(
        default=None,
        description=(
            "Registered model whose champion answers (e.g. card_pd); default: the family's "
            "standard model. GET /models lists every served model with its family."
        ),
    )


class ModelRef(BaseModel):
    name: str
    version: int


class ShadowStatus(BaseModel):
    """A version scoring the model's live requests beside the champion, off the hot path
    (what this worker process handed it since it started)."""

    version: int | None = Field(description="The version the audit trail names in shadow.")
    requests: int = Field(
        default=0,
        description="Requests handed to the shadow; those not scored, dropped or failed are "
        "still queued.",
    )
    scored: int = Field(default=0, description="Requests the shadow scored and recorded.")
    rows: int = Field(default=0, description="Rows (applicants...) the shadow recorded.")
    dropped: int = Field(
        default=0, description="Requests dropped because the shadow could not keep up."
    )
    failed: int = Field(default=0, description="Requests the shadow refused or failed on.")
    last_failure: str | None = None
    first_scored_at: str | None = None
    last_scored_at: str | None = None


class ServedModel(BaseModel):
    name: str
    alias: str
    status: Literal["serving", "unavailable"]
    version: int | None
    family: str | None
    model_kind: str | None
    run_id: str | None
    loaded_at: str | None
    last_check: str | None
    swaps: int
    alias_version: int | None = Field(
        default=None, description="Where the registry's alias points (may differ when unaudited)."
    )
    audited: bool | None = Field(
        default=None, description="Whether the alias matches the audit trail's champion."
    )
    note: str | None = None
    last_error: str | None = None
    request_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of one input row of this champion, when it has one."
    )
    route: str | None = Field(default=None, description="The route that serves this model.")
    default: bool = Field(
        default=False, description="Whether the route answers with this model when none is named."
    )
    max_rows: int | None = Field(
        default=None, description="Most rows (applicants, feature rows, prices) per request."
    )
    shadow: ShadowStatus | None = Field(
        default=None, description="The version in shadow, when the audit trail names one."
    )


class ModelsResponse(BaseModel):
    models: list[ServedModel]


def feature_row_validator(features: list[str]) -> tuple[TypeAdapter[Any], dict[str, Any]]:
    """Validator of numeric feature rows (exactly ``features``, finite numbers), and the
    JSON Schema of one row."""
    number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
    row = TypedDict("FeatureRow", {f: Required[number] for f in features})  # type: ignore[misc]
    row.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return TypeAdapter(list[row]), TypeAdapter(row).json_schema()


def validation_detail(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """pydantic errors as JSON-safe ``{"loc", "msg", "type"}``, located inside the body."""
    return [
        {"loc": [*prefix, *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
