"""Content hashes of datasets, for lineage: the same data always gives the same hash."""

from __future__ import annotations

import hashlib

import pandas as pd


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 over column names, dtypes, index and values; independent of file format."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update("\x1f".join(map(str, frame.dtypes)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()
