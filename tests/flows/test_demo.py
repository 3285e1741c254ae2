"""`riskops demo` on a fresh RISKOPS_HOME: four champions, a refused shifted challenger,
an intact audit chain that breaks when any record is edited."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
RISKOPS = str(Path(sys.executable).parent / "riskops")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str, str]:
    """`riskops demo > out.txt 2> err.txt` in a fresh home, as a user runs it."""
    folder = tmp_path_factory.mktemp("demo")
    home = folder / "home"
    elsewhere = folder / "elsewhere"  # the working directory: nothing may land here
    elsewhere.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RISKOPS_", "MLFLOW_", "PREFECT_"))
    }
    env |= {"RISKOPS_HOME": str(home), "RISKOPS_ACTOR": "demo-test"}
    env.pop("COLUMNS", None)
    out, err = folder / "out.txt", folder / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        done = subprocess.run(
            [RISKOPS, "demo"],
            env=env,
            stdout=stdout,
            stderr=stderr,
            timeout=900,
            check=False,
            cwd=elsewhere,
        )
    assert done.returncode == 0, err.read_text()[-3000:] + out.read_text()[-3000:]
    return home, env, out.read_text(), err.read_text()


@pytest.fixture(scope="module")
def demo_home(demo_run: tuple[Path, dict[str, str], str, str]) -> tuple[Path, dict, dict[str, str]]:
    home, env, _, _ = demo_run
    return home, json.loads((home / "demo" / "summary.json").read_text()), env


# What library noise looks like: MLflow's log and eprint lines, Prefect's run lines, tqdm bars.
NOISE = re.compile(
    r"INFO mlflow|WARNING mlflow|\| INFO +\||\| WARNING +\||Task run|Flow run|"
    r"Downloading artifacts|\d+%\||Created version|Registered model"
)


def test_demo_tells_its_story_on_stdout_and_nothing_else(
    demo_run: tuple[Path, dict[str, str], str, str],
) -> None:
    home, _, out, err = demo_run
    # Then stdout holds the steps, the summary table and where to look next, at 80 columns
    # (but for the commands to type, which stay whole on their line to be copied)
    for heading in ("1. Train, gate and promote", "3. Monitor", "Summary", "Where to look next"):
        assert heading in out
    assert "credit_pd" in out and "refused" in out
    hints = json.loads((home / "demo" / "summary.json").read_text())["next"]
    commands = {h["command"] for h in hints}
    wide = [line for line in out.splitlines() if len(line) > 80]
    assert all(line.strip() in commands for line in wide), wide
    # and neither stream holds a library's log line or a progress bar
    assert NOISE.search(out) is None, NOISE.search(out)
    assert NOISE.search(err) is None, err[:3000]
    # while the libraries' logs went to the log file under RISKOPS_HOME
    log = (home / "logs" / "riskops.log").read_text()
    assert "mlflow" in log and "prefect" in log


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RISKOPS, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_demo_ends_with_a_gated_champion_per_family(demo_home: tuple[Path, dict, dict]) -> None:
    _, summary, env = demo_home
    assert {c["model"]["name"] for c in summary["champions"] if c["promoted"]} == {
        "credit_pd",
        "market_var",
        "market_volatility",
        "market_anomaly",
    }
    models = json.loads(_cli(env, "models", "--json").stdout)["models"]
    # and the monitoring step gave every champion the first point of its drift history
    drift = json.loads(_cli(env, "drift", "--json").stdout)
    assert {c["model"]["name"] for c in drift["checks"]} == {
        "credit_pd",
        "market_var",
        "market_volatility",
        "market_anomaly",
    }
    assert all(c["share_of_drifted_columns"] is not None for c in drift["checks"])
    for row in models:
        assert row["champion"] is not None, row["name"]
        assert row["champion"]["validation_status"] == "passed"
    # every champion's promotion rests on a passing gate record in the audit trail
    records = json.loads(_cli(env, "audit", "all", "--json").stdout)["records"]
    for row in models:
        version = row["champion"]["version"]
        decisions = [
            r
            for r in records
            if r["model"] == row["name"]
            and r["version"] == version
            and r["action"] == "gate_decision"
        ]
        assert decisions and decisions[-1]["body"]["passed"] is True


def test_demo_state_stays_under_the_home(demo_home: tuple[Path, dict, dict]) -> None:
    # Given the demo, run from another working directory
    home, _, _ = demo_home
    elsewhere = home.parent / "elsewhere"
    # Then every experiment keeps its artifacts inside RISKOPS_HOME (Default included),
    # every run's artifacts too, and nothing was written where the command ran
    with sqlite3.connect(home / "mlflow.db") as db:
        locations = [row[0] for row in db.execute("SELECT artifact_location FROM experiments")]
        runs = [row[0] for row in db.execute("SELECT artifact_uri FROM runs")]
    assert locations and runs
    inside = home.resolve().as_uri()
    outside = [uri for uri in locations + runs if not uri.startswith(inside)]
    assert not outside, outside[:5]
    assert list(elsewhere.iterdir()) == []


def test_shifted_challenger_is_refused_with_exit_3(demo_home: tuple[Path, dict, dict]) -> None:
    _, summary, env = demo_home
    # Given the shifted challenger, trained in the retrain flow once credit_pd v1 was decided
    assert summary["shifted_challenger"]["model"]["version"] == 2
    assert summary["shifted_challenger"]["trained_against_champion"] == 1
    assert summary["shifted_challenger"]["promoted"] is False
    # Then it was refused for its data and, against the champion v1, for its outputs
    assert {"data_drift", "prediction_drift"} <= set(summary["shifted_challenger"]["failed_gates"])
    refused = _cli(env, "promote", "credit_pd", "--json")
    assert refused.returncode == 3
    assert "unrepresentative" in refused.stdout


def test_each_champion_gets_a_report_that_renders_offline_in_chromium(
    demo_home: tuple[Path, dict, dict], chromium: Path, chromium_args: list[str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    _, summary, env = demo_home
    names = [c["model"]["name"] for c in summary["champions"]]
    # Given a validation report per champion, written by the CLI
    reports = {}
    for name in names:
        out = tmp_path / f"{name}.html"
        done = _cli(env, "report", name, "--version", "1", "--out", str(out), "--no-evidently")
        assert done.returncode == 0, done.stderr[-2000:]
        reports[name] = out
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=chromium_args)
        try:
            for name, path in reports.items():
                # When Chromium opens it from disk
                images, errors, remote = _render(browser, path)
                # Then every image loads, nothing errs, nothing reaches the network
                assert len(images) >= 2 and all(images), (name, images)
                assert errors == [] and remote == [], (name, errors, remote)
        finally:
            browser.close()


def _render(browser, path: Path) -> tuple[list[bool], list[str], list[str]]:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    remote: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: None if r.url.startswith(("file:", "data:")) else remote.append(r.url),
    )
    page.goto(path.as_uri(), wait_until="load")
    images = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
    page.close()
    return images, errors, remote


def test_monitor_flags_drift_and_would_retrain(
    demo_home: tuple[Path, dict, dict], tmp_path: Path
) -> None:
    # Given recent market data from the autumn-2008 crisis as the "most recent window"
    from riskops.data.market import load_market

    crisis = load_market(bundled="sp500").close.loc["2008-06-01":"2009-03-31"]  # type: ignore[union-attr]
    path = tmp_path / "recent.csv"
    crisis.reset_index().rename(columns={"sp500": "close"}).to_csv(path, index=False)
    _, _, env = demo_home
    # When the monitor flow runs on it (reporting only)
    done = _cli(
        env,
        "monitor",
        "--family",
        "var",
        "--family",
        "volatility",
        "--data",
        str(path),
        "--date-col",
        "date",
        "--price-col",
        "close",
        "--no-retrain",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Then both champions' inputs are found to drift, with an Evidently report logged
    assert result["drifted"] == ["var", "volatility"]
    for check in result["checks"].values():
        assert check["share_of_drifted_columns"] > check["threshold"]
        assert check["report_uri"].endswith(".html")
        # and each check is a run in the Evidently workspace under RISKOPS_HOME
        assert check["evidently_run"]
    assert (Path(env["RISKOPS_HOME"]) / "evidently").is_dir()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _shell_environment() -> dict[str, str]:
    """A new shell's environment: no RiskOps, MLflow or Prefect settings, and the project's
    environment not on the PATH (the demo's setup lines do that)."""
    venv = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RISKOPS_", "MLFLOW_", "PREFECT_", "VIRTUAL_ENV", "COLUMNS"))
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv)
    return env


