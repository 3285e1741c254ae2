"""What one audit record costs, with and without the anchors written beside it, side by side.

Every decision RiskOps records (a registration, a promotion, an approval, a rollback...) is
one :meth:`riskops.audit.AuditTrail.append`. Under a key (``RISKOPS_AUDIT_KEY``) each append
writes, besides the record in the table (SQLite under the home, ``synchronous = FULL``):

* the home's anchor file, MAC'd, before the COMMIT (marked *committing*) and again after it
  (settled) -- always;
* with ``RISKOPS_AUDIT_ANCHOR_URL``, one row in an append-only anchor table outside the
  writer's control (PostgreSQL in production, through a role that may only INSERT and
  SELECT: ``infra/postgres/anchor.sql``).

Configurations, each on its own home, taking turns (``--rounds`` rounds of ``--records``
appends each, the order rotated every round, so that the machine's other load falls on all
alike):

``table_only``
    keyed, the anchor file not written (a measuring subclass; RiskOps never runs so): the
    record alone, the baseline of the anchor costs;
``unkeyed``
    as shipped without a key (SHA-256, anchor file unsigned);
``keyed``
    as shipped with a key, no anchor table;
``keyed_sqlite_anchor``
    plus the anchor table in a SQLite file (a local stand-in);
``keyed_postgres_anchor``
    plus the anchor table on PostgreSQL through the append-only role ``riskops_anchor``, on
    a throwaway local cluster (``tests/production/harness.py``) switched back to durable
    commits (``fsync``, ``synchronous_commit``, ``full_page_writes`` on), on ``--pg-port``.
    Without the PostgreSQL binaries the JSON says so and the other figures stand.

Reported per configuration: median, p90 and p99 milliseconds per record; the ratios of each
anchored configuration to ``keyed`` (what the extra anchor write costs) and of ``keyed`` to
``table_only`` (what the anchor file costs). The registry tag a lifecycle decision also
writes (``riskops.audit_head``, an MLflow call) is not part of the trail's append and not
measured here.

    .venv/bin/python bench/bench_audit_append.py [--records 150] [--rounds 4] [--pg-port 8710]

Writes ``bench/results/bench_audit_append.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "bench_audit_append.json"
KEY = "k" * 32

# A promotion's record, as Lifecycle writes it (sizes as in a real trail).
BODY: dict[str, Any] = {
    "alias_changes": [
        {"alias": "champion", "from": 3, "to": 4},
        {"alias": "previous", "from": 2, "to": 3},
    ],
    "reason": "benchmark",
    "gate_passed": True,
    "failures": [],
    "run_id": "0" * 32,
    "identity": {"run_id": "0" * 32, "manifest": "f" * 64, "incarnation": 1},
    "dataset_hash": "e" * 64,
    "artifacts_verified": True,
    "actor_source": "self_declared",
}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def _postgres(port: int, work: Path) -> Iterator[tuple[str | None, str]]:
    """The anchor role's URL on a durable throwaway cluster, or (None, why not)."""
    # By its path: an installed distribution ships a top-level ``tests`` package that
    # shadows the repository's (a namespace package).
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "production_harness", ROOT / "tests" / "production" / "harness.py"
    )
    if spec is None or spec.loader is None:
        raise RuntimeError("tests/production/harness.py cannot be loaded")
    harness = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = harness  # dataclasses look their module up by name
    spec.loader.exec_module(harness)

    try:
        harness.postgres_bin_dir(install=False)
    except harness.HarnessError as exc:
        yield None, str(exc)
        return
    # The tests' cluster trades durability for speed; a production anchor table commits
    # durably, so the measured one does too.
    with harness.postgres_cluster(work, port=port, durable=True) as server:
        (fsync,) = server.query("postgres", "SHOW fsync")[0]
        password = secrets.token_urlsafe(18)
        server.query("riskops", f"ALTER ROLE riskops_anchor PASSWORD '{password}'")
        url = f"postgresql+psycopg2://riskops_anchor:{password}@{server.host}:{server.port}/riskops"
        yield url, f"local cluster on port {server.port}, fsync {fsync}, through riskops_anchor"


