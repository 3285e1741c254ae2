"""Identities without a model: names, the permission table, tokens, the store, the
authenticator's revocation, and the local single-user mode's maker-checker."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskops.errors import AuthenticationError, BadInputError, PermissionDenied
from riskops.identity.roles import PERMISSIONS, ROLES, Principal, normalise, require
from riskops.identity.tokens import VerifiedCache, hash_token, new_token, token_id_of
from riskops.settings import Settings


# ------------------------------------------------------------------------------ names
@pytest.mark.parametrize("raw", ["root", "root ", " Root", "ROOT", "\troot\n", "ｒｏｏｔ"])
def test_spellings_of_one_name_are_one_person(raw: str) -> None:
    # "ｒｏｏｔ" is full-width: NFKC folds it to "root"
    assert normalise(raw) == "root"


@pytest.mark.parametrize("raw", ["", "   ", "\t", None, "a\x00b", "x" * 201])
def test_empty_control_or_overlong_names_are_refused(raw: str | None) -> None:
    with pytest.raises(BadInputError, match="name"):
        normalise(raw)


@given(st.text(min_size=1, max_size=40), st.sampled_from(["", " ", "  \t"]))
def test_normalising_is_idempotent_and_blind_to_surrounding_blanks(text: str, pad: str) -> None:
    try:
        once = normalise(text)
    except BadInputError:
        with pytest.raises(BadInputError):
            normalise(pad + text + pad)
        return
    assert normalise(once) == once
    assert normalise(pad + text + pad) == once


@given(st.text(alphabet=st.characters(min_codepoint=65, max_codepoint=122), min_size=1))
def test_ascii_case_never_makes_another_person(text: str) -> None:
    if text.strip():
        assert normalise(text.upper()) == normalise(text.lower())


# ------------------------------------------------------------------------- permissions
def test_the_permission_table_is_the_one_the_issue_asks_for() -> None:
    granted = {role: {p for p, roles in PERMISSIONS.items() if role in roles} for role in ROLES}
    # `outcomes` (issue 29): record matured credit outcomes and run the validation tests
    assert granted["data_scientist"] == {"train", "promote", "shadow", "view", "outcomes"}
    assert granted["validator"] == {"approve", "reject", "findings", "view", "outcomes"}
    assert granted["admin"] == {"force", "rollback", "users", "view"}
    assert granted["service"] == {"score", "observe"}


def test_a_missing_permission_is_named_with_the_role_that_grants_it() -> None:
    alice = Principal.of("Alice", ["data_scientist"], "token")
    assert require(alice, "promote") is alice
    with pytest.raises(PermissionDenied) as denied:
        require(alice, "approve", "approve a promotion")
    assert denied.value.permission == "approve" and denied.value.exit_code == 2
    assert "permission 'approve' denied: alice (data_scientist) needs the validator role" in str(
        denied.value
    )


def test_the_local_single_user_may_do_anything_but_is_only_self_declared() -> None:
    me = Principal.single_user(" Root ")
    assert me.name == "root" and me.source == "self_declared" and not me.authenticated
    assert all(me.can(p) for p in PERMISSIONS)


# ------------------------------------------------------------------------------ tokens
def test_a_token_is_found_by_its_id_and_verified_against_its_argon2_hash() -> None:
    issued = new_token()
    assert token_id_of(issued.token) == issued.token_id
    assert token_id_of(issued.token + "x") is None
    assert token_id_of("rsk_nothex_" + "a" * 43) is None
    stored = hash_token(issued.token)
    assert stored.startswith("$argon2id$") and issued.token not in stored
    cache = VerifiedCache()
    assert cache.verify(issued.token_id, issued.token, stored)
    # the same id with another secret is refused, even after the right one was cached
    forged = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
    assert not cache.verify(issued.token_id, forged, stored)
    assert cache.verify(issued.token_id, issued.token, stored)


def test_a_cached_token_skips_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    from riskops.identity import tokens

    issued = new_token()
    stored = hash_token(issued.token)
    cache = VerifiedCache()
    assert cache.verify(issued.token_id, issued.token, stored)
    calls = []
    monkeypatch.setattr(tokens, "verify_hash", lambda *a: calls.append(a) or False)
    # the second check is answered by the keyed digest alone
    assert cache.verify(issued.token_id, issued.token, stored)
    assert calls == []


# ------------------------------------------------------------------------------- store
def test_bootstrap_once_then_only_admins_add_and_names_are_never_reused(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops import access
    from riskops.identity.store import IdentityStore

    monkeypatch.delenv("RISKOPS_ACTOR")
    settings = Settings()
    # Given a new home: no identity database at all until the first identity
    assert not (riskops_home / "identity.db").exists()
    who, issued = access.bootstrap(settings, " Root ")
    assert who == "root"
    with pytest.raises(BadInputError, match="already has identities"):
        access.bootstrap(settings, "mallory")
    store = IdentityStore(settings)
    root = store.authenticate(issued.token)
    assert (root.name, root.roles, root.source) == ("root", {"admin"}, "token")
    # When the admin adds alice, "ALICE " is the same person and cannot be added again
    _, alice_token = access.add(settings, root, "alice", ["data_scientist"])
    with pytest.raises(BadInputError, match="exists"):
        access.add(settings, root, "ALICE ", ["validator"])
    # And alice, no admin, cannot add anyone
    alice = store.authenticate(alice_token.token)
    with pytest.raises(PermissionDenied, match="'users'"):
        access.add(settings, alice, "bob", ["admin"])
    # A service account scores and nothing else
    with pytest.raises(BadInputError, match="service role alone"):
        access.add(settings, root, "svc", ["service", "validator"])
    # When alice is revoked, her token is refused at once and her name stays taken
    access.revoke(settings, root, "Alice")
    with pytest.raises(AuthenticationError, match="revoked"):
        store.authenticate(alice_token.token)
    with pytest.raises(BadInputError, match="never reused"):
        access.add(settings, root, "alice", ["data_scientist"])
    # And every change is in the audit trail, by an identified actor
    from riskops.audit import AuditTrail

    records = [(r.actor, r.action, r.body["actor_source"]) for r in AuditTrail(settings).records()]
    founder = normalise(Settings().actor)  # the operating-system user: nobody vouched for it
    assert records == [
        (founder, "identity_bootstrap", "self_declared"),
        ("root", "identity_added", "token"),
        ("root", "identity_revoked", "token"),
    ]


def test_login_stores_the_token_outside_the_checkout_readable_by_its_owner_only(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from riskops import access
    from riskops.identity.resolve import CHECKOUT, current, login, logout

    monkeypatch.delenv("RISKOPS_ACTOR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    _, issued = access.bootstrap(Settings(), "root")
    # Without a token, an authenticated home refuses to say who acts
    with pytest.raises(AuthenticationError, match="RISKOPS_TOKEN or run `riskops login`"):
        current(Settings())
    principal, path = login(Settings(), issued.token)
    assert principal.name == "root"
    assert path == tmp_path / "config" / "riskops" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert current(Settings()).name == "root"
    # RISKOPS_ACTOR is refused here, whatever it says
    monkeypatch.setenv("RISKOPS_ACTOR", "root")
    with pytest.raises(AuthenticationError, match="RISKOPS_ACTOR: refused"):
        current(Settings())
    monkeypatch.delenv("RISKOPS_ACTOR")
    assert logout(Settings()) and not logout(Settings())
    # And a config folder inside the repository is refused
    monkeypatch.setenv("XDG_CONFIG_HOME", str(CHECKOUT / "config-in-repo"))
    with pytest.raises(BadInputError, match="never stored in the repository"):
        login(Settings(), issued.token)
    assert not (CHECKOUT / "config-in-repo").exists()


def test_the_authenticator_sees_a_revocation_within_a_second_without_argon2_per_call(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops import access
    from riskops.identity import tokens
    from riskops.identity.authenticator import Authenticator, Unverified

    monkeypatch.delenv("RISKOPS_ACTOR")
    settings = Settings()
    _, root_token = access.bootstrap(settings, "root")
    root = Authenticator(settings).authenticate(root_token.token)
    _, svc = access.add(settings, root, "svc", ["service"])
    auth = Authenticator(settings).start()
    # A second one that never polls: a snapshot older than max_staleness sends every
    # look-up to the store itself
    direct = Authenticator(settings, max_staleness=0.0)
    direct.refresh()
    try:
        assert direct.authenticate(svc.token).name == "svc"
        # The first call needs argon2 (off the event loop in the service), later ones do not
        first = auth.check(svc.token)
        assert isinstance(first, Unverified)
        assert auth.verify(first).name == "svc"
        argon2_calls = []
        original = tokens.verify_hash
        monkeypatch.setattr(
            tokens, "verify_hash", lambda *a: argon2_calls.append(1) or original(*a)
        )
        assert all(auth.check(svc.token).name == "svc" for _ in range(200))  # type: ignore[union-attr]
        assert argon2_calls == []
        # When svc is revoked by another process's command
        access.revoke(settings, root, "svc")
        revoked_at = time.monotonic()
        # Then within a second its token is refused (polling, no fixed sleep)
        while True:
            try:
                auth.check(svc.token)
            except AuthenticationError:
                break
            assert time.monotonic() - revoked_at < 1.0, "revocation not seen within 1 s"
            time.sleep(0.01)
        # And the one whose snapshot is stale refuses it too, without having polled
        with pytest.raises(AuthenticationError):
            direct.check(svc.token)
    finally:
        auth.stop()


# ------------------------------------------------------------- single-user maker-checker
@pytest.mark.parametrize("approver", ["root ", "Root", "ROOT", " root"])
def test_in_single_user_mode_respellings_of_the_requester_cannot_approve(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch, approver: str
) -> None:
    from riskops.audit import AuditTrail
    from riskops.lifecycle import Lifecycle

    # Given root's request of a registered v3, recorded as in a home without identities
    trail = AuditTrail(Settings())
    trail.append("register", "credit_pd", 3, actor="root", run_id="r3", artifacts={"m": "0"})
    trail.append("approval_requested", "credit_pd", 3, actor="root", required_approvals=2)
    # When "root " or "Root" approves, then it is root approving his own request
    monkeypatch.setenv("RISKOPS_ACTOR", approver)
    with pytest.raises(BadInputError, match="root requested the promotion"):
        Lifecycle(Settings()).approve("credit_pd", 3, "looks fine")


def test_in_single_user_mode_an_empty_actor_is_refused(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops.audit import AuditTrail

    monkeypatch.setenv("RISKOPS_ACTOR", "  ")
    with pytest.raises(BadInputError, match="RISKOPS_ACTOR: an identity needs a name"):
        AuditTrail(Settings()).append("approve", "credit_pd", 3, reason="x")


def test_a_token_in_a_home_without_identities_is_refused_rather_than_ignored(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops.identity.resolve import current

    monkeypatch.setenv("RISKOPS_TOKEN", new_token().token)
    with pytest.raises(AuthenticationError, match="defines no identities"):
        current(Settings())


# ------------------------------------------------------------------ tiers and findings
def test_a_tier_sets_approvals_revalidation_and_blocking_findings(tmp_path: Path) -> None:
    from riskops.policy import load_policies

    policy_file = tmp_path / "policies.yaml"
    policy_file.write_text(
        "tiers:\n"
        "  low: {approvals: 0, revalidation_days: 500, block_on_findings: []}\n"
        "m_high: {family: credit, tier: high, approvals: 1}\n"
        "m_low: {family: credit, tier: low}\n"
        "m_none: {family: credit, approvals: 3, block_on_findings: [high, medium]}\n"
    )
    book = load_policies(policy_file)
    high, low, untiered = (book.for_model(n) for n in ("m_high", "m_low", "m_none"))
    # the larger of the tier's approvals and the policy's
    assert [book.approvals_for(p) for p in (high, low, untiered)] == [2, 0, 3]
    assert [book.revalidation_days(p) for p in (high, low, untiered)] == [365, 500, None]
    assert book.blocking_severities(high) == ("high",)
    assert book.blocking_severities(low) == ()  # overridden by the file's `tiers:`
    assert book.blocking_severities(untiered) == ("high", "medium")
    bad = tmp_path / "bad.yaml"
    bad.write_text("m: {family: credit, tier: critical}\n")
    with pytest.raises(BadInputError, match="tier"):
        load_policies(bad)


def test_revalidation_is_due_a_period_after_the_champions_last_validation() -> None:
    from datetime import UTC, datetime

    from riskops.inventory import governance_of
    from riskops.policy import DEFAULT_TIERS, Policy, PolicyBook

    book = PolicyBook(models={}, tiers=dict(DEFAULT_TIERS))
    policy = Policy(family="credit", tier="high", owner="alice")
    records = [
        {"seq": 1, "ts": "2025-01-10T09:00:00+00:00", "actor": "a", "action": "register",
         "model": "m", "version": 1, "body": {}},
        {"seq": 2, "ts": "2025-01-11T09:00:00+00:00", "actor": "a", "action": "gate_decision",
         "model": "m", "version": 1, "body": {"passed": True}},
        {"seq": 3, "ts": "2025-01-12T09:00:00+00:00", "actor": "v", "action": "promote",
         "model": "m", "version": 1, "body": {}},
        {"seq": 4, "ts": "2025-03-01T09:00:00+00:00", "actor": "a", "action": "gate_decision",
         "model": "m", "version": 2, "body": {"passed": True}},
    ]  # fmt: skip
    before = governance_of(records, policy, book, 1, now=datetime(2025, 6, 1, tzinfo=UTC))
    # v2's gate decision does not validate champion v1
    assert before.last_validation == "2025-01-12T09:00:00+00:00"
    assert before.revalidation_due == "2026-01-12" and not before.revalidation_overdue
    assert before.required_approvals == 2 and before.owner == "alice"
    after = governance_of(records, policy, book, 1, now=datetime(2026, 1, 13, tzinfo=UTC))
    assert after.revalidation_overdue
    untiered = governance_of(records, Policy(family="credit"), book, 1)
    assert untiered.revalidation_due is None and untiered.tier is None


def test_only_open_findings_of_a_blocking_severity_on_the_version_refuse_it() -> None:
    from riskops.findings import findings_from, findings_gate

    def added(seq: int, version: int, severity: str) -> dict:
        body = {"severity": severity, "owner": "bob", "due": "2030-01-01", "text": f"f{seq}"}
        return {"seq": seq, "ts": f"t{seq}", "actor": "vera", "action": "finding_added",
                "model": "m", "version": version, "body": body}  # fmt: skip

    closed = {"seq": 9, "ts": "t9", "actor": "vera", "action": "finding_closed", "model": "m",
              "version": 1, "body": {"finding": 1, "reason": "fixed"}}  # fmt: skip
    found = findings_from([added(1, 1, "high"), added(2, 1, "low"), added(3, 2, "high"), closed])
    assert [(f.id, f.open) for f in found] == [(1, False), (2, True), (3, True)]
    on_v1 = findings_gate(found, 1, ("high",))
    assert on_v1 is not None and on_v1.passed and "none blocking" in on_v1.reason
    on_v2 = findings_gate(found, 2, ("high",))
    assert on_v2 is not None and not on_v2.passed and "#3 high" in on_v2.reason
    assert findings_gate(found, 3, ("high",)) is None  # nothing to say about v3
    assert findings_gate(found, 2, ()).passed  # type: ignore[union-attr]
