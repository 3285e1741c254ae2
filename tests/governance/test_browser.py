"""The validation report and the card in a real headless Chromium, offline, via file://."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_LOCAL = ("file:", "data:", "about:", "blob:")
_LAYOUT = """() => {
  const results = "section#gates td.pass, section#gates td.fail";
  const cells = Array.from(document.querySelectorAll(results));
  const lines = cells.map((td) => {
    const range = document.createRange();
    range.selectNodeContents(td);
    return range.getClientRects().length;
  });
  return {
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    display: getComputedStyle(document.querySelector("section#gates td")).display,
    lines: lines,
  };
}"""


def _open(browser, path: Path):  # type: ignore[no-untyped-def]
    """A page on ``path`` that records console errors, page errors and network requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen: dict[str, list[str]] = {"errors": [], "failed": [], "remote": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.on("request", lambda r: None if r.url.startswith(_LOCAL) else seen["remote"].append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, seen


def test_report_and_card_render_offline_in_chromium(
    governed, facts_of, chromium: Path, chromium_args: list[str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from riskops.governance.report import build_documents

    # Given v1's report and card, rendered to files
    facts = facts_of(governed.non_monotone)
    docs = build_documents(facts)
    report, card_html = tmp_path / "report.html", tmp_path / "card.html"
    report.write_text(docs.report_html)
    card_html.write_text(docs.card_html)
    assert docs.evidently_embedded

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=chromium_args)
        try:
            # When Chromium opens the report and the embedded Evidently report is expanded
            page, seen = _open(browser, report)
            page.click("#drift details > summary")
            evidently = page.frame_locator("iframe.evidently")
            # Evidently's current report: one "Drift in column …" widget per feature
            evidently.get_by_text("Drift in column").first.wait_for(timeout=30_000)
            images = page.evaluate(
                "Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,"
                " width: i.naturalWidth}))"
            )
            # Then every image decoded, nothing failed, nothing went to the network
            assert len(images) == len(docs.figures) >= 8
            assert all(i["complete"] and i["width"] > 0 for i in images), images
            assert seen == {"errors": [], "failed": [], "remote": []}
            # and the headline sections are on the page
            for anchor in ("comparison", "figures", "drift", "gates", "history", "lineage"):
                assert page.locator(f"section#{anchor}").count() == 1

            # When the report is read on a laptop (1,300 px) and a narrow window (800 px)
            for width, stacked in ((1300, False), (800, True)):
                page.set_viewport_size({"width": width, "height": 900})
                layout = page.evaluate(_LAYOUT)
                # Then nothing scrolls sideways, the gate table is a table on the laptop and
                # one labelled card per gate when narrow, and no result word is split
                assert layout["overflow"] <= 0, (width, layout)
                assert layout["display"] == ("grid" if stacked else "table-cell"), width
                assert layout["lines"] and set(layout["lines"]) == {1}, (width, layout)

            # When the card opens / Then it too renders without an error
            card_page, card_seen = _open(browser, card_html)
            assert card_page.locator("h2").count() == len(docs.card.sections)
            assert card_seen == {"errors": [], "failed": [], "remote": []}
        finally:
            browser.close()
