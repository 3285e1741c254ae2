"""Champions held in memory and swapped in place when the audit trail names another version.

What is served is what the audit trail says
--------------------------------------------
Each registered model's holder asks its :class:`Source` what to serve: by default the
:class:`LedgerSource`, which folds the model's audit records (:mod:`riskops.ledger.state`)
and answers the trail's champion -- never an MLflow alias, which anybody with registry access
can move. The alias is read only to report it (``/models`` shows ``alias_version`` and
``audited``). A version is loaded through :class:`~riskops.ledger.loader.VerifiedLoader`:
its identity (training run, incarnation of the registered model) and every file's SHA-256 are
checked against the ``register`` record before anything is deserialised. When the trail
names no champion (a model deleted and created again, say) nothing is served for it.

Polling, and webhooks where a tracking server sends them
--------------------------------------------------------
A service must notice ``riskops promote`` (or ``rollback``) within seconds, whoever runs it and
wherever. Each holder polls every ``settings.swap_poll_seconds`` from a background thread:
only a tracking *server* delivers MLflow 3's webhooks, and with the default SQLite store
nothing would be sent; a poll is two indexed queries per model; every worker process polls
for itself, so all converge without a fan-out; nothing is lost if a poll fails. Where a
server is used and ``RISKOPS_WEBHOOK_URL`` is set, an alias event wakes the named holder's
poll at once (:meth:`ChampionHolder.wake`, :mod:`services.webhooks`); the poll stays.

Swapping
--------
The new version is loaded completely (by *version*, so that a second promotion racing the
load cannot mislabel it), prepared by the family's route (derived validators) and warmed up
before one attribute assignment publishes it. Requests read that attribute once and use the
:class:`Champion` they got for the whole request, so a request never mixes two versions and
none fails during the swap. A version is published only when the audit chain verifies; one
that fails to load leaves the current champion serving, is reported by ``status()`` and is
retried after ``_RETRY`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from riskops.serving.route import Champion

logger = logging.getLogger("riskops.serving")

_RETRY = 30.0
"""Seconds before a version that failed to load is tried again."""

Prepare = Callable[[Any], Any]
"""The family route's hook: ``estimator -> state``; validates, derives and warms up."""
Live = Callable[[str, int], Callable[[str], dict[str, Any]]]
"""``(name, version) -> (series -> forecast)``: a version's live forecasts
(:meth:`riskops.live.serving.LiveRoutes.forecasts`)."""


@dataclass(frozen=True)
class Wanted:
    """What the trail says a holder should serve now.

    ``version`` is ``None`` when it names nothing; ``alias_version`` is where the registry's
    alias points (reported, never used); ``note`` says why they differ, when they do.
    """

    version: int | None
    run_id: str = ""
    family: str = ""
    model_kind: str = ""
    alias_version: int | None = None
    note: str | None = None

    @property
    def audited(self) -> bool:
        return self.alias_version == self.version


class Source(Protocol):
    """Where a holder learns what to serve and loads it."""

    def wanted(self, name: str, role: str) -> Wanted: ...

    def load(self, name: str, version: int) -> Any: ...

    def verify_chain(self) -> None: ...

    def champions(self) -> dict[str, str]: ...


