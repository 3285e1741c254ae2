"""Every registered champion the service can answer with, found while it runs.

Each family's standard model (``credit_pd``, ``market_var``...) is held from the start,
champion or not. Any other model that gets an audited champion (a data scientist's
``card_pd``, a VaR model per desk) is discovered by a poll of the audit trail (every
``swap_poll_seconds``) and from then on held like them: loaded and prepared by its
family's route before it is published, swapped when the trail names another version, and
never swapped in when it cannot load (the previous version keeps serving; ``GET /models``
shows the error). A request names the model with ``"model": NAME``; a name the directory does not
hold, or a model of another family than the route's, is a 404 naming the models it has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from riskops.serving.route import Champion
from services.champions import ChampionHolder, Live

logger = logging.getLogger("riskops.serving")


class ChampionDirectory:
    """Champion holders by registered model name, with the family each one serves.

    Parameters
    ----------
    source
        What the audit trail says to serve, and how to load it.
    prepare
        Family -> the adapter hook that validates and warms up a loaded version.
    defaults
        Family -> the model a route answers with when the request names none.
    on_new
        Called with ``(name, family, holder)`` when a model is added (writers, metrics).
    live
        Where each held version finds its live forecasts (:class:`~services.champions.
        ChampionHolder`'s ``live``).
    """

    def __init__(
        self,
        source: Any,
        prepare: dict[str, Callable[[Any], Any]],
        defaults: dict[str, str],
        on_new: Callable[[str, str, ChampionHolder], None] | None = None,
        live: Live | None = None,
    ) -> None:
        self.source = source
        self._live = live
        self.prepare = prepare
        self.defaults = dict(defaults)
        self._on_new = on_new
        self._holders: dict[str, ChampionHolder] = {}
        self._families: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_or_wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._period = 2.0
        self.last_error: str | None = None
        self._shadows: dict[str, int] = {}

    # ------------------------------------------------------------------ lookup
    def holders(self) -> dict[str, ChampionHolder]:
        """Name -> holder, a snapshot."""
        return dict(self._holders)

    def family_of(self, name: str) -> str | None:
        return self._families.get(name)

    def holder(self, family: str, name: str | None) -> ChampionHolder | None:
        """The holder answering ``family``'s route for ``name`` (default: the family's model);
        ``None`` when the name is unknown or belongs to another family."""
        name = name or self.defaults[family]
        holder = self._holders.get(name)
        if holder is None or self._families.get(name) != family:
            return None
        return holder

    def shadow_version(self, name: str) -> int | None:
        """The version the audit trail names in shadow for ``name`` (as of the last poll),
        or ``None``. Only the number: the shadow is loaded by the shadow process
        (:mod:`services.shadow`), never in the worker."""
        return self._shadows.get(name)

    def refresh_shadows(self) -> None:
        """Ask the trail which version of each held model is in shadow."""
        found = {}
        for name in list(self._holders):
            try:
                version = self.source.wanted(name, "shadow").version
            except Exception as exc:  # store unreachable: keep the last answer
                logger.warning("%s: cannot read its shadow: %s", name, exc)
                version = self._shadows.get(name)
            if version is not None:
                found[name] = version
        if found != self._shadows:
            logger.info("shadows: %s", found or "none")
        self._shadows = found

    def names(self, family: str) -> list[str]:
        return sorted(n for n, f in self._families.items() if f == family)

    # ------------------------------------------------------------------ membership
    def add(self, name: str, family: str) -> ChampionHolder:
        with self._lock:
            holder = self._holders.get(name)
            if holder is not None:
                return holder
            holder = ChampionHolder(self.source, name, self.prepare[family], live=self._live)
            if self._on_new is not None:
                self._on_new(name, family, holder)
            self._families[name] = family
            self._holders[name] = holder  # published last: requests never see half a holder
        return holder

    def discover(self) -> list[str]:
        """Add (load, start polling) every audited champion not held yet; returns the names
        added. Errors are recorded and retried on the next poll."""
        try:
            found = self.source.champions()
        except Exception as exc:  # store unreachable: keep serving what is held
            message = f"audit trail: {type(exc).__name__}: {exc}"
            if message != self.last_error:
                logger.warning("model discovery failed: %s", message)
            self.last_error = message
            return []
        self.last_error = None
        added = []
        for name, family in sorted(found.items()):
            if name in self._holders:
                continue
            if family not in self.prepare:
                continue  # not a served family (or no family tag): nothing to route it to
            holder = self.add(name, family)
            holder.refresh()
            if self._thread is not None:
                holder.start(self._period)
            added.append(name)
            logger.info("%s: discovered a %s champion", name, family)
        return added

    # ------------------------------------------------------------------ polling
    def start(self, period_seconds: float) -> ChampionDirectory:
        """Poll every holder's alias and the registry for new champions."""
        self._period = float(period_seconds)
        for holder in self.holders().values():
            holder.start(self._period)
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._poll, name="champion-directory", daemon=True
            )
            self._thread.start()
        return self

    def _poll(self) -> None:
        while True:
            self._stop_or_wake.wait(self._period)
            self._stop_or_wake.clear()
            if self._stop.is_set():
                return
            try:
                self.discover()
                self.refresh_shadows()
            except Exception:  # the poller must outlive any single failure
                logger.exception("model discovery failed")

    def wake(self, name: str) -> None:
        """An alias of ``name`` moved (an MLflow webhook): its holder polls now; a model not
        held yet is looked for now."""
        holder = self._holders.get(name)
        if holder is not None:
            holder.wake()
        else:
            self._stop_or_wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._stop_or_wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for holder in self.holders().values():
            holder.stop()

    def current(self, family: str, name: str | None) -> tuple[str, Champion | None, bool]:
        """``(name, champion, known)`` for one request."""
        resolved = name or self.defaults[family]
        holder = self.holder(family, resolved)
        if holder is None:
            return resolved, None, False
        return resolved, holder.current, True
