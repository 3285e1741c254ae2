"""Champions held in memory and swapped in place when the registry's ``champion`` alias moves.

Why polling, not notification
-----------------------------
A service must notice ``riskops promote`` (or ``rollback``) within seconds, whoever runs it and
wherever. We poll the alias every ``settings.swap_poll_seconds`` from a background thread:

* MLflow has no push channel a local deployment could use. MLflow 3 webhooks exist, but only
  a tracking *server* delivers them; with the default SQLite store under ``RISKOPS_HOME``
  nothing would ever be sent, and a promotion made with the MLflow UI or another tool would
  bypass any notification our lifecycle could add itself.
* A poll is one indexed query per model (``get_model_version_by_alias``), about two queries
  a second for four models at the 2 s default: negligible even against a remote server.
* Every worker process polls for itself, so all of them converge without a fan-out
  mechanism, and a worker that was busy or restarting simply catches up on its next poll.
* Staleness is bounded by the poll period; nothing is lost if a poll fails (the next one
  retries), whereas a missed notification would leave a worker on the old model for good.

Swapping
--------
The new version is loaded completely (``mlflow.sklearn.load_model`` by *version*, never by
alias, so that a second promotion racing the load cannot mislabel it), prepared by the
family adapter (derived validators) and warmed up (one prediction, which pulls in lazy
imports such as SHAP) before one attribute assignment publishes it. Requests read that
attribute once and use the :class:`Champion` they got for the whole request, so a request
never mixes two versions and none fails during the swap. With several worker processes each
polls on its own, so for up to one poll period consecutive requests may be answered by either
version; every response names the version that answered it. A version that fails to load
leaves the current champion serving; the failure is reported by ``status()`` and retried
after ``_RETRY`` seconds.

Only audited champions
----------------------
The alias alone is not trusted: anybody with registry access can move it. Each poll compares
the alias with the audit trail (:mod:`riskops.integrity`); a version is served only when the
trail's newest champion record names it. When the alias points elsewhere the holder keeps
(or, on a fresh start, loads) the trail's champion, logs the mismatch once, and ``status()``
reports it in ``/models``. A new version is published only when the audit chain verifies,
and :meth:`~riskops.registry.Registry.load_model` checks the files' SHA-256 against the
audited hashes before unpickling anything; a refused version leaves the current one serving.

"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from riskops import registry as reg
from riskops.integrity import AliasCheck, audited_champion, check_alias
from riskops.serving.route import Champion

logger = logging.getLogger("riskops.serving")

_RETRY = 30.0
"""Seconds before a version that failed to load is tried again."""

Prepare = Callable[[Any], Any]
"""The family route's hook: ``estimator -> state``; validates, derives and warms up."""


@dataclass
class _Status:
    last_check: float | None = None
    last_error: str | None = None
    failed_version: int | None = None
    failed_at: float = 0.0
    alias_missing: bool = False
    check: AliasCheck | None = None
    swaps: int = 0
    listeners: list[Callable[[Champion], None]] = field(default_factory=list)


class ChampionHolder:
    """The current champion of one registered model, refreshed from the registry alias.

    Parameters
    ----------
    registry
        Where versions and aliases are read from.
    name
        Registered model name, e.g. ``credit_pd``.
    prepare
        Called with each newly loaded estimator before it is published; raises to refuse
        a version the service cannot serve (the current champion then keeps serving).
    alias
        The alias to follow, ``champion`` by default.
    trail
        The audit trail the alias is reconciled with; by default the registry settings' trail.
        Only a registry without settings (an in-memory test double) runs unreconciled.
    """

    def __init__(
        self,
        registry: reg.Registry,
        name: str,
        prepare: Prepare | None = None,
        alias: str = reg.CHAMPION,
        trail: Any = None,
    ) -> None:
        if trail is None and getattr(registry, "settings", None) is not None:
            from riskops.audit import AuditTrail

            trail = AuditTrail(registry.settings)
        self.trail = trail
        self.registry = registry
        self.name = name
        self.alias = alias
        self._prepare = prepare
        self._current: Champion | None = None
        self._status = _Status()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Champion | None:
        """The champion to use for one request (read once per request)."""
        return self._current

    def on_swap(self, listener: Callable[[Champion], None]) -> None:
        """Call ``listener(champion)`` after each published version (metrics, logs)."""
        self._status.listeners.append(listener)

    def refresh(self) -> bool:
        """Check the alias once; load and publish a new version. True when it swapped."""
        with self._refresh_lock:
            status = self._status
            status.last_check = time.time()
            try:
                info = self.registry.version_for_alias(self.name, self.alias)
                info = self._reconcile(info)
            except Exception as exc:  # registry unreachable: keep serving, retry next poll
                self._record_error(f"registry: {type(exc).__name__}: {exc}", None)
                return False
            if info is None:
                if not status.alias_missing and self._current is not None:
                    logger.warning(
                        "%s@%s disappeared; still serving v%s",
                        self.name,
                        self.alias,
                        self._current.version,
                    )
                status.alias_missing = True
                return False
            status.alias_missing = False
            current = self._current
            if current is not None and current.version == info.version:
                # Back on the served version (a rollback after a failed load): healthy.
                status.last_error = None
                status.failed_version = None
                return False
            if status.failed_version == info.version and time.time() < status.failed_at + _RETRY:
                return False  # do not reload a broken version on every poll
            try:
                self._verify_chain()
                champion = self._load(info)
            except Exception as exc:
                logger.exception("cannot load %s v%s", self.name, info.version)
                self._record_error(f"v{info.version}: {type(exc).__name__}: {exc}", info.version)
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

    def _reconcile(self, info: reg.VersionInfo | None) -> reg.VersionInfo | None:
        """The version that may be served: the alias's if audited, else the trail's champion."""
        if self.trail is None:
            return info
        claim = audited_champion(self.trail.records(self.name), self.name)
        check = check_alias(claim, info.version if info else None)
        previous = self._status.check
        self._status.check = check
        if check.state != "mismatch":
            return info
        if previous is None or previous.alias_version != check.alias_version:
            logger.warning("%s; serving the audited champion instead", check.message(self.name))
        served = check.servable
        if served is None:
            return None
        if self._current is not None and self._current.version == served:
            return reg.VersionInfo(self.name, served, self._current.run_id, "")
        return self.registry.get_version(self.name, served)

    def _verify_chain(self) -> None:
        if self.trail is None:
            return
        result = self.trail.verify()
        if not result.ok:
            where = f"record {result.first_broken}" if result.first_broken else "anchor"
            raise RuntimeError(f"audit chain broken at {where}: {result.reason}; not swapping")

    def _load(self, info: reg.VersionInfo) -> Champion:
        estimator = self.registry.load_model(self.name, version=info.version)
        state = self._prepare(estimator) if self._prepare is not None else None
        return Champion(
            name=self.name,
            version=info.version,
            run_id=info.run_id,
            family=info.tags.get("family", ""),
            model_kind=info.tags.get("model_kind", type(estimator).__name__),
            estimator=estimator,
            state=state,
            loaded_at=time.time(),
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

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _poll(self, period_seconds: float) -> None:
        while not self._stop.wait(period_seconds):
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
        if status.alias_missing:
            return "absent", f"the registry has no {self.alias!r} alias"
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
        if status.alias_missing:
            out["note"] = f"the registry has no {self.alias!r} alias for {self.name}"
        check = status.check
        if check is not None:
            out["alias_version"] = check.alias_version
            out["audited"] = check.state != "mismatch"
            if check.state != "audited":
                out["note"] = check.message(self.name)
        if status.last_error:
            out["last_error"] = status.last_error
        return out


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
