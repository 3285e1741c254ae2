"""CI never skips the deep-model tests: ``tests/conftest.py`` fails such a run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

SKIPPED_DEEP_TEST = """
import pytest

pytestmark = pytest.mark.deep


def test_lstm_without_torch() -> None:
    pytest.skip("pretend PyTorch is missing")
"""


def _run_pytest(folder: Path, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            "-c",
            str(folder / "pytest.ini"),
            str(folder),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def suite_with_a_skipped_deep_test(tmp_path: Path) -> Path:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    deep: deep models\n")
    (tmp_path / "test_deep.py").write_text(SKIPPED_DEEP_TEST)
    return tmp_path


def test_a_skipped_deep_test_fails_the_run_in_ci(suite_with_a_skipped_deep_test: Path) -> None:
    pytest.importorskip("torch", reason="the CI guard first requires PyTorch itself")
    # Given a suite whose deep-model test skips, when it runs with CI=true
    result = _run_pytest(suite_with_a_skipped_deep_test, ci="true")
    # Then the run fails and names the skipped test
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert "deep-model test(s) were skipped" in result.stdout
    assert "test_lstm_without_torch" in result.stdout


def test_a_skipped_deep_test_is_allowed_outside_ci(suite_with_a_skipped_deep_test: Path) -> None:
    # Given the same suite, when it runs on a developer's machine (no CI variable)
    result = _run_pytest(suite_with_a_skipped_deep_test, ci=None)
    # Then the skip is reported as a skip and the run passes
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