class LedgerSource:
    """The audit trail's answer (see the module docstring)."""

    def __init__(self, settings: Any) -> None:
        from riskops.ledger.loader import VerifiedLoader

        self.loader = VerifiedLoader(settings)

    def wanted(self, name: str, role: str) -> Wanted:
        registry = self.loader.registry
        alias = registry.version_for_alias(name, role)
        alias_version = alias.version if alias else None
        state = self.loader.state(name)
        version = state.alias(role)
        if version is None:
            return Wanted(None, alias_version=alias_version, note=_unaudited(name, role, alias))
        _, info = self.loader.registered(name, version, state)
        note = None
        if alias_version != version:
            note = (
                f"{name}@{role} points to {'nothing' if alias is None else f'v{alias_version}'} "
                f"but the audit trail's {role} is v{version}: the alias is not used"
            )
        return Wanted(
            version,
            info.run_id,
            info.tags.get("family", ""),
            info.tags.get("model_kind", ""),
            alias_version,
            note,
        )

    def load(self, name: str, version: int) -> Any:
        return self.loader.estimator(name, version)

    def champions(self) -> dict[str, str]:
        """Every model the audit trail names a champion of, with its family."""
        from riskops.ledger.state import fold_all

        found = {}
        for name, state in fold_all(self.loader.trail.records()).items():
            if state.champion is None:
                continue
            try:
                _, info = self.loader.registered(name, state.champion, state)
            except Exception:  # deleted or re-created: its holder will say so if held
                continue
            found[name] = info.tags.get("family", "")
        return found

    def verify_chain(self) -> None:
        result = self.loader.trail.verify()
        if not result.ok:
            where = f"record {result.first_broken}" if result.first_broken else "anchor"
            raise RuntimeError(f"audit chain broken at {where}: {result.reason}; not swapping")


def _unaudited(name: str, role: str, alias: Any) -> str | None:
    if alias is None:
        return None
    return (
        f"{name}@{role} points to v{alias.version} but the audit trail names no {role}: "
        "nothing is served"
    )


@dataclass
class _Status:
    last_check: float | None = None
    last_error: str | None = None
    failed_version: int | None = None
    failed_at: float = 0.0
    nothing_named: bool = False
    wanted: Wanted | None = None
    swaps: int = 0
    listeners: list[Callable[[Champion], None]] = field(default_factory=list)


