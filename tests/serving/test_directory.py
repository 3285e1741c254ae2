"""The service's directory of champions by name, on a real MLflow registry (SQLite): a model
is discovered when the audit trail names its champion, never because of an alias."""

from __future__ import annotations

from riskops.families import registered_name
from riskops.lifecycle import Lifecycle
from riskops.registry import CHAMPION, Registry
from riskops.settings import Settings
from services import adapters
from services.champions import LedgerSource
from services.directory import ChampionDirectory


def _directory(settings: Settings) -> ChampionDirectory:
    return ChampionDirectory(
        LedgerSource(settings),
        {family: route.prepare for family, route in adapters.routes().items()},
        {family: registered_name(family) for family in adapters.routes()},
    )


def _log_unservable_model(settings: Settings) -> str:
    """A real (tiny) logged model in a run of its own: registrable, but not a credit model
    the credit route can serve (it has no reason codes); returns the run id."""
    import mlflow
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    from riskops.tracking import configure

    configure(settings)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(
            DummyClassifier().fit([[0.0], [1.0]], [0, 1]),
            name="model",
            input_example=[[0.5]],
            pyfunc_predict_fn="predict_proba",
        )
    return run.info.run_id


def test_a_new_champion_that_cannot_be_served_is_listed_with_its_error_and_never_served(
    settings: Settings,
) -> None:
    # Given a credit model made champion through the lifecycle (a recorded override: it
    # has no gate evidence) that the credit route cannot serve
    life = Lifecycle(settings)
    version = life.register_version(
        _log_unservable_model(settings), "broken_pd", {"family": "credit"}
    )
    promoted = life.promote("broken_pd", version, force=True, reason="a champion it cannot serve")
    assert promoted.promoted
    directory = _directory(settings)
    # When the directory polls the audit trail
    added = directory.discover()
    # Then it holds the name for the credit route, serves nothing, and says why
    assert added == ["broken_pd"]
    holder = directory.holder("credit", "broken_pd")
    assert holder is not None and holder.current is None
    status = holder.status()
    assert status["status"] == "unavailable"
    assert status["last_error"].startswith(f"v{version}: TypeError")
    assert "cannot be served" in status["last_error"]
    # and the name is not routed to another family, nor is an unknown name
    assert directory.holder("var", "broken_pd") is None
    assert directory.holder("credit", "nobody_pd") is None
    # and a second poll adds nothing new
    assert directory.discover() == []


def test_models_the_trail_names_no_champion_of_are_not_discovered(settings: Settings) -> None:
    # Given a registered challenger, and a model whose champion alias was set with the plain
    # MLflow client (no audit record)
    life = Lifecycle(settings)
    run_id = _log_unservable_model(settings)
    life.register_version(run_id, "challenger_only", {"family": "credit"})
    registry = Registry(settings)
    stray, _ = registry.register(run_id, "alias_only", {"family": "credit"})
    registry.set_alias("alias_only", CHAMPION, stray.version)
    # When the directory polls
    added = _directory(settings).discover()
    # Then neither is held
    assert added == []
