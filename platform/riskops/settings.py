"""Configuration: one frozen settings object, read from ``RISKOPS_*`` environment variables.

Everything local lives under ``RISKOPS_HOME`` (default ``./mlruns``): the SQLite MLflow
database, artifacts, the audit trail, inference logs and BentoML's store. Pointing
``MLFLOW_TRACKING_URI`` (and ``RISKOPS_AUDIT_URL``, ``PREFECT_API_URL``) at servers switches
to the production stack without a code change.
"""

from __future__ import annotations

import getpass
import os
import re
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
    webhook_url: str | None = Field(
        default=None,
        description="Where an MLflow tracking server reaches this service's POST /hooks/mlflow: "
        "set, the service registers a registry webhook so that a moved alias wakes its poll "
        "(a tracking server only; the poll stays).",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="The secret MLflow signs webhook deliveries with (required with "
        "RISKOPS_WEBHOOK_URL; the same for every worker).",
    )
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
    input_max_bytes: int = Field(
        default=1 << 30,
        ge=1,
        description="Largest data file (--data, --recent) read, in bytes (uncompressed).",
    )
    input_max_columns: int = Field(
        default=10_000, ge=1, description="Most columns a data file may have."
    )
    input_max_rows: int = Field(
        default=20_000_000, ge=1, description="Most rows a data file may have."
    )
    decisions_max_pending: int = Field(
        default=256,
        ge=1,
        description="Requests per model and worker waiting for their decisions to be "
        "committed; one more is answered 503 (never without a record).",
    )
    decisions_commit_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest wait for a decision's commit before 503."
    )
    clock_offset_days: float = Field(
        default=0.0,
        description="Shift of the clock that stamps credit decisions and outcome ingestion, "
        "in days (negative: the past). For replaying a period in a demonstration or a test; "
        "0 in production.",
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
        # The home as an absolute path, always: a child started in another working directory
        # (BentoML's service runs in the folder of the `services` package) must find this
        # home, not `./mlruns` of its own directory. It is the same home either way.
        os.environ["RISKOPS_HOME"] = str(self.home)


SYSTEM_SCRATCH_PREFIX = "riskops-"
"""Prefix of the scratch folders made in the system's temporary folder when the home cannot
take them (a read-only home being read); :func:`clean_scratch` sweeps those too."""

_host_temp: str | None = None
"""The host's temporary folder, remembered when :func:`use_as_temporary_folder` replaced it."""


def host_temp_dir() -> Path:
    """The host's temporary folder (``/tmp``, ``$TMPDIR``), even in a process whose
    ``tempfile`` writes under the home (see :func:`use_as_temporary_folder`)."""
    import tempfile

    return Path(_host_temp or tempfile.gettempdir())


def use_as_temporary_folder(folder: Path) -> None:
    """Make ``folder`` this process's temporary folder for every ``tempfile`` user (MLflow's
    downloads, joblib...), remembering the host's for :func:`host_temp_dir`."""
    import tempfile

    global _host_temp
    _host_temp = str(host_temp_dir())
    tempfile.tempdir = str(folder)


_SCRATCH_NAME = re.compile(r"^(?:riskops-)?([a-z_]+)-(\d+)-(?:h([0-9a-f]{8})-)?")
"""``<purpose>-<pid>-h<host>-<random>``: who made a scratch folder (a process of which
machine), and for what."""


def _host_tag() -> str:
    """Eight hex digits naming this machine: a home shared by several machines (or
    containers, each with its own process ids) is never tidied of another's folders."""
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def make_scratch(settings: Settings, purpose: str) -> Path:
    """A new folder under ``home/tmp`` named ``<purpose>-<pid>-h<host>-<random>``, for the
    caller to remove (see :func:`scratch_dir`, which removes it on exit).

    Named after the process (and the machine) that owns it, so that one left by a process that
    was killed (``kill -9`` skips every ``finally``) is removed by :func:`clean_scratch` at the
    next start instead of lingering. A home that cannot take it (read-only, or not this user's)
    while it is only being read gets one in the system's temporary folder, prefixed
    ``riskops-`` and swept the same way; a full home is an error (nothing is written elsewhere
    behind its back).
    """
    import errno
    import tempfile

    if not _SCRATCH_NAME.match(f"{purpose}-0-"):
        raise ValueError(f"scratch purpose {purpose!r}: lower-case letters and '_' only")
    prefix = f"{purpose}-{os.getpid()}-h{_host_tag()}-"
    try:
        settings.scratch_root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=settings.scratch_root))
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
    return Path(tempfile.mkdtemp(prefix=SYSTEM_SCRATCH_PREFIX + prefix, dir=host_temp_dir()))


@contextmanager
def scratch_dir(settings: Settings, purpose: str) -> Iterator[Path]:
    """A temporary folder under ``home/tmp`` (see :func:`make_scratch`), removed on exit."""
    import shutil

    folder = make_scratch(settings, purpose)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clean_scratch(settings: Settings) -> list[str]:
    """Remove the scratch folders whose owning process is gone (under the home, and the
    ``riskops-`` ones of the system's temporary folder); returns their purposes (``train``
    when a training was killed), one per folder removed."""
    import shutil

    removed: list[str] = []
    roots = [(settings.scratch_root, ""), (host_temp_dir(), SYSTEM_SCRATCH_PREFIX)]
    for root, prefix in roots:
        try:
            folders = [f for f in root.iterdir() if f.name.startswith(prefix)]
        except OSError:  # no scratch yet, or a folder this user cannot list
            continue
        for folder in folders:
            found = _SCRATCH_NAME.match(folder.name)
            if found is None or not folder.is_dir() or folder.is_symlink():
                continue
            pid, host = int(found.group(2)), found.group(3)
            if host not in (None, _host_tag()) or pid == os.getpid() or process_alive(pid):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(found.group(1))
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
