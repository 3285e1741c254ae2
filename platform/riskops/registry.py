"""The one module that talks to the MLflow model registry; it knows nothing of the audit trail.

Aliases in use: ``champion`` (served), ``challenger`` (newest candidate), ``previous`` (the
champion before the current one, for rollback), ``shadow`` (scores live traffic beside the
champion). They are a *projection* of the audited ledger (:mod:`riskops.ledger`), written after
each audit record; nothing in RiskOps decides from an alias.

:meth:`Registry.register` hashes every file of the logged model (SHA-256); the lifecycle keeps
the manifest in the audited ``register`` record, with the version's identity (its run, the
manifest's digest and the registered model's incarnation, :meth:`Registry.incarnation`).
:meth:`Registry.load_version` downloads a version's files, compares them with the manifest it
is given and only then deserialises the local copy; :class:`riskops.ledger.loader.VerifiedLoader`
gives it the manifest the audit trail recorded.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskops.errors import ArtifactIntegrityError, NotFoundError, RegistryError
from riskops.manifests import file_manifest, manifest_digest, manifest_mismatch
from riskops.settings import Settings, scratch_dir

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"
SHADOW = "shadow"

MANIFEST_TAG = "riskops.manifest_sha256"
"""Version tag: the SHA-256 of the model's file manifest (the manifest itself is in the audit
trail's ``register`` record; a tag of every file's hash ran to 11,000 characters)."""
AUDIT_HEAD_TAG = "riskops.audit_head"
"""Registered-model tag: the audit head, MACed under the audit key (see :mod:`riskops.audit`)."""
UNAUDITED_TAG = "riskops.unaudited"
"""Version tag set by ``riskops reconcile`` on a version no ``register`` record names (a
registration killed before its record, or a version made outside RiskOps): the audit record
that says so. Informative only: what is served or promotable comes from the trail."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified, deserialised version and what MLflow stored beside it."""

    name: str
    version: int
    estimator: Any
    input_example: Any
    predict_fn: str
    manifest: dict[str, str]

    def predict_example(self) -> Any:
        """Run the model on its logged input example (the promotion smoke test)."""
        if self.input_example is None:
            raise ArtifactIntegrityError(f"model: {self.name} v{self.version} has no input example")
        return getattr(self.estimator, self.predict_fn)(self.input_example)


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

    def register(
        self, run_id: str, name: str, tags: dict[str, str]
    ) -> tuple[VersionInfo, dict[str, str]]:
        """Register the run's logged model as a new version of ``name``; returns the version
        and the SHA-256 manifest of its files as stored."""
        from mlflow.exceptions import MlflowException

        from riskops.tracking import MODEL_ARTIFACT_PATH

        try:
            self.client.create_registered_model(name, tags={"family": tags.get("family", "")})
        except MlflowException as exc:
            if "already exists" not in str(exc).lower() and "RESOURCE_ALREADY_EXISTS" not in str(
                exc
            ):
                raise
        import mlflow

        from riskops.tracking import configure, quiet_mlflow

        run = self.client.get_run(run_id)
        logged = self._logged_model(run_id, run.info.experiment_id)
        # As MLflow 3 users do: register the logged model by its URI (models:/<model_id>).
        model_uri = (
            f"models:/{logged.model_id}" if logged else f"runs:/{run_id}/{MODEL_ARTIFACT_PATH}"
        )
        configure(self.settings)
        with quiet_mlflow():
            mv = mlflow.register_model(model_uri, name, tags=tags)
        version = int(mv.version)
        with scratch_dir(self.settings, "register") as tmp:
            manifest = file_manifest(self._download(name, version, tmp))
        self.set_tags(name, version, {MANIFEST_TAG: manifest_digest(manifest)})
        return self.get_version(name, version), manifest

    def _download(self, name: str, version: int, dst: Path) -> Path:
        import os

        import mlflow

        from riskops.tracking import configure

        configure(self.settings)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=str(dst)
            )
        )

    def artifact_manifest(self, name: str, version: int) -> dict[str, str]:
        """The SHA-256 of every file the registry holds for a version, as stored now."""
        with scratch_dir(self.settings, "verify") as tmp:
            return file_manifest(self._download(name, version, tmp))

    def incarnation(self, name: str) -> int | None:
        """When the registered model was created (ms): it changes when the model is deleted
        and created again. ``None`` when no such model exists."""
        from mlflow.exceptions import MlflowException

        try:
            return int(self.client.get_registered_model(name).creation_timestamp or 0)
        except MlflowException as exc:
            if is_not_found(exc):
                return None
            raise registry_error(f"reading {name}", exc) from exc

    def tag_model(self, name: str, key: str, value: str) -> None:
        """Set a registered model's tag; nothing when the model does not exist (yet)."""
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):
            self.client.set_registered_model_tag(name, key, value)

    def model_tags(self) -> dict[str, dict[str, str]]:
        """Every registered model's tags, by name."""
        return {m.name: dict(m.tags or {}) for m in self.client.search_registered_models()}

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
        except MlflowException as exc:
            if not is_not_found(exc):
                raise registry_error(f"reading {name} v{version}", exc) from exc
            raise NotFoundError(f"model: {name} has no version {version}") from None
        return _info(mv)

    def version_for_alias(self, name: str, alias: str) -> VersionInfo | None:
        from mlflow.exceptions import MlflowException

        try:
            return _info(self.client.get_model_version_by_alias(name, alias))
        except MlflowException as exc:
            # Only "no such model/alias" means "none"; a 503 or a permission error read as
            # "no champion" would let a challenger skip the champion comparison.
            if is_not_found(exc):
                return None
            raise registry_error(f"reading {name}@{alias}", exc) from exc

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

    def set_description(self, name: str, version: int, description: str) -> None:
        self.client.update_model_version(name, str(version), description=description)

    def model_names(self) -> list[str]:
        return sorted(m.name for m in self.client.search_registered_models())

    def load_version(self, name: str, version: int, expected: dict[str, str]) -> LoadedModel:
        """Download, verify against ``expected`` (the audited manifest), then deserialise.

        Raises :class:`ArtifactIntegrityError` before deserialising anything when any file
        is added, missing or changed.
        """
        with scratch_dir(self.settings, "load") as tmp:
            local = self._download(name, version, tmp)
            problems = manifest_mismatch(expected, file_manifest(local))
            if problems:
                raise ArtifactIntegrityError(
                    f"model: {name} v{version} artifacts differ from the audited hashes: "
                    + ", ".join(problems)
                )
            return _deserialise(name, version, local, expected)


