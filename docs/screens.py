"""Regenerate the documentation's screenshots of the CLI and of a validation report.

Usage, from the repository root, on a home where ``riskops demo`` has run::

    uv run --frozen python docs/screens.py /path/to/demo/home

The home is copied (it is never written to); on the copy, with the shipped policy but for
``approvals: 2`` on ``credit_pd``, ``alice`` forces the refused shifted challenger
``credit_pd`` v2 (an override, which waits for two approvals) and ``bob`` gives the first,
so that ``riskops approvals`` has something to list. Then:

- ``docs/images/cli/{audit,models,approvals,drift}.png``: each command as a user types it,
  in an 80-column terminal (``COLUMNS=80``, colours forced), its output re-rendered by Rich
  as a terminal (``Console.export_svg``) and that SVG rendered by Chromium;
- ``docs/images/report/gates-{1300,800}px.png`` and ``full-1300px.png``: the validation report
  of ``credit_pd`` v1 (``riskops report``) in Chromium windows 1,300 and 800 pixels wide,
  the gate table alone and the whole page.

Chromium runs headless and offline (``/usr/bin/chromium``, as the browser tests use); the
PNGs are compressed with ``pngquant`` and ``optipng`` when they are installed
(``apt-get install pngquant optipng``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"
RISKOPS = str(Path(sys.executable).parent / "riskops")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
COMMANDS = {
    "audit": ["audit", "credit_pd"],
    "models": ["models"],
    "approvals": ["approvals"],
    "drift": ["drift"],
}
"""Image name -> the ``riskops`` command it shows."""
REPORT_WIDTHS = (1300, 800)


def _environment(home: Path, actor: str = "docs") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKOPS_", "MLFLOW_"))}
    return env | {
        "RISKOPS_HOME": str(home),
        "RISKOPS_POLICY_FILE": str(home.parent / "policies.yaml"),
        "RISKOPS_ACTOR": actor,
        "COLUMNS": "80",
        "FORCE_COLOR": "1",
        "TERM": "xterm-256color",
    }


def _riskops(home: Path, *args: str, actor: str = "docs", check: bool = True) -> str:
    done = subprocess.run(
        [RISKOPS, *args],
        env=_environment(home, actor),
        capture_output=True,
        text=True,
        check=False,
        cwd=home.parent,
    )
    if check and done.returncode != 0:
        raise SystemExit(f"riskops {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def prepare(demo_home: Path, folder: Path) -> Path:
    """A copy of the demo's home with one override waiting for its second approval."""
    from riskops.settings import Settings

    home = folder / "home"
    shutil.copytree(demo_home, home, symlinks=True)
    shipped = Settings.model_fields["policy_file"].default.read_text()
    two_approvals = shipped.replace("credit_pd:\n", "credit_pd:\n  approvals: 2\n", 1)
    assert two_approvals != shipped, "the shipped policy has no credit_pd entry"
    (folder / "policies.yaml").write_text(two_approvals)
    reason = "drift is seasonal: applications from the spring campaign"
    _riskops(
        home, "promote", "credit_pd", "--version", "2", "--force", "--reason", reason, actor="alice"
    )
    _riskops(
        home,
        "approve",
        "credit_pd",
        "--version",
        "2",
        "--reason",
        "reviewed the drift report",
        actor="bob",
    )
    return home


def terminal_svgs(home: Path, folder: Path) -> dict[str, Path]:
    """Each command's output at 80 columns, as an SVG terminal."""
    from rich.console import Console
    from rich.text import Text

    svgs = {}
    for name, args in COMMANDS.items():
        output = _riskops(home, *args)
        with open(os.devnull, "w") as devnull:
            console = Console(record=True, width=80, force_terminal=True, file=devnull)
            console.print(f"[bold green]$[/bold green] riskops {' '.join(args)}", highlight=False)
            console.print(Text.from_ansi(output), end="")
        svg = folder / f"{name}.svg"
        svg.write_text(console.export_svg(title=f"riskops {' '.join(args)}  (80 columns)"))
        svgs[name] = svg
    return svgs


def _offline(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing but local files (the SVG's web font falls back to a local monospace one)."""
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort()
        ),
    )


def screenshots(svgs: dict[str, Path], report: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    (IMAGES / "cli").mkdir(parents=True, exist_ok=True)
    (IMAGES / "report").mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, svg in svgs.items():
            box = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg.read_text())
            assert box is not None, svg
            width, height = (int(float(v)) for v in box.groups())
            page = browser.new_page(viewport={"width": width, "height": height + 1})
            _offline(page)
            page.goto(svg.as_uri())
            written.append(IMAGES / "cli" / f"{name}.png")
            page.screenshot(path=str(written[-1]), animations="disabled")
            page.close()
        for width in REPORT_WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 900})
            _offline(page)
            page.goto(report.as_uri(), wait_until="load")
            written.append(IMAGES / "report" / f"gates-{width}px.png")
            page.locator("section#gates").screenshot(path=str(written[-1]))
            if width == max(REPORT_WIDTHS):
                written.append(IMAGES / "report" / f"full-{width}px.png")
                page.screenshot(path=str(written[-1]), full_page=True)
            page.close()
        browser.close()
    return written


def compress(paths: list[Path]) -> None:
    """Fewer colours (pngquant) and a tighter encoding (optipng), when installed."""
    for path in paths:
        if shutil.which("pngquant"):
            subprocess.run(
                ["pngquant", "--force", "--skip-if-larger", "--output", str(path), str(path)],
                check=False,
            )
        if shutil.which("optipng"):
            subprocess.run(["optipng", "-quiet", "-o2", str(path)], check=True)


def main(demo_home: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="riskops-screens-") as tmp:
        folder = Path(tmp)
        home = prepare(demo_home, folder)
        report = folder / "credit_pd.html"
        _riskops(home, "report", "credit_pd", "--version", "1", "--out", str(report))
        written = screenshots(terminal_svgs(home, folder), report)
    compress(written)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]).resolve())
