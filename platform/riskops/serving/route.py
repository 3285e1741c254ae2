"""A family's HTTP route, as plain Python: the service (``services/``) only wires it.

A family returns its :class:`Route` from
:meth:`~riskops.families.base.Family.service_route`. The service builds one BentoML API per
route (path, request and response models for OpenAPI), holds each registered model's
champion, and for every request calls ``route.handle(champion, request, request_id)``, which
returns ``(body, log_records)`` or raises :class:`~riskops.serving.errors.ServingError`.

A route whose answers are decisions that must be kept (credit) names the evidence kind its
log records are rows of (:attr:`Route.record`): the service then appends them to the
model's stream of that kind and sends the answer only once they are committed; other
routes' records go to the inference log, off the request path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter


@dataclass(frozen=True)
class Champion:
    """One loaded champion version and what its family's route derived from it."""

    name: str
    version: int
    run_id: str
    family: str
    model_kind: str
    estimator: Any
    state: Any
    loaded_at: float
    live: Callable[[str], dict[str, Any]] | None = None
    """``series -> forecast``: the last forecast this version's live state issued for a series
    (the service's lookup in the live evidence, :meth:`riskops.live.serving.LiveRoutes.
    forecasts`); ``None`` when served without live states."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}


@dataclass(frozen=True)
class RowState:
    """What a champion that scores rows (credit applicants, anomaly feature rows) is served
    with: its features, the request validator derived from its schema, and that schema for
    ``/models``."""

    features: tuple[str, ...]
    validator: TypeAdapter[Any]
    row_schema: dict[str, Any]


@dataclass(frozen=True)
class OutputMetric:
    """A Prometheus metric of a route's outputs, fed from its log records: a histogram of a
    numeric field, or a counter of a field's sum (labelled by champion version)."""

    name: str
    help: str
    record_field: str
    kind: Literal["histogram", "counter"] = "histogram"
    buckets: tuple[float, ...] = ()


Handler = Callable[[Champion, Any, str], tuple[dict[str, Any], list[dict[str, Any]]]]


@dataclass(frozen=True)
class Route:
    """One family's route.

    Attributes
    ----------
    family, path, api_name
        The family served, the HTTP path (``/credit/score``) and the API's Python name.
    request, response
        pydantic models of the body and the answer (OpenAPI; shape validation).
    prepare
        ``estimator -> state``: validates that a loaded version can be served, derives its
        request validators and warms it up, before it is published.
    handle
        ``(champion, request, request_id) -> (body, log_records)``.
    threads
        Threads the route's work may use at once per worker process.
    inline
        ``request -> bool``: small requests answered on the event loop (a thread hop would
        cost more than the work).
    outputs
        Metrics of the outputs, read from the log records.
    summary
        One line for the API's documentation.
    record
        ``None``: the log records go to the inference log. An
        :class:`~riskops.evidence.store.EvidenceKind`: they are its rows (each with its
        ``key``; the service adds ``caller``), written to the model's stream before the
        answer is sent.
    """

    family: str
    path: str
    api_name: str
    request: type[BaseModel]
    response: type[BaseModel]
    prepare: Callable[[Any], Any]
    handle: Handler
    threads: int = 2
    inline: Callable[[Any], bool] = field(default=lambda request: False)
    outputs: tuple[OutputMetric, ...] = ()
    summary: str = ""
    record: Any = None


def require(estimator: Any, *attributes: str) -> None:
    """Refuse to serve an estimator that lacks what the route calls."""
    missing = [a for a in attributes if not hasattr(estimator, a)]
    if missing:
        raise TypeError(f"{type(estimator).__name__} cannot be served: it lacks {missing}")


def model_ref(champion: Champion) -> dict[str, Any]:
    return {"name": champion.name, "version": champion.version}
