"""The champion holder's swap rules, against a source of "what the trail says" held in memory.

The holder asks its source which version the audit trail names and loads it through it; the
real source (:class:`services.champions.LedgerSource`, the audit trail and the verified
loader) is exercised over HTTP in ``test_service.py`` and ``test_governed_serving.py``. These
cases are the ones a real store cannot easily be made to produce on cue: a version that fails
to load, a trail that stops naming a champion, a store that is down, readers racing a swap.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from services import champions
from services.champions import ChampionHolder, Wanted


@dataclass
class Model:
    version: int


@dataclass
class MemorySource:
    """The trail's champion per role over a dict; ``broken`` versions fail to load."""

    named: dict[str, int] = field(default_factory=dict)
    broken: set[int] = field(default_factory=set)
    down: bool = False
    loads: int = 0

    def wanted(self, name: str, role: str) -> Wanted:
        if self.down:
            raise ConnectionError("store unreachable")
        version = self.named.get(role)
        if version is None:
            return Wanted(None)
        return Wanted(version, f"run-{version}", "credit", "Model", version)

    def load(self, name: str, version: int) -> Any:
        self.loads += 1
        if version in self.broken:
            raise OSError(f"artifact of v{version} is missing")
        return Model(int(version))

    def verify_chain(self) -> None:
        return None

    def champions(self) -> dict[str, str]:
        return {}


def prepare(estimator: Model) -> dict[str, int]:
    return {"prepared_for": estimator.version}


def test_a_moved_alias_is_loaded_prepared_and_published() -> None:
    source = MemorySource({"champion": 1})
    holder = ChampionHolder(source, "credit_pd", prepare)
    assert holder.current is None

    assert holder.refresh() is True
    first = holder.current
    assert first is not None
    assert (first.version, first.estimator.version, first.state) == (1, 1, {"prepared_for": 1})
    assert holder.refresh() is False  # unchanged alias: no reload
    assert source.loads == 1

    source.named["champion"] = 2
    assert holder.refresh() is True
    assert holder.current is not None
    assert holder.current.version == 2
    # a request that read the old champion keeps a consistent one
    assert (first.version, first.estimator.version) == (1, 1)
    assert holder.status()["swaps"] == 2


def test_a_version_that_fails_to_load_leaves_the_champion_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = MemorySource({"champion": 1}, broken={2})
    holder = ChampionHolder(source, "credit_pd", prepare)
    holder.refresh()

    source.named["champion"] = 2
    assert holder.refresh() is False
    assert holder.current is not None
    assert holder.current.version == 1
    assert "artifact of v2 is missing" in holder.status()["last_error"]
    loads = source.loads
    assert holder.refresh() is False
    assert source.loads == loads  # not retried on every poll

    monkeypatch.setattr(champions, "_RETRY", 0.0)
    source.broken.clear()
    assert holder.refresh() is True
    assert holder.current.version == 2
    assert "last_error" not in holder.status()


def test_an_outage_keeps_the_last_champion_and_a_trail_naming_none_stops_serving() -> None:
    source = MemorySource({"champion": 3})
    holder = ChampionHolder(source, "market_var", None)
    holder.refresh()
    # When the store cannot be read: the champion keeps serving, the error is reported
    source.down = True
    assert holder.refresh() is False
    assert holder.status()["status"] == "serving"
    assert "ConnectionError" in holder.status()["last_error"]
    # When the trail names no champion any more (a model deleted and created again):
    # nothing is served, and the status says why
    source.down = False
    del source.named["champion"]
    assert holder.refresh() is False
    assert holder.current is None
    assert "names no champion" in holder.status()["note"]


def test_a_version_the_service_cannot_prepare_is_refused() -> None:
    def picky(estimator: Model) -> None:
        if estimator.version == 2:
            raise TypeError("Model cannot be served: it lacks ['score_records']")

    source = MemorySource({"champion": 1})
    holder = ChampionHolder(source, "credit_pd", picky)
    holder.refresh()
    source.named["champion"] = 2
    assert holder.refresh() is False
    assert holder.current is not None
    assert holder.current.version == 1
    assert "score_records" in holder.status()["last_error"]


def test_the_poller_swaps_while_readers_only_ever_see_whole_champions() -> None:
    source = MemorySource({"champion": 1})
    holder = ChampionHolder(source, "credit_pd", prepare)
    holder.refresh()
    seen: list[tuple[int, int, int] | None] = []
    stop = threading.Event()

    def read() -> None:
        # Record, never assert, in a thread: the test's assertions run after the joins.
        while not stop.is_set():
            champion = holder.current
            seen.append(
                None
                if champion is None
                else (champion.version, champion.estimator.version, champion.state["prepared_for"])
            )

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    holder.start(0.01)
    try:
        for version in range(2, 12):
            source.named["champion"] = version
            deadline = time.monotonic() + 5
            while holder.current.version != version and time.monotonic() < deadline:  # type: ignore[union-attr]
                time.sleep(0.005)
            assert holder.current.version == version  # type: ignore[union-attr]
    finally:
        stop.set()
        holder.stop()
        for reader in readers:
            reader.join()
    assert None not in seen  # a reader never found the holder empty
    whole = [r for r in seen if r is not None]
    assert len({v for v, _, _ in whole}) >= 2  # the readers did run across swaps
    assert all(v == e == p for v, e, p in whole)


def test_readiness_says_loading_ready_absent_or_failed_and_why() -> None:
    # Given a holder that has not asked the trail yet: loading
    source = MemorySource({"champion": 1})
    holder = ChampionHolder(source, "credit_pd", prepare)
    assert holder.readiness() == ("loading", "not checked yet")
    # When v1 loads: ready
    holder.refresh()
    assert holder.readiness() == ("ready", None)
    # When the trail names a version that cannot load: failed, naming the version,
    # although v1 keeps serving
    source.named["champion"] = 2
    source.broken.add(2)
    holder.refresh()
    state, why = holder.readiness()
    assert state == "failed"
    assert why is not None and why.startswith("v2: OSError")
    assert holder.current is not None and holder.current.version == 1
    # When the trail names the served version again: ready again
    source.named["champion"] = 1
    holder.refresh()
    assert holder.readiness() == ("ready", None)


def test_readiness_of_a_model_without_champion_or_an_unreadable_store() -> None:
    # Given a trail that names no champion: absent, nothing to wait for
    source = MemorySource({})
    holder = ChampionHolder(source, "credit_pd", prepare)
    holder.refresh()
    assert holder.readiness()[0] == "absent"
    # When the registry cannot be read and nothing is served: failed
    source.down = True
    holder.refresh()
    state, why = holder.readiness()
    assert state == "failed"
    assert why is not None and "store unreachable" in why
