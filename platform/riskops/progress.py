"""Steps of long work, announced to whoever listens (the CLI's progress display).

The library says where it is (``step("fitting lightgbm")``); it never draws anything. The
CLI installs a listener for the duration of a command (:func:`listening`) and shows each
step with its elapsed time on stderr; without a listener a step costs a function call.
Standard library only: this module is imported by code that must stay light.

A listener is process-wide, not per thread: a flow's tasks run in threads of the CLI's
process and report to the same display. Steps of work in other processes (a process-pool
task runner) are not seen; their flow reports when each task ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["count", "listening", "step"]

Listener = Callable[[str, int | None, int | None], None]
"""Called with ``(description, done, total)``; ``done``/``total`` only for a count."""

_lock = threading.Lock()
_listeners: list[Listener] = []


def step(description: str) -> None:
    """Announce that the work now does ``description`` (e.g. ``"fitting lightgbm"``)."""
    _announce(description, None, None)


def count(description: str, done: int, total: int) -> None:
    """Announce ``done`` of ``total`` items of one step (``"assets fitted"``, 12, 54): one
    line that moves, rather than a step per item."""
    _announce(description, done, total)


def _announce(description: str, done: int | None, total: int | None) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(description, done, total)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` with every step announced while the block runs."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)
