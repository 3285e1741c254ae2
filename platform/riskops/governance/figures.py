"""Figures of a validation report: the family's, the run's other logged plots, SHAP and drift.

The family draws its own (:attr:`riskops.documents.FamilyDocuments.figures`, asked through
:func:`riskops.governance.card.family_documents`); governance adds every other plot the run
logged, as logged, then the SHAP and drift figures every model has. Each figure carries its
provenance (:class:`riskops.documents.figures.Figure`).
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskops.documents.figures import Drawn, Figure, figure, logged_figure, png, pyplot

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts

MAX_WATERFALLS = 3


# ---------------------------------------------------------------- drawing
def importance_png(importance: list[tuple[str, float]], top: int = 15) -> bytes:
    """Mean |SHAP| per feature, largest on top."""
    shown = importance[:top][::-1]
    fig, ax = pyplot().subplots(figsize=(7, 0.35 * len(shown) + 1.2))
    ax.barh([k for k, _ in shown], [v for _, v in shown], color="tab:blue")
    ax.set_xlabel("mean |SHAP value|")
    ax.set_title("Global SHAP importance", fontsize=10)
    return png(fig)


def drift_png(columns: dict[str, dict[str, Any]]) -> bytes:
    """Per-feature drift statistic against its threshold (red: drifted)."""
    names = sorted(columns)
    scores = [float(columns[n]["score"]) for n in names]
    limits = [float(columns[n]["threshold"]) for n in names]
    colours = ["tab:red" if columns[n].get("drifted") else "tab:green" for n in names]
    fig, ax = pyplot().subplots(figsize=(7, 0.35 * len(names) + 1.4))
    ax.barh(names, scores, color=colours, alpha=0.75, label="drift statistic")
    ax.scatter(limits, names, marker="|", s=300, color="black", label="threshold")
    ax.set_xlabel(
        "statistic (" + ", ".join(sorted({str(columns[n]["stattest"]) for n in names})) + ")"
    )
    ax.set_title("Data drift: training sample vs recent window", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return png(fig)


# ------------------------------------------------------------------ assembling
def _shap(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    from riskops.governance.card import shap_importance

    def bar() -> Drawn | None:
        importance = shap_importance(facts)
        if not importance:
            return None
        return importance_png(importance), "shap/shap_global_importance.json"

    out = [
        figure(
            facts,
            "shap_importance",
            "SHAP global importance",
            "shap/shap_importance_bar.png",
            used,
            bar,
            "explainability",
        ),
        figure(
            facts,
            "shap_summary",
            "SHAP summary (beeswarm)",
            "shap/shap_beeswarm.png",
            used,
            lambda: None,
            "explainability",
        ),
    ]
    waterfalls = sorted(a for a in facts.artifacts if fnmatch(a, "shap/shap_waterfall_*.png"))
    for artifact in waterfalls[:MAX_WATERFALLS]:
        index = artifact.rsplit("_", 1)[-1].removesuffix(".png")
        out.append(
            figure(
                facts,
                f"shap_waterfall_{index}",
                f"SHAP waterfall, example {index}",
                artifact,
                used,
                lambda: None,
                "explainability",
            )
        )
    return out


def _drift(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    columns = (facts.gate_evidence.get("data_drift") or {}).get("columns") or {}

    def generate() -> Drawn | None:
        return (drift_png(columns), "gate_evidence.json data_drift") if columns else None

    return [
        figure(facts, "drift", "Per-feature data drift", "drift/*.png", used, generate, "drift")
    ]


def collect_figures(facts: VersionFacts, *, draw: bool = True) -> list[Figure]:
    """The report's figures in order: family plots, other logged plots, SHAP, drift.

    ``draw=False``: the plots the run logged, as logged, and none drawn from its data.
    """
    if not draw:
        return logged_figures(facts)
    from riskops.governance.card import family_documents

    used: set[str] = set()
    found: list[Figure | None] = list(family_documents(facts.family).figures(facts, used))
    shap = _shap(facts, used)
    drift = _drift(facts, used)
    for artifact in facts.artifacts:
        # Plots a family logs beyond the standard ones are shown too, as logged.
        if (
            artifact.endswith(".png")
            and artifact not in used
            and not artifact.startswith(("shap/", "drift/"))
        ):
            stem = Path(artifact).stem
            found.append(
                logged_figure(
                    facts, stem, stem.replace("_", " ").capitalize(), artifact, "performance", used
                )
            )
    return [f for f in (*found, *shap, *drift) if f is not None]


def logged_figures(facts: VersionFacts) -> list[Figure]:
    """Every plot the run logged (and that is local), grouped: SHAP, drift, the rest."""
    out: list[Figure] = []
    for artifact in facts.artifacts:
        path = facts.local(artifact) if artifact.endswith(".png") else None
        if path is None:
            continue
        group = (
            "explainability"
            if artifact.startswith("shap/")
            else "drift"
            if artifact.startswith("drift/")
            else "performance"
        )
        stem = Path(artifact).stem
        title = stem.replace("_", " ").capitalize()
        out.append(Figure(stem, title, path.read_bytes(), f"artifact {artifact}", group))
    order = {"performance": 0, "explainability": 1, "drift": 2}
    return sorted(out, key=lambda f: order[f.group])
