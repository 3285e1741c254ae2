"""The card and validation report are logged automatically, at registration and at every
promotion decision, on a real SQLite MLflow store (the governed home of ``conftest.py``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskops import tracking

from .conftest import MODEL, OVERRIDE_REASON

DOCUMENTS = ("model_card.html", "model_card.md", "validation_report.html")


def _text(settings, run_id: str, artifact: str, dst: Path) -> str:  # type: ignore[no-untyped-def]
    return tracking.download(settings, run_id, artifact, dst).read_text(encoding="utf-8")


def _decisions(version: int) -> dict[str, int]:
    """Audit seq of each promotion decision about ``version`` (action -> seq)."""
    from riskops.audit import AuditTrail
    from riskops.settings import Settings

    return {
        r.action: r.seq
        for r in AuditTrail(Settings()).records(MODEL)
        if r.version == version and r.action in ("promote", "refuse", "override", "noop")
    }


def test_registration_logs_the_card_and_report_naming_the_version(
    governed, settings_of, tmp_path: Path
) -> None:
    from riskops.registry import Registry

    for version in (governed.non_monotone, governed.champion, governed.challenger):
        # Given a version registered by the lifecycle (no `riskops report` was run)
        run_id = Registry(settings_of).get_version(MODEL, version).run_id
        # Then its run holds the card and the validation report at the stable paths
        logged = set(tracking.list_artifacts(settings_of, run_id, "governance"))
        assert {f"governance/{name}" for name in DOCUMENTS} <= logged
        # and they name the version and describe it as it was registered: not yet gated, even
        # for versions promoted or refused since (the registration copy is never overwritten)
        card = _text(settings_of, run_id, "governance/model_card.md", tmp_path / f"c{version}")
        report = _text(
            settings_of, run_id, "governance/validation_report.html", tmp_path / f"r{version}"
        )
        assert card.startswith(f"# {MODEL} v{version}: ")
        assert f"{MODEL} v{version}" in report
        assert "No gate report yet" in card
        assert "not yet gated" in report
        # and the report shows the plots the run logged (none drawn for it)
        assert "artifact plots/roc_curve.png" in report
        assert "generated from" not in report


def test_each_promotion_decision_logs_its_own_copy_with_the_decision(
    governed, settings_of, tmp_path: Path
) -> None:
    from riskops.registry import Registry

    # Given v1, refused once and then forced to champion, and v2, promoted
    v1 = Registry(settings_of).get_version(MODEL, governed.non_monotone).run_id
    v2 = Registry(settings_of).get_version(MODEL, governed.champion).run_id
    v1_decisions = _decisions(governed.non_monotone)
    refused, forced = v1_decisions["refuse"], v1_decisions["override"]
    promoted = _decisions(governed.champion)["promote"]
    # Then each decision has its folder, named by the decision's audit record
    v1_logged = set(tracking.list_artifacts(settings_of, v1, "governance"))
    for seq in (refused, forced):
        assert {f"governance/promotion-{seq:06d}/{name}" for name in DOCUMENTS} <= v1_logged
    # and the refusal's copy holds the failed gate decision and the refusal record
    at_refusal = _text(
        settings_of, v1, f"governance/promotion-{refused:06d}/model_card.md", tmp_path / "a"
    )
    assert "): failed, " in at_refusal
    assert "evidence_current" in at_refusal
    assert f"| {refused} |" in at_refusal and "| refuse |" in at_refusal
    # and the override's copy also holds the override and its reason, which came later
    at_override = _text(
        settings_of, v1, f"governance/promotion-{forced:06d}/model_card.md", tmp_path / "b"
    )
    assert "| override |" in at_override and OVERRIDE_REASON in at_override
    assert "| override |" not in at_refusal
    # and the promotion's copy of v2 holds the passed gates and the promote record
    report = _text(
        settings_of,
        v2,
        f"governance/promotion-{promoted:06d}/validation_report.html",
        tmp_path / "c",
    )
    assert "gates passed" in report
    card = _text(
        settings_of, v2, f"governance/promotion-{promoted:06d}/model_card.md", tmp_path / "d"
    )
    assert "passed, without a champion to beat" in card and "| promote |" in card


def test_a_document_failure_never_undoes_the_registration_and_is_reported(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import riskops.governance.report as report_module
    from riskops.audit import AuditTrail
    from riskops.cli.app import app
    from riskops.registry import CHALLENGER, Registry
    from riskops.settings import Settings

    # Given document generation that breaks (a bug in a template, say)
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(report_module, "build_documents", broken)
    # When a credit model is trained from the CLI
    with caplog.at_level(logging.WARNING, logger="riskops.governance.publish"):
        result = CliRunner().invoke(app, ["train", "credit", "--seed", "42"])
    # Then the command succeeds and tells that the documents were not logged, and why
    assert result.exit_code == 0, result.output
    told = " ".join(result.output.split())  # as read, whatever the terminal's width
    assert "registered credit_pd v1" in told
    assert "governance documents not logged (registration): RuntimeError: template exploded" in told
    # and the version is registered and is the challenger, with its register record
    settings = Settings()
    assert Registry(settings).version_for_alias(MODEL, CHALLENGER).version == 1
    records = AuditTrail(settings).records(MODEL)
    assert [r.action for r in records] == ["register", "documents_failed"]
    # and the failure is in the audit trail and the log, naming the version and the error
    failed = records[-1]
    assert failed.version == 1
    assert failed.body["occasion"] == "registration"
    assert "template exploded" in failed.body["error"]
    assert any("template exploded" in r.getMessage() for r in caplog.records)
    # and no document was logged in its place
    run_id = Registry(settings).get_version(MODEL, 1).run_id
    assert tracking.list_artifacts(settings, run_id, "governance") == []
