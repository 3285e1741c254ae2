"""File manifests: the SHA-256 of every file of a folder, what differs between two, and
one digest of a whole manifest.

A manifest is how RiskOps pins stored files: the registry hashes a version's model files
when it registers them (:meth:`riskops.registry.Registry.register`), tracking hashes a run's
evidence (:func:`riskops.tracking.evidence_manifest`), the audit trail records both, and the
verified loader compares them with what the store holds now before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

CLIENT_SIDE_FILES = frozenset({"registered_model_meta"})
"""Written by MLflow's client into every download of a ``models:/`` URI; not stored."""


def file_manifest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative POSIX path, sorted."""
    out: dict[str, str] = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative in CLIENT_SIDE_FILES:
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        out[relative] = digest.hexdigest()
    return out


def manifest_mismatch(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """What differs between two manifests, one phrase per file (empty when identical)."""
    problems = [f"{p} changed" for p in expected if p in actual and actual[p] != expected[p]]
    problems += [f"{p} missing" for p in expected if p not in actual]
    problems += [f"{p} added" for p in actual if p not in expected]
    return sorted(problems)


def manifest_digest(manifest: Mapping[str, str]) -> str:
    """SHA-256 of a file manifest ``{relative path: sha256}``, independent of key order."""
    canonical = json.dumps(dict(sorted(manifest.items())), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
