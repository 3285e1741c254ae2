"""Request and response bodies of the service, and validators derived from a champion's schema.

Two layers of validation, both pydantic:

1. The static models below describe each route for OpenAPI and check the *shape* of a body
   (types, sizes, ranges, unknown fields) before the handler runs. BentoML answers a
   failure with ``400`` and pydantic's field-level ``detail``.
2. What depends on the champion is checked against the champion being served: a credit
   applicant against the PD model's ``input_schema_``, an anomaly feature row against the
   detector's features (:func:`applicant_validator`, :func:`feature_row_validator`). The
   validators are built once per loaded version, so a hot swap that changes the schema
   changes the validation with it. Failures answer ``400`` in the same format.

Credit applicants, as derived from ``input_schema_``:

* numeric feature -> a finite JSON number (``NaN``/``Infinity``, strings and booleans are
  refused); categorical feature -> one of the categories seen in training;
* a feature whose training data had missing values (``nullable``) may be ``null`` or
  absent and is then scored as missing; any other feature is required;
* unknown fields are refused, so that a misspelt feature cannot silently become "missing".

Unseen categories are **refused**, not accepted: the encoder would score an unseen category
exactly like a missing value, which is out of distribution for a feature that never had
missing values in training, and silently so. A caller who wants that behaviour sends
``null`` for a nullable feature; the error message lists the known categories.
"""

from __future__ import annotations

import datetime
import itertools
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, Required

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import TypedDict

from riskops.data.market import BUNDLED_MARKET

MAX_ROWS = 10_000
"""Largest batch a request may carry (applicants, feature rows, returns, price bars)."""
MAX_HORIZON = 250
"""Longest volatility path, one trading year."""


def _above(bound: float) -> Any:
    def check(value: float) -> float:
        if not value > bound:
            raise ValueError(f"must be greater than {bound:g}")
        return value

    return AfterValidator(check)


def _below(bound: float) -> Any:
    def check(value: float) -> float:
        if not value < bound:
            raise ValueError(f"must be less than {bound:g}")
        return value

    return AfterValidator(check)


# Exclusive bounds are checked by validators, not Field(gt=...): BentoML publishes OpenAPI
# 3.0, where exclusiveMinimum is a boolean, and pydantic would write JSON Schema's number.
Finite = Annotated[float, Field(allow_inf_nan=False)]
PercentReturn = Annotated[
    float,
    Field(allow_inf_nan=False, ge=-100, le=1000, description="Daily return in percent, > -100."),
    _above(-100),
]
Level = Annotated[
    float,
    Field(ge=0.5, le=1, description="VaR confidence level in [0.5, 1), e.g. 0.99."),
    _below(1),
]
Positive = Annotated[float, Field(ge=0, allow_inf_nan=False), _above(0)]
if TYPE_CHECKING:  # a Literal built at run time is opaque to the type checker
    BundledSeries = str
else:
    BundledSeries = Literal[tuple(BUNDLED_MARKET)]
Value = float | str | bool | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- shared
ModelName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
]


class _Routed(_Body):
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


class _MarketHistory(_Routed):
    """Where the return history comes from: the body, a bundled series, or the model's own."""

    returns: Annotated[list[PercentReturn], Field(min_length=2, max_length=MAX_ROWS)] | None = (
        Field(default=None, description="Daily percent returns, oldest first.")
    )
    series: BundledSeries | None = Field(
        default=None,
        description="A bundled dataset whose history to condition on.",
        examples=["sp500"],
    )
    asset: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="Asset of a multi-asset bundled dataset; default: its first."
    )

    @model_validator(mode="after")
    def _one_source(self) -> _MarketHistory:
        if self.returns is not None and self.series is not None:
            raise ValueError("give either 'returns' or 'series', not both")
        if self.asset is not None and self.series is None:
            raise ValueError("'asset' selects a column of a bundled 'series'")
        return self


# --------------------------------------------------------------------------- credit
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


class CreditScoreRequest(_Routed):
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


# --------------------------------------------------------------------------- VaR
class VaRRequest(_MarketHistory):
    levels: Annotated[list[Level], Field(min_length=1, max_length=10)] = Field(
        default=[0.95, 0.99], description="Confidence levels."
    )


class VaRLevel(BaseModel):
    level: float
    var: float = Field(description="Value-at-Risk, a positive loss in percent.")
    es: float = Field(description="Expected Shortfall, a positive loss in percent.")


