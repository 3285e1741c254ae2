"""Identities in production mode: the identity store in PostgreSQL (by default the audit
trail's database), racing bootstraps, tokens checked by separate processes, revocation.

Only the ``postgres`` server is needed. The test works in a database of its own: once a
database holds identities it authenticates every command, and the suite's shared
``riskops`` database must stay in the single-user mode the other tests use.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from . import harness


def _riskops(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["riskops", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def test_identities_live_in_postgresql_and_every_process_checks_them(postgres, tmp_path):
    database = "riskops_identities"
    postgres.query("postgres", f"CREATE DATABASE {database} OWNER {postgres.user}")
    home = tmp_path / "home"
    home.mkdir()
    env = harness.clean_environment(
        {
            "RISKOPS_HOME": str(home),
            "RISKOPS_AUDIT_URL": postgres.url(database),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }
    )
    # Given four processes bootstrapping the same new database at the same moment
    results = harness.run_python_concurrently(
        """
        import json
        from riskops.errors import BadInputError
        from riskops import access
        from riskops.settings import Settings

        barrier()
        try:
            who, issued = access.bootstrap(Settings(), f"founder-{WORKER}")
            print(json.dumps({"won": who, "token": issued.token}))
        except BadInputError as exc:
            print(json.dumps({"refused": str(exc)}))
        """,
        n=4,
        env=env,
        workdir=tmp_path / "race",
    )
    outcomes = [json.loads(r.stdout.strip().splitlines()[-1]) for r in results]
    winners = [o for o in outcomes if "won" in o]
    # Then exactly one admin exists; the others were refused, not added
    assert len(winners) == 1, outcomes
    assert all("already has identities" in o["refused"] for o in outcomes if "refused" in o)
    admin_token = winners[0]["token"]
    as_admin = {**env, "RISKOPS_TOKEN": admin_token}

    # When the admin adds a validator and a service account, in other processes
    added = {}
    for name, role in (("Val", "validator"), ("scorer", "service")):
        done = _riskops(["users", "add", name, "--role", role, "--json"], as_admin, tmp_path)
        assert done.returncode == 0, done.stderr
        added[name.lower()] = json.loads(done.stdout)["token"]
    # Then they live in PostgreSQL, hashed, and nothing was written to a local database
    rows = postgres.query(
        database, "SELECT name, kind, roles FROM riskops_identities ORDER BY created_at"
    )
    assert rows == [
        (winners[0]["won"], "user", "admin"),
        ("val", "user", "validator"),
        ("scorer", "service", "service"),
    ]
    hashes = postgres.query(database, "SELECT hash FROM riskops_tokens")
    assert len(hashes) == 3 and all(h.startswith("$argon2id$") for (h,) in hashes)
    assert not any(t in h for (h,) in hashes for t in added.values())
    assert not (home / "identity.db").exists()

    # And a token works from any process; RISKOPS_ACTOR is refused
    who = _riskops(["whoami", "--json"], {**env, "RISKOPS_TOKEN": added["val"]}, tmp_path)
    assert who.returncode == 0, who.stderr
    assert (json.loads(who.stdout)["name"], json.loads(who.stdout)["source"]) == ("val", "token")
    declared = _riskops(["whoami"], {**env, "RISKOPS_ACTOR": "val"}, tmp_path)
    assert declared.returncode == 2 and "RISKOPS_ACTOR: refused" in declared.stderr

    # When the validator is revoked, the very next command refuses the token
    assert _riskops(["users", "revoke", "val"], as_admin, tmp_path).returncode == 0
    after = _riskops(["whoami"], {**env, "RISKOPS_TOKEN": added["val"]}, tmp_path)
    assert after.returncode == 2 and "revoked" in after.stderr

    # And the audit trail in PostgreSQL names who did each change and how they were known
    audit = postgres.query(database, "SELECT actor, action, body FROM riskops_audit ORDER BY seq")
    trail = [(actor, action, json.loads(body)["actor_source"]) for actor, action, body in audit]
    admin_name = winners[0]["won"]
    assert trail[1:] == [
        (admin_name, "identity_added", "token"),
        (admin_name, "identity_added", "token"),
        (admin_name, "identity_revoked", "token"),
    ]
    assert trail[0][1:] == ("identity_bootstrap", "self_declared")
