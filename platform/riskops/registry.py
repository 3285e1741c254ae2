"""The one module that talks to the MLflow model registry.

Models are addressed by alias: ``models:/credit_pd@champion``. Aliases in use:
``champion`` (served), ``challenger`` (newest candidate), ``previous`` (the champion
before the current one, for rollback).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from riskops.errors import NotFoundError
from riskops.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    run_id: str
    source: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    created_at_ms: int = 0

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "source": self.source,
            "tags": self.tags,
            "aliases": list(self.aliases),
            "created_at_ms": self.created_at_ms,
        }


class Registry:
    """Registry operations by name, version and alias."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from riskops.tracking import client

            self._client = client(self.settings)
        return self._client

    def register(self, run_id: str, name: str, tags: dict[str, str]) -> VersionInfo:
        """Register the run's logged model as a new version of ``name``."""
        from mlflow.exceptions import MlflowException

        from riskops.tracking import MODEL_ARTIFACT_PATH

        try:
            self.client.create_registered_model(name, tags={"family": tags.get("family", "")})
        except MlflowException as exc:
            if "already exists" not in str(exc).lower() and "RESOURCE_ALREADY_EXISTS" not in str(
                exc
            ):
                raise
        run = self.client.get_run(run_id)
        logged = self._logged_model(run_id, run.info.experiment_id)
        # MLflow 3 stores a logged model under its own LoggedModel location, not the run's.
        source = (
            logged.artifact_location if logged else f"{run.info.artifact_uri}/{MODEL_ARTIFACT_PATH}"
        )
        mv = self.client.create_model_version(
            name, source, run_id=run_id, tags=tags, model_id=logged.model_id if logged else None
        )
        return self.get_version(name, int(mv.version))

    def _logged_model(self, run_id: str, experiment_id: str) -> Any:
        import mlflow

        models = mlflow.search_logged_models(
            experiment_ids=[experiment_id],
            filter_string=f"source_run_id = '{run_id}'",
            output_format="list",
        )
        return models[0] if models else None

    def get_version(self, name: str, version: int) -> VersionInfo:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(name, str(version))
        except MlflowException:
            raise NotFoundError(f"model: {name} has no version {version}") from None
        return _info(mv)

    def version_for_alias(self, name: str, alias: str) -> VersionInfo | None:
        from mlflow.exceptions import MlflowException

        try:
            return _info(self.client.get_model_version_by_alias(name, alias))
        except MlflowException:
            return None

    def versions(self, name: str) -> list[VersionInfo]:
        found = self.client.search_model_versions(f"name = '{name}'")
        return sorted((_info(mv) for mv in found), key=lambda v: v.version)

    def latest_version(self, name: str) -> VersionInfo:
        versions = self.versions(name)
        if not versions:
            raise NotFoundError(f"model: no registered model named {name!r}")
        return versions[-1]

    def resolve(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> VersionInfo:
        """A version by number, else by alias, else the challenger, else the latest."""
        if version is not None:
            return self.get_version(name, version)
        if alias is not None:
            found = self.version_for_alias(name, alias)
            if found is None:
                raise NotFoundError(f"model: {name} has no alias {alias!r}")
            return found
        return self.version_for_alias(name, CHALLENGER) or self.latest_version(name)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):  # already absent is fine
            self.client.delete_registered_model_alias(name, alias)

    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version), key, str(value))

    def model_names(self) -> list[str]:
        return sorted(m.name for m in self.client.search_registered_models())

    def champions(self) -> dict[str, str]:
        """Every registered model that has a ``champion`` alias, with its ``family`` tag."""
        out: dict[str, str] = {}
        page_token = None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=page_token)
            for model in page:
                if CHAMPION in (getattr(model, "aliases", None) or {}):
                    out[model.name] = (model.tags or {}).get("family", "")
            page_token = getattr(page, "token", None)
            if not page_token:
                return out

    def load_model(self, name: str, alias: str | None = None, version: int | None = None) -> Any:
        """The native estimator of a version, e.g. ``models:/credit_pd@champion``."""
        import mlflow.sklearn

        from riskops.tracking import configure

        configure(self.settings)
        uri = f"models:/{name}@{alias}" if alias else f"models:/{name}/{version}"
        return mlflow.sklearn.load_model(uri)


def _info(mv: Any) -> VersionInfo:
    return VersionInfo(
        name=mv.name,
        version=int(mv.version),
        run_id=mv.run_id or "",
        source=mv.source or "",
        tags=dict(mv.tags or {}),
        aliases=tuple(getattr(mv, "aliases", []) or ()),
        created_at_ms=int(mv.creation_timestamp or 0),
    )