# What each server hint answers on once it is up.
_SERVER_PROBES = {
    "riskops serve": "/readyz",
    "mlflow ui": "/health",
    "prefect server start": "/api/health",
    "evidently ui": "/api/projects",
}


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session: SIGTERM to its group, SIGKILL after 60 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _wait_for(
    url: str, process: subprocess.Popen[bytes], timeout: float, log: Path | None = None
) -> httpx.Response:
    """The first 200 of ``url``. A service's ``/readyz`` that names a champion ``failed`` fails
    at once; one still ``loading`` them gets up to 600 s (cold starts on a loaded machine
    took up to 79 s alone, more under the suite's other worker)."""
    import time

    def output() -> str:
        return log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""

    started = time.monotonic()
    while True:
        assert process.poll() is None, (
            f"exited with {process.returncode} before {url} answered\n{output()}"
        )
        try:
            answer = httpx.get(url, timeout=5)
        except httpx.HTTPError:
            answer = None
        if answer is not None and answer.status_code == 200:
            return answer
        loading = False
        if answer is not None and url.endswith("/readyz"):
            try:
                models = answer.json().get("models") or {}
            except ValueError:  # not the service's JSON yet
                models = {}
            states = [m.get("state") for m in models.values()]
            assert "failed" not in states, f"{answer.text}\n{output()}"
            loading = "loading" in states
        waited = time.monotonic() - started
        if waited > (600 if loading else timeout):
            raise AssertionError(
                f"{url} did not answer 200 within {waited:.0f} s "
                f"(last: {answer.text[:500] if answer is not None else 'no answer'})\n{output()}"
            )
        time.sleep(0.5)


