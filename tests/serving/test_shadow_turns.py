"""The shadow process's idle threads yield to its recorder between requests, so that none is
preempted holding the GIL inside the recorder's transaction (services/shadow.py)."""

from __future__ import annotations

import threading

from services.shadow import _Counts, _Turns

WAIT = 10.0


def test_the_recorder_waits_for_the_request_in_progress_then_parks_the_idle_threads() -> None:
    turns = _Turns()
    events: list[str] = []
    scoring, finish_scoring = threading.Event(), threading.Event()
    written, finish_writing = threading.Event(), threading.Event()
    second_started = threading.Event()

    def score_one() -> None:
        with turns.working():
            events.append("scoring")
            scoring.set()
            finish_scoring.wait(WAIT)
            events.append("scored")

    def write() -> None:
        with turns.writing():
            events.append("writing")
            written.set()
            finish_writing.wait(WAIT)
            events.append("written")

    def score_next() -> None:
        with turns.working():
            events.append("next scoring")
            second_started.set()

    # Given a request being scored
    first = threading.Thread(target=score_one)
    first.start()
    assert scoring.wait(WAIT)
    # When the recorder asks to write, and a second request arrives meanwhile
    recorder = threading.Thread(target=write)
    recorder.start()
    second = threading.Thread(target=score_next)
    second.start()
    # Then neither the write nor the second request starts before the first is scored
    assert not written.wait(0.2)
    finish_scoring.set()
    assert written.wait(WAIT)
    # and the second request waits for the commit, though it asked before the write began
    assert not second_started.wait(0.2)
    finish_writing.set()
    assert second_started.wait(WAIT)
    for thread in (first, recorder, second):
        thread.join(WAIT)
    assert events == ["scoring", "scored", "writing", "written", "next scoring"]


def test_the_shadow_reports_every_counter_before_it_first_changes() -> None:
    # The report sends vars() of the counters: a counter still at its default is sent too
    assert set(vars(_Counts())) == {
        "version",
        "scored",
        "rows",
        "dropped",
        "failed",
        "last_failure",
        "first_scored_at",
        "last_scored_at",
    }
