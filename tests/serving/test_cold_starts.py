"""Cold starts of ``riskops serve`` on a home with four champions (issue 32, item 1).

The champions load side by side in a thread pool; skops imported by those threads at once
once failed 2-3 of the 4 loads on every cold start (a partially initialised ``skops.io``),
and ``/readyz`` stayed 503 until the failed loads were retried 30 s later. The timings of 20
starts are ``bench/bench_cold_starts.py``'s; here, three starts and what each must show.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import START_TIMEOUT, LiveService, start_service, stop_service

pytestmark = pytest.mark.slow
STARTS = 3


def _readiness_until_ready(service: LiveService) -> list[dict]:
    """Every ``/readyz`` body from the first answer to the first 200 (polled every 50 ms)."""
    bodies: list[dict] = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert service.process.poll() is None, service.log_tail()
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(f"{service.url}/readyz", timeout=5)
            bodies.append({"status": answer.status_code, **answer.json()})
            if answer.status_code == 200:
                return bodies
        time.sleep(0.05)
    pytest.fail(f"not ready after {START_TIMEOUT:.0f} s:\n{service.log_tail()}")


def test_every_champion_loads_on_the_first_attempt_at_each_cold_start(
    live_service: LiveService, tmp_path: Path
) -> None:
    from riskops.families import family_names, registered_name

    champions = {registered_name(f) for f in family_names()}
    # Given a copy of the served home, four champions in it
    home = tmp_path / "home"
    shutil.copytree(live_service.home, home, symlinks=True)
    for start in range(STARTS):
        # When riskops serve starts on it, cold
        service = start_service(home)
        try:
            bodies = _readiness_until_ready(service)
        finally:
            stop_service(service)
        # Then no probe ever saw a champion fail to load (each was only loading, then served)
        states = {s for body in bodies for m in body["models"].values() for s in [m["state"]]}
        assert "failed" not in states, (start, bodies[-3:])
        # and the 200 came with the four families' champions served, and every other model
        # the home holds a champion of (the serving tests share their home and may have
        # promoted a user's model in it before this copy was taken)
        ready = bodies[-1]["models"]
        assert champions <= set(ready), (start, ready)
        assert all(m["state"] == "ready" for m in ready.values()), (start, ready)
        assert all(m["version"] is not None for m in ready.values()), (start, ready)
        # with no load retried and no traceback in the service's output (riskops.* records
        # go there, through BentoML's handlers)
        output = service.log.read_text(errors="replace")
        assert "cannot load" not in output, (start, output[-3000:])
        assert "Traceback" not in output, (start, output[-3000:])