def _trails(work: Path, postgres_url: str | None) -> dict[str, Any]:
    from riskops.audit import AuditRecord, AuditTrail
    from riskops.settings import Settings

    class TableOnly(AuditTrail):
        """The record alone: no anchor file (measuring only)."""

        def _write_anchor_file(self, record: AuditRecord, *, committing: bool = True) -> None:
            return None

        def _settle_anchor_file(self, record: AuditRecord) -> None:
            return None

    def settings(name: str, **extra: Any) -> Settings:
        home = work / name
        home.mkdir()
        return Settings(home=home, **extra)

    trails: dict[str, Any] = {
        "table_only": TableOnly(settings("table_only", audit_key=KEY)),
        "unkeyed": AuditTrail(settings("unkeyed")),
        "keyed": AuditTrail(settings("keyed", audit_key=KEY)),
        "keyed_sqlite_anchor": AuditTrail(
            settings(
                "keyed_sqlite_anchor",
                audit_key=KEY,
                audit_anchor_url=f"sqlite:///{work / 'anchors.db'}",
            )
        ),
    }
    if postgres_url is not None:
        trails["keyed_postgres_anchor"] = AuditTrail(
            settings("keyed_postgres_anchor", audit_key=KEY, audit_anchor_url=postgres_url)
        )
    return trails


def _append(trail: Any, n: int) -> Callable[[], None]:
    def one() -> None:
        trail.append("promote", "credit_pd", n, actor="bench", **BODY)

    return one


def measure(records: int, rounds: int, pg_port: int) -> dict[str, Any]:
    for key in [k for k in os.environ if k.startswith("RISKOPS_")]:
        del os.environ[key]
    started = {"utc": datetime.now(UTC).isoformat(timespec="seconds"), "load": _load()}
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="trust2-bench-audit-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        (work / "pg-logs").mkdir()
        postgres_url, postgres_note = stack.enter_context(_postgres(pg_port, work / "pg-logs"))
        trails = _trails(work, postgres_url)
        for trail in trails.values():  # warm: tables created, imports, first connection
            for n in range(5):
                _append(trail, n)()
        samples: dict[str, list[float]] = {name: [] for name in trails}
        names = list(trails)
        for round_ in range(rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                append = _append(trails[name], round_)
                for _ in range(records):
                    t0 = time.perf_counter()
                    append()
                    samples[name].append(time.perf_counter() - t0)
        # The shipped configurations' chains and anchors hold after the run (table_only
        # wrote no anchor file, so it has none to verify).
        verified = {n: t.verify().ok for n, t in trails.items() if n != "table_only"}
    ms = {
        name: {
            "median_ms": round(statistics.median(s) * 1e3, 3),
            "p90_ms": round(_quantile(s, 0.90) * 1e3, 3),
            "p99_ms": round(_quantile(s, 0.99) * 1e3, 3),
            "records": len(s),
        }
        for name, s in samples.items()
    }

    def ratio(a: str, b: str) -> float | None:
        if a not in ms or b not in ms:
            return None
        return round(ms[a]["median_ms"] / ms[b]["median_ms"], 2)

    return {
        "date": started["utc"][:10],
        "started_utc": started["utc"],
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": started["load"],
            "load_average_at_end": _load(),
        },
        "method": (
            f"{rounds} rounds x {records} appends per configuration, taking turns (order "
            "rotated each round), each on its own home; per-append wall time"
        ),
        "per_record": ms,
        "ratios_median": {
            "keyed_over_table_only": ratio("keyed", "table_only"),
            "keyed_over_unkeyed": ratio("keyed", "unkeyed"),
            "sqlite_anchor_over_keyed": ratio("keyed_sqlite_anchor", "keyed"),
            "postgres_anchor_over_keyed": ratio("keyed_postgres_anchor", "keyed"),
        },
        "postgres": {"measured": postgres_url is not None, "note": postgres_note},
        "chains_verified_after": verified,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pg-port", type=int, default=8710)
    args = parser.parse_args()
    result = measure(args.records, args.rounds, args.pg_port)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
