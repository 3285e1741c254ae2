"""The model card's summary in a few lines: the MLflow version description.

Built from what is known at registration (the family's text, model kind, data, held-out metrics)
so that the registry's description is filled the moment a version exists; the full card
(``riskops report --card``) says the rest.
"""

from __future__ import annotations

from typing import Any


def version_description(
    name: str,
    version: int,
    family: str,
    model_kind: str,
    dataset: dict[str, Any],
    key_metrics: dict[str, float],
) -> str:
    """Markdown: title, purpose, data with its content hash, headline metrics."""
    from riskops.governance.card import family_documents

    text = family_documents(family).text
    rows = dataset.get("rows")
    metrics = ", ".join(f"{k} {v:.3g}" for k, v in key_metrics.items()) or "none"
    return "\n\n".join(
        [
            f"**{name} v{version}: {text.title}** ({model_kind})",
            text.purpose,
            f"Data: {dataset.get('name', 'unknown')}"
            + (f", {rows} rows" if rows is not None else "")
            + f"; content hash `{dataset.get('content_hash', 'unknown')}`.",
            f"Held-out metrics: {metrics}. Gates decide promotion; see the validation report "
            "and model card logged with the run.",
        ]
    )
