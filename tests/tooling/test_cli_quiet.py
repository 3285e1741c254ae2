"""The CLI's choices are listed in --help, and library logs go to a file unless --verbose."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskops.cli import app
from riskops.process import logs

runner = CliRunner()


def test_help_lists_the_choices(riskops_home: Path) -> None:
    # When a user asks for help on train and retrain (in a home: the CLI's log file is there)
    train = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    retrain = runner.invoke(app, ["retrain", "--help"], env={"COLUMNS": "200"})
    # Then the families, datasets, distributions and scales are listed
    assert "credit|var|volatility|anomaly" in train.output
    assert "sp500|nasdaq|us_indices|eustocks" in train.output
    assert "normal|t|skewt" in train.output
    assert "decimal|percent" in train.output
    assert "credit|var|volatility|anomaly" in retrain.output


def test_an_unknown_choice_is_bad_input(riskops_home: Path) -> None:
    # When a family that does not exist is asked for
    result = runner.invoke(app, ["train", "bonds"])
    # Then it is refused as bad input (exit 2), naming the choices
    assert result.exit_code == 2
    assert "'bonds' is not one of" in result.output


@pytest.fixture
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> object:
    for key in (
        "MLFLOW_CONFIGURE_LOGGING",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR",
        "PREFECT_LOGGING_SETTINGS_PATH",
    ):
        monkeypatch.delenv(key, raising=False)  # restored by monkeypatch afterwards
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_library_logs_go_to_the_log_file_not_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a library logger that writes to the terminal, as MLflow's does
    library = logging.getLogger("riskops_test_library")
    library.addHandler(logging.StreamHandler())
    library.propagate = False
    library.setLevel(logging.INFO)
    # When the CLI configures logging without --verbose and the library logs
    path = logs.configure(tmp_path / "home", verbose=False)
    library.info("Creating initial MLflow database tables...")
    # Then the line is in RISKOPS_HOME/logs/riskops.log and on neither stream
    out, err = capfd.readouterr()
    assert path == tmp_path / "home" / "logs" / "riskops.log"
    assert "Creating initial MLflow database tables" in path.read_text()
    assert "Creating initial" not in out + err


@pytest.mark.usefixtures("restore_logging")
def test_verbose_also_shows_the_logs_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # When the CLI configures logging with --verbose and a library logs
    path = logs.configure(tmp_path / "home", verbose=True)
    logging.getLogger("riskops_test_library.verbose").warning("pip version is old")
    # Then the line is on stderr and in the log file
    _, err = capfd.readouterr()
    assert "pip version is old" in err
    assert "pip version is old" in path.read_text()