class VaRResponse(BaseModel):
    model: ModelRef
    as_of: str | None = Field(description="Date of the last return conditioned on, when known.")
    observations: int | None
    forecasts: list[VaRLevel]


# --------------------------------------------------------------------------- volatility
class VolatilityRequest(_MarketHistory):
    horizon: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=1, description="Trading days ahead."
    )


class VolatilityResponse(BaseModel):
    model: ModelRef
    as_of: str | None
    observations: int | None
    horizon: int
    variance: list[float] = Field(description="Daily variance for days 1..horizon, percent².")
    volatility: list[float] = Field(description="Daily volatility for days 1..horizon, percent.")


# --------------------------------------------------------------------------- anomaly
FIRST_DAY = datetime.date(1900, 1, 1)
LAST_DAY = datetime.date(2199, 12, 31)
"""Price dates must lie in [FIRST_DAY, LAST_DAY]: pandas holds dates from 1677 to 2262 only,
and no market series lies outside this range."""


def _trading_day(value: datetime.date) -> datetime.date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be a date between {FIRST_DAY} and {LAST_DAY}")
    return value


class PriceBar(_Body):
    date: Annotated[datetime.date, AfterValidator(_trading_day)] = Field(
        description=f"Trading day, YYYY-MM-DD, between {FIRST_DAY} and {LAST_DAY}."
    )
    close: Positive
    high: Positive | None = None
    low: Positive | None = None
    volume: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    asset: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description=(
            "For a champion trained on several indices (cross-asset features): which index "
            "this bar belongs to; send every index's bars, each index oldest first."
        ),
    )


class AnomalyRequest(_Routed):
    rows: Annotated[list[dict[str, Finite]], Field(min_length=1, max_length=MAX_ROWS)] | None = (
        Field(default=None, description="Feature rows as {feature: value}; GET /models lists them.")
    )
    prices: Annotated[list[PriceBar], Field(min_length=2, max_length=MAX_ROWS)] | None = Field(
        default=None,
        description=(
            "A recent daily window of one index, oldest first; features need 66 days of "
            "warm-up, so every day after the 67th is scored."
        ),
    )
    series: BundledSeries | None = Field(
        default=None,
        description=(
            "Score the last `days` of a bundled dataset; `us_indices` has every feature "
            "the anomaly models use."
        ),
        examples=["us_indices"],
    )
    days: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=1, description="With `series`: how many of its last days to score.", examples=[5]
    )
    top_k: Annotated[int, Field(ge=1, le=20)] = Field(
        default=3, description="Drivers reported per row."
    )

    @model_validator(mode="after")
    def _one_source(self) -> AnomalyRequest:
        given = [k for k in ("rows", "prices", "series") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'rows', 'prices' or 'series' (got {given})")
        return self

    @field_validator("prices")
    @classmethod
    def _increasing_dates(cls, prices: list[PriceBar] | None) -> list[PriceBar] | None:
        if prices is not None:
            if len({bar.asset is None for bar in prices}) > 1:
                raise ValueError("give 'asset' on every bar or on none")
            by_asset: dict[str | None, list[datetime.date]] = {}
            for bar in prices:
                by_asset.setdefault(bar.asset, []).append(bar.date)
            for dates in by_asset.values():
                if any(b <= a for a, b in itertools.pairwise(dates)):
                    raise ValueError("dates must be strictly increasing, oldest first")
        return prices


class Driver(BaseModel):
    feature: str
    share: float = Field(description="Share of what pushed the row toward anomaly (sums to 1).")
    value: float | None


class AnomalyResult(BaseModel):
    date: str | None
    score: float = Field(description="Higher is more anomalous.")
    percentile: float = Field(description="Share of training days scoring below this one.")
    alert: bool
    drivers: list[Driver]


class AnomalyResponse(BaseModel):
    model: ModelRef
    threshold: float
    results: list[AnomalyResult]


# --------------------------------------------------------------------------- models
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


class ModelsResponse(BaseModel):
    models: list[ServedModel]


# --------------------------------------------------------------------------- derived
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


def feature_row_validator(features: list[str]) -> tuple[TypeAdapter[Any], dict[str, Any]]:
    """Validator of anomaly feature rows (exactly the detector's features, finite numbers),
    and the JSON Schema of one row."""
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
