"""The parts of model cards and validation reports that families build on.

A core package, below the families and governance (it imports neither, nor the registry or
MLflow): the blocks a card is made of (:mod:`.blocks`), the figure primitives (:mod:`.figures`),
a family's texts (:mod:`.texts`), the facts of a version (:mod:`.facts`) and
:class:`FamilyDocuments`, what a family contributes through its
:meth:`~riskops.families.base.Family.documents` hook (:mod:`.family`).

Names resolve lazily so that importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Block": "riskops.documents.blocks",
    "Bullets": "riskops.documents.blocks",
    "Facts": "riskops.documents.blocks",
    "Section": "riskops.documents.blocks",
    "Table": "riskops.documents.blocks",
    "Text": "riskops.documents.blocks",
    "fmt": "riskops.documents.blocks",
    "number": "riskops.documents.blocks",
    "VersionFacts": "riskops.documents.facts",
    "Figure": "riskops.documents.figures",
    "FamilyText": "riskops.documents.texts",
    "FamilyDocuments": "riskops.documents.family",
    "record_tables": "riskops.documents.family",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'riskops.documents' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
