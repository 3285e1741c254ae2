"""The champion holder's swap rules, against an in-memory registry with the same methods.

The live suite (``test_service.py``) swaps through MLflow; these cases are the ones a real
registry cannot easily be made to produce on cue: a version that fails to load, an alias
that disappears, a registry that is down, readers racing a swap.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from riskops.registry import VersionInfo
from services import champions
from services.champions import ChampionHolder


@dataclass
class Model:
    version: int


@dataclass
class MemoryRegistry:
    """``version_for_alias`` and ``load_model`` over a dict; ``broken`` versions fail to load."""

    alias: dict[str, int] = field(default_factory=dict)
    broken: set[int] = field(default_factory=set)
    down: bool = False
    loads: int = 0

    def version_for_alias(self, name: str, alias: str) -> VersionInfo | None:
        if self.down:
            raise ConnectionError("registry unreachable")
        version = self.alias.get(alias)
        if version is None:
            return None
        return VersionInfo(name, version, f"run-{version}", "", {"family": "credit"})

    def load_model(self, name: str, alias: str | None = None, version: int | None = None) -> Any:
        assert alias is None, "the holder must load by version, never by alias"
        self.loads += 1
        if version in self.broken:
            raise OSError(f"artifact of v{version} is missing")
        return Model(int(version))  # type: ignore[arg-type]


def prepare(estimator: Model) -> dict[str, int]:
    return {"prepared_for": estimator.version}


def test_a_moved_alias_is_loaded_prepared_and_published() -> None:
    registry = MemoryRegistry({"champion": 1})
    holder = ChampionHolder(registry, "credit_pd", prepare)  # type: ignore[arg-type]
    assert holder.current is None

    assert holder.refresh() is True
    first = holder.current
    assert first is not None
    assert (first.version, first.estimator.version, first.state) == (1, 1, {"prepared_for": 1})
    assert holder.refresh() is False  # unchanged alias: no reload
    assert registry.loads == 1

    registry.alias["champion"] = 2
    assert holder.refresh() is True
    assert holder.current is not None
    assert holder.current.version == 2
    # a request that read the old champion keeps a consistent one
    assert (first.version, first.estimator.version) == (1, 1)
    assert holder.status()["swaps"] == 2


def test_a_version_that_fails_to_load_leaves_the_champion_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = MemoryRegistry({"champion": 1}, broken={2})
    holder = ChampionHolder(registry, "credit_pd", prepare)  # type: ignore[arg-type]
    holder.refresh()

    registry.alias["champion"] = 2
    assert holder.refresh() is False
    assert holder.current is not None
    assert holder.current.version == 1
    assert "artifact of v2 is missing" in holder.status()["last_error"]
    loads = registry.loads
    assert holder.refresh() is False
    assert registry.loads == loads  # not retried on every poll

    monkeypatch.setattr(champions, "_RETRY", 0.0)
    registry.broken.clear()
    assert holder.refresh() is True
    assert holder.current.version == 2
    assert "last_error" not in holder.status()


def test_a_missing_alias_or_a_registry_outage_keeps_the_last_champion() -> None:
    registry = MemoryRegistry({"champion": 3})
    holder = ChampionHolder(registry, "market_var", None)  # type: ignore[arg-type]
    holder.refresh()

    del registry.alias["champion"]
    assert holder.refresh() is False
    assert holder.current is not None
    assert holder.current.version == 3
    assert "no 'champion' alias" in holder.status()["note"]

    registry.alias["champion"] = 3
    registry.down = True
    assert holder.refresh() is False
    assert holder.status()["status"] == "serving"
    assert "ConnectionError" in holder.status()["last_error"]


def test_a_version_the_service_cannot_prepare_is_refused() -> None:
    def picky(estimator: Model) -> None:
        if estimator.version == 2:
            raise TypeError("Model cannot be served: it lacks ['score_records']")

    registry = MemoryRegistry({"champion": 1})
    holder = ChampionHolder(registry, "credit_pd", picky)  # type: ignore[arg-type]
    holder.refresh()
    registry.alias["champion"] = 2
    assert holder.refresh() is False
    assert holder.current is not None
    assert holder.current.version == 1
    assert "score_records" in holder.status()["last_error"]


def test_the_poller_swaps_while_readers_only_ever_see_whole_champions() -> None:
    registry = MemoryRegistry({"champion": 1})
    holder = ChampionHolder(registry, "credit_pd", prepare)  # type: ignore[arg-type]
    holder.refresh()
    seen: list[tuple[int, int, int]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            champion = holder.current
            assert champion is not None
            seen.append(
                (champion.version, champion.estimator.version, champion.state["prepared_for"])
            )

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    holder.start(0.01)
    try:
        for version in range(2, 12):
            registry.alias["champion"] = version
            deadline = time.monotonic() + 5
            while holder.current.version != version and time.monotonic() < deadline:  # type: ignore[union-attr]
                time.sleep(0.005)
            assert holder.current.version == version  # type: ignore[union-attr]
    finally:
        stop.set()
        holder.stop()
        for reader in readers:
            reader.join()
    assert len({v for v, _, _ in seen}) >= 2  # the readers did run across swaps
    assert all(v == e == p for v, e, p in seen)


def test_readiness_says_loading_ready_absent_or_failed_and_why() -> None:
    # Given a holder that has not looked at the registry yet: loading
    registry = MemoryRegistry({"champion": 1})
    holder = ChampionHolder(registry, "credit_pd", prepare)  # type: ignore[arg-type]
    assert holder.readiness() == ("loading", "not checked yet")
    # When v1 loads: ready
    holder.refresh()
    assert holder.readiness() == ("ready", None)
    # When the alias moves to a version that cannot load: failed, naming the version,
    # although v1 keeps serving
    registry.alias["champion"] = 2
    registry.broken.add(2)
    holder.refresh()
    state, why = holder.readiness()
    assert state == "failed"
    assert why is not None and why.startswith("v2: OSError")
    assert holder.current is not None and holder.current.version == 1
    # When the alias is rolled back to the served version: ready again
    registry.alias["champion"] = 1
    holder.refresh()
    assert holder.readiness() == ("ready", None)


def test_readiness_of_a_missing_alias_or_an_unreadable_registry() -> None:
    # Given a registry without the alias: absent, nothing to wait for
    registry = MemoryRegistry({})
    holder = ChampionHolder(registry, "credit_pd", prepare)  # type: ignore[arg-type]
    holder.refresh()
    assert holder.readiness()[0] == "absent"
    # When the registry cannot be read and nothing is served: failed
    registry.down = True
    holder.refresh()
    state, why = holder.readiness()
    assert state == "failed"
    assert why is not None and "registry unreachable" in why
