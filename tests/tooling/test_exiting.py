"""How RiskOps processes end (riskops.process.exiting): without the collector's passes."""

from __future__ import annotations

import subprocess
import sys

# A handler registered before RiskOps's runs after it: it sees the collector as it is left.
_REPORT_AT_EXIT = (
    "import atexit, gc\n"
    "atexit.register(lambda: print('enabled', gc.isenabled(), 'frozen', gc.get_freeze_count()))\n"
)


def _run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_AT_EXIT + script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_a_process_that_asks_ends_with_the_collector_frozen() -> None:
    # Given a process holding objects, which asks to skip the collector at exit
    line = _run(
        "from riskops.process.exiting import skip_collection_at_exit\n"
        "skip_collection_at_exit()\n"
        "held = [[i] for i in range(100_000)]\n"
    )
    # Then by its last exit handler the collector is off and everything it held is frozen
    enabled, frozen = line.split()[1], int(line.split()[3])
    assert enabled == "False" and frozen > 100_000


def test_a_process_that_does_not_ask_ends_as_python_does() -> None:
    line = _run("held = [[i] for i in range(1000)]\n")
    assert line.split()[1] == "True" and int(line.split()[3]) == 0


def test_the_cli_asks_for_every_command() -> None:
    # Given the riskops command line, run for its help
    line = _run(
        "import sys\n"
        "from riskops.cli import main\n"
        "sys.argv = ['riskops', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    # Then it ended with the collector frozen
    assert line.split()[1] == "False" and int(line.split()[3]) > 0
