"""Small typed tasks over the library. Tasks that touch the store or the network retry."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from riskops.errors import RiskOpsError


def _retry_unless_our_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O failures, never a refusal or bad input: those would fail the same way."""
    try:
        state.result()
    except RiskOpsError:
        return False
    except Exception:
        return True
    return False


@task(
    retries=2,
    retry_delay_seconds=3,
    retry_condition_fn=_retry_unless_our_error,
    cache_policy=NO_CACHE,
    task_run_name="train-{family}",
)
def train_challenger(
    family: str,
    source: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    recent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Load → validate → fit → evaluate → log → register the challenger."""
    from riskops.data import DataSource
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle

    result = Lifecycle().train(
        family,
        DataSource(**source) if source else None,
        TrainOptions(**(options or {})),
        name=name,
        recent=DataSource(**recent) if recent else None,
    )
    return result.to_dict()


@task(
    retries=2,
    retry_delay_seconds=3,
    retry_condition_fn=_retry_unless_our_error,
    cache_policy=NO_CACHE,
    task_run_name="refit-{name}",
)
def refit_registered(name: str) -> dict[str, Any]:
    """Refit a registered model's stored specification (a user's own model included)."""
    from riskops.lifecycle import Lifecycle

    return Lifecycle().retrain(name).to_dict()


@task(cache_policy=NO_CACHE)
def user_champions(families: list[str] | None = None) -> list[str]:
    """Registered models with a champion that users brought (``origin`` tag ``user``), of
    ``families`` (default: all)."""
    from riskops.registry import CHAMPION, Registry
    from riskops.settings import Settings

    registry = Registry(Settings())
    names = []
    for name, family in registry.champions().items():
        if families is not None and family not in families:
            continue
        info = registry.version_for_alias(name, CHAMPION)
        if info is not None and info.tags.get("origin") == "user":
            names.append(name)
    return sorted(names)


@task(
    retries=2,
    retry_delay_seconds=3,
    retry_condition_fn=_retry_unless_our_error,
    cache_policy=NO_CACHE,
    task_run_name="promote-{name}",
)
def promote_challenger(
    name: str, version: int | None = None, force: bool = False, reason: str | None = None
) -> dict[str, Any]:
    """Gates → alias → audit. A refusal is a result, not a task failure."""
    from riskops.errors import PromotionRefused
    from riskops.lifecycle import Lifecycle

    try:
        return Lifecycle().promote(name, version, force=force, reason=reason).to_dict()
    except PromotionRefused as refused:
        return {
            "model": {"name": name, "version": version},
            "promoted": False,
            "forced": False,
            "note": str(refused),
            "report": refused.report.to_dict() if refused.report is not None else None,
        }


@task(retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE, task_run_name="resolve-{name}")
def resolve_version(name: str, version: int | None = None) -> dict[str, Any]:
    """The version a promotion gates (the challenger by default) and its MLflow run."""
    from riskops.registry import Registry
    from riskops.settings import Settings

    info = Registry(Settings()).resolve(name, version)
    return {"version": info.version, "run_id": info.run_id}


@task(retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE, task_run_name="drift-{name}")
def check_drift(name: str, recent: dict[str, Any] | None = None) -> dict[str, Any]:
    """Champion's training reference against recent data and the service's inference log."""
    from riskops.data import DataSource
    from riskops.monitoring import Monitor

    return Monitor().check(name, DataSource(**recent) if recent else None).to_dict()


@task(cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str) -> None:
    """A Prefect artifact, so the UI shows what the flow decided."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(key=key, markdown=markdown)