def test_every_hint_the_demo_prints_works_verbatim(
    demo_run: tuple[Path, dict[str, str], str, str], tmp_path: Path
) -> None:
    """Each command under "Where to look next", typed in a new shell after the two setup
    lines, from a directory outside the checkout; servers are started (on a free port in
    place of the printed one), probed and stopped."""
    import re

    home, _, out, _ = demo_run
    hints = json.loads((home / "demo" / "summary.json").read_text())["next"]
    setup = [h["command"] for h in hints if h["setup"]]
    # Given the setup lines: the environment's activation and the home the demo filled
    assert any(c.startswith("source ") for c in setup)
    assert f"export RISKOPS_HOME={home}" in setup
    elsewhere = tmp_path / "shell"
    elsewhere.mkdir()
    env = _shell_environment()
    for hint in hints:
        # each command is printed, whole, as the user is told to type it
        assert hint["command"] in out.splitlines() or f"    {hint['command']}" in out.splitlines()
        if hint["setup"]:
            continue
        command = hint["command"]
        if not hint["server"]:
            done = subprocess.run(
                ["bash", "-c", " && ".join([*setup, command])],
                env=env,
                cwd=elsewhere,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == hint["exit_code"], (command, done.stderr[-3000:])
            continue
        port = _free_port()
        moved, replaced = re.subn(r"--port \d+", f"--port {port}", command)
        assert replaced == 1, command
        probe = next(path for prefix, path in _SERVER_PROBES.items() if prefix in command)
        server = subprocess.Popen(
            ["bash", "-c", " && ".join([*setup, moved])],
            env=env,
            cwd=elsewhere,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            answer = _wait_for(f"http://127.0.0.1:{port}{probe}", server, timeout=240)
            if "evidently ui" in command:
                # the workspace holds a project per champion, each with its first check
                names = {p["name"] for p in answer.json()}
                assert {"credit_pd", "market_var", "market_volatility", "market_anomaly"} <= names
        finally:
            _stop_group(server)
    # The report hint wrote where it was typed, and nothing else landed there
    assert sorted(p.name for p in elsewhere.iterdir()) == ["credit_pd.html"]


def test_the_drift_command_points_at_the_evidently_workspace(
    demo_home: tuple[Path, dict, dict],
) -> None:
    _, summary, env = demo_home
    printed = _cli(env, "drift").stdout
    evidently = next(h["command"] for h in summary["next"] if h["command"].startswith("evidently"))
    assert evidently.split(" --port")[0] in " ".join(printed.split())


def test_editing_any_audit_record_breaks_verify(
    demo_home: tuple[Path, dict, dict], tmp_path: Path
) -> None:
    """On a copy of the demo's home: the module's later tests (the README's commands) read the
    demo's own trail and must find it intact."""
    import shutil

    shared, _, shared_env = demo_home
    home = tmp_path / "home"
    shutil.copytree(shared, home, symlinks=True)
    env = shared_env | {"RISKOPS_HOME": str(home)}
    assert _cli(env, "audit", "verify").returncode == 0
    with sqlite3.connect(home / "audit.db") as conn:
        conn.execute("UPDATE riskops_audit SET actor = 'someone-else' WHERE seq = 3")
    broken = _cli(env, "audit", "verify", "--json")
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["first_broken"] == 3


def test_every_task_process_reported_to_the_one_prefect_server(
    demo_home: tuple[Path, dict, dict],
) -> None:
    # Given the demo, whose retrain trained in two task processes
    home, _, _ = demo_home
    # Then the Prefect database under the home holds every family's training task run,
    # completed (a task process that started a server of its own would have recorded
    # its runs there, and they would be missing here)
    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        runs = dict(db.execute("SELECT name, state_type FROM task_run WHERE name LIKE 'train-%'"))
    assert {"train-credit", "train-var", "train-volatility", "train-anomaly"} <= set(runs)
    assert set(runs.values()) == {"COMPLETED"}
    # and that server was the one the demo started for itself (its banner is in the log)
    log = (home / "logs" / "prefect-server.log").read_text()
    assert "PREFECT_API_URL=http://127.0.0.1:" in log


README = Path(__file__).resolve().parents[2] / "README.md"

# Commands the README gives that are not typed in the demo's shell: the demo itself (this
# module's fixture runs the `riskops demo` that `make demo` ends with), the test suite, and
# the documentation's developer commands (their strict build is `make lint`'s).
_NOT_AFTER_THE_DEMO = ("make demo", "make test", "make docs", "uv run mkdocs serve")
# A command that runs until stopped, by what it starts with once `uv run` is dropped: the
# path that answers 200 once it is up. Each is given a free port (`--port N`) in place of
# the one the README prints.
_README_SERVERS = {
    "riskops serve": "/readyz",
    "riskops console": "/login",
    "mlflow ui": "/health",
    "prefect server start": "/api/health",
    "evidently ui": "/api/projects",
}


def _readme_commands() -> list[str]:
    """Every command the README tells a user to type, in the order it tells them.

    The lines of its ``bash`` blocks (comments dropped) and the commands it gives inline in
    its prose (code spans that run something: ``uv run …``, ``VAR=… uv run …`` or
    ``curl …``); the ``Layout`` block is a tree, not a command block.
    """
    text = README.read_text()
    commands: list[str] = []
    for block in re.finditer(r"```(\w*)\n(.*?)```|`([^`\n]+)`", text, flags=re.S):
        language, body, inline = block.groups()
        if inline is not None:
            runs = inline.startswith(("uv run ", "curl ")) or " uv run " in inline
            if runs:
                commands.append(inline.strip())
            continue
        if language != "bash":
            continue
        for line in body.splitlines():
            line = re.sub(r"(^|\s+)#(\s.*)?$", "", line).strip()
            if line:
                commands.append(line)
    return commands


def test_the_readme_commands_are_found() -> None:
    """The extraction sees the tour's commands (a README rewritten in another form would
    otherwise leave the test below nothing to run)."""
    commands = _readme_commands()
    assert "uv run riskops models" in commands
    assert "uv run riskops serve" in commands
    assert any(c.startswith("curl ") and " -d " in c for c in commands)
    assert commands.index("uv run riskops serve") < commands.index("curl -s localhost:3000/models")
    assert "uv run riskops console" in commands
    assert "make demo" in commands and "# installs" not in " ".join(commands)


def test_every_command_the_readme_tells_a_user_to_type_works(
    demo_run: tuple[Path, dict[str, str], str, str], tmp_path: Path
) -> None:
    """The README's commands after ``make demo``, in one new shell standing in a copy of the
    repository root: its ``mlruns/`` the demo's home, ``.venv`` the environment, and
    RISKOPS_HOME unset, as after ``make demo``. ``uv run X`` is typed as ``X`` in the
    activated environment (the README gives the two as the same; ``uv run`` would sync the
    shared environment); its ``/tmp`` paths are under this test's folder. ``riskops serve``
    runs "in another terminal" from where the README starts it to the end; every other
    server is started on a free port, probed and stopped."""
    import shutil

    home, _, _, _ = demo_run
    root = tmp_path / "riskops"
    root.mkdir()
    shutil.copytree(home, root / "mlruns", symlinks=True)
    (root / ".venv").symlink_to(Path(sys.prefix))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = _shell_environment()
    activate = "source .venv/bin/activate"
    exports: list[str] = []  # what the user exported so far in their shell

    def typed(line: str) -> str:
        line = line.removeprefix("uv run ").replace(" uv run ", " ")
        return line.replace("/tmp/", f"{scratch}/")

    def shell(command: str) -> list[str]:
        return ["bash", "-c", "\n".join(["set -e", activate, *exports, command])]

    def start(command: str, probe: str) -> tuple[subprocess.Popen[bytes], int]:
        port = _free_port()
        moved = re.sub(r" --port \d+", "", command) + f" --port {port}"
        log = scratch / f"server-{port}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                shell(moved),
                env=env,
                cwd=root,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_for(f"http://127.0.0.1:{port}{probe}", process, timeout=240, log=log)
        except BaseException:
            _stop_group(process)
            raise
        return process, port

    commands = _readme_commands()
    served: tuple[subprocess.Popen[bytes], int] | None = None
    ran: list[str] = []
    try:
        for line in commands:
            if line in _NOT_AFTER_THE_DEMO or line == activate:
                continue
            command = typed(line)
            # what it runs, after any VAR=value prefixes
            program = re.sub(r"^(\w+=\S+ )+", "", command)
            server = next((p for s, p in _README_SERVERS.items() if program.startswith(s)), None)
            if server is not None and program.startswith("riskops serve"):
                assert served is None, "the README starts the service twice"
                served = start(command, server)
            elif server is not None:
                _stop_group(start(command, server)[0])
            else:
                if command.startswith("curl "):
                    assert served is not None, f"{line}: the README has not started the service"
                    command = command.replace("localhost:3000", f"localhost:{served[1]}")
                    command = command.replace("curl -s ", "curl -sf ", 1)
                done = subprocess.run(
                    shell(command),
                    env=env,
                    cwd=root,
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
                # Then each exits 0 (a curl: the service answered 2xx; a score or forecast
                # names the model that gave it)
                assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-3000:])
                if command.startswith("curl ") and " -d " in command:
                    assert '"model"' in done.stdout, (line, done.stdout[:2000])
                exports += [p for p in command.split(" && ") if p.startswith("export ")]
            ran.append(line)
    finally:
        if served is not None:
            _stop_group(served[0])
    # Every command was typed but those the README runs before the demo's shell
    skipped = [c for c in commands if c in _NOT_AFTER_THE_DEMO or c == activate]
    assert ran == [c for c in commands if c not in skipped]
    assert (scratch / "tour_pd.html").is_file()
