"""The architecture is checked, and the check can fail.

``pyproject.toml`` holds the import contracts (``[tool.importlinter]``): riskops's layers, the
independent entry points, a library free of Prefect and BentoML, no cycles between siblings.
The first test runs ``lint-imports`` on the checkout; the second plants one fault of each kind
in a copy of the packages and sees every contract break on its own fault.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = {"platform/riskops": "riskops", "pipelines": "pipelines", "services": "services"}


def _lint_imports(project: Path, python_path: list[Path]) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over ``project``'s pyproject.toml, the packages found on
    ``python_path`` first (before the checkout the environment installs in editable mode)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(p) for p in python_path),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_checkout_keeps_its_import_contracts() -> None:
    done = _lint_imports(CHECKOUT, [CHECKOUT / "platform", CHECKOUT])

    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout, done.stdout


def _plant(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


FAULTS = {
    # fault: (file of the copy, line planted, contracts broken, what their report names)
    "upward import": (
        "platform/riskops/settings.py",
        "from riskops import lifecycle",
        ("riskops is layered", "no import cycles"),  # lifecycle imports settings
        "riskops.settings -> riskops.lifecycle",
    ),
    "cycle": (
        "platform/riskops/ledger/state.py",
        "from riskops.ledger import verify",
        ("no import cycles",),
        ".state -> .verify",
    ),
    "entry point importing another": (
        "pipelines/tasks.py",
        "from riskops.cli import app",
        ("independent entry points",),
        "pipelines.tasks -> riskops.cli",
    ),
    "Prefect in the library": (
        "platform/riskops/gates.py",
        "import prefect",
        ("imports neither Prefect nor BentoML",),
        "riskops.gates -> prefect",
    ),
    "module without a layer": (
        "platform/riskops/newcomer.py",
        '"""A module nobody placed in a layer."""',
        ("riskops is layered",),
        "riskops.newcomer",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_planted_fault_breaks_its_contract(tmp_path: Path, fault: str) -> None:
    # Given a copy of the three packages and of the contracts
    for source, name in PACKAGES.items():
        parent = tmp_path / ("platform" if source.startswith("platform/") else "")
        shutil.copytree(
            CHECKOUT / source, parent / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(CHECKOUT / "pyproject.toml", tmp_path / "pyproject.toml")
    # When one fault is planted in the copy
    where, line, contracts, named = FAULTS[fault]
    target = tmp_path / where
    _plant(target, line) if target.exists() else target.write_text(line + "\n")

    done = _lint_imports(tmp_path, [tmp_path / "platform", tmp_path])

    # Then lint-imports fails, on the contracts that fault breaks alone, naming the import
    report = done.stdout + done.stderr
    assert done.returncode != 0, report
    assert f"{4 - len(contracts)} kept, {len(contracts)} broken" in report, report
    broken = [ln for ln in report.splitlines() if "BROKEN" in ln]
    assert all(any(c in ln for ln in broken) for c in contracts), report
    assert named in report.split("Broken contracts", 1)[1], report


def test_make_lint_runs_the_import_contracts() -> None:
    makefile = (CHECKOUT / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]

    assert "lint-imports" in recipe, recipe
