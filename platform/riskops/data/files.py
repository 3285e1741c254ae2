"""A user's data file, read within limits: refused before reading when it is not a regular
file or is larger than the caps, never read past them.

A FIFO named ``x.csv`` would block ``open`` forever, ``/dev/zero`` would be read until memory
runs out, and a CSV header of 10^6 columns took pandas past 120 s and 4.9 GB. So a file is
checked with ``stat`` first (only a regular file is opened; a device is never opened), opened
without blocking and checked again on its descriptor (a file swapped meanwhile is caught),
then: its size against ``RISKOPS_INPUT_MAX_BYTES``; a CSV's header is counted as it streams
(stopping at the first column beyond ``RISKOPS_INPUT_MAX_COLUMNS``) and its rows read up to
one beyond ``RISKOPS_INPUT_MAX_ROWS``; a gzip file's uncompressed bytes are counted as they
are read; a Parquet file's columns and rows come from its footer before any data is read.
Each refusal is a :class:`~riskops.errors.DataValidationError` (exit 2) naming the flag,
the rule with its setting, and the value.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from riskops.errors import DataValidationError, Violation

if TYPE_CHECKING:
    import pandas as pd

    from riskops.settings import Settings

__all__ = ["InputLimits", "check_file", "open_regular", "read_limited"]

CSV_SUFFIXES = frozenset({".csv", ".txt", ".gz"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
_CHUNK = 1 << 16


@dataclass(frozen=True)
class InputLimits:
    """The caps of a user's data file (``RISKOPS_INPUT_MAX_*``)."""

    max_bytes: int
    max_columns: int
    max_rows: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> InputLimits:
        from riskops.settings import Settings

        settings = settings or Settings()
        return cls(settings.input_max_bytes, settings.input_max_columns, settings.input_max_rows)


def _refuse(dataset: str, flag: str, rule: str, value: object) -> DataValidationError:
    return DataValidationError(dataset, [Violation(flag, rule, (value,))])


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(mode: int) -> str:
    kind = next((words for test, words in _KINDS if test(mode)), "another kind of file")
    return f"not a regular file but {kind}; nothing was read"


