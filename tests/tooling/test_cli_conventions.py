"""The command line's conventions: one JSON envelope for results and errors (usage errors
included), flags without a value type, Typer's ``--x/--no-x`` form, ``--version``, choices
listed in help, and a new home announced rather than an empty table shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskops.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _envelope(output: str) -> dict:
    """The one JSON object a ``--json`` command printed: stdout holds nothing else."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return json.loads(lines[0])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "args",
    [
        ["promote", "credit_pd", "--no-such-option", "--json"],
        ["train", "bonds", "--json"],
        ["promote", "not a name", "--json"],
        ["monitor", "--family", "credit", "--json", "--data"],
    ],
)
def test_usage_errors_under_json_are_one_envelope(riskops_home: Path, args: list[str]) -> None:
    # When the command line itself is wrong and --json was asked for
    result = runner.invoke(app, args)
    # Then stdout is the one JSON object of the envelope, exit 2, and no Rich box
    assert result.exit_code == 2, result.output
    envelope = _envelope(result.stdout)
    assert envelope["ok"] is False
    assert envelope["error"]["type"] == "UsageError"
    assert envelope["error"]["exit_code"] == 2
    assert envelope["error"]["message"]
    assert "╭" not in result.stdout


def test_results_and_errors_share_the_envelope(riskops_home: Path) -> None:
    # A result: ok, and its fields beside it
    listed = runner.invoke(app, ["models", "--json"])
    assert listed.exit_code == 0, listed.output
    assert _envelope(listed.stdout) == {"ok": True, "models": []}
    # An error the library raises (an unknown model): the same shape as a usage error
    unknown = runner.invoke(app, ["promote", "nobody_pd", "--json"])
    assert unknown.exit_code == 2
    error = _envelope(unknown.stdout)
    assert error["ok"] is False
    assert error["error"]["type"] == "NotFoundError"
    assert error["error"]["exit_code"] == 2
    assert "nobody_pd" in error["error"]["message"]
    # and bad data names its columns in the error's details
    bad = Path(riskops_home) / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    invalid = runner.invoke(app, ["data", "validate", "credit", "--data", str(bad), "--json"])
    assert invalid.exit_code == 2
    detail = _envelope(invalid.stdout)["error"]
    assert detail["type"] == "DataValidationError"
    assert detail["violations"] and detail["message"]


def test_flags_show_no_value_type_and_booleans_take_the_typer_form(riskops_home: Path) -> None:
    monitor = runner.invoke(app, ["monitor", "--help"], env=WIDE).stdout
    retrain = runner.invoke(app, ["retrain", "--help"], env=WIDE).stdout
    promote = runner.invoke(app, ["promote", "--help"], env=WIDE).stdout
    # Then no flag says <bool>, negations are Typer's --x/--no-x pair, never --no-no-x
    for text in (monitor, retrain, promote):
        assert "<bool>" not in text
        assert "--no-no-" not in text
    assert re.search(r"--retrain\s+--no-retrain", monitor)
    assert re.search(r"--promote\s+--no-promote", retrain)
    # and a plain flag has no negation
    assert "--force" in promote and "--no-force" not in promote


def test_version_is_printed(riskops_home: Path) -> None:
    from riskops import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"riskops {__version__}"


def test_model_choices_are_the_families_own_and_listed_in_help(riskops_home: Path) -> None:
    from riskops.cli.options import BUILTIN_MODELS
    from riskops.families import BUILTIN, get_family

    # The help's list is each built-in family's own models, in order (the first the default)
    assert {name: get_family(name).models for name in BUILTIN} == BUILTIN_MODELS
    text = " ".join(runner.invoke(app, ["train", "--help"], env=WIDE).stdout.split())
    for family, kinds in BUILTIN_MODELS.items():
        assert f"{family} {'|'.join(kinds)}" in text.replace("│ ", "").replace(" │", "")


def test_serve_help_states_the_service_default_worker_count(riskops_home: Path) -> None:
    from services.service import ServeArguments

    text = runner.invoke(app, ["serve", "--help"], env=WIDE).stdout
    assert f"[default: {ServeArguments().workers}]" in text


def test_a_command_in_a_directory_without_a_home_says_it_is_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a directory with no home and RISKOPS_HOME unset (nor MLflow's URIs, which
    # mlflow.set_registry_uri exports into the environment of the process that called it)
    for key in ("RISKOPS_HOME", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    # When a user lists the models there
    result = runner.invoke(app, ["models"], env={"COLUMNS": "80"})
    # Then stderr says which home is used and that it is new, and stdout says it holds nothing
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "new RiskOps home" in said and "RISKOPS_HOME is not set" in said
    assert str((tmp_path / "mlruns").resolve()) in said
    assert "no models in home" in result.stdout
    # and a second command in the same home says nothing of the kind
    again = runner.invoke(app, ["models"], env={"COLUMNS": "80"})
    assert "new RiskOps home" not in again.stderr


def test_a_named_new_home_is_announced_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "fresh"
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RISKOPS_HOME", str(home))
    result = runner.invoke(app, ["approvals", "--json"])
    assert result.exit_code == 0, result.output
    assert f"RISKOPS_HOME {home} is a new home" in " ".join(result.stderr.split())
    assert _envelope(result.stdout) == {"ok": True, "pending": []}


@pytest.mark.parametrize("args", [["score", "--help"], ["--help"], ["train", "credit", "--help"]])
def test_help_touches_no_home(tmp_path: Path, args: list[str]) -> None:
    import os
    import subprocess
    import sys

    # Given a directory whose ./mlruns is an empty folder (a checkout's, before `make demo`)
    (tmp_path / "mlruns").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKOPS_", "MLFLOW_"))}
    riskops = Path(sys.executable).with_name("riskops")
    # When a user asks a command for its help there, with RISKOPS_HOME unset
    done = subprocess.run(
        [str(riskops), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    # Then help is printed, no home is announced, and nothing is written into the folder
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout
    assert "new RiskOps home" not in done.stderr
    assert list((tmp_path / "mlruns").iterdir()) == []
