"""One way to finish a command: a JSON envelope on stdout, or rich text; errors mapped to exit
codes.

Exit codes: 0 ok, 1 unexpected (or a failed verification), 2 bad input (usage errors
included), 3 promotion refused by a gate.

The JSON envelope
-----------------
With ``--json`` every command prints exactly one JSON object on stdout, success or failure,
usage errors included::

    {"ok": true, ...the command's fields}
    {"ok": false, "error": {"type": "BadInputError", "message": "...", "exit_code": 2, ...},
     ...the command's fields when it has some (a refused promotion's decision)}

``ok`` is ``true`` exactly when the exit code is 0. ``error`` always has ``type`` (the
exception's class, or ``UsageError`` for a command line click refused), ``message`` and
``exit_code``; some errors add details (``violations`` of bad data, the ``permission`` that
was missing). A model is always an object, ``{"name": ..., "version": ...}`` (``version``
where the output is about one version).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from riskops.errors import RiskOpsError

stdout = Console()
stderr = Console(stderr=True)


def envelope(payload: dict[str, Any], error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one JSON object of a command: ``ok``, ``error`` when it failed, its fields."""
    from riskops.tracking import jsonable

    head: dict[str, Any] = {"ok": error is None}
    if error is not None:
        head["error"] = error
    return jsonable({**head, **{k: v for k, v in payload.items() if k not in head}})


def error_object(type_name: str, message: str, exit_code: int, **details: Any) -> dict[str, Any]:
    """The ``error`` member of the envelope."""
    return {"type": type_name, "message": message, "exit_code": exit_code, **details}


def model_object(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with its ``model`` name and ``version`` as one ``model`` object, the
    shape every JSON output gives a model."""
    out = dict(payload)
    if isinstance(out.get("model"), dict):
        return out
    model = {"name": out.pop("model", None), "version": out.pop("version", None)}
    return {"model": model, **out}


def print_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, default=str))


def fail(
    message: str,
    exit_code: int,
    json_out: bool,
    *,
    type_name: str = "Failed",
    payload: dict[str, Any] | None = None,
) -> None:
    """End a command that ran but did not succeed (a refusal, a broken chain): the envelope
    with ``ok: false`` under ``--json``, the message on stderr, then the exit code."""
    if json_out:
        print_json(envelope(payload or {}, error_object(type_name, message, exit_code)))
    stderr.print(f"[bold red]error[/bold red] {message}", highlight=False)
    raise typer.Exit(exit_code)


@contextmanager
def command(json_out: bool) -> Iterator[None]:
    """Run a command body, turning errors into the documented exit codes (and, with
    ``--json``, into the envelope)."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except RiskOpsError as exc:
        if json_out:
            details = exc.to_dict()
            details.pop("error", None)
            message = str(details.pop("message", str(exc)))
            print_json(
                envelope({}, error_object(type(exc).__name__, message, exc.exit_code, **details))
            )
        stderr.print(f"[bold red]error[/bold red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        from riskops.storage import storage_failure

        failure = storage_failure(exc)
        if failure is None:  # unexpected: exit 1 with the traceback for the bug report
            if json_out:
                print_json(envelope({}, error_object(type(exc).__name__, str(exc), 1)))
            traceback.print_exc(file=sys.stderr)
            raise typer.Exit(1) from None
        # A read-only or full home is not a bug: one line naming the path and what stopped.
        message = f"{failure}; {_command_name()} stopped before finishing{_where(failure)}"
        if json_out:
            print_json(envelope({}, error_object("StorageError", message, 1)))
        stderr.print(f"[bold red]error[/bold red] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


_running: list[str] = []
"""The command this process runs (``riskops train``), set by the CLI's callback."""


def running(command_path: str) -> None:
    """Remember the command being run, for the one-line storage errors."""
    _running[:] = [command_path]


def _command_name() -> str:
    return f"`{_running[0]}`" if _running else "the command"


def _where(failure: Any) -> str:
    """Where SQLite's errors (which carry no path) happened: somewhere under the home."""
    if failure.path is not None:
        return ""
    from riskops.settings import Settings

    try:
        home = Settings().home
    except Exception:  # a bad setting: the message above still stands
        return ""
    return f" (a database under RISKOPS_HOME {home})"


def emit(payload: dict[str, Any], json_out: bool, render: Callable[[], None] | None = None) -> None:
    """Print the result: the envelope with ``--json``, else the human rendering."""
    if json_out:
        print_json(envelope(payload))
    elif render is not None:
        render()
    else:
        stdout.print_json(json.dumps(payload, default=str))


def wrote(path: Any, what: str = "") -> None:
    """One line per file a command wrote: ``wrote PATH (what)``."""
    suffix = f" ({what})" if what else ""
    stdout.print(f"[green]wrote[/green] {path}{suffix}", highlight=False, soft_wrap=True)


class StepDisplay:
    """The steps of a long command on stderr, each with its elapsed time, under a title
    whose clock runs to the end (rich's live display; see :mod:`riskops.progress`)."""

    def __init__(self, title: str) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/green]"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=stderr,
            transient=False,
        )
        self._title = title
        self._started = time.perf_counter()
        self._current: Any = None
        self._counts: dict[str, Any] = {}

    def __enter__(self) -> StepDisplay:
        self._progress.start()
        self._overall = self._progress.add_task(f"[bold]{self._title}[/bold]", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish_current()
        failed = exc[0] is not None
        self._progress.update(
            self._overall,
            description=f"[bold]{self._title}[/bold]" + (" [red](stopped)[/red]" if failed else ""),
            total=1,
            completed=1,
        )
        self._progress.stop()

    def __call__(self, description: str, done: int | None, total: int | None) -> None:
        if total is not None:
            self._count(description, done or 0, total)
            return
        self._finish_current()
        self._current = self._progress.add_task(f"  {description}", total=None)

    def _count(self, description: str, done: int, total: int) -> None:
        task = self._counts.get(description)
        label = f"  {description} {done}/{total}"
        if task is None:
            self._finish_current()
            task = self._counts[description] = self._progress.add_task(label, total=total)
        self._progress.update(task, description=label, completed=done)

    def _finish_current(self) -> None:
        if self._current is not None:
            self._progress.update(self._current, total=1, completed=1)
            self._current = None


@contextmanager
def progress(title: str, json_out: bool) -> Iterator[None]:
    """Show the steps the library announces (:func:`riskops.progress.step`) with their
    elapsed times on stderr while the block runs; silent with ``--json`` and when stderr
    is not a terminal (a pipe, a log file, CI)."""
    if json_out or not stderr.is_terminal:
        yield
        return
    from riskops import progress as steps

    with StepDisplay(title) as display, steps.listening(display):
        yield