def open_regular(
    path: str | Path, dataset: str, flag: str = "--data", max_bytes: int | None = None
) -> BinaryIO:
    """``path`` opened for reading in binary, after checking that it is a regular file (and
    at most ``max_bytes`` long): anything else is refused before it is read.

    Raises :class:`~riskops.errors.DataValidationError` (exit 2) naming ``flag``.
    """
    path = Path(path)
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise _refuse(dataset, flag, "file does not exist", str(path)) from None
    except OSError as exc:
        raise _refuse(dataset, flag, f"unreadable file: {exc.strerror}", str(path)) from None
    if not stat.S_ISREG(before.st_mode):
        raise _refuse(dataset, flag, _not_regular(before.st_mode), str(path))
    try:
        # Non-blocking: were it swapped for a FIFO since the stat, open would not hang.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise _refuse(dataset, flag, f"unreadable file: {exc.strerror}", str(path)) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise _refuse(dataset, flag, _not_regular(opened.st_mode), str(path))
        if max_bytes is not None and opened.st_size > max_bytes:
            raise _refuse(
                dataset,
                flag,
                f"larger than RISKOPS_INPUT_MAX_BYTES ({max_bytes} bytes)",
                f"{opened.st_size} bytes",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class _Capped(io.RawIOBase):
    """A binary stream that refuses to yield more than ``limit`` bytes (a gzip file's
    uncompressed size is known only as it is read)."""

    def __init__(self, inner: io.BufferedIOBase | BinaryIO, limit: int, dataset: str) -> None:
        self._inner = inner
        self._limit = limit
        self._dataset = dataset
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self.read_so_far += len(data)
        if self.read_so_far > self._limit:
            raise _refuse(
                self._dataset,
                "--data",
                f"larger than RISKOPS_INPUT_MAX_BYTES ({self._limit} bytes) once uncompressed",
                f"more than {self._limit} bytes",
            )
        buffer[: len(data)] = data
        return len(data)


def count_header_columns(
    stream: BinaryIO, max_columns: int, dataset: str, flag: str = "--data"
) -> int:
    """The number of columns of a CSV's header, read as it streams: refused as soon as it
    passes ``max_columns`` (never read to its end). Commas inside double quotes are part of
    a name (RFC 4180); a doubled quote toggles twice and changes nothing."""
    columns, quoted = 1, False

    def check() -> None:
        if columns > max_columns:
            raise _refuse(
                dataset,
                flag,
                f"more than RISKOPS_INPUT_MAX_COLUMNS ({max_columns}) columns in its header; "
                "nothing beyond was read",
                f"> {max_columns} columns",
            )

    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return columns
        if not quoted and b'"' not in chunk:  # the usual header: counted by bytes.count
            newline = chunk.find(b"\n")
            columns += chunk.count(b",", 0, len(chunk) if newline < 0 else newline)
            check()
            if newline >= 0:
                return columns
            continue
        for byte in chunk:
            if byte == 0x22:  # "
                quoted = not quoted
            elif quoted:
                continue
            elif byte == 0x2C:  # ,
                columns += 1
                check()
            elif byte == 0x0A:  # \n ends the header
                return columns


def check_file(path: str | Path, dataset: str, limits: InputLimits, flag: str = "--data") -> None:
    """Every refusal :func:`read_limited` can make without reading the file's body: its kind,
    size and type, a CSV's header width, a Parquet footer's columns and rows.

    Why: a command that hands the reading to another process (a Prefect flow run) refuses
    bad input here first, with exit 2, before anything starts or is recorded.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    suffix = path.suffix.lower()
    with open_regular(path, dataset, flag, max_bytes=limits.max_bytes) as handle:
        if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
            raise _refuse(dataset, flag, "unsupported file type; use .csv or .parquet", suffix)
        if suffix in PARQUET_SUFFIXES:
            try:
                meta = pq.ParquetFile(handle).metadata
            except (OSError, ValueError) as exc:
                raise _refuse(dataset, flag, f"unreadable Parquet file: {exc}", str(path)) from None
            if meta.num_columns > limits.max_columns:
                raise _refuse(
                    dataset,
                    flag,
                    f"more than RISKOPS_INPUT_MAX_COLUMNS ({limits.max_columns}) columns",
                    f"{meta.num_columns} columns",
                )
            if meta.num_rows > limits.max_rows:
                raise _refuse(
                    dataset,
                    flag,
                    f"more than RISKOPS_INPUT_MAX_ROWS ({limits.max_rows}) rows",
                    f"{meta.num_rows} rows",
                )
            return
        import gzip

        raw: io.BufferedIOBase | BinaryIO = (
            gzip.GzipFile(fileobj=handle, mode="rb") if suffix == ".gz" else handle
        )
        try:
            count_header_columns(
                io.BufferedReader(_Capped(raw, limits.max_bytes, dataset)),
                limits.max_columns,
                dataset,
                flag,
            )
        except (OSError, EOFError) as exc:  # a corrupt gzip stream
            raise _refuse(dataset, flag, f"unreadable file: {exc}", str(path)) from None


def read_limited(path: str | Path, dataset: str, limits: InputLimits) -> pd.DataFrame:
    """A user's CSV (optionally gzip) or Parquet file, within ``limits``."""
    path = Path(path)
    suffix = path.suffix.lower()
    with open_regular(path, dataset, max_bytes=limits.max_bytes) as handle:
        if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
            raise _refuse(dataset, "--data", "unsupported file type; use .csv or .parquet", suffix)
        if suffix in PARQUET_SUFFIXES:
            return _read_parquet(handle, dataset, limits)
        return _read_csv(handle, dataset, limits, gzipped=suffix == ".gz")


def _read_parquet(handle: BinaryIO, dataset: str, limits: InputLimits) -> pd.DataFrame:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)  # reads the footer only
    meta = parquet.metadata
    if meta.num_columns > limits.max_columns:
        raise _refuse(
            dataset,
            "--data",
            f"more than RISKOPS_INPUT_MAX_COLUMNS ({limits.max_columns}) columns",
            f"{meta.num_columns} columns",
        )
    if meta.num_rows > limits.max_rows:
        raise _refuse(
            dataset,
            "--data",
            f"more than RISKOPS_INPUT_MAX_ROWS ({limits.max_rows}) rows",
            f"{meta.num_rows} rows",
        )
    return parquet.read().to_pandas()


def _read_csv(
    handle: BinaryIO, dataset: str, limits: InputLimits, *, gzipped: bool
) -> pd.DataFrame:
    import gzip

    import pandas as pd

    def stream() -> BinaryIO:
        handle.seek(0)
        raw: io.BufferedIOBase | BinaryIO = (
            gzip.GzipFile(fileobj=handle, mode="rb") if gzipped else handle
        )
        return io.BufferedReader(_Capped(raw, limits.max_bytes, dataset))

    count_header_columns(stream(), limits.max_columns, dataset)
    frame = pd.read_csv(stream(), skipinitialspace=True, nrows=limits.max_rows + 1)
    if len(frame) > limits.max_rows:
        raise _refuse(
            dataset,
            "--data",
            f"more than RISKOPS_INPUT_MAX_ROWS ({limits.max_rows}) rows; the rest was not read",
            f"> {limits.max_rows} rows",
        )
    return frame
