"""The service's directory of champions by name, on a real MLflow registry (SQLite)."""

from __future__ import annotations

from riskops.audit import AuditTrail
from riskops.families import registered_name
from riskops.registry import CHAMPION, Registry
from riskops.settings import Settings
from services import adapters
from services.directory import ChampionDirectory


def _directory(settings: Settings) -> ChampionDirectory:
    return ChampionDirectory(
        Registry(settings),
        {family: route.prepare for family, route in adapters.routes().items()},
        {family: registered_name(family) for family in adapters.routes()},
    )


def _log_unservable_model() -> None:
    """A real (tiny) logged model in the active run: registrable, but no credit champion."""
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    mlflow.sklearn.log_model(DummyClassifier().fit([[0.0], [1.0]], [0, 1]), name="model")


def test_a_new_champion_that_cannot_load_is_listed_with_its_error_and_never_served(
    settings: Settings,
) -> None:
    # Given a credit model whose champion version was never audited at registration,
    # so that its files cannot be verified and it must not load
    import mlflow

    from riskops.tracking import configure

    configure(settings)
    with mlflow.start_run() as run:
        _log_unservable_model()
    registry = Registry(settings)
    version = registry.register(run.info.run_id, "broken_pd", {"family": "credit"})
    # made champion by a recorded override (audited first), so only loading can fail
    AuditTrail(settings).append(
        "override",
        "broken_pd",
        version.version,
        alias_changes=[{"alias": CHAMPION, "from": None, "to": version.version}],
        reason="a champion whose model cannot load",
    )
    registry.set_alias("broken_pd", CHAMPION, version.version)
    directory = _directory(settings)
    # When the directory polls the registry
    added = directory.discover()
    # Then it holds the name for the credit route, serves nothing, and says why
    assert added == ["broken_pd"]
    holder = directory.holder("credit", "broken_pd")
    assert holder is not None and holder.current is None
    status = holder.status()
    assert status["status"] == "unavailable"
    assert status["last_error"].startswith(f"v{version.version}: ")
    # and the name is not routed to another family, nor is an unknown name
    assert directory.holder("var", "broken_pd") is None
    assert directory.holder("credit", "nobody_pd") is None
    # and a second poll adds nothing new
    assert directory.discover() == []


def test_models_without_a_champion_or_a_served_family_are_not_discovered(
    settings: Settings,
) -> None:
    import mlflow

    from riskops.tracking import configure

    configure(settings)
    with mlflow.start_run() as run:
        _log_unservable_model()
    registry = Registry(settings)
    registry.register(run.info.run_id, "challenger_only", {"family": "credit"})
    stray = registry.register(run.info.run_id, "no_family", {})
    registry.set_alias("no_family", CHAMPION, stray.version)
    # When the directory polls
    added = _directory(settings).discover()
    # Then neither a model without a champion nor one without a family is held
    assert added == []