class ChampionHolder:
    """The current champion (or shadow) of one registered model, as the audit trail names it.

    Parameters
    ----------
    source
        What to serve and how to load it (:class:`LedgerSource` in the service).
    name
        Registered model name, e.g. ``credit_pd``.
    prepare
        Called with each newly loaded estimator before it is published; raises to refuse
        a version the service cannot serve (the current champion then keeps serving).
    role
        ``champion`` (default) or ``shadow``.
    live
        Where each loaded version finds its live forecasts
        (:attr:`riskops.serving.route.Champion.live`); ``None``: served without them.
    """

    def __init__(
        self,
        source: Source,
        name: str,
        prepare: Prepare | None = None,
        role: str = "champion",
        live: Live | None = None,
    ) -> None:
        self.source = source
        self.name = name
        self.alias = role
        self._prepare = prepare
        self._live = live
        self._current: Champion | None = None
        self._status = _Status()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Champion | None:
        """The champion to use for one request (read once per request)."""
        return self._current

    def on_swap(self, listener: Callable[[Champion], None]) -> None:
        """Call ``listener(champion)`` after each published version (metrics, logs)."""
        self._status.listeners.append(listener)

    def refresh(self) -> bool:
        """Ask the trail once; load and publish a new version. True when it swapped."""
        with self._refresh_lock:
            status = self._status
            status.last_check = time.time()
            try:
                wanted = self.source.wanted(self.name, self.alias)
            except Exception as exc:  # store unreachable: keep serving, retry next poll
                self._record_error(f"audit trail or registry: {type(exc).__name__}: {exc}", None)
                return False
            previous = status.wanted
            status.wanted = wanted
            if wanted.note and (previous is None or previous.note != wanted.note):
                logger.warning("%s", wanted.note)
            current = self._current
            if wanted.version is None:
                status.nothing_named = True
                if current is not None:
                    logger.warning(
                        "%s: the audit trail names no %s; v%s is no longer served",
                        self.name,
                        self.alias,
                        current.version,
                    )
                    self._current = None
                status.last_error = None
                status.failed_version = None
                return False
            status.nothing_named = False
            if current is not None and (current.version, current.run_id) == (
                wanted.version,
                wanted.run_id,
            ):
                status.last_error = None
                status.failed_version = None
                return False
            if status.failed_version == wanted.version and time.time() < status.failed_at + _RETRY:
                return False  # do not reload a broken version on every poll
            try:
                self.source.verify_chain()
                champion = self._load(wanted)
            except Exception as exc:
                logger.warning(
                    "cannot load %s v%s: %s: %s", self.name, wanted.version, type(exc).__name__, exc
                )
                self._record_error(
                    f"v{wanted.version}: {type(exc).__name__}: {exc}", wanted.version
                )
                return False
            self._current = champion  # the swap: one reference, atomically replaced
            status.last_error = None
            status.failed_version = None
            status.swaps += 1
        logger.info(
            "%s: serving v%s (was %s)",
            self.name,
            champion.version,
            f"v{current.version}" if current else "none",
        )
        for listener in status.listeners:
            try:
                listener(champion)
            except Exception:
                logger.exception("swap listener failed for %s", self.name)
        return True

    def _load(self, wanted: Wanted) -> Champion:
        assert wanted.version is not None
        estimator = self.source.load(self.name, wanted.version)
        state = self._prepare(estimator) if self._prepare is not None else None
        return Champion(
            name=self.name,
            version=wanted.version,
            run_id=wanted.run_id,
            family=wanted.family,
            model_kind=wanted.model_kind or type(estimator).__name__,
            estimator=estimator,
            state=state,
            loaded_at=time.time(),
            live=None if self._live is None else self._live(self.name, wanted.version),
        )

    def _record_error(self, message: str, version: int | None) -> None:
        if message != self._status.last_error:
            logger.warning("%s: %s", self.name, message)
        self._status.last_error = message
        if version is not None:
            self._status.failed_version = version
            self._status.failed_at = time.time()

    # -------------------------------------------------------------- polling
    def start(self, period_seconds: float) -> ChampionHolder:
        """Poll the alias every ``period_seconds`` in a daemon thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._poll,
                args=(period_seconds,),
                name=f"champion-{self.name}",
                daemon=True,
            )
            self._thread.start()
        return self

    def wake(self) -> None:
        """Poll now rather than at the end of the period (an MLflow webhook said an alias
        of this model moved: :mod:`services.webhooks`)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _poll(self, period_seconds: float) -> None:
        while True:
            self._wake.wait(period_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except Exception:  # the poller must outlive any single failure
                logger.exception("champion poll failed for %s", self.name)

    def readiness(self) -> tuple[str, str | None]:
        """``(state, why)`` for ``/readyz``: ``"ready"`` (serving the alias's version, or
        serving while the registry is briefly unreachable), ``"absent"`` (the registry has
        no such alias: nothing to wait for), ``"loading"`` (not checked or loaded yet) or
        ``"failed"`` (the alias's version cannot be loaded, or nothing is served and the
        registry cannot be read)."""
        champion = self._current
        status = self._status
        if status.failed_version is not None and status.last_error:
            return "failed", status.last_error
        if champion is not None:
            return "ready", None
        if status.last_error:
            return "failed", status.last_error
        if status.last_check is None:
            return "loading", "not checked yet"
        if status.nothing_named:
            return "absent", f"the audit trail names no {self.alias} of {self.name}"
        return "loading", "the champion is being loaded"

    def status(self) -> dict[str, Any]:
        """What is served and how fresh it is, for ``GET /models``."""
        champion = self._current
        status = self._status
        out: dict[str, Any] = {
            "name": self.name,
            "alias": self.alias,
            "status": "serving" if champion is not None else "unavailable",
            "version": champion.version if champion else None,
            "family": champion.family if champion else None,
            "model_kind": champion.model_kind if champion else None,
            "run_id": champion.run_id if champion else None,
            "loaded_at": _iso(champion.loaded_at) if champion else None,
            "last_check": _iso(status.last_check) if status.last_check else None,
            "swaps": status.swaps,
        }
        wanted = status.wanted
        if status.nothing_named:
            out["note"] = f"the audit trail names no {self.alias} of {self.name}"
        if wanted is not None:
            out["alias_version"] = wanted.alias_version
            out["audited"] = champion is not None and champion.version == wanted.version
            if wanted.note:
                out["note"] = wanted.note
        if status.last_error:
            out["last_error"] = status.last_error
        return out


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
