"""Hostile input files (issue 26, item 8): refused before they are read, with the flag, the
rule (and the setting that sets it) and the value; never a hang, never read to the end.

Before: a FIFO named ``x.csv`` hung ``riskops train``; a CSV header of 10^6 columns ran past
120 s at 4.9 GB; ``/dev/zero`` was read until memory ran out.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from riskops.data.files import InputLimits
from riskops.data.validation import read_table
from riskops.errors import DataValidationError

RISKOPS = Path(sys.executable).with_name("riskops")
GENEROUS = InputLimits(max_bytes=1 << 30, max_columns=10_000, max_rows=1_000_000)


def _refusal(path: Path, limits: InputLimits = GENEROUS) -> tuple[str, str, tuple[object, ...]]:
    with pytest.raises(DataValidationError) as refused:
        read_table(path, limits=limits)
    (violation,) = refused.value.violations
    return violation.column, violation.rule, violation.values


@pytest.mark.timeout(60)  # were the FIFO opened for reading, the test would block here
def test_a_fifo_named_csv_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    flag, rule, values = _refusal(fifo)
    assert flag == "--data" and rule.startswith("not a regular file but a FIFO")
    assert values == (str(fifo),)


def test_a_directory_and_a_device_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "d.csv"
    folder.mkdir()
    assert _refusal(folder)[1].startswith("not a regular file but a directory")
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    assert _refusal(zero)[1].startswith("not a regular file but a character device")
    assert _refusal(Path("/dev/zero"))[1].startswith("not a regular file but a character")


def test_a_header_of_a_million_columns_is_refused_at_the_cap(tmp_path: Path) -> None:
    # Given the header that took pandas past 120 s and 4.9 GB
    wide = tmp_path / "wide.csv"
    with wide.open("w") as out:
        out.write(",".join(f"c{i}" for i in range(1_000_000)) + "\n")
        out.write(",".join("1" for _ in range(1_000_000)) + "\n")
    # Then it is refused naming the cap and its setting
    flag, rule, values = _refusal(wide)
    assert flag == "--data" and "RISKOPS_INPUT_MAX_COLUMNS (10000)" in rule
    assert values == ("> 10000 columns",)


def test_commas_inside_quoted_names_are_not_columns(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('"a,b","c ""d"", e",f\n1,2,3\n')
    frame = read_table(path, limits=InputLimits(1 << 20, max_columns=3, max_rows=10))
    assert list(frame.columns) == ["a,b", 'c "d", e', "f"]
    assert _refusal(path, InputLimits(1 << 20, max_columns=2, max_rows=10))[2] == ("> 2 columns",)


def test_rows_and_bytes_over_the_caps_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    pd.DataFrame({"x": range(100), "y": range(100)}).to_csv(path, index=False)
    # exactly at the cap: read whole
    assert len(read_table(path, limits=InputLimits(1 << 20, 10, max_rows=100))) == 100
    flag, rule, values = _refusal(path, InputLimits(1 << 20, 10, max_rows=99))
    assert flag == "--data" and "RISKOPS_INPUT_MAX_ROWS (99)" in rule
    assert values == ("> 99 rows",)
    size = path.stat().st_size
    flag, rule, values = _refusal(path, InputLimits(size - 1, 10, 1000))
    assert flag == "--data" and "RISKOPS_INPUT_MAX_BYTES" in rule and values == (f"{size} bytes",)


def test_a_gzip_bomb_is_stopped_at_the_uncompressed_cap(tmp_path: Path) -> None:
    # Given 50 MB of zeros after a header, compressed to about 50 kB
    bomb = tmp_path / "bomb.csv.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(b"a,b\n")
        for _ in range(50):
            out.write(b"0" * (1 << 20))
    assert bomb.stat().st_size < 1 << 20
    # Then reading stops at 1 MB uncompressed
    flag, rule, _ = _refusal(bomb, InputLimits(1 << 20, 10, 1_000_000))
    assert flag == "--data" and "once uncompressed" in rule


def test_parquet_caps_come_from_its_footer(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({f"c{i}": range(20) for i in range(12)}).to_parquet(path)
    assert read_table(path, limits=InputLimits(1 << 20, 12, 20)).shape == (20, 12)
    assert "12 columns" in _refusal(path, InputLimits(1 << 20, 11, 20))[2][0]
    assert "20 rows" in _refusal(path, InputLimits(1 << 20, 12, 19))[2][0]


def test_the_caps_are_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    pd.DataFrame({"x": range(10)}).to_csv(path, index=False)
    monkeypatch.setenv("RISKOPS_INPUT_MAX_ROWS", "9")
    with pytest.raises(DataValidationError, match=r"RISKOPS_INPUT_MAX_ROWS \(9\)"):
        read_table(path)


def test_train_on_a_fifo_exits_2_in_one_line(riskops_home: Path, tmp_path: Path) -> None:
    # Given a FIFO named like a CSV (nobody will ever write to it)
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    # When riskops train is pointed at it
    done = subprocess.run(
        [str(RISKOPS), "train", "credit", "--data", str(fifo), "--target", "t"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # Without the Prefect server another test exported: with PREFECT_API_URL set, train
        # runs as a flow run on that server, which is gone by now.
        env={
            **{k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"},
            "RISKOPS_HOME": str(riskops_home),
        },
    )
    # Then it exits 2 naming the flag and the kind of file, without hanging
    assert done.returncode == 2, done.stderr
    assert "--data: not a regular file but a FIFO" in done.stderr
    assert "Traceback" not in done.stderr


def test_train_refuses_a_bad_file_before_it_contacts_the_users_prefect_server(
    riskops_home: Path, tmp_path: Path
) -> None:
    import socket

    # Given a Prefect server address where nothing listens (train would run as a flow run
    # there) and files that cannot be training data
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(50)) + "\n" + ",".join("1" * 50) + "\n")
    env = {
        **os.environ,
        "RISKOPS_HOME": str(riskops_home),
        "RISKOPS_INPUT_MAX_COLUMNS": "20",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    cases = {
        fifo: "--data: not a regular file but a FIFO",
        tmp_path / "missing.csv": "--data: file does not exist",
        wide: "--data: more than RISKOPS_INPUT_MAX_COLUMNS (20) columns",
    }
    for path, expected in cases.items():
        # When riskops train is pointed at it
        done = subprocess.run(
            [str(RISKOPS), "train", "credit", "--data", str(path), "--target", "t"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=env,
        )
        # Then it exits 2 naming the flag and the rule: refused before any flow run (the
        # unreachable server would have made it a connection error, exit 1)
        assert done.returncode == 2, (path, done.stderr)
        assert expected in done.stderr, (path, done.stderr)
        assert "Traceback" not in done.stderr
        assert "prefect" not in done.stderr.lower(), done.stderr
