"""One way to finish a command: a JSON object on stdout, or rich text; errors mapped to exit codes.

Exit codes: 0 ok, 1 unexpected, 2 bad input, 3 promotion refused by a gate.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from riskops.errors import RiskOpsError

stdout = Console()
stderr = Console(stderr=True)


@contextmanager
def command(json_out: bool) -> Iterator[None]:
    """Run a command body, turning errors into the documented exit codes."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except RiskOpsError as exc:
        if json_out:
            print(json.dumps(exc.to_dict(), default=str))
        stderr.print(f"[bold red]error[/bold red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        from riskops.storage import storage_failure

        failure = storage_failure(exc)
        if failure is None:  # unexpected: exit 1 with the traceback for the bug report
            if json_out:
                print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
            traceback.print_exc(file=sys.stderr)
            raise typer.Exit(1) from None
        # A read-only or full home is not a bug: one line naming the path and what stopped.
        message = f"{failure}; {_command_name()} stopped before finishing{_where(failure)}"
        if json_out:
            print(json.dumps({"error": "StorageError", "message": message}))
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
    """Print the result: one JSON object with ``--json``, else the human rendering."""
    if json_out:
        from riskops.tracking import jsonable

        print(json.dumps(jsonable(payload), sort_keys=False))
    elif render is not None:
        render()
    else:
        stdout.print_json(json.dumps(payload, default=str))


@contextmanager
def progress(message: str, json_out: bool) -> Iterator[None]:
    """A spinner on stderr for long work; silent when stderr is not a terminal."""
    if json_out or not stderr.is_terminal:
        yield
        return
    with stderr.status(message):
        yield
