"""One typed request per use case, built alike by the CLI, the Prefect tasks and the Python API.

A request holds what a user asked for, in the user's terms (a file and its column mapping, a
bundled dataset, options); the use cases turn it into data sources, estimators and records in
one place, so the three entry points cannot diverge.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskops.data import DataSource
from riskops.errors import BadInputError
from riskops.families.base import TrainOptions

if TYPE_CHECKING:
    from riskops.data.files import InputLimits

MAPPING_FIELDS = (
    "target",
    "positive_label",
    "date_col",
    "price_col",
    "return_col",
    "high_col",
    "low_col",
    "volume_col",
    "return_scale",
    "id_col",
    "schema_path",
    "protected",
)
"""How a user's file maps to the family's domain (``riskops train`` flags, keyword arguments
of :func:`riskops.register`, a flow's ``source`` parameter)."""


@dataclass(frozen=True)
class TrainRequest:
    """Train (or register) a challenger.

    Attributes
    ----------
    family
        The model family (``riskops.families`` entry point name).
    source
        The training data; ``None``: the family's bundled data.
    options
        Model kind, level, seed, tuning and the family's ``extra`` options.
    name
        Registered model name; ``None``: the family's standard name.
    recent
        A recent window for the drift gates: a file read with ``source``'s column mapping
        (:meth:`~riskops.data.DataSource.recent`), or a data source of its own.
    estimator
        A user's unfitted estimator; ``None``: the built-in kind ``options.model``.
    run_name
        The MLflow run's name; default ``<name>-<kind>``.
    provenance
        How a user's estimator was obtained (``riskops register --model-uri``: the URI, the
        file's format and hash, ``trusted_pickle``), recorded with the registration.
    include_outcomes
        Add the model's matured live outcomes to the training data (credit: the recorded
        decisions' inputs with their outcomes); the lineage records what was added.
    cause
        Why the training runs, recorded with the version (an alarm's event and audit
        record, a schedule...).
    """

    family: str
    source: DataSource | None = None
    options: TrainOptions = field(default_factory=TrainOptions)
    name: str | None = None
    recent: DataSource | Path | None = None
    estimator: Any = None
    run_name: str | None = None
    provenance: dict[str, Any] | None = None
    include_outcomes: bool = False
    cause: dict[str, Any] | None = None

    @classmethod
    def build(
        cls,
        family: str,
        *,
        data: str | Path | None = None,
        dataset: str | None = None,
        recent: str | Path | None = None,
        options: TrainOptions | None = None,
        name: str | None = None,
        estimator: Any = None,
        run_name: str | None = None,
        provenance: dict[str, Any] | None = None,
        **mapping: Any,
    ) -> TrainRequest:
        """A request from user-facing fields: ``data`` (a CSV or Parquet file) or
        ``dataset`` (a bundled one), the column ``mapping`` (:data:`MAPPING_FIELDS`), a
        ``recent`` file read with the same mapping."""
        from riskops.families import get_family

        unknown = sorted(set(mapping) - set(MAPPING_FIELDS))
        if unknown:
            raise BadInputError(f"options: unknown option(s) {unknown}; known {MAPPING_FIELDS}")
        given = {k: v for k, v in mapping.items() if v is not None}
        if "positive_label" in given:
            given["positive_label"] = str(given["positive_label"])
        if "schema_path" in given:
            given["schema_path"] = Path(given["schema_path"])
        if "protected" in given:
            given["protected"] = _columns(given["protected"])
        domain = get_family(family).domain
        source = DataSource(
            domain=domain,
            path=None if data is None else Path(data),
            bundled=dataset,
            **given,
        )
        return cls(
            family=family,
            source=source,
            options=options or TrainOptions(),
            name=name,
            recent=None if recent is None else Path(recent),
            estimator=estimator,
            run_name=run_name,
            provenance=provenance,
        )

    def preflight(self, limits: InputLimits | None = None) -> None:
        """Refuse what can be refused before anything runs: the model name, and each file
        the request names (its kind, size, type and header; see
        :func:`riskops.data.files.check_file`). Raises
        :class:`~riskops.errors.BadInputError` (exit 2).

        Why: a request that runs as a Prefect flow run reads its files in the run; a bad
        file would otherwise start (and fail) a run on the user's server first.
        """
        from riskops.data.files import InputLimits, check_file, open_regular
        from riskops.names import model_name

        if self.name is not None:
            model_name(self.name)
        limits = limits or InputLimits.from_settings()
        source = self.source
        if source is not None and source.path is not None:
            check_file(source.path, str(source.path), limits, "--data")
            if source.schema_path is not None:
                with open_regular(source.schema_path, str(source.schema_path), "--schema"):
                    pass  # a regular, readable file; its rules are read with the data
        if isinstance(self.recent, Path):
            check_file(self.recent, str(self.recent), limits, "--recent")
        elif isinstance(self.recent, DataSource) and self.recent.path is not None:
            check_file(self.recent.path, str(self.recent.path), limits, "--recent")

    def to_parameters(self) -> dict[str, Any]:
        """The request as plain data: the parameters of the ``train`` flow
        (``pipelines.flows.train_flow``), which rebuilds the same request. A request with a
        user's estimator object has no plain form."""
        if self.estimator is not None:
            raise BadInputError("a request with an estimator object cannot run as a flow")
        source = self.source or DataSource(domain=_domain(self.family))
        recent = self.recent_source(source)
        return {
            "family": self.family,
            "source": _plain_source(source),
            "options": {f.name: getattr(self.options, f.name) for f in fields(TrainOptions)},
            "name": self.name,
            "recent": None if recent is None else _plain_source(recent),
        }

    def recent_source(self, source: DataSource) -> DataSource | None:
        """The recent window's data source (one derivation for every entry point)."""
        if self.recent is None or isinstance(self.recent, DataSource):
            return self.recent
        return source.recent(Path(self.recent))


@dataclass(frozen=True)
class PromoteRequest:
    """Gate a version (default: the trail's challenger) and make it champion."""

    name: str
    version: int | None = None
    force: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class DecideRequest:
    """Approve or reject a pending promotion request (``version``: the version decided
    about), or roll back (``version``: the champion to roll back from, when given)."""

    name: str
    version: int | None = None
    reason: str | None = None


def train_options(values: dict[str, Any] | None) -> TrainOptions:
    """Options from plain data (a flow's parameters, a stored specification)."""
    known = {f.name for f in fields(TrainOptions)}
    return TrainOptions(**{k: v for k, v in (values or {}).items() if k in known})


def _columns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(c.strip() for c in value.split(",") if c.strip())
    return tuple(str(c) for c in value)


def _domain(family: str) -> str:
    from riskops.families import get_family

    return get_family(family).domain


def _plain_source(source: DataSource) -> dict[str, Any]:
    """A data source as JSON-able keyword arguments of :class:`DataSource`."""
    out: dict[str, Any] = {}
    for f in fields(DataSource):
        value = getattr(source, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out
