"""The card and the validation report logged with the version's run, automatically.

:class:`riskops.lifecycle.Lifecycle` calls :func:`publish` when it registers a version and
again at every promotion decision (promoted, refused, awaiting approval, approved):

* at registration: ``governance/model_card.md``, ``governance/model_card.html`` and
  ``governance/validation_report.html``;
* at a promotion decision: the same three files under ``governance/promotion-<seq>/``, where
  ``<seq>`` is the audit record of the decision, so the registration copy and every earlier
  decision's copy stay as they were (a reviewer needs each of them as it stood).

The documents are cheap on purpose: they reuse the plots the run logged (none is drawn),
read only the run's JSON documents, and link Evidently's drift report rather than embed it.
``riskops report`` draws the full report. Publishing never raises: the registration or the
promotion it documents stands, and a failure is returned, logged and audited.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskops.governance.facts import GOVERNANCE_DIR

if TYPE_CHECKING:
    from riskops.audit import AuditTrail
    from riskops.settings import Settings

REGISTRATION = "registration"
PROMOTION = "promotion"
FAILED_ACTION = "documents_failed"
"""Audit action recording that a version's governance documents could not be logged."""

logger = logging.getLogger(__name__)


def promotion_dir(audit_seq: int) -> str:
    """The artifact folder of the documents of one promotion decision."""
    return f"{GOVERNANCE_DIR}/promotion-{audit_seq:06d}"


def _cheap(artifact: str) -> bool:
    """What the automatic documents read: the run's JSON documents and its logged plots."""
    from riskops.governance.facts import wanted

    return wanted(artifact) and artifact.endswith((".json", ".png"))


@dataclass(frozen=True)
class Published:
    """Where a version's documents went, or why they did not."""

    occasion: str
    artifact_dir: str
    logged: dict[str, str]
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "occasion": self.occasion,
            "artifact_dir": self.artifact_dir,
            "logged": self.logged,
            "seconds": round(self.seconds, 3),
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def publish(
    settings: Settings,
    name: str,
    version: int,
    *,
    occasion: str,
    artifact_dir: str = GOVERNANCE_DIR,
    local_dir: Path | None = None,
    audit: AuditTrail | None = None,
) -> Published:
    """Build the card and the validation report of ``name`` ``version`` and log them.

    ``local_dir`` holds artifacts of the run already on disk (at training time, the folder
    the run's artifacts were logged from): those are read in place, not downloaded again.
    Never raises; a failure is logged, appended to ``audit`` (action ``documents_failed``)
    and returned in :attr:`Published.error`.
    """
    started = time.perf_counter()
    try:
        logged = _build_and_log(settings, name, version, artifact_dir, local_dir)
    except Exception as exc:  # the documents must never undo what they document
        error = f"{type(exc).__name__}: {exc}"[:2000]
        logger.warning(
            "governance documents of %s v%s (%s) were not logged: %s",
            name,
            version,
            occasion,
            error,
            exc_info=True,
        )
        if audit is not None:
            try:
                audit.append(
                    FAILED_ACTION,
                    name,
                    version,
                    occasion=occasion,
                    artifact_dir=artifact_dir,
                    error=error,
                )
            except Exception:
                logger.exception("could not audit the failure of %s v%s's documents", name, version)
        return Published(occasion, artifact_dir, {}, time.perf_counter() - started, error)
    seconds = time.perf_counter() - started
    logger.info("governance documents of %s v%s (%s) in %.2fs", name, version, occasion, seconds)
    return Published(occasion, artifact_dir, logged, seconds)


def _build_and_log(
    settings: Settings, name: str, version: int, artifact_dir: str, local_dir: Path | None
) -> dict[str, str]:
    from riskops import tracking
    from riskops.governance.facts import collect
    from riskops.governance.report import (
        CARD_HTML_FILE,
        CARD_MD_FILE,
        REPORT_FILE,
        build_documents,
    )
    from riskops.settings import scratch_dir

    with scratch_dir(settings, "documents") as tmp:
        facts = collect(settings, name, version, workdir=tmp, fetch=_cheap, local_dir=local_dir)
        docs = build_documents(facts, evidently=False, draw=False)
        staging = Path(tmp) / "out"
        staging.mkdir()
        for file_name, text in (
            (REPORT_FILE, docs.report_html),
            (CARD_MD_FILE, docs.card_markdown),
            (CARD_HTML_FILE, docs.card_html),
        ):
            (staging / file_name).write_text(text, encoding="utf-8")
        return tracking.log_folder(settings, facts.run_id, staging, artifact_dir)
