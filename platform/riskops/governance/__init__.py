"""Governance for model-risk review: model cards, validation reports, lineage.

Everything is generated from the registry, the version's run and the audit trail; the only
hand-written text is each family's own (:class:`riskops.documents.FamilyDocuments`, from its
``documents()`` hook), with its card sections, tables, caveats and figures: governance asks the
version's family and names none itself.

* :func:`collect` gathers a version's :class:`VersionFacts` (the only I/O);
* :func:`build_card`, :func:`build_documents` and :func:`build_lineage` are pure functions of
  them;
* :func:`publish` logs the card and the validation report to the run automatically, as
  ``governance/validation_report.html``, ``governance/model_card.md`` and
  ``governance/model_card.html`` when a version is registered, and again under
  ``governance/promotion-<seq>/`` at each promotion decision (cheap: logged plots only);
* :func:`generate` (``riskops report``) writes the full report (figures drawn, Evidently
  embedded) and logs it under ``governance/report-<UTC time>/``.

Names resolve lazily so that importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "VersionFacts": "riskops.documents.facts",
    "collect": "riskops.governance.facts",
    "ModelCard": "riskops.governance.card",
    "build_card": "riskops.governance.card",
    "caveats": "riskops.governance.card",
    "Documents": "riskops.governance.report",
    "build_documents": "riskops.governance.report",
    "generate": "riskops.governance.report",
    "publish": "riskops.governance.publish",
    "Published": "riskops.governance.publish",
    "render_markdown": "riskops.governance.report",
    "render_card_html": "riskops.governance.report",
    "Figure": "riskops.documents.figures",
    "family_documents": "riskops.governance.card",
    "collect_figures": "riskops.governance.figures",
    "build_lineage": "riskops.governance.lineage",
    "HistoryRow": "riskops.governance.history",
    "history_rows": "riskops.governance.history",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'riskops.governance' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
