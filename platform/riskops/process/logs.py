"""Quiet by default: the CLI tells its story on stdout, libraries log to a file.

MLflow, Prefect, Evidently, BentoML and friends log to ``RISKOPS_HOME/logs/riskops.log``
(with Python warnings), never to the terminal, unless ``riskops --verbose`` also shows them
on stderr. MLflow's artifact-download progress bars are off either way. This module imports
only the standard library: it runs before any command and before the heavy imports, which
read these environment variables when they first load.
"""

from __future__ import annotations

import logging
import os
import sys
from io import TextIOWrapper
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
PREFECT_LOGGING_FILE = Path(__file__).with_name("prefect_logging.yml")


class _HomeFileHandler(logging.FileHandler):
    """A file handler that creates its folder on the first record, not at start-up.

    On a home that cannot take the file (read-only, full) records are dropped: a read
    command still answers, and a write command says in one line what it could not write
    (``logging.FileHandler`` would raise the ``OSError`` out of whichever library logged).
    """

    _unavailable = False

    def _open(self) -> TextIOWrapper:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def emit(self, record: logging.LogRecord) -> None:
        if self._unavailable:
            return
        if self.stream is None:
            try:
                self.stream = self._open()
            except OSError:
                self._unavailable = True
                return
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        # A write that failed (a full disk): stop writing rather than print a traceback
        # per record on stderr.
        self._unavailable = True


def log_file(home: Path) -> Path:
    return home / "logs" / "riskops.log"


def configure(home: Path, *, verbose: bool = False) -> Path:
    """Send library logs to the home's log file (and to stderr with ``verbose``)."""
    path = log_file(home)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_riskops", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = _HomeFileHandler(path, encoding="utf-8", delay=True)
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handlers: list[logging.Handler] = [file_handler]
    if verbose:
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers.append(terminal)
    for handler in handlers:
        handler._riskops = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Child processes (a flow's task processes) log the same way: configure_from_environment.
    os.environ["RISKOPS_VERBOSE"] = "true" if verbose else "false"
    # One line per HTTP call to Prefect's API would drown the log file.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    # No progress bars from MLflow's artifact downloads, verbose or not.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if not verbose:
        # MLflow then adds no stderr handler of its own: its loggers reach the root's file.
        os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
        # Prefect's logging without its console handlers (see prefect_logging.yml).
        os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(PREFECT_LOGGING_FILE))
        detach_terminal_handlers()
    return path


def configure_from_environment() -> None:
    """In a child process: log as its parent does (a spawned interpreter inherits the
    environment, ``RISKOPS_HOME`` and ``RISKOPS_VERBOSE``, not the handlers)."""
    from riskops.settings import Settings

    settings = Settings()
    configure(settings.home, verbose=settings.verbose)


def detach_terminal_handlers() -> None:
    """Libraries imported before ``configure`` keep no handler that writes to the terminal.

    Their records propagate to the root logger (the log file) instead.
    """
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        terminal = [h for h in logger.handlers if _writes_to_terminal(h)]
        for handler in terminal:
            logger.removeHandler(handler)
        if terminal:
            logger.propagate = True


def _writes_to_terminal(handler: logging.Handler) -> bool:
    if getattr(handler, "_riskops", False) or isinstance(handler, logging.FileHandler):
        return False
    stream = getattr(handler, "stream", None)
    if stream is None:
        # Prefect's console handler and rich's handler keep their stream in a console.
        console = getattr(handler, "console", None)
        stream = getattr(console, "file", None)
    return stream in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
