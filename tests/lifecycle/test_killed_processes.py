"""A ``riskops`` process killed outright (``kill -9``: no ``finally``, no ``atexit``) at each
step of a registration or a promotion leaves a state that ``riskops audit verify`` explains
and ``riskops reconcile`` repairs: nothing half-registered, nothing promoted without its
record, no false alarm of a truncated trail.

Each case runs the real command line (``riskops.cli.app.main``) in a child process on real
MLflow (SQLite under ``tmp_path``). The child pauses at one step -- a RiskOps or MLflow
function wrapped to write a marker and sleep once it is reached, nothing else replaced --
and the test kills it with SIGKILL as soon as the marker appears. What comes after is asked
of the command line in fresh processes, as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from riskops.audit import AuditTrail
from riskops.ledger.state import fold
from riskops.lifecycle import Lifecycle
from riskops.registry import CHALLENGER, CHAMPION, PREVIOUS
from riskops.settings import Settings
from services.champions import ChampionHolder, LedgerSource
from tests.lifecycle.test_ledger_truth import NAME, _champion, _register

RISKOPS = Path(sys.executable).with_name("riskops")
WAIT_FOR_STEP_SECONDS = 240.0

# The child: wrap ``TARGET`` (module:attribute path) so that, when ``WHEN`` holds for its
# arguments, it runs the original (``AFTER``) or not (before), writes the marker and sleeps
# until killed; then run the command line with the arguments given.
_CHILD = textwrap.dedent(
    """
    import functools, importlib, os, sys, time

    marker, target, when, after, *argv = sys.argv[1:]
    module_name, _, path = target.partition(":")
    owner = importlib.import_module(module_name)
    *parents, attribute = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, attribute)

    @functools.wraps(original)
    def paused(*args, **kwargs):
        if not eval(when, {"args": args, "kwargs": kwargs}):
            return original(*args, **kwargs)
        if after == "after":
            original(*args, **kwargs)
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        while True:
            time.sleep(60)

    setattr(owner, attribute, paused)
    sys.argv = ["riskops", *argv]
    from riskops.cli.app import main

    main()
    """
)


def _kill_at(
    target: str, argv: list[str], *, when: str = "True", after: bool = False, marker: Path
) -> None:
    """Run ``riskops *argv`` in a child paused at ``target`` and SIGKILL it there."""
    step = [str(marker), target, when, "after" if after else "before"]
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *step, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + WAIT_FOR_STEP_SECONDS
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"riskops {' '.join(argv)} ended before {target}: {child.stdout.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"riskops {' '.join(argv)} did not reach {target}")
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL


def _cli(*argv: str) -> tuple[int, Any]:
    """``riskops *argv --json`` in a fresh process: exit code and the JSON it printed."""
    done = subprocess.run(
        [str(RISKOPS), *argv, "--json"], capture_output=True, text=True, timeout=600
    )
    try:
        payload = json.loads(done.stdout)
    except ValueError:
        payload = {"stdout": done.stdout, "stderr": done.stderr}
    return done.returncode, payload


def _messages(report: dict[str, Any], severity: str) -> list[str]:
    return [f["message"] for f in report["findings"] if f["severity"] == severity]


def _served(settings: Settings) -> int | None:
    holder = ChampionHolder(LedgerSource(settings), NAME)
    holder.refresh()
    return None if holder.current is None else holder.current.version


def _alias(life: Lifecycle, alias: str) -> int | None:
    found = life.registry.version_for_alias(NAME, alias)
    return None if found is None else found.version


def _scratch_left(settings: Settings) -> list[str]:
    root = settings.scratch_root
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# ------------------------------------------------------------------- promotion
def test_a_promotion_killed_after_its_record_is_served_reported_and_reconciled(
    settings: Settings, tmp_path: Path
) -> None:
    life = Lifecycle(settings)
    # Given champion v1 and a challenger v2
    first = _champion(life)
    second = _register(life)
    # When `riskops promote` is killed after the promotion's record, before the aliases move
    _kill_at(
        "riskops.lifecycle:Lifecycle.project",
        ["promote", NAME, "--version", str(second), "--force", "--reason", "killed"],
        marker=tmp_path / "reached",
    )
    # Then the trail says v2 is champion, the service serves v2, the registry still says v1
    state = fold(life.trail.records(NAME), NAME)
    assert (state.champion, state.previous) == (second, first)
    assert _served(settings) == second
    assert (_alias(life, CHAMPION), _alias(life, PREVIOUS), _alias(life, CHALLENGER)) == (
        first,
        None,
        second,
    )
    # And verify passes, explaining the lag and naming the repair
    code, report = _cli("audit", "verify")
    assert code == 0, report
    lag = _messages(report, "warning")
    assert len(lag) == 3 and all(f"riskops reconcile {NAME}" in m for m in lag), lag
    assert any(f"{NAME}@champion still points to v{first}" in m for m in lag)
    # When reconcile runs, the aliases follow the trail, recorded first
    code, done = _cli("reconcile", NAME)
    assert code == 0, done
    assert sorted((c["alias"], c["from"], c["to"]) for c in done["alias_changes"]) == [
        ("challenger", second, None),
        ("champion", first, second),
        ("previous", None, first),
    ]
    assert life.trail.records(NAME)[-1].action == "reconcile"
    # Then verify is clean, and the killed process's scratch is gone
    code, report = _cli("audit", "verify")
    assert code == 0 and report["findings"] == [], report
    assert (_alias(life, CHAMPION), _alias(life, PREVIOUS)) == (second, first)
    assert not [n for n in _scratch_left(settings) if not n.startswith("process-")]


def test_a_promotion_killed_before_its_record_commits_moves_nothing_and_alarms_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    life = Lifecycle(settings)
    # Given champion v1 and a challenger v2
    first = _champion(life)
    second = _register(life)
    records = len(life.trail.records())
    # When `riskops promote` is killed inside the append of its promotion record: the anchor
    # file already names the record, the transaction has not committed
    _kill_at(
        "riskops.audit:AuditTrail._write_anchor_file",
        ["promote", NAME, "--version", str(second), "--force", "--reason", "killed"],
        when="args[1].action == 'override'",
        after=True,
        marker=tmp_path / "reached",
    )
    # Then nothing of the promotion is in the trail, nothing moved, v1 is served
    assert [r.action for r in life.trail.records()[records:]] == ["gate_decision"]
    assert fold(life.trail.records(NAME), NAME).champion == first
    assert _served(settings) == first and _alias(life, CHAMPION) == first
    # And verify tells the interrupted append from deleted records (no false alarm)
    code, report = _cli("audit", "verify")
    assert code == 0, report
    assert _messages(report, "warning") == [
        f"the append of record {records + 2} was interrupted before it committed (a process "
        f"killed?): nothing of it is in the trail, whose head is record {records + 1}; the "
        "next record, or `riskops reconcile`, anchors the head again"
    ]
    # When reconcile runs, the anchor is the table's head again, and verify is clean
    code, done = _cli("reconcile", NAME)
    assert code == 0 and done["anchor"].startswith("anchor file re-anchored"), done
    assert done["alias_changes"] == [] and done["unaudited_versions"] == []
    code, report = _cli("audit", "verify")
    assert code == 0 and report["findings"] == [], report
    # And the promotion, run again, goes through
    assert life.promote(NAME, second, force=True, reason="again").promoted


def test_an_anchor_marked_committing_does_not_excuse_a_deleted_record_under_a_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    monkeypatch.setenv("RISKOPS_AUDIT_KEY", "k" * 32)
    keyed = Settings()
    trail = AuditTrail(keyed)
    # Given a keyed trail of two records, the anchor settled on the second
    trail.append("note", NAME, None, text="one")
    second = trail.append("note", NAME, None, text="two")
    anchor = json.loads(keyed.audit_anchor_file.read_text())
    assert anchor["seq"] == second.seq and "committing" not in anchor
    # When the newest record is deleted and the anchor marked "committing" without the key
    with sqlite3.connect(keyed.home / "audit.db") as db:
        db.execute("DELETE FROM riskops_audit WHERE seq = ?", (second.seq,))
    forged = {**anchor, "committing": True, "prev_hash": second.prev_hash}
    keyed.audit_anchor_file.write_text(json.dumps(forged))
    # Then verify names the deletion, and reconcile's re-anchoring refuses to bless it
    result = AuditTrail(keyed).verify()
    assert not result.ok and f"records {second.seq}..{second.seq} were deleted" in result.reason
    assert AuditTrail(keyed).settle_anchor() is None


# ---------------------------------------------------------------- registration
TRAIN = ["train", "credit", "--model", "logistic"]


def test_a_registration_killed_before_its_record_leaves_a_version_never_served(
    settings: Settings, tmp_path: Path
) -> None:
    life = Lifecycle(settings)
    # When `riskops train` is killed after MLflow made v1, before its register record
    _kill_at(
        "riskops.audit:AuditTrail.append",
        TRAIN,
        when="args[1] == 'register'",
        marker=tmp_path / "reached",
    )
    # Then MLflow holds v1, the trail nothing: v1 is no challenger, not served, not promotable
    assert [v.version for v in life.registry.versions(NAME)] == [1]
    assert life.trail.records() == [] and _served(settings) is None
    code, refused = _cli("promote", NAME, "--version", "1", "--force", "--reason", "x")
    assert code == 2 and "no audited register record" in refused["error"]["message"], refused
    # And verify passes, naming the unaudited version and the repair
    code, report = _cli("audit", "verify")
    assert code == 0, report
    assert _messages(report, "warning") == [
        f"{NAME} v1 is in the registry without an audited registration (a registration "
        "interrupted, or a version made outside RiskOps): it is neither served nor "
        f"promotable; `riskops reconcile {NAME}` records it"
    ]
    # When reconcile runs, the version is recorded (and tagged) as unaudited, once
    code, done = _cli("reconcile", NAME)
    assert code == 0 and done["unaudited_versions"] == [1], done
    (record,) = life.trail.records(NAME)
    assert record.action == "reconcile" and record.body["unaudited"]["versions"] == [1]
    tag = life.registry.get_version(NAME, 1).tags["riskops.unaudited"]
    assert tag == f"audit record {record.seq}"
    code, report = _cli("audit", "verify")
    assert code == 0 and report["findings"] == [], report
    # And the next registration is v2, audited, the challenger
    second = _register(life)
    assert second == 2 and fold(life.trail.records(NAME), NAME).challenger == 2


def test_a_training_killed_mid_upload_leaves_nothing_registered_and_its_run_failed(
    settings: Settings, tmp_path: Path
) -> None:
    from riskops import tracking

    life = Lifecycle(settings)
    # When `riskops train` is killed once the first file of its run is in the artifact store
    _kill_at(
        "mlflow.store.artifact.local_artifact_repo:LocalArtifactRepository.log_artifact",
        TRAIN,
        after=True,
        marker=tmp_path / "reached",
    )
    client = tracking.client(settings)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments)
    # Then its run is left RUNNING with part of its files; nothing is registered or audited,
    # and its scratch folders are still under the home (none in the host's /tmp)
    assert run.info.status == "RUNNING"
    assert life.registry.model_names() == [] and life.trail.records() == []
    dead = run.data.tags["riskops.pid"]
    assert any(f"-{dead}-" in name for name in _scratch_left(settings))
    # When the next command runs (here: verify), it passes, ends the run FAILED and removes
    # the killed process's scratch
    code, report = _cli("audit", "verify")
    assert code == 0 and report["findings"] == [], report
    assert client.get_run(run.info.run_id).info.status == "FAILED"
    assert not [name for name in _scratch_left(settings) if f"-{dead}-" in name]


# ------------------------------------------------- approval, rollback and shadow
def _approval_pending(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[int, int]:
    """Champion v1; v2 forced by alice under a policy asking one approval (pending); the
    environment then acts as bob. Returns (v1, v2)."""
    from tests.lifecycle.test_governance import APPROVAL_POLICY

    first = _champion(Lifecycle(settings))
    second = _register(Lifecycle(settings))
    policy = tmp_path / "policies.yaml"
    policy.write_text(APPROVAL_POLICY)
    monkeypatch.setenv("RISKOPS_POLICY_FILE", str(policy))
    monkeypatch.setenv("RISKOPS_ACTOR", "alice")
    requested = Lifecycle(Settings()).promote(NAME, second, force=True, reason="urgent")
    assert requested.outcome == "awaiting_approval", requested
    monkeypatch.setenv("RISKOPS_ACTOR", "bob")
    return first, second


def _actions_since(life: Lifecycle, count: int) -> list[str]:
    return [r.action for r in life.trail.records()[count:]]


def _reconciled_then_clean(life: Lifecycle, expected: list[tuple[str, Any, Any]]) -> None:
    """``riskops reconcile`` applies exactly ``expected`` (alias, from, to), recorded first;
    then verify finds nothing."""
    code, done = _cli("reconcile", NAME)
    assert code == 0, done
    assert sorted((c["alias"], c["from"], c["to"]) for c in done["alias_changes"]) == expected
    assert life.trail.records(NAME)[-1].action == "reconcile"
    code, report = _cli("audit", "verify")
    assert code == 0 and report["findings"] == [], report


def test_an_approval_killed_after_its_promotion_record_is_served_reported_and_reconciled(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    life = Lifecycle(settings)
    first, second = _approval_pending(settings, monkeypatch, tmp_path)
    records = len(life.trail.records())
    # When bob's `riskops approve` is killed after the override it records, before the aliases
    _kill_at(
        "riskops.lifecycle:Lifecycle.project",
        ["approve", NAME, "--version", str(second), "--reason", "reviewed"],
        marker=tmp_path / "reached",
    )
    # Then the trail holds the approval and the promotion: v2 is served, the registry lags
    assert _actions_since(life, records) == ["approve", "override"]
    state = fold(life.trail.records(NAME), NAME)
    assert (state.champion, state.previous, state.pending) == (second, first, {})
    assert _served(settings) == second and _alias(life, CHAMPION) == first
    # And verify passes, explaining the lag and naming the repair
    code, report = _cli("audit", "verify")
    assert code == 0, report
    lag = _messages(report, "warning")
    assert lag and all(f"riskops reconcile {NAME}" in m for m in lag), lag
    assert any(f"{NAME}@champion still points to v{first}" in m for m in lag)
    # When bob runs the approval again, it is refused (exit 2): nothing is pending, and
    # nothing is recorded twice
    count = len(life.trail.records())
    code, again = _cli("approve", NAME, "--version", str(second), "--reason", "again")
    assert code == 2 and "no pending promotion request" in again["error"]["message"], again
    assert len(life.trail.records()) == count
    # When reconcile runs, the aliases follow the trail, and verify is clean
    _reconciled_then_clean(
        life,
        [("challenger", second, None), ("champion", first, second), ("previous", None, first)],
    )


def test_an_approval_killed_before_its_promotion_record_is_completed_by_running_it_again(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    life = Lifecycle(settings)
    first, second = _approval_pending(settings, monkeypatch, tmp_path)
    records = len(life.trail.records())
    # When bob's `riskops approve` is killed after recording his approval (the only one the
    # request needs), before the promotion is recorded
    _kill_at(
        "riskops.audit:AuditTrail.append",
        ["approve", NAME, "--version", str(second), "--reason", "reviewed"],
        when="args[1] == 'override'",
        marker=tmp_path / "reached",
    )
    # Then the request holds every approval it needs, and nothing moved: v1 is served
    assert _actions_since(life, records) == ["approve"]
    state = fold(life.trail.records(NAME), NAME)
    assert state.champion == first and state.pending[second].approvers == ("bob",)
    assert _served(settings) == first and _alias(life, CHAMPION) == first
    # And verify passes, saying the request is approved but not applied, and how to apply it
    code, report = _cli("audit", "verify")
    assert code == 0, report
    assert _messages(report, "warning") == [
        f"{NAME} v{second}: its promotion request (record {state.pending[second].seq}) has "
        "the 1 approval it needs (bob) but no promotion was recorded (an approval "
        f"interrupted?); `riskops approve {NAME} --version {second}` run again by an "
        "approver completes it"
    ]
    # When bob runs the approval again, it completes the promotion, with no second approval
    code, done = _cli("approve", NAME, "--version", str(second), "--reason", "again")
    assert code == 0 and done["outcome"] == "promoted", done
    assert _actions_since(life, records) == ["approve", "override"]
    assert life.trail.records(NAME)[-1].body["approved_by"] == ["bob"]
    assert _served(settings) == second and _alias(life, CHAMPION) == second
    code, report = _cli("audit", "verify")
    assert code == 0 and report["findings"] == [], report


def test_a_rollback_killed_after_its_record_is_served_reported_and_reconciled(
    settings: Settings, tmp_path: Path
) -> None:
    life = Lifecycle(settings)
    # Given champion v2 after v1
    first = _champion(life)
    second = _champion(life)
    records = len(life.trail.records())
    # When `riskops rollback` is killed after its record, before the aliases move
    _kill_at(
        "riskops.lifecycle:Lifecycle.project",
        ["rollback", NAME, "--reason", "killed"],
        marker=tmp_path / "reached",
    )
    # Then the trail says v1 is champion again and v1 is served; the registry still says v2
    assert _actions_since(life, records) == ["rollback"]
    state = fold(life.trail.records(NAME), NAME)
    assert (state.champion, state.previous) == (first, None)
    assert _served(settings) == first
    assert (_alias(life, CHAMPION), _alias(life, PREVIOUS)) == (second, first)
    # And verify passes, explaining the lag and naming the repair
    code, report = _cli("audit", "verify")
    assert code == 0, report
    lag = _messages(report, "warning")
    assert len(lag) == 2 and all(f"riskops reconcile {NAME}" in m for m in lag), lag
    # When the rollback is run again, it is refused (exit 2: no audited previous champion
    # left), and nothing is recorded twice
    code, again = _cli("rollback", NAME)
    assert code == 2 and "no audited previous champion" in again["error"]["message"], again
    assert _actions_since(life, records) == ["rollback"]
    # When reconcile runs, the aliases follow the trail, and verify is clean
    _reconciled_then_clean(life, [("champion", second, first), ("previous", first, None)])


def test_a_killed_rollback_run_again_with_from_rolls_back_once(
    settings: Settings, tmp_path: Path
) -> None:
    life = Lifecycle(settings)
    # Given champions v1, v2 and v3 in turn (a plain second rollback would go back to v1)
    first = _champion(life)
    second = _champion(life)
    third = _champion(life)
    records = len(life.trail.records())
    # When `riskops rollback --from 3` is killed after its record, before the aliases move
    argv = ["rollback", NAME, "--from", str(third), "--reason", "killed"]
    _kill_at("riskops.lifecycle:Lifecycle.project", argv, marker=tmp_path / "reached")
    assert _actions_since(life, records) == ["rollback"]
    # Then the same command run again finds v3 already rolled back: exit 0, nothing recorded,
    # v2 stays champion (not v1)
    code, again = _cli(*argv)
    assert code == 0, again
    assert again["outcome"] == "rolled_back" and again["champion"] == second, again
    assert f"v{third} was already rolled back" in again["note"], again
    assert _actions_since(life, records) == ["rollback"]
    assert fold(life.trail.records(NAME), NAME).champion == second
    # And so it does once `riskops reconcile` has brought the aliases to the trail
    _reconciled_then_clean(life, [("champion", third, second), ("previous", second, first)])
    code, again = _cli(*argv)
    assert code == 0 and f"v{third} was already rolled back" in again["note"], again
    assert _actions_since(life, records) == ["rollback", "reconcile"]
    # And a rollback from a version that is not champion, and was not just rolled back,
    # is refused naming the option and the champion
    code, wrong = _cli("rollback", NAME, "--from", str(first))
    assert code == 2, wrong
    message = wrong["error"]["message"]
    assert message.startswith("from: ") and f"champion is v{second}, not v{first}" in message
    assert _actions_since(life, records) == ["rollback", "reconcile"]


def test_a_shadow_killed_after_its_record_is_shadowed_reported_and_reconciled(
    settings: Settings, tmp_path: Path
) -> None:
    from riskops.registry import SHADOW

    life = Lifecycle(settings)
    # Given champion v1 and a candidate v2
    _champion(life)
    candidate = _register(life)
    records = len(life.trail.records())
    # When `riskops shadow` is killed after its record, before the alias moves
    _kill_at(
        "riskops.lifecycle:Lifecycle.project",
        ["shadow", NAME, "--version", str(candidate)],
        marker=tmp_path / "reached",
    )
    # Then the trail's shadow is v2 and the service's shadow source serves it; no alias yet
    assert _actions_since(life, records) == ["shadow"]
    assert fold(life.trail.records(NAME), NAME).shadow == candidate
    holder = ChampionHolder(LedgerSource(settings), NAME, role="shadow")
    assert holder.refresh() and holder.current.version == candidate  # type: ignore[union-attr]
    assert _alias(life, SHADOW) is None
    # And verify passes, explaining the lag
    code, report = _cli("audit", "verify")
    assert code == 0, report
    (lag,) = _messages(report, "warning")
    assert f"{NAME}@shadow still points to nothing" in lag and "riskops reconcile" in lag
    # When the same shadow is asked again, nothing is recorded twice
    code, again = _cli("shadow", NAME, "--version", str(candidate))
    assert code == 0 and again["outcome"] == "shadow_started", again
    assert f"v{candidate} already shadows the champion" in again["note"], again
    assert _actions_since(life, records) == ["shadow"]
    # When reconcile runs, the alias follows the trail, and verify is clean
    _reconciled_then_clean(life, [("shadow", None, candidate)])


@pytest.mark.parametrize("command", ["approve", "rollback", "shadow"])
def test_a_decision_killed_inside_its_append_records_nothing_and_runs_again_once(
    command: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    life = Lifecycle(settings)
    # Given the state each command acts on
    if command == "approve":
        _, second = _approval_pending(settings, monkeypatch, tmp_path)
        argv = ["approve", NAME, "--version", str(second), "--reason", "reviewed"]
        recorded, champion = ["approve", "override"], second
    elif command == "rollback":
        first = _champion(life)
        _champion(life)
        argv, recorded, champion = ["rollback", NAME], ["rollback"], first
    else:
        first = _champion(life)
        candidate = _register(life)
        argv = ["shadow", NAME, "--version", str(candidate)]
        recorded, champion = ["shadow"], first
    before = fold(life.trail.records(NAME), NAME)
    records = len(life.trail.records())
    # When the command is killed inside the append of its first record: the anchor file
    # already names the record, the transaction has not committed
    _kill_at(
        "riskops.audit:AuditTrail._write_anchor_file",
        argv,
        when=f"args[1].action == {recorded[0]!r}",
        after=True,
        marker=tmp_path / "reached",
    )
    # Then nothing of it is in the trail, and nothing changed
    assert len(life.trail.records()) == records
    assert fold(life.trail.records(NAME), NAME) == before
    assert _served(settings) == before.champion == _alias(life, CHAMPION)
    # And verify tells the interrupted append from deleted records (no false alarm)
    code, report = _cli("audit", "verify")
    assert code == 0, report
    (note,) = _messages(report, "warning")
    assert f"the append of record {records + 1} was interrupted before it committed" in note
    # When the command runs again, it is recorded once and applied; verify is clean
    code, done = _cli(*argv)
    assert code == 0, done
    assert _actions_since(life, records) == recorded
    assert _served(settings) == champion == _alias(life, CHAMPION)
    code, report = _cli("audit", "verify")
    assert code == 0 and report["findings"] == [], report
