"""Training use cases: train a built-in kind, register a user's estimator, retrain a model.

All three are one path (:func:`register`): check the estimator against its family's
contract, load and validate the data, fit, gather the gate evidence against the champion the
audit trail names, log the run, register the version and append the audited ``register``
record -- the version's identity (run, manifest digest, incarnation of the registered model)
and the hashes of its model files *and* of every evidence file its run logged -- before the
``challenger`` alias (a projection) moves. A bad estimator or bad data registers nothing.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskops.families import get_family, registered_name
from riskops.families.base import EvidenceContext
from riskops.lifecycle.requests import TrainRequest, train_options
from riskops.lifecycle.results import TrainResult
from riskops.names import model_name
from riskops.progress import step
from riskops.tracking import SPEC_FILE

if TYPE_CHECKING:
    from riskops.lifecycle.context import LifecycleContext

EVIDENCE_FILE = "gate_evidence.json"


def code_version() -> str:
    """The git commit of the running code, when it runs from a checkout."""
    try:
        root = Path(__file__).resolve().parents[3]
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"riskops-{version('riskops')}"
        except PackageNotFoundError:
            return "riskops-unknown"


def train(life: LifecycleContext, request: TrainRequest) -> TrainResult:
    """Train the built-in kind ``request.options.model`` (default: the family's first)."""
    family = get_family(request.family)
    kind = request.options.model or family.models[0]
    if kind not in family.models:
        from riskops.errors import BadInputError

        raise BadInputError(f"--model: {kind!r} is not one of {list(family.models)}")
    options = replace(request.options, model=kind)
    return register(life, replace(request, options=options, estimator=None))


def register(life: LifecycleContext, request: TrainRequest) -> TrainResult:
    """Check, clone, fit, evaluate, gather gate evidence, log and register a challenger."""
    from riskops import tracking
    from riskops.data import load
    from riskops.families.contracts import spec_description
    from riskops.governance.publish import REGISTRATION
    from riskops.governance.publish import publish as publish_documents
    from riskops.governance.summary import version_description
    from riskops.live.record import champion_record
    from riskops.settings import scratch_dir

    started = time.perf_counter()
    settings = life.settings
    family = get_family(request.family)
    name = model_name(
        registered_name(family.name) if request.name is None else request.name, "--name"
    )
    life.require("train", "train or register a model")
    if request.estimator is not None:
        family.check(request.estimator)  # before the data is even read
    life.trail.check_writable(f"training {name}")
    options = request.options
    policy = life.policies.for_model(name, family.name)
    source = family.prepare_source(family.default_source(request.source), policy)
    step("loading and validating the data")
    dataset = load(source)
    outcomes_added = None
    if request.include_outcomes:
        dataset, outcomes_added = family.with_outcomes(dataset, name, settings, policy)
    recent_source = request.recent_source(source)
    recent = load(family.default_source(recent_source)) if recent_source is not None else None
    tracking.fail_orphaned_runs(settings)
    # The champion the trail names (its identity and files verified), never an alias.
    state = life.loader.state(name)
    champion = None
    if state.champion is not None:
        loaded = life.loader.load(name, state.champion, state)
        record = state.versions[state.champion]
        champion = (state.champion, record.identity.run_id, loaded.estimator)

        def read_champion(artifact: str) -> Any:
            return life.loader.read_json(name, record.version, artifact, state)

        dataset = family.follow_champion(dataset, state.champion, read_champion)

    with _told_if_storage_fails(name) as stage, scratch_dir(settings, "train") as tmp:
        workdir = tmp / "artifacts"
        workdir.mkdir()
        step(f"fitting {family.name} ({options.model or 'your model'})")
        outcome = family.fit(dataset, options, workdir, estimator=request.estimator)
        spec = spec_description(
            request.estimator
            if request.estimator is not None
            else family.builtin(options.model or family.models[0], options)
        )
        drift_dir = workdir / "drift"
        drift_dir.mkdir(exist_ok=True)
        context = EvidenceContext(
            name=name,
            dataset=dataset,
            recent=recent,
            outcome=outcome,
            policy=policy,
            served_inputs=lambda n: family.served_inputs(settings, name, n),
            live_record=lambda version: champion_record(life.loader, name, version),
        )
        from riskops.lifecycle.evidence import gather

        step("gathering the gate evidence (drift, champion comparison)")
        gathered = gather(family, context, champion, drift_dir)
        facts = dataset.describe()
        lineage = {
            "dataset": facts,
            "source": source.describe(),
            "recent_window": recent.describe() if recent is not None else None,
            "code_version": code_version(),
            "parent_champion": None
            if champion is None
            else {"version": champion[0], "run_id": champion[1]},
            "options": {**options.__dict__},
            "specification": spec,
        }
        if outcomes_added:
            lineage["outcomes_added"] = outcomes_added
        if request.cause:
            lineage["cause"] = request.cause
        evidence = {
            "family": family.name,
            "model_kind": outcome.model_kind,
            "metrics": outcome.metrics,
            "evidence": outcome.evidence,
            **gathered,
            "dataset_hash": facts["content_hash"],
        }
        tags = {
            "family": family.name,
            "model_kind": outcome.model_kind,
            "dataset_hash": facts["content_hash"],
            "dataset_name": str(facts["name"]),
            "schema_version": str(facts["schema_version"]),
            "code_version": lineage["code_version"],
            "parent_champion": str(champion[0]) if champion else "",
            "validation_status": "pending",
            "spec_class": str(spec.get("class", "?"))[:250] if isinstance(spec, dict) else "?",
            "origin": "builtin" if request.estimator is None else "user",
        }
        run_name = request.run_name or f"{name}-{outcome.model_kind}"
        step("logging the run to MLflow and registering the version")
        with tracking.training_run(settings, family.name, run_name) as run_id:
            tracking.log_outcome(settings, family, outcome, lineage, tags)
            tracking.log_evidence(evidence, EVIDENCE_FILE)
            tracking.log_evidence(
                {
                    "family": family.name,
                    "options": {**options.__dict__},
                    "source": source.describe(),
                    "specification": spec,
                },
                SPEC_FILE,
            )
            tracking.log_tuning_trials(outcome.evidence.get("tuning", []))
        live = (gathered.get("champion") or {}).get("live")
        stage.append("registering")
        version = life.register_version(
            run_id,
            name,
            tags,
            dataset_hash=facts["content_hash"],
            dataset=facts["name"],
            code_version=lineage["code_version"],
            evidence_uri=f"runs:/{run_id}/{EVIDENCE_FILE}",
            metrics=outcome.metrics,
            **({"provenance": request.provenance} if request.provenance else {}),
            **({"outcomes_added": outcomes_added} if outcomes_added else {}),
            **({"cause": request.cause} if request.cause else {}),
            **({} if live is None else {"champion_live": live["audit"]}),
        )
        stage.append(f"v{version} was registered")
        life.registry.set_description(
            name,
            version,
            version_description(
                name,
                version,
                family.name,
                outcome.model_kind,
                facts,
                {k: outcome.metrics[k] for k in family.key_metrics if k in outcome.metrics},
            ),
        )
        # After the audit record and the alias: a failure is reported, never raised.
        step(f"writing the card and validation report of {name} v{version}")
        documents = publish_documents(
            settings,
            name,
            version,
            occasion=REGISTRATION,
            local_dir=outcome.artifact_dir,
            audit=life.trail,
        )
    data_drift = gathered["data_drift"]
    return TrainResult(
        family=family.name,
        name=name,
        version=version,
        run_id=run_id,
        model_kind=outcome.model_kind,
        metrics=outcome.metrics,
        dataset=facts,
        champion_version=champion[0] if champion else None,
        data_drift_share=data_drift.get("share_of_drifted_columns"),
        data_drift=data_drift,
        features=list(outcome.input_example.columns),
        family_summary=family.summarize(outcome, policy),
        seconds=time.perf_counter() - started,
        documents=documents.to_dict(),
    )


@contextmanager
def _told_if_storage_fails(name: str) -> Iterator[list[str]]:
    """A full or read-only store during a training: one line saying how far it got (the
    caller appends its stages to the list yielded), not MLflow's SQL statements."""
    from riskops.storage import StorageError, storage_failure

    stage: list[str] = []
    try:
        yield stage
    except Exception as exc:
        failure = storage_failure(exc)
        if failure is None:
            raise
        if not stage:
            done = f"{name} was not registered and nothing was added to the audit trail"
        elif stage[-1] == "registering":
            done = (
                f"the registration of {name} did not finish; `riskops audit verify` says what "
                "the audit trail holds"
            )
        else:
            done = f"{name} {stage[-1]}, but its description was not written"
        raise StorageError(f"{failure}; {done}") from exc


def retrain(
    life: LifecycleContext,
    name: str,
    source: Any = None,
    *,
    include_outcomes: bool = False,
    cause: dict[str, Any] | None = None,
) -> TrainResult:
    """Refit a registered model's specification on fresh data and register a challenger.

    The specification, options and data source stored with the trail's champion (else its
    newest registered version) are reused -- read as verified evidence -- so a user's own
    estimator is refitted exactly like a built-in kind. ``source`` replaces the stored data
    source (e.g. a newer file).
    """
    from riskops.data import DataSource
    from riskops.errors import NotFoundError
    from riskops.families import family_of_registered
    from riskops.families.contracts import specification_of

    name = model_name(name)
    state = life.loader.state(name)
    version = state.champion or max(state.versions, default=None)
    if version is None:
        raise NotFoundError(f"model: {name} has no version registered through RiskOps")
    stored = life.loader.read_json(name, version, SPEC_FILE, state) or {}
    _, info = life.loader.registered(name, version, state)
    family_name = family_of_registered(name, info.tags.get("family") or stored.get("family"))
    fitted = life.loader.load(name, version, state).estimator
    estimator = specification_of(fitted)
    options = train_options(stored.get("options"))
    if source is None:
        described = dict(stored.get("source") or {})
        if described.get("path"):
            described["path"] = Path(described["path"])
        if described.get("schema_path"):
            described["schema_path"] = Path(described["schema_path"])
        if "protected" in described:
            described["protected"] = tuple(described["protected"])
        source = DataSource(**described) if described else None
    request = TrainRequest(
        family_name,
        source,
        options,
        name=name,
        estimator=estimator,
        include_outcomes=include_outcomes,
        cause=cause,
    )
    return register(life, request)
