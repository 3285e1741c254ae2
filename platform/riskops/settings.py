"""Configuration: one frozen settings object, read from ``RISKOPS_*`` environment variables.

Everything local lives under ``RISKOPS_HOME`` (default ``./mlruns``): the SQLite MLflow
database, artifacts, the audit trail, inference logs and BentoML's store. Pointing
``MLFLOW_TRACKING_URI`` (and ``RISKOPS_AUDIT_URL``, ``PREFECT_API_URL``) at servers switches
to the production stack without a code change.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PACKAGE_DIR = Path(__file__).resolve().parent


def _default_actor() -> str:
    """The operating-system user (``unknown`` where the system knows none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # containers without a passwd entry
        return "unknown"


_LOCAL_SCHEMES = frozenset({"", "file", "sqlite"})


def is_local_uri(uri: str) -> bool:
    """``True`` for a store that is a file on this machine: a plain path, ``file:`` or
    ``sqlite:`` (``sqlite:///path``), ``False`` for a server (``http``, ``postgresql``...).
    Windows drive letters (``C:\\...``) parse as a one-letter scheme and count as paths."""
    from urllib.parse import urlsplit

    if uri.split(":", 1)[0].lower() in ("databricks", "databricks-uc"):
        return False
    scheme = urlsplit(uri).scheme.lower()
    return scheme in _LOCAL_SCHEMES or len(scheme) == 1


class Settings(BaseSettings):
    """RiskOps settings. Construct with ``Settings()``; it is immutable afterwards."""

    model_config = SettingsConfigDict(env_prefix="RISKOPS_", frozen=True, extra="forbid")

    home: Path = Field(default=Path("mlruns"), description="Root of all local state.")
    tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RISKOPS_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking server; default: SQLite under home.",
    )
    registry_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RISKOPS_REGISTRY_URI", "MLFLOW_REGISTRY_URI"),
        description="MLflow registry, when it differs from the tracking store.",
    )
    audit_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the audit trail; default: SQLite under home."
    )
    policy_file: Path = Field(
        default=_PACKAGE_DIR / "policies.yaml", description="Promotion policy, one per model."
    )
    actor: str = Field(
        default_factory=_default_actor,
        description="Who is acting, in the local single-user mode (recorded as self-declared); "
        "refused once the home has identities.",
    )
    evidence_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the live evidence store (credit decisions and outcomes, market "
            "observations and forecasts); default: SQLite under home."
        ),
    )
    audit_anchor_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of an append-only table outside the writer's control (e.g. a "
            "PostgreSQL role with INSERT but no UPDATE/DELETE) that every audit append is "
            "anchored to as well; replaying an older home is detected against it."
        ),
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA-256 key of the audit chain; unset: plain SHA-256, which detects "
        "edits but not a writer who recomputes the chain.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="Deprecated: one key shared by every caller of the service; prefer "
        "per-caller tokens (riskops users add NAME --role service).",
    )
    token: SecretStr | None = Field(
        default=None,
        description="This caller's access token (riskops users add / riskops login).",
    )
    identity_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the identity store; default: the audit database when "
        "it is PostgreSQL, else SQLite under home.",
    )
    oidc_issuer: str | None = Field(default=None, description="OIDC: the expected 'iss'.")
    oidc_audience: str | None = Field(default=None, description="OIDC: the expected 'aud'.")
    oidc_jwks_url: str | None = Field(default=None, description="OIDC: the issuer's JWKS URL.")
    oidc_roles_claim: str = Field(default="roles", description="OIDC: claim listing roles.")
    oidc_name_claim: str = Field(
        default="preferred_username", description="OIDC: claim naming the person (else 'sub')."
    )
    serve_host: str = Field(default="127.0.0.1", description="Address the service binds to.")
    serve_port: int = Field(default=3000, ge=1, le=65535, description="Port of the service.")
    swap_poll_seconds: float = Field(default=2.0, gt=0, description="Champion alias poll period.")
    serve_max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest request body the service reads."
    )
    serve_body_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Time a client has to send a whole request body."
    )
    serve_max_waiting: int = Field(
        default=64, ge=0, description="Requests queued per model route before 503."
    )
    shadow_max_pending: int = Field(
        default=256,
        ge=1,
        description="Requests a worker's shadow process holds waiting to be scored; beyond "
        "them shadow work is dropped and counted, never the champion slowed.",
    )
    inference_log_batch: int = Field(default=256, ge=1, description="Inference-log rows per write.")
    inference_log_flush_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Longest wait before buffered inference-log rows are written.",
    )
    dask_address: str | None = Field(default=None, description="Dask scheduler; default: local.")
    experiment_prefix: str = Field(
        default="riskops", description="Prefix of the MLflow experiment names."
    )
    verbose: bool = Field(
        default=False,
        description="Library logs on stderr too (riskops --verbose sets it for child processes).",
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_environment(cls, data: Any) -> Any:
        # pydantic-settings ignores unknown prefixed variables; a typo such as
        # RISKOPS_HOMEE would otherwise silently fall back to the default.
        known = {f"RISKOPS_{name.upper()}" for name in cls.model_fields}
        known |= {"RISKOPS_TRACKING_URI", "RISKOPS_REGISTRY_URI"}
        unknown = sorted(k for k in os.environ if k.startswith("RISKOPS_") and k not in known)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        return data

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def mlflow_registry_uri(self) -> str:
        return self.registry_uri or self.mlflow_tracking_uri

    @property
    def artifact_root(self) -> Path:
        return self.home / "artifacts"

    @property
    def audit_anchor_file(self) -> Path:
        """The audit chain's head (sequence number and hash), kept outside the audit table."""
        return self.home / "audit_anchor.json"

    @property
    def audit_database_url(self) -> str:
        return self.audit_url or f"sqlite:///{self.home / 'audit.db'}"

    @property
    def evidence_database_url(self) -> str:
        return self.evidence_url or f"sqlite:///{self.home / 'evidence.db'}"

    @property
    def identity_database_url(self) -> str:
        """Where identities and token hashes live: ``RISKOPS_IDENTITY_URL``, else the audit
        database when that is a server (PostgreSQL), else ``identity.db`` under home."""
        if self.identity_url:
            return self.identity_url
        if self.audit_url and not self.audit_url.startswith("sqlite"):
            return self.audit_url
        return f"sqlite:///{self.home / 'identity.db'}"

    @property
    def oidc_configured(self) -> bool:
        """Whether OIDC bearer tokens are accepted (issuer, audience and JWKS all set)."""
        return bool(self.oidc_issuer and self.oidc_audience and self.oidc_jwks_url)

    @property
    def inference_log_dir(self) -> Path:
        return self.home / "inference"

    @property
    def bentoml_home(self) -> Path:
        return self.home / "bentoml"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def scratch_root(self) -> Path:
        """Temporary files (downloads being verified, fits in progress): under the home, so
        that nothing is left outside it; see :func:`scratch_dir`."""
        return self.home / "tmp"

    def is_local_tracking(self) -> bool:
        """Whether the MLflow store is a file on this machine (SQLite or a folder).

        A property of the URI, not of where it came from: after
        :meth:`export_environment` has exported ``MLFLOW_TRACKING_URI``, a later
        ``Settings()`` reads it back and must still count the same SQLite file as local,
        so that experiments keep their artifacts under ``home``.
        """
        return is_local_uri(self.mlflow_tracking_uri)

    @property
    def metrics_root(self) -> Path:
        """Prometheus multiprocess folders of the service, one per port."""
        return self.home / "metrics"

    def ensure_home(self) -> Path:
        """Create the local state folders; only called by commands that write."""
        for path in (
            self.home,
            self.artifact_root,
            self.inference_log_dir,
            self.reports_dir,
            self.prefect_home,
            self.bentoml_home,
        ):
            path.mkdir(parents=True, exist_ok=True)
        return self.home

    def export_environment(self) -> None:
        """Point MLflow, Prefect and BentoML at this configuration (for child processes too).

        Only sets variables the user has not set, so an explicit server always wins.
        """
        defaults = {
            "MLFLOW_TRACKING_URI": self.mlflow_tracking_uri,
            "BENTOML_HOME": str(self.bentoml_home),
            "PREFECT_HOME": str(self.prefect_home),
            # Telemetry would try the network on every start; there is none at run time.
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # The ephemeral server's 20 s default is too short on a busy 2-core machine.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "BENTOML_DO_NOT_TRACK": "true",
            "MLFLOW_ENABLE_TELEMETRY": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "GIT_PYTHON_REFRESH": "quiet",
        }
        for key, value in defaults.items():
            os.environ.setdefault(key, value)


@contextmanager
def scratch_dir(settings: Settings, purpose: str) -> Iterator[Path]:
    """A temporary folder under ``home/tmp``, removed on exit.

    Named after the process that owns it, so that one left by a process that was killed
    (``kill -9`` skips every ``finally``) is removed by :func:`clean_scratch` at the next
    start instead of lingering in ``/tmp`` outside the home.
    """
    import shutil
    import tempfile

    settings.scratch_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{purpose}-{os.getpid()}-", dir=settings.scratch_root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clean_scratch(settings: Settings) -> int:
    """Remove scratch folders whose owning process is gone; returns how many."""
    import shutil

    root = settings.scratch_root
    if not root.is_dir():
        return 0
    removed = 0
    for folder in root.iterdir():
        parts = folder.name.split("-")
        pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
        if pid is None or pid == os.getpid() or process_alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process of this machine with ``pid`` is still running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
