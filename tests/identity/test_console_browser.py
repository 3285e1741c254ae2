"""The governance console in a real headless Chromium (Playwright), over ``riskops console``.

A data scientist logs in, requests a promotion under an ``approvals: 1`` policy and cannot
approve it (no button, and the HTTP call is 403 naming the permission); a validator logs in,
sees it pending with its gates, approves it with a reason; the champion changes and the
audit trail shows both authenticated identities. Screenshots of the inventory and version
pages go to ``$CONSOLE_SCREENSHOTS`` (default: the test's tmp folder).
"""

from __future__ import annotations

import contextlib
import html
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import IdentityHome, train

pytestmark = pytest.mark.slow

MODEL = "browser_pd"
LAPTOP = {"width": 1366, "height": 768}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _console(home: IdentityHome) -> Iterator[str]:
    port = _free_port()
    log = home.home / f"console-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKOPS_")}
    env.update(home.env())
    riskops = Path(sys.executable).with_name("riskops")
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(riskops), "console", "--port", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"console exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if process.returncode not in (0, -signal.SIGTERM):
            print(log.read_text()[-3000:])


def _watch(page: Any, url: str) -> dict[str, list[str]]:
    """Console errors, failed requests and requests leaving the console, as they happen."""
    seen: dict[str, list[str]] = {"errors": [], "failed": [], "remote": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.on(
        "request",
        lambda r: None if r.url.startswith((url, "data:")) else seen["remote"].append(r.url),
    )
    return seen


def _login(page: Any, url: str, token: str) -> None:
    page.goto(f"{url}/login")
    # keyboard only: the label names the field, Enter submits the form
    page.get_by_label("Access token").fill(token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/")


def _accessible(page: Any) -> None:
    """Every visible field labelled, the skip link first in the tab order, no sideways
    scrolling at laptop width."""
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea'))
             .filter(e => e.type !== 'hidden' && e.labels.length === 0)
             .map(e => e.name)"""
    )
    assert unlabelled == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"page is {width[0]} px wide in a {width[1]} px window"


def test_a_validator_approves_in_the_browser_what_a_data_scientist_requested(
    ihome: IdentityHome, chromium: Path, chromium_args: list[str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from riskops.audit import AuditTrail
    from riskops.registry import CHAMPION, Registry
    from riskops.settings import Settings

    version = train(ihome, MODEL, "alice", seed=5)
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screens")
    shots.mkdir(parents=True, exist_ok=True)
    version_url = f"/models/{MODEL}/versions/{version}"
    with _console(ihome) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=chromium_args)
        try:
            # --- the data scientist
            alice = browser.new_context(viewport=LAPTOP).new_page()
            alice_seen = _watch(alice, url)
            _login(alice, url, ihome.tokens["alice"])
            assert "alice" in alice.get_by_test_id("who").inner_text()
            alice.goto(url + version_url)
            _accessible(alice)
            alice.get_by_role("button", name="Request promotion").click()
            alice.wait_for_url(url + version_url)
            assert "awaiting 1 approval" in alice.get_by_role("status").inner_text()
            assert "requested by alice" in alice.get_by_test_id("pending").inner_text()
            alice.goto(f"{url}/approvals")
            card = alice.get_by_test_id(f"pending-{MODEL}-{version}")
            assert card.get_by_test_id("requester").inner_text() == "alice"
            # no Approve button for her, and the call itself is refused
            assert card.get_by_role("button", name="Approve").count() == 0
            csrf = alice.locator('meta[name="csrf-token"]').get_attribute("content")
            direct = alice.request.post(
                f"{url}/approvals/{MODEL}/{version}/approve",
                form={"reason": "I checked it myself", "csrf": csrf},
                max_redirects=0,
            )
            assert direct.status == 403
            assert "permission 'approve' denied: alice" in html.unescape(direct.text())
            assert alice_seen == {"errors": [], "failed": [], "remote": []}

            # --- the validator
            victor = browser.new_context(viewport=LAPTOP).new_page()
            victor_seen = _watch(victor, url)
            _login(victor, url, ihome.tokens["victor"])
            victor.goto(f"{url}/approvals")
            _accessible(victor)
            card = victor.get_by_test_id(f"pending-{MODEL}-{version}")
            gates = card.get_by_test_id("request-gates")
            assert gates.get_by_role("row", name="floor:auc").count() == 1
            assert "pass" in gates.inner_text() and "FAIL" not in gates.inner_text()
            card.get_by_label("Reason (recorded in the audit trail)").fill(
                "validation report and gates reviewed"
            )
            card.get_by_role("button", name="Approve").click()
            victor.wait_for_url(f"{url}/approvals")
            assert "approved and promoted to champion" in victor.get_by_role("status").inner_text()

            # the champion changed: in the registry and on the inventory
            champion = Registry(Settings()).version_for_alias(MODEL, CHAMPION)
            assert champion is not None and champion.version == version
            victor.goto(f"{url}/")
            row = victor.locator(f'tr[data-model="{MODEL}"]')
            assert row.locator('td[data-alias="champion"]').inner_text().startswith(f"v{version}")
            victor.screenshot(path=str(shots / "inventory.png"), full_page=True)
            _accessible(victor)
            victor.goto(url + version_url)
            assert victor.get_by_test_id("gates").get_by_role("row").count() >= 3
            # every plot is served and decodes (SHAP and diagnostics, through the console)
            victor.wait_for_load_state("load")
            images = victor.evaluate(
                "Array.from(document.querySelectorAll('#explanations img'))"
                ".map(i => [i.complete, i.naturalWidth])"
            )
            assert len(images) >= 5 and all(done and width > 0 for done, width in images)
            victor.screenshot(path=str(shots / "version.png"), full_page=True)

            # the audit trail shows both authenticated identities
            victor.goto(f"{url}/audit?model={MODEL}")
            assert "Hash chain intact" in victor.get_by_test_id("verify").inner_text()
            rows = victor.get_by_test_id("audit").locator("tbody tr").all_inner_texts()
            cells = [r.split("\t") for r in rows]
            by_action = {c[4]: (c[2], c[3]) for c in cells}
            assert by_action["approval_requested"] == ("alice", "token")
            assert by_action["approve"] == ("victor", "token")
            assert by_action["promote"] == ("victor", "token")
            victor.screenshot(path=str(shots / "audit.png"), full_page=True)
            assert victor_seen == {"errors": [], "failed": [], "remote": []}
        finally:
            browser.close()
    records = [
        (r.action, r.actor, r.body["actor_source"]) for r in AuditTrail(Settings()).records(MODEL)
    ]
    assert records[-3:] == [
        ("approval_requested", "alice", "token"),
        ("approve", "victor", "token"),
        ("promote", "victor", "token"),
    ]
