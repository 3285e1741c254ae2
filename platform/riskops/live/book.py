"""The one path every observation takes: checked, recorded, scored, forecast, committed.

``riskops observe``, ``POST /market/observe`` and ``riskops stream`` all call
:meth:`LiveBook.ingest` with a batch of messages. For each one, in order:

1. **the series' ledger**: a malformed message, a bar already recorded (a *duplicate*: same
   timestamp, same values), a bar under a recorded timestamp with other values (a
   *conflict*) and a bar before the series' last one (*out of order*) get that outcome and a
   dead letter with the reason; a bar with only a close gets its return from the previous
   close (the first close of a series only *anchors* the returns);
2. **each live champion** (:mod:`riskops.live.champions`) following the series: its state
   (cached, else restored from the last checkpoint and the bars scored after it, else
   built from the history before the bar -- the champion's training data for its own
   asset, else the series' recorded observations once there are
   :data:`~riskops.live.champions.MIN_HISTORY_DAYS` of them, else the champion is *warming
   up* on the series) scores the bar against the forecast it issued for it (VaR exceptions
   and the detectors, the variance's QLIKE, the anomaly alert), absorbs it and issues the
   next forecast;
3. **one transaction** (:meth:`~riskops.evidence.store.EvidenceStore.append_all`) writes
   the observations, forecasts, scores, state checkpoints, alarms and dead letters of the
   whole batch, each stream's head checked against the one the rows were built on (a
   stream another writer moved is *stale*: nothing is written, the caches are dropped and
   the batch is tried once more from the store).

A state is checkpointed at its first bar, then every :data:`CHECKPOINT_EVERY` bars, and
when a process stops cleanly (:meth:`LiveBook.save_states`), not at every bar: the scores
stream of a live stream is the log of the bars its state absorbed, in order (one row per
bar, written in the same transaction as the bar), so a state is restored from its last
checkpoint by re-applying the bars scored after it (the update is deterministic). A
restored state -- after a restart, a stale head or a takeover by another process -- is the
state an uninterrupted book holds, detectors and benchmark included.

Only then does the caller acknowledge the messages: a process killed at any point loses no
acknowledged observation, and a message delivered again is a duplicate. After the commit,
each alarm is audited (an ``alarm`` record naming the seal of the scores stream) and handed
to ``on_alarm`` (the command line wires the Prefect event); an alarm committed but not yet
audited when a process died is audited by the next one (:meth:`LiveBook.publish_pending`).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from riskops.errors import BadInputError
from riskops.evidence.store import Batch, EvidenceConflict, EvidenceStore, StaleHead
from riskops.live import kinds
from riskops.live.champions import (
    MIN_HISTORY_DAYS,
    LiveChampion,
    live_champions,
    live_shadows,
    load_champion,
)
from riskops.live.observations import DEAD_LETTERED, Observation, Refused
from riskops.live.watch import LEVEL, Watch
from riskops.settings import Settings

__all__ = ["IngestReport", "LiveBook", "Outcome"]

logger = logging.getLogger("riskops.live")

REFRESH_SECONDS = 5.0
"""How often the book asks the trail which champions are live (a promotion is followed
within this time)."""

CHECKPOINT_EVERY = 50
"""Bars between two state checkpoints of one live stream (module doc). A checkpoint row is
the whole online state -- an FHS/HS window is hundreds of floats -- serialised, hashed and
written; at every bar it was the dearest row of the batch. Restoring replays at most
``CHECKPOINT_EVERY - 1`` bars (tens of microseconds each: one state update and, with the
watch, one detector step), so 50 keeps a restore of a stream near a millisecond (a
takeover of 500 series, well under a second) while the checkpoints cost 1/50 of what they
did per bar."""


@dataclass
class Outcome:
    """What became of one message: ``reason`` (see
    :data:`riskops.live.observations.OUTCOMES`) and, per live stream, what the champion did
    with it (``forecast``, ``warming_up``, or why its state refused it)."""

    reason: str
    series: str | None
    ts: str | None
    detail: str = ""
    source: str = ""
    message_id: str = ""
    followers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "series": self.series,
            "ts": self.ts,
            "detail": self.detail,
            "message_id": self.message_id,
            "followers": dict(self.followers),
        }


@dataclass
class IngestReport:
    """One batch: an outcome per message, the alarms raised, the latest forecast per stream,
    and whether it was committed (``False``: stale twice; acknowledge nothing)."""

    outcomes: list[Outcome]
    alarms: list[dict[str, Any]] = field(default_factory=list)
    forecasts: dict[str, dict[str, Any]] = field(default_factory=dict)
    committed: bool = True

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.reason for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "committed": self.committed,
            "counts": dict(self.counts),
            "outcomes": [o.to_dict() for o in self.outcomes],
            "alarms": self.alarms,
            "forecasts": self.forecasts,
        }


class _Slot:
    """One (champion, series) live stream: its state, benchmark, detectors, committed seq."""

    __slots__ = (
        "benchmark",
        "champion",
        "fresh",
        "saved",
        "seq",
        "series",
        "state",
        "states",
        "stream",
        "watch",
    )

    def __init__(
        self,
        champion: LiveChampion,
        series: str,
        state: Any,
        seq: int,
        benchmark: Any = None,
        watch: Watch | None = None,
        fresh: bool = False,
        saved: int | None = None,
        states: int = 0,
    ) -> None:
        self.champion = champion
        self.series = series
        self.stream = kinds.live_stream(champion.name, champion.version, series)
        self.state = state
        self.seq = seq
        self.benchmark = benchmark
        self.watch = watch
        self.fresh = fresh
        """Built from history: its first forecast (seq 0) is not stored yet."""
        self.saved = saved
        """The state's seq at its last checkpoint; ``None``: the next bar must write one
        (a fresh state, or a watch started since the checkpoint: neither is in the log)."""
        self.states = states
        """Rows of the stream's checkpoints (its head: what the next one expects)."""

    def due(self, seq: int, every: int) -> bool:
        """Whether the state at ``seq`` is checkpointed (``every`` bars after the last)."""
        return self.saved is None or seq - self.saved >= every

    def checkpoint_row(self, ts: str | None) -> dict[str, Any]:
        """The states row of the state as it is now (the bar ``ts`` its last)."""
        state = self.state
        return {
            "key": str(state.seq),
            "fingerprint": state.fingerprint,
            "ts": ts,
            "state": self.checkpoint(),
        }

    def checkpoint(self) -> str:
        saved: dict[str, Any] = {
            "state": self.state.to_dict(),
            "benchmark": None,
            "watch": None if self.watch is None else self.watch.to_dict(),
        }
        benchmark = self.champion.traits.benchmark
        if self.benchmark is not None and benchmark is not None:
            saved.update(benchmark.save(self.benchmark))
        return kinds.dumps(saved)