def _deserialise(name: str, version: int, local: Path, manifest: dict[str, str]) -> LoadedModel:
    """Load a verified local copy with the flavor it was logged with."""
    from mlflow.models import Model

    meta = Model.load(str(local))
    pyfunc = meta.flavors.get("python_function", {})
    predict_fn = str(pyfunc.get("predict_fn") or "predict")
    sklearn = meta.flavors.get("sklearn")
    if sklearn is not None and sklearn.get("serialization_format") == "skops":
        from riskops.families import trusted_types
        from riskops.serialization import load_skops

        # Our allow-list, not the one the (verified, but writable at logging) MLmodel names.
        estimator = load_skops(str(local / sklearn["pickled_model"]), trusted_types())
    elif sklearn is not None:
        import mlflow.sklearn

        # A pickle: reached only after every file matched the audited SHA-256.
        estimator = mlflow.sklearn.load_model(str(local))
    else:
        raise ArtifactIntegrityError(
            f"model: {name} v{version} has no flavor RiskOps loads ({sorted(meta.flavors)})"
        )
    try:
        example = meta.load_input_example(str(local))
    except Exception:  # an unreadable example fails the smoke test, not the load
        example = None
    return LoadedModel(name, version, estimator, example, predict_fn, manifest)


_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


def is_not_found(exc: Exception) -> bool:
    """Whether an MLflow error says the model, version or alias does not exist.

    MLflow 3 raises ``RESOURCE_DOES_NOT_EXIST`` for a missing model or version and
    ``INVALID_PARAMETER_VALUE`` ("Registered model alias ... not found") for a missing
    alias; ``INVALID_PARAMETER_VALUE`` without "not found" is another error.
    """
    code = str(getattr(exc, "error_code", ""))
    if code == "RESOURCE_DOES_NOT_EXIST":
        return True
    return code in _NOT_FOUND_CODES and "not found" in str(exc).lower()


def registry_error(action: str, exc: Exception) -> RegistryError:
    code = getattr(exc, "error_code", type(exc).__name__)
    return RegistryError(
        f"registry: {action} failed ({code}): {exc}; nothing was registered or promoted"
    )


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
