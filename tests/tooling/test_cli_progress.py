"""Long work shows its steps with elapsed times on a terminal's stderr, and nothing at all
under ``--json`` or when stderr is not a terminal (a pipe, a log file, CI)."""

from __future__ import annotations

import io
import re
import threading

import pytest
from rich.console import Console

from riskops import progress as steps
from riskops.cli import output


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=80), buffer


def _run_steps() -> None:
    steps.step("loading and validating the data")
    steps.step("fitting credit (lightgbm)")
    for done in range(4):
        steps.count("assets fitted", done, 3)


def test_a_terminal_sees_each_step_with_its_elapsed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    console, buffer = _console(terminal=True)
    monkeypatch.setattr(output, "stderr", console)
    with output.progress("training credit", json_out=False):
        _run_steps()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())
    # Then the title, every step and the count are shown, each with an elapsed clock
    for text in (
        "training credit",
        "loading and validating the data",
        "fitting credit (lightgbm)",
        "assets fitted 3/3",
    ):
        assert text in shown, shown
    assert re.search(r"fitting credit \(lightgbm\)\s+0:00:\d\d", shown), shown
    # and once the block ends, nothing listens any more
    assert steps._listeners == []


@pytest.mark.parametrize(("terminal", "json_out"), [(True, True), (False, False)])
def test_json_and_pipes_get_no_progress(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, json_out: bool
) -> None:
    console, buffer = _console(terminal=terminal)
    monkeypatch.setattr(output, "stderr", console)
    with output.progress("training credit", json_out=json_out):
        _run_steps()
    assert buffer.getvalue() == ""


def test_steps_from_a_flow_thread_reach_the_display() -> None:
    # A flow's tasks run in threads of the CLI's process: they report to the same listener
    seen: list[str] = []
    with steps.listening(lambda description, done, total: seen.append(description)):
        worker = threading.Thread(target=steps.step, args=("training var",))
        worker.start()
        worker.join()
    assert seen == ["training var"]