@dataclass
class _Pending:
    """Rows of one batch, per (kind, stream), with the head they were built on."""

    rows: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    expect: dict[tuple[str, str], int | None] = field(default_factory=dict)
    kinds_by_name: dict[str, Any] = field(default_factory=dict)

    def add(self, kind: Any, stream: str, row: dict[str, Any], expect: int | None) -> None:
        key = (kind.name, stream)
        self.kinds_by_name[kind.name] = kind
        if key not in self.rows:
            self.rows[key] = []
            self.expect[key] = expect
        self.rows[key].append(row)

    def batches(self) -> list[Batch]:
        return [
            Batch(self.kinds_by_name[k], s, rows, self.expect[(k, s)])
            for (k, s), rows in self.rows.items()
        ]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _exceptions(issued: Any, ret: float) -> dict[str, bool]:
    """Per level tag, whether ``ret`` fell below the VaR ``issued`` for it (the live score
    and the replay of a restore count them alike)."""
    from riskops.market.rolling import level_tag

    return {level_tag(lv): bool(ret < -v) for lv, v in zip(issued.levels, issued.var, strict=True)}


def _joint(bars: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A multi-asset bar from each asset's observations row at one time."""
    joint: dict[str, Any] = {"ret": {a: b["ret"] for a, b in bars.items()}}
    for name in ("high", "low", "volume"):
        values = {a: b.get(name) for a, b in bars.items()}
        if any(v is not None for v in values.values()):
            joint[name] = values
    return joint


class LiveBook:
    """The live champions of one installation and the one path of their observations.

    Parameters
    ----------
    settings
        The installation (its evidence store, audit trail and registry).
    on_alarm
        Called with each audited alarm (a plain dict); the command line passes the Prefect
        event adapter. Its failure is logged and counted, never raised.
    history
        ``(champion, series, before) -> history or None``: where a new state starts, when
        not from the champion's own training data or the series' recorded observations
        (the benchmark passes its synthetic universe).
    champions
        Load these champions instead of asking the trail (tests, the benchmark).
    checkpoint_every
        Bars between two checkpoints of a stream's state (:data:`CHECKPOINT_EVERY`; tests
        take fewer, to restore across several).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        on_alarm: Callable[[dict[str, Any]], Any] | None = None,
        history: Callable[[LiveChampion, str, pd.Timestamp], Any] | None = None,
        champions: Sequence[LiveChampion] | None = None,
        store: EvidenceStore | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        from riskops.ledger.loader import VerifiedLoader

        if isinstance(checkpoint_every, bool) or int(checkpoint_every) < 1:
            raise BadInputError(
                f"checkpoint_every: a number of bars of at least 1, got {checkpoint_every!r}"
            )
        self.checkpoint_every = int(checkpoint_every)

        self.settings = settings or Settings()
        self.store = store or EvidenceStore(self.settings)
        self.loader = VerifiedLoader(self.settings)
        self.on_alarm = on_alarm
        self._history = history
        self._fixed = list(champions) if champions is not None else None
        self._champions: dict[str, LiveChampion] = {
            c.name: c for c in self._fixed or [] if c.role == "champion"
        }
        self._shadows: dict[str, LiveChampion] = {}
        self._checked = 0.0
        self._slots: dict[str, _Slot | None] = {}
        self._series: dict[str, tuple[int, str, float | None]] = {}
        self.counts: Counter[str] = Counter()
        self.events_failed = 0

    # ------------------------------------------------------------------ champions
    def champions(self) -> list[LiveChampion]:
        """The live champions now, and the versions in shadow beside them (the trail asked
        at most every :data:`REFRESH_SECONDS`)."""
        if self._fixed is not None:
            return self._fixed
        now = time.monotonic()
        if now - self._checked < REFRESH_SECONDS and self._checked:
            return [*self._champions.values(), *self._shadows.values()]
        self._checked = now
        self._refresh(self._champions, live_champions(self.loader), "champion")
        self._refresh(self._shadows, live_shadows(self.loader), "shadow")
        return [*self._champions.values(), *self._shadows.values()]

    def _refresh(
        self, held: dict[str, LiveChampion], wanted: dict[str, tuple[int, str]], role: str
    ) -> None:
        """Follow the versions ``wanted`` in ``role``; stop following the others."""
        for name in list(held):
            version = held[name].version
            if wanted.get(name, (None,))[0] != version:
                # Promoted, rolled back, retired or no longer in shadow: its live record ends
                # with its version (its states stay restorable: checkpoint and scores).
                del held[name]
                prefix = kinds.live_stream(name, version, "")
                self._slots = {k: v for k, v in self._slots.items() if not k.startswith(prefix)}
        for name, (version, _) in wanted.items():
            if name not in held:
                try:
                    held[name] = load_champion(self.loader, name, version, role)
                except Exception as exc:  # unloadable: reported, the others go on
                    logger.warning("live: %s v%s (%s) not followed: %s", name, version, role, exc)

    # ------------------------------------------------------------------ ingest
    def ingest(self, items: Sequence[Observation | Refused]) -> IngestReport:
        """Record, score and forecast a batch of messages in one transaction (module doc)."""
        for attempt in range(2):
            try:
                report = self._ingest(items)
            except (StaleHead, EvidenceConflict) as exc:
                # Another writer moved a stream we built on: start again from the store.
                logger.info("live: batch built on stale heads (%s); retrying from the store", exc)
                self.forget()
                if attempt == 1:
                    outcomes = [
                        Outcome("stale", getattr(i, "series", None), None, str(exc)) for i in items
                    ]
                    self.counts.update(o.reason for o in outcomes)
                    return IngestReport(outcomes, committed=False)
                continue
            except Exception:
                self.forget()
                raise
            self.counts.update(report.counts)
            self._publish(report)
            return report
        raise AssertionError("unreachable")

    def forget(self) -> None:
        """Drop every cached state and series head (they are read again from the store)."""
        self._slots.clear()
        self._series.clear()

    def save_states(self) -> int:
        """Checkpoint every cached state whose last bar has none (a process stopping
        cleanly), so that the next one to follow its streams replays nothing; returns how
        many were written.

        One transaction; each stream's scores head is checked against the state's, so a
        stream another process moved meanwhile (it took the series over) gets no checkpoint
        of an older state -- it would be correct, only useless -- and is left out, the
        others written. Failing is logged, never raised: a checkpoint spares a replay,
        nothing depends on it.
        """
        slots = {
            stream: slot
            for stream, slot in self._slots.items()
            if slot is not None and not slot.fresh and slot.saved != slot.seq
        }
        while slots:
            batches: list[Batch] = []
            for stream, slot in slots.items():
                when = slot.state.last_timestamp
                row = slot.checkpoint_row(None if when is None else when.isoformat())
                batches.append(Batch(kinds.STATES, stream, [row], slot.states))
                batches.append(Batch(kinds.SCORES, stream, [], slot.seq))
            try:
                self.store.append_all(batches)
                break
            except StaleHead as exc:
                logger.info("live: %s moved on in another process: not checkpointed", exc.stream)
                self._slots.pop(exc.stream, None)
                if slots.pop(exc.stream, None) is None:  # not one of ours: give up
                    self.forget()
                    return 0
            except EvidenceConflict as exc:
                logger.info("live: states not checkpointed at the stop (%s)", exc)
                self.forget()
                return 0
            except Exception as exc:  # the store is down: the next process replays more
                logger.warning("live: states not checkpointed at the stop: %s", exc)
                return 0
        for slot in slots.values():
            slot.saved = slot.seq
            slot.states += 1
        return len(slots)

    def _ingest(self, items: Sequence[Observation | Refused]) -> IngestReport:
        pending = _Pending()
        outcomes: list[Outcome] = []
        accepted: list[tuple[Observation, Outcome]] = []
        heads: dict[str, tuple[int, str, float | None]] = {}
        for item in items:
            if isinstance(item, Refused):
                outcomes.append(
                    Outcome(
                        item.reason, item.series, item.ts, item.detail, item.source, item.message_id
                    )
                )
                self._dead_letter(pending, outcomes[-1], item.raw)
                continue
            outcome = self._record(item, pending, heads)
            outcomes.append(outcome)
            if outcome.reason in DEAD_LETTERED:
                self._dead_letter(pending, outcome, item.raw)
            elif outcome.reason == "accepted":
                accepted.append((item, outcome))
        report = IngestReport(outcomes)
        touched: dict[str, _Slot] = {}
        champions = self.champions() if accepted else []
        for observation, outcome in accepted:
            for champion in champions:
                self._follow(champion, observation, outcome, pending, touched, report)
        self.store.append_all(pending.batches())
        # Committed: the caches now describe the store.
        self._series.update(heads)
        for slot in touched.values():
            slot.seq = slot.state.seq
            slot.fresh = False
        return report

    # ------------------------------------------------------------------ the series
    def _series_head(self, series: str) -> tuple[int, str, float | None]:
        """``(rows, last timestamp, last close)`` of a series' observations."""
        cached = self._series.get(series)
        if cached is not None:
            return cached
        seq, _ = self.store.head(kinds.OBSERVATIONS, series)
        if seq == 0:
            head: tuple[int, str, float | None] = (0, "", None)
        else:
            row = self.store.rows(kinds.OBSERVATIONS, series, after_seq=seq - 1)[0]
            head = (seq, row["ts"], row["close"])
        self._series[series] = head
        return head

    def _record(
        self,
        item: Observation,
        pending: _Pending,
        heads: dict[str, tuple[int, str, float | None]],
    ) -> Outcome:
        series, key = item.series, item.key
        seq, last_ts, last_close = heads.get(series) or self._series_head(series)
        outcome = Outcome("accepted", series, key, "", item.source, item.message_id)
        if last_ts and pd.Timestamp(key) <= pd.Timestamp(last_ts):
            held = self._held(series, key, pending)
            if held is None:
                outcome.reason = "out_of_order"
                outcome.detail = f"{key} is before the series' last bar, {last_ts}"
            elif self._same(held, item):
                outcome.reason = "duplicate"
                outcome.detail = f"{series} {key} is already recorded"
            else:
                outcome.reason = "conflict"
                outcome.detail = f"{series} {key} is recorded with other values: {held}"
            return outcome
        ret = item.ret
        if ret is None:
            if last_close is None:
                outcome.reason = "anchored"
                outcome.detail = "first close of the series: it anchors the returns"
            else:
                assert item.close is not None
                ret = 100.0 * (item.close / last_close - 1.0)
                object.__setattr__(item, "ret", ret)
        bar = item.bar()
        row = {
            "key": key,
            "ts": key,
            "ret": ret,
            "close": item.close,
            "bar": None if bar is None else kinds.dumps(bar),
        }
        pending.add(kinds.OBSERVATIONS, series, row, None if series in heads else seq)
        heads[series] = (seq + 1, key, item.close)
        return outcome

    def _held(self, series: str, key: str, pending: _Pending) -> dict[str, Any] | None:
        for row in pending.rows.get((kinds.OBSERVATIONS.name, series), []):
            if row["key"] == key:
                return {"ret": row["ret"], "close": row["close"]}
        found = self.store.rows(kinds.OBSERVATIONS, series, keys=[key])
        return {"ret": found[0]["ret"], "close": found[0]["close"]} if found else None

    @staticmethod
    def _same(held: dict[str, Any], item: Observation) -> bool:
        def close(a: float | None, b: float | None) -> bool:
            return b is None or (a is not None and abs(a - b) <= 1e-12 * max(1.0, abs(a)))

        return close(held["ret"], item.ret) and close(held["close"], item.close)

    def _dead_letter(self, pending: _Pending, outcome: Outcome, raw: str | None) -> None:
        source = outcome.source or "unknown"
        ident = outcome.message_id or f"{outcome.series}@{outcome.ts}"
        row = {
            "key": f"{ident}:{outcome.reason}"[:200],
            "reason": outcome.reason,
            "series": outcome.series,
            "ts": outcome.ts,
            "detail": outcome.detail,
            "message": raw,
        }
        rows = pending.rows.get((kinds.DEAD_LETTERS.name, source), [])
        if any(r["key"] == row["key"] for r in rows):
            return
        pending.add(kinds.DEAD_LETTERS, source, row, None)

    # ------------------------------------------------------------------ the champions
    def _follow(
        self,
        champion: LiveChampion,
        observation: Observation,
        outcome: Outcome,
        pending: _Pending,
        touched: dict[str, _Slot],
        report: IngestReport,
    ) -> None:
        if observation.ret is None:
            return
        value: Any
        if champion.multi_asset:
            if observation.series not in champion.assets:
                return
            value = self._joint_bar(champion, observation, pending)
            if value is None:
                return
        else:
            value = observation.ret
        series = champion.series_key(observation.series)
        stream = kinds.live_stream(champion.name, champion.version, series)
        slot = touched.get(stream) or self._slot(champion, series, observation.ts)
        if slot is None:
            outcome.followers[stream] = "warming_up"
            return
        from riskops.market.online import ObservationRejected

        state = slot.state
        issued = state.forecast()
        try:
            new = state.update(value, timestamp=observation.ts)
        except ObservationRejected as exc:
            outcome.followers[stream] = f"{exc.reason}: {exc}"
            return
        touched[stream] = slot
        if slot.fresh and not any(
            r["key"] == "0" for r in pending.rows.get((kinds.FORECASTS.name, stream), [])
        ):
            pending.add(kinds.FORECASTS, stream, self._forecast_row(slot, issued, None)[0], 0)
        scored, alarms = self._score(slot, observation, issued, new)
        if champion.role != "champion":
            alarms = []  # a shadow's live record is evidence for its promotion, not an alarm
        if slot.benchmark is not None:
            slot.benchmark.update(observation.ret, timestamp=observation.ts)
        seq = new.seq
        pending.add(
            kinds.SCORES,
            stream,
            {
                "key": str(seq),
                "ts": observation.key,
                "ret": observation.ret,
                "forecast_seq": seq if new.horizon == 0 else seq - 1,
                "outcome": kinds.dumps(scored),
            },
            slot.seq,
        )
        forecast_row, published = self._forecast_row(slot, new, observation.key)
        pending.add(kinds.FORECASTS, stream, forecast_row, 0 if slot.fresh else slot.seq + 1)
        if slot.due(seq, self.checkpoint_every):
            # Between checkpoints the scores row above is the log a restore replays.
            pending.add(kinds.STATES, stream, slot.checkpoint_row(observation.key), slot.states)
            slot.saved = seq
            slot.states += 1
        for alarm in alarms:
            key = f"v{champion.version}/{series}/{seq}/{alarm.detector}"
            pending.add(
                kinds.ALARMS,
                champion.name,
                {
                    "key": key,
                    "version": champion.version,
                    "series": series,
                    "day_seq": seq,
                    "ts": observation.key,
                    "detector": alarm.detector,
                    "detail": kinds.dumps(alarm.detail),
                },
                None,
            )
            report.alarms.append({"model": champion.name, "key": key, "stream": stream})
        outcome.followers[stream] = "forecast"
        report.forecasts[stream] = published | {
            "seq": seq,
            "based_on": observation.key,
        }

    def _forecast_row(
        self, slot: _Slot, forecast: Any, based_on: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The forecasts row and its forecast as plain JSON values (what is published:
        ``kinds.loads`` of the row's ``forecast`` text, without parsing it back)."""
        values = forecast.to_dict()
        for name in ("kind", "seq", "timestamp", "horizon"):
            values.pop(name, None)
        values = {k: v for k, v in values.items() if v not in (None, [], {})}
        if slot.benchmark is not None:
            benchmark = float(slot.benchmark.forecast().variance)
            # JSON has no NaN: null, as the encoder's fallback would write it.
            values["benchmark_variance"] = benchmark if math.isfinite(benchmark) else None
        champion = slot.champion
        row = {
            "key": str(forecast.seq),
            "model": champion.name,
            "version": champion.version,
            "identity": champion.identity,
            "series": slot.series,
            "based_on": based_on,
            "horizon": forecast.horizon,
            "issued_at": _now(),
            "forecast": kinds.dumps(values),
        }
        return row, values

    def _score(
        self, slot: _Slot, observation: Observation, issued: Any, new: Any
    ) -> tuple[dict[str, Any], list[Any]]:
        """The observation against the forecast issued for it (``issued``); ``new`` is the
        state's output after it (an anomaly detector's score of the day itself)."""
        from riskops.market.rolling import level_tag

        ret = float(observation.ret or 0.0)
        out: dict[str, Any] = {}
        alarms: list[Any] = []
        if issued.levels:
            hits = _exceptions(issued, ret)
            out["exceptions"] = hits
            if slot.watch is not None and level_tag(LEVEL) in hits:
                out["detectors"], alarms = slot.watch.update(hits[level_tag(LEVEL)])
        elif issued.variance is not None:
            variance = float(issued.variance)
            squared = ret * ret
            ratio = squared / variance if variance > 0 else float("nan")
            out["qlike"] = ratio - float(np.log(ratio)) - 1.0 if ratio > 0 else None
            out["squared_return"] = squared
        if new.horizon == 0:
            out["score"] = new.score
            out["alert"] = new.alert
            out["note"] = new.note
        return out, alarms

    def _joint_bar(
        self, champion: LiveChampion, observation: Observation, pending: _Pending
    ) -> dict[str, Any] | None:
        """The bar of every asset of a multi-asset champion at the observation's time, once
        each has arrived (in this batch or before), else ``None``."""
        key = observation.key
        bars: dict[str, dict[str, Any]] = {}
        for asset in champion.assets:
            found = next(
                (
                    r
                    for r in pending.rows.get((kinds.OBSERVATIONS.name, asset), [])
                    if r["key"] == key
                ),
                None,
            )
            if found is None:
                rows = self.store.rows(kinds.OBSERVATIONS, asset, keys=[key])
                found = rows[0] if rows else None
            if found is None or found["ret"] is None:
                return None
            bars[asset] = {"ret": found["ret"], **(kinds.loads(found["bar"]) or {})}
        return _joint(bars)

    def _slot(self, champion: LiveChampion, series: str, first: pd.Timestamp) -> _Slot | None:
        stream = kinds.live_stream(champion.name, champion.version, series)
        if stream in self._slots and self._slots[stream] is not None:
            return self._slots[stream]
        slot = self._restore(champion, series, stream) or self._start(champion, series, first)
        if slot is not None:
            self._slots[stream] = slot
        return slot

    def _restore(self, champion: LiveChampion, series: str, stream: str) -> _Slot | None:
        """The stream's state from the store: its last checkpoint, then the bars scored
        after it re-applied (module doc); ``None`` when it has no checkpoint."""
        states, _ = self.store.head(kinds.STATES, stream)
        if states == 0:
            return None
        row = self.store.rows(kinds.STATES, stream, after_seq=states - 1)[0]
        saved = kinds.loads(row["state"])
        state = champion.family.online(champion.estimator, checkpoint=saved["state"])
        if str(state.seq) != row["key"]:
            raise RuntimeError(
                f"live: {stream} checkpoint {row['key']} holds a state at {state.seq}"
            )
        benchmark = None
        if saved.get("benchmark") is not None and champion.traits.benchmark is not None:
            benchmark = champion.traits.benchmark.restore(saved)
        watch = None if saved.get("watch") is None else Watch.from_dict(saved["watch"])
        slot = _Slot(
            champion, series, state, state.seq, benchmark, watch, saved=state.seq, states=states
        )
        self._replay(slot)
        if watch is None and champion.role == "champion" and champion.traits.exception_watch:
            # Followed in shadow (no watch) before its promotion: its alarms start now. A
            # checkpoint without a watch means no bar after it was watched (the first
            # watched bar writes one: `saved` None), so the replay above saw none either.
            slot.watch = Watch(champion.backtest_hits(LEVEL))
            slot.saved = None
        return slot

    def _replay(self, slot: _Slot) -> None:
        """Re-apply to a restored slot the bars its stream scored after its checkpoint, as
        :meth:`_follow` applied them: the state's update, the watch's exception at
        :data:`~riskops.live.watch.LEVEL`, the benchmark's update. Nothing is written."""
        from riskops.market.online import ObservationRejected
        from riskops.market.rolling import level_tag

        state, champion = slot.state, slot.champion
        # The scores stream holds one row per bar the state absorbed: its seq is the
        # state's (rows with key 1, 2, ...; checked below).
        logged = self.store.rows(kinds.SCORES, slot.stream, after_seq=state.seq)
        if not logged:
            return
        values: list[Any] = [r["ret"] for r in logged]
        if champion.multi_asset:
            values = self._joint_bars(champion, [r["ts"] for r in logged])
        watched = level_tag(LEVEL)
        for row, value in zip(logged, values, strict=True):
            if row["key"] != str(state.seq + 1) or value is None:
                raise RuntimeError(
                    f"live: {slot.stream} score {row['key']} ({row['ts']}) cannot be replayed "
                    f"on its state at {state.seq}"
                )
            when = pd.Timestamp(row["ts"])
            issued = state.forecast()
            try:
                state.update(value, timestamp=when)
            except ObservationRejected as exc:
                raise RuntimeError(
                    f"live: {slot.stream} score {row['key']} ({row['ts']}) was refused on "
                    f"replay: {exc}"
                ) from None
            if slot.watch is not None and issued.levels:
                hits = _exceptions(issued, float(row["ret"] or 0.0))
                if watched in hits:
                    slot.watch.update(hits[watched])
            if slot.benchmark is not None:
                slot.benchmark.update(row["ret"], timestamp=when)
        slot.seq = state.seq

    def _joint_bars(self, champion: LiveChampion, keys: list[str]) -> list[Any]:
        """The multi-asset bars at ``keys`` from the recorded observations (``None`` where
        an asset has none)."""
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for asset in champion.assets:
            found[asset] = {
                r["key"]: {"ret": r["ret"], **(kinds.loads(r["bar"]) or {})}
                for r in self.store.rows(kinds.OBSERVATIONS, asset, keys=keys)
            }
        out: list[Any] = []
        for key in keys:
            bars = {a: found[a].get(key) for a in champion.assets}
            if any(b is None or b["ret"] is None for b in bars.values()):
                out.append(None)
                continue
            out.append(_joint({a: b for a, b in bars.items() if b is not None}))
        return out

    def _start(self, champion: LiveChampion, series: str, first: pd.Timestamp) -> _Slot | None:
        history = champion.history(series, first)
        if history is None and self._history is not None:
            history = self._history(champion, series, first)
        if (
            history is None
            and not champion.multi_asset
            and self._series_head(series)[0] >= MIN_HISTORY_DAYS
        ):
            history = self._recorded_history(series, first)
        if history is None:
            return None
        state = champion.family.online(champion.estimator, history=history)
        traits = champion.traits
        benchmark = None if traits.benchmark is None else traits.benchmark.start(history)
        # A version in shadow gets no watch: its live record is evidence, not an alarm.
        watch = (
            Watch(champion.backtest_hits(LEVEL))
            if traits.exception_watch and champion.role == "champion"
            else None
        )
        # Its first bar is checkpointed (`saved` None): a restore never rebuilds a state from
        # history, which may have changed since (the recorded observations grow).
        return _Slot(champion, series, state, 0, benchmark, watch, fresh=True)

    def _recorded_history(self, series: str, before: pd.Timestamp) -> pd.Series | None:
        rows = [
            r
            for r in self.store.rows(kinds.OBSERVATIONS, series)
            if r["ret"] is not None and pd.Timestamp(r["ts"]) < before
        ]
        if len(rows) < MIN_HISTORY_DAYS:
            return None
        index = pd.DatetimeIndex([pd.Timestamp(r["ts"]) for r in rows])
        return pd.Series([float(r["ret"]) for r in rows], index=index, name=series)

    # ------------------------------------------------------------------ alarms
    def _publish(self, report: IngestReport) -> None:
        if report.alarms:
            self.publish_pending({a["model"] for a in report.alarms})

    def publish_pending(self, models: set[str] | None = None) -> list[dict[str, Any]]:
        """Audit every committed alarm not audited yet, then hand it to ``on_alarm``."""
        names = models if models is not None else set(self.store.streams(kinds.ALARMS))
        published = []
        for name in sorted(names):
            rows = self.store.rows(kinds.ALARMS, name)
            if not rows:
                continue
            audited = {
                r.body.get("alarm") for r in self.loader.trail.records(name) if r.action == "alarm"
            }
            for row in rows:
                if row["key"] in audited:
                    continue
                published.append(self._audit_alarm(name, row))
        return published

    def _audit_alarm(self, name: str, row: dict[str, Any]) -> dict[str, Any]:
        from riskops.families import family_of_registered
        from riskops.families.alarms import performance_payload

        stream = kinds.live_stream(name, row["version"], row["series"])
        detail = kinds.loads(row["detail"])
        record = self.loader.trail.append(
            "alarm",
            name,
            row["version"],
            alarm=row["key"],
            detector=row["detector"],
            series=row["series"],
            day=row["ts"],
            day_seq=row["day_seq"],
            detail=detail,
            scores_seal=self.store.seal(kinds.SCORES, stream),
            alarms_seal=self.store.seal(kinds.ALARMS, name),
        )
        champion = self._champions.get(name)
        family = champion.family.name if champion is not None else family_of_registered(name)
        # The family's standard model is retrained (and its user champions refit), as the
        # drift event asks; `cause` names this alarm's audit record in the new version.
        event = performance_payload(
            model=name,
            family=family,
            monitor="alarm",
            audit_seq=record.seq,
            families=[family],
            version=row["version"],
            series=row["series"],
            detector=row["detector"],
            day=row["ts"],
            detail=detail,
        )
        if self.on_alarm is not None:
            try:
                self.on_alarm(event)
            except Exception as exc:  # the alarm is audited; the event is best effort
                self.events_failed += 1
                logger.warning("live: the event of alarm %s was not sent: %s", row["key"], exc)
        return event
