"""What the serving workers' shadows have done, readable without the service.

Each worker process that hands requests to a shadow (``services/shadow.py``) writes its
counters for each model, about once a second, to
``RISKOPS_HOME/serving/shadow/<model>/<host>-<pid>.json``: the shadow version, requests
handed to it, scored, dropped (the shadow could not keep up), failed, when its window started
and last grew. :func:`shadow_counters` adds up the files of the version in shadow, so that
``riskops models`` shows the dropped count of every worker of every service on the home.

Counters are since each worker started (a restart starts again at zero: its file is
replaced); the shadow's evidence window itself is what the live evidence store holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riskops.settings import Settings

COUNTERS = ("requests", "scored", "rows", "dropped", "failed")


def status_dir(settings: Settings, name: str) -> Path:
    return settings.home / "serving" / "shadow" / name


def write_status(settings: Settings, name: str, status: dict[str, Any]) -> None:
    """Replace this process's counters for ``name`` (atomically: a reader never sees half)."""
    folder = status_dir(settings, name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{socket.gethostname()}-{os.getpid()}.json"
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(status))
    os.replace(scratch, path)


def shadow_counters(settings: Settings, name: str, version: int) -> dict[str, Any]:
    """The counters of every worker's shadow ``version`` of ``name``, added up:
    ``{"workers", "requests", "scored", "rows", "dropped", "failed", "first_scored_at",
    "last_scored_at"}`` (zeros when no worker reported it)."""
    total: dict[str, Any] = {"workers": 0, **dict.fromkeys(COUNTERS, 0)}
    first: list[str] = []
    last: list[str] = []
    folder = status_dir(settings, name)
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        with contextlib.suppress(OSError, ValueError):
            status = json.loads(path.read_text())
            if status.get("version") != version:
                continue
            total["workers"] += 1
            for key in COUNTERS:
                total[key] += int(status.get(key) or 0)
            first += [status["first_scored_at"]] if status.get("first_scored_at") else []
            last += [status["last_scored_at"]] if status.get("last_scored_at") else []
    total["first_scored_at"] = min(first) if first else None
    total["last_scored_at"] = max(last) if last else None
    return total
