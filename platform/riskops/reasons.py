"""Plain-language reason texts beside reason codes (adverse-action notices).

A reason code names a feature, its value and its contribution to the PD; a credit officer
needs a sentence. Texts are per registered model: shipped for the bundled data in
``reason_texts.yaml`` beside this module, overridden or extended by the user in
``$RISKOPS_HOME/reason_texts.yaml`` (same layout). Lookup order for a reason: the feature's
value (``Home=rent``), the feature with the contribution's direction (``Income:+`` raises
the PD, ``Income:-`` lowers it), the feature alone; else a generic sentence that names both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).with_name("reason_texts.yaml")
USER_FILE_NAME = "reason_texts.yaml"


def load_reason_texts(model: str, home: Path | None = None) -> dict[str, str]:
    """The reason texts of ``model``: the shipped ones, updated by the user's file in ``home``."""
    import yaml

    texts: dict[str, str] = {}
    for path in (SHIPPED, None if home is None else home / USER_FILE_NAME):
        if path is None or not path.is_file():
            continue
        book = yaml.safe_load(path.read_text()) or {}
        texts.update({str(k): str(v) for k, v in (book.get(model) or {}).items()})
    return texts


def reason_text(texts: Mapping[str, str], feature: str, value: Any, contribution: float) -> str:
    """The sentence for one reason code."""
    direction = "+" if contribution > 0 else "-"
    for key in (f"{feature}={value}", f"{feature}:{direction}", feature):
        if key in texts:
            return texts[key]
    effect = "raised" if contribution > 0 else "lowered"
    return f"{feature} = {value} {effect} the estimated probability of default"


def with_texts(reasons: list[dict[str, Any]], texts: Mapping[str, str]) -> list[dict[str, Any]]:
    """Reason codes with a ``text`` beside each."""
    return [
        {**r, "text": reason_text(texts, r["feature"], r["value"], r["contribution"])}
        for r in reasons
    ]
