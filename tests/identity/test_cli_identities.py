"""The command line with identities: maker-checker between authenticated people, revocation,
findings that block a promotion, tiers and revalidation dates; every record attributable.

Runs on the shared identity home (``conftest.py``): credit models of 1,500 applicants and
40 trees, trained once per test under a name of its own. The policy there is the credit
family's with ``tier: medium`` and ``approvals: 1``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from riskops.audit import AuditTrail
from riskops.registry import CHAMPION, Registry
from riskops.settings import Settings

from .conftest import IdentityHome, cli, train


def _champion(name: str) -> int | None:
    info = Registry(Settings()).version_for_alias(name, CHAMPION)
    return None if info is None else info.version


def test_approving_as_another_person_needs_that_persons_token(ihome: IdentityHome) -> None:
    name = "cli_pd"
    version = str(train(ihome, name, "alice"))
    # Given alice's request, under a policy that needs one approval
    asked = cli(ihome, "alice", "promote", name, "--version", version, "--json")
    assert asked.exit_code == 0, asked.output
    assert "awaiting 1 approval" in json.loads(asked.stdout)["note"]
    # alice cannot approve it: her role lacks the permission (exit 2, named)
    own = cli(ihome, "alice", "approve", name, "--version", version, "--reason", "mine")
    assert own.exit_code == 2
    assert "permission 'approve' denied: alice (data_scientist)" in own.stderr
    # nor by declaring herself victor
    declared = cli(
        ihome, "alice", "approve", name, "--version", version, "--reason", "x",
        RISKOPS_ACTOR="victor",
    )  # fmt: skip
    assert declared.exit_code == 2 and "RISKOPS_ACTOR: refused" in declared.stderr
    # nor with victor's token id and her own secret, nor with no token at all
    victor, alice = ihome.tokens["victor"], ihome.tokens["alice"]
    forged = victor[:21] + alice[21:]  # "rsk_" + 16-digit id + "_", then the secret
    assert forged != victor
    spliced = cli(
        ihome, None, "approve", name, "--version", version, "--reason", "x", RISKOPS_TOKEN=forged
    )
    assert spliced.exit_code == 2 and "unknown, wrong or revoked" in spliced.stderr
    anonymous = cli(ihome, None, "approve", name, "--version", version, "--reason", "x")
    assert anonymous.exit_code == 2 and "riskops login" in anonymous.stderr
    assert _champion(name) is None
    # When victor approves with his own token, then it is champion
    approved = cli(
        ihome, "victor", "approve", name, "--version", version, "--reason", "report reviewed"
    )
    assert approved.exit_code == 0, approved.output
    assert _champion(name) == int(version)
    # And the trail names both, authenticated by their tokens
    trail = [
        (r.action, r.actor, r.body["actor_source"]) for r in AuditTrail(Settings()).records(name)
    ]
    assert trail[-3:] == [
        ("approval_requested", "alice", "token"),
        ("approve", "victor", "token"),
        ("promote", "victor", "token"),
    ]
    promote = AuditTrail(Settings()).records(name)[-1]
    assert promote.body["requested_by"] == "alice" and promote.body["approved_by"] == ["victor"]


def test_a_revoked_token_is_refused_by_the_next_command(ihome: IdentityHome) -> None:
    added = cli(ihome, "admin", "users", "add", "Vince", "--role", "validator", "--json")
    assert added.exit_code == 0, added.output
    token = json.loads(added.stdout)["token"]
    who = cli(ihome, None, "whoami", "--json", RISKOPS_TOKEN=token)
    assert who.exit_code == 0 and json.loads(who.stdout)["name"] == "vince"
    # Only an admin revokes
    denied = cli(ihome, "victor", "users", "revoke", "vince")
    assert denied.exit_code == 2 and "permission 'users' denied" in denied.stderr
    revoked = cli(ihome, "admin", "users", "revoke", "VINCE")
    assert revoked.exit_code == 0, revoked.output
    after = cli(ihome, None, "whoami", RISKOPS_TOKEN=token)
    assert after.exit_code == 2 and "unknown, wrong or revoked" in after.stderr
    listed = json.loads(cli(ihome, "admin", "users", "list", "--json").stdout)["identities"]
    vince = next(i for i in listed if i["name"] == "vince")
    assert vince["revoked_by"] == "admin" and vince["active_tokens"] == 0


def test_an_open_high_finding_blocks_promotion_until_a_validator_closes_it(
    ihome: IdentityHome,
) -> None:
    name = "findings_pd"
    version = str(train(ihome, name, "bob", seed=7))
    due = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    finding = [
        "findings", "add", name, "--version", version, "--severity", "high", "--owner",
        "Bob", "--due", due, "--text", "calibration drifts in the youngest band", "--json",
    ]  # fmt: skip
    # A data scientist records no findings; a validator does
    assert cli(ihome, "bob", *finding).exit_code == 2
    recorded = cli(ihome, "vera", *finding)
    assert recorded.exit_code == 0, recorded.output
    found = json.loads(recorded.stdout)
    assert (found["owner"], found["severity"], found["open"]) == ("bob", "high", True)
    # Bad input names its field
    bad_due = cli(ihome, "vera", *finding[:-5], "--due", "2001-01-01", "--text", "x")
    assert bad_due.exit_code == 2 and "--due" in bad_due.stderr
    ghost = cli(ihome, "vera", *[a if a != "Bob" else "nobody" for a in finding])
    assert ghost.exit_code == 2 and "--owner" in ghost.stderr
    # When bob requests the promotion, the open finding refuses it (exit 3), named
    refused = cli(ihome, "bob", "promote", name, "--version", version, "--json")
    assert refused.exit_code == 3, refused.output
    gates = {g["gate"]: g for g in json.loads(refused.stdout)["report"]["results"]}
    assert not gates["open_findings"]["passed"]
    assert f"#{found['id']} high (owner bob" in gates["open_findings"]["reason"]
    # When vera closes it, the request goes through and victor approves it
    closed = cli(ihome, "vera", "findings", "close", str(found["id"]), "--reason", "recalibrated")
    assert closed.exit_code == 0, closed.output
    assert cli(ihome, "bob", "promote", name, "--version", version).exit_code == 0
    assert (
        cli(ihome, "victor", "approve", name, "--version", version, "--reason", "ok").exit_code == 0
    )
    assert _champion(name) == int(version)
    listed = json.loads(cli(ihome, "vera", "findings", "list", name, "--all", "--json").stdout)
    assert [(f["id"], f["open"], f["closed_by"]) for f in listed["findings"]] == [
        (found["id"], False, "vera")
    ]
    # And `riskops models` shows the tier and when it must be revalidated (medium: 730 days)
    models = json.loads(cli(ihome, "alice", "models", "--json").stdout)["models"]
    row = next(m for m in models if m["name"] == name)["governance"]
    last = datetime.fromisoformat(row["last_validation"])
    assert row["tier"] == "medium" and row["revalidation_days"] == 730
    assert row["revalidation_due"] == (last + timedelta(days=730)).date().isoformat()
    assert date.fromisoformat(row["revalidation_due"]) > datetime.now(UTC).date()
    assert not row["revalidation_overdue"] and row["open_findings"] == 0


def test_every_record_since_the_first_identity_names_an_authenticated_actor(
    ihome: IdentityHome,
) -> None:
    # Whatever else ran in this home before (the other identity tests), nothing after the
    # bootstrap is self-declared, and every actor is a defined identity
    records = AuditTrail(Settings()).records()
    start = next(i for i, r in enumerate(records) if r.action == "identity_bootstrap")
    assert records[start].body["actor_source"] == "self_declared"  # the founder: unverified
    later = records[start + 1 :]
    assert len(later) >= 1 + 6  # the six identities the admin added, at least
    known = {"admin", "vince", *ihome.tokens}
    unattributed = [
        (r.seq, r.action, r.actor, r.body.get("actor_source"))
        for r in later
        if r.body.get("actor_source") not in ("token", "oidc") or r.actor not in known
    ]
    assert unattributed == []


def test_the_identities_trail_is_not_a_model(ihome: IdentityHome) -> None:
    # Given a home whose trail records who was added (the pseudo-model `_identities`) and a
    # trained model
    name = "listed_pd"
    train(ihome, name, "alice")
    assert any(r.model == "_identities" for r in AuditTrail(Settings()).records())
    # When anyone lists the models
    listed = cli(ihome, "alice", "models", "--json")
    assert listed.exit_code == 0, listed.output
    names = {row["name"] for row in json.loads(listed.stdout)["models"]}
    # Then the model is there and the identities' records are not a model
    assert name in names
    assert "_identities" not in names
