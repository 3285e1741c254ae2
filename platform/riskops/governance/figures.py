"""Figures of a validation report: the run's own plots where it logged them, else drawn here
from the data it logged (forecast tables, scores, grade tables, SHAP importances, drift).

Every figure carries its provenance (``artifact <path>`` or ``generated from <path>``), so
a reviewer can tell a logged plot from one redrawn for the report. Drawing functions are
pure (data in, PNG bytes out) and use matplotlib's Agg backend.
"""

from __future__ import annotations

import base64
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from riskops.governance.facts import VersionFacts

MAX_WATERFALLS = 3
_TARGET_COLUMNS = ("y", "target", "default", "bad", "label", "outcome", "actual", "y_true")
_PD_COLUMNS = ("pd", "p_default", "proba", "probability", "y_pred", "score", "prediction")
_RATE_COLUMNS = ("default_rate", "observed_default_rate", "bad_rate", "observed_rate", "dr")


@dataclass(frozen=True)
class Figure:
    """One image of the report, with where it came from."""

    key: str
    title: str
    png: bytes
    source: str
    group: str = "performance"

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "source": self.source,
            "group": self.group,
            "bytes": len(self.png),
        }


# ---------------------------------------------------------------- drawing helpers
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def roc_png(y: Any, score: Any) -> bytes:
    """ROC curve of scores against binary outcomes (1 = default), with its AUC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y, score = np.asarray(y, dtype=int), np.asarray(score, dtype=float)
    fpr, tpr, _ = roc_curve(y, score)
    fig, ax = _pyplot().subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, color="tab:blue", lw=1.5, label=f"AUC {roc_auc_score(y, score):.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="random")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve (held out)", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def calibration_table(y: Any, pd_: Any, bins: int = 10) -> pd.DataFrame:
    """Mean predicted PD and observed default rate per PD decile (quantile bins)."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "pd": np.asarray(pd_, dtype=float)})
    frame["bin"] = pd.qcut(frame["pd"].rank(method="first"), bins, labels=False)
    table = frame.groupby("bin").agg(
        predicted=("pd", "mean"), observed=("y", "mean"), n=("y", "size")
    )
    return table.reset_index(drop=True)


def calibration_png(y: Any, pd_: Any, bins: int = 10) -> bytes:
    """Reliability diagram: observed default rate against mean PD per decile."""
    return calibration_table_png(calibration_table(y, pd_, bins))


def calibration_table_png(table: pd.DataFrame) -> bytes:
    """Reliability diagram of a table with ``predicted`` and ``observed`` columns."""
    top = float(max(table["predicted"].max(), table["observed"].max())) * 1.05
    fig, ax = _pyplot().subplots(figsize=(5, 5))
    ax.plot([0, top], [0, top], color="0.6", lw=0.8, ls="--", label="perfect calibration")
    ax.plot(table["predicted"], table["observed"], marker="o", color="tab:blue", label="bins")
    ax.set_xlabel("mean predicted PD")
    ax.set_ylabel("observed default rate")
    ax.set_title("Calibration (held out)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def score_distribution_png(y: Any, score: Any) -> bytes:
    """Histograms of PDs for defaulters and non-defaulters."""
    y, score = np.asarray(y, dtype=int), np.asarray(score, dtype=float)
    edges = np.histogram_bin_edges(score, bins=30)
    fig, ax = _pyplot().subplots(figsize=(7, 4))
    ax.hist(score[y == 0], bins=edges, alpha=0.6, density=True, label="non-default (0)")
    ax.hist(score[y == 1], bins=edges, alpha=0.6, density=True, label="default (1)")
    ax.set_xlabel("predicted PD")
    ax.set_ylabel("density")
    ax.set_title("Score distribution by outcome (held out)", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def grade_default_png(grades: pd.DataFrame) -> bytes:
    """Observed default rate per grade (bars), with the mean PD when known (dots)."""
    fig, ax = _pyplot().subplots(figsize=(7, 4))
    labels = grades["grade"].astype(str).tolist()
    ax.bar(labels, grades["default_rate"], color="tab:blue", alpha=0.7, label="observed")
    if "mean_pd" in grades:
        ax.plot(labels, grades["mean_pd"], "o", color="tab:orange", label="mean PD")
    if "n" in grades:
        for x, (rate, n) in enumerate(zip(grades["default_rate"], grades["n"], strict=True)):
            ax.annotate(f"n={int(n)}", (x, rate), ha="center", va="bottom", fontsize=7)
    ax.set_xlabel("grade")
    ax.set_ylabel("default rate")
    ax.set_title("Default rate by grade (held out)", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def anomaly_timeline_png(
    scores: pd.DataFrame, threshold: float | None, events: list[dict[str, Any]]
) -> bytes:
    """Anomaly score over time with the threshold, alerts and curated events."""
    fig, ax = _pyplot().subplots(figsize=(12, 4))
    ax.plot(scores.index, scores["score"], color="tab:blue", lw=0.6, label="score")
    if threshold is not None:
        ax.axhline(threshold, color="tab:orange", lw=1, ls="--", label="alert threshold")
    if "alert" in scores:
        alerts = scores[scores["alert"] == 1]
        ax.scatter(alerts.index, alerts["score"], s=10, color="tab:red", zorder=3, label="alert")
    for event in events:
        colour = "tab:green" if event.get("in_top") else "tab:purple"
        ax.axvline(pd.Timestamp(event["date"]), color=colour, lw=0.7, alpha=0.6)
    if "holdout" in scores and scores["holdout"].any():
        held = scores.index[scores["holdout"].to_numpy(dtype=bool)]
        ax.axvspan(held[0], held[-1], color="0.9", zorder=0, label="held out")
    ax.set_ylabel("anomaly score")
    ax.set_title("Score timeline; green: curated event found, purple: missed", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    return _png(fig)


def importance_png(importance: list[tuple[str, float]], top: int = 15) -> bytes:
    """Mean |SHAP| per feature, largest on top."""
    shown = importance[:top][::-1]
    fig, ax = _pyplot().subplots(figsize=(7, 0.35 * len(shown) + 1.2))
    ax.barh([k for k, _ in shown], [v for _, v in shown], color="tab:blue")
    ax.set_xlabel("mean |SHAP value|")
    ax.set_title("Global SHAP importance", fontsize=10)
    return _png(fig)


def drift_png(columns: dict[str, dict[str, Any]]) -> bytes:
    """Per-feature drift statistic against its threshold (red: drifted)."""
    names = sorted(columns)
    scores = [float(columns[n]["score"]) for n in names]
    limits = [float(columns[n]["threshold"]) for n in names]
    colours = ["tab:red" if columns[n].get("drifted") else "tab:green" for n in names]
    fig, ax = _pyplot().subplots(figsize=(7, 0.35 * len(names) + 1.4))
    ax.barh(names, scores, color=colours, alpha=0.75, label="drift statistic")
    ax.scatter(limits, names, marker="|", s=300, color="black", label="threshold")
    ax.set_xlabel(
        "statistic (" + ", ".join(sorted({str(columns[n]["stattest"]) for n in names})) + ")"
    )
    ax.set_title("Data drift: training sample vs recent window", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


# ------------------------------------------------------------------ assembling
def _artifact(
    facts: VersionFacts, key: str, title: str, pattern: str, group: str, used: set[str]
) -> Figure | None:
    """The first logged PNG matching ``pattern``, not used by an earlier figure."""
    for artifact in facts.artifacts:
        if artifact in used or not fnmatch(artifact, pattern):
            continue
        path = facts.local(artifact)
        if path is not None:
            used.add(artifact)
            return Figure(key, title, path.read_bytes(), f"artifact {artifact}", group)
    return None


def _figure(
    facts: VersionFacts,
    key: str,
    title: str,
    pattern: str,
    used: set[str],
    generate: Callable[[], tuple[bytes, str] | None],
    group: str = "performance",
) -> Figure | None:
    """A logged plot when there is one, else one drawn from logged data (or nothing)."""
    found = _artifact(facts, key, title, pattern, group, used)
    if found is not None:
        return found
    try:
        drawn = generate()
    except (KeyError, ValueError, TypeError, OSError):
        # A report is still useful without a figure whose inputs are malformed.
        drawn = None
    if drawn is None:
        return None
    png, source = drawn
    return Figure(key, title, png, f"generated from {source}", group)


def _read_table(facts: VersionFacts, artifact: str) -> pd.DataFrame | None:
    path = facts.local(artifact)
    if path is None:
        return None
    return pd.read_csv(path) if artifact.endswith(".csv") else pd.read_parquet(path)


def _with_tmp(draw: Callable[[Path], Path]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return draw(Path(tmp)).read_bytes()


def credit_predictions(facts: VersionFacts) -> tuple[pd.DataFrame, str] | None:
    """A logged table of held-out outcomes and PDs (columns ``y``, ``pd``, maybe ``grade``)."""
    for artifact in facts.artifacts:
        if not artifact.endswith((".parquet", ".csv")) or artifact.startswith("shap/"):
            continue
        table = _read_table(facts, artifact)
        if table is None:
            continue
        lower = {str(c).lower(): c for c in table.columns}
        target = next((lower[c] for c in _TARGET_COLUMNS if c in lower), None)
        score = next((lower[c] for c in _PD_COLUMNS if c in lower), None)
        if target is None or score is None:
            continue
        values = pd.to_numeric(table[target], errors="coerce")
        if not values.dropna().isin([0, 1]).all():
            continue
        out = pd.DataFrame({"y": values, "pd": pd.to_numeric(table[score], errors="coerce")})
        if "grade" in lower:
            out["grade"] = table[lower["grade"]].astype(str)
        return out.dropna(subset=["y", "pd"]), artifact
    return None


def grade_table(facts: VersionFacts) -> tuple[pd.DataFrame, str] | None:
    """Observed default rate per grade: from the evidence's grade table, else from predictions."""
    for key, value in facts.evidence.items():
        if "grade" not in key.lower() or not isinstance(value, list) or not value:
            continue
        frame = pd.DataFrame(value)
        rate = next((c for c in _RATE_COLUMNS if c in frame), None)
        if "grade" in frame and rate is not None:
            frame = frame.rename(columns={rate: "default_rate"})
            for alias in ("mean_pd", "avg_pd", "predicted_pd", "pd"):
                if alias in frame and "mean_pd" not in frame:
                    frame = frame.rename(columns={alias: "mean_pd"})
            for alias in ("n", "count", "accounts", "size"):
                if alias in frame and "n" not in frame:
                    frame = frame.rename(columns={alias: "n"})
            return frame, f"gate_evidence.json evidence.{key}"
    predictions = credit_predictions(facts)
    if predictions is None or "grade" not in predictions[0]:
        return None
    frame, artifact = predictions
    table = frame.groupby("grade", sort=True).agg(
        default_rate=("y", "mean"), mean_pd=("pd", "mean"), n=("y", "size")
    )
    return table.reset_index(), artifact


def _credit(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    def from_predictions(draw: Callable[[pd.DataFrame], bytes]) -> Callable[[], Any]:
        def generate() -> tuple[bytes, str] | None:
            found = credit_predictions(facts)
            return None if found is None else (draw(found[0]), found[1])

        return generate

    def calibration() -> tuple[bytes, str] | None:
        curve = facts.evidence.get("calibration_curve")
        if curve:
            table = pd.DataFrame(curve).rename(
                columns={"mean_pd": "predicted", "observed_rate": "observed"}
            )
            return calibration_table_png(table), "gate_evidence.json evidence.calibration_curve"
        return from_predictions(lambda t: calibration_png(t["y"], t["pd"]))()

    def grades() -> tuple[bytes, str] | None:
        found = grade_table(facts)
        return None if found is None else (grade_default_png(found[0]), found[1])

    return [
        _figure(
            facts,
            "roc",
            "ROC curve",
            "plots/*roc*.png",
            used,
            from_predictions(lambda t: roc_png(t["y"], t["pd"])),
        ),
        _figure(
            facts, "calibration", "Calibration curve", "plots/*calibration*.png", used, calibration
        ),
        _figure(
            facts,
            "score_distribution",
            "Score distribution",
            "plots/*distribution*.png",
            used,
            from_predictions(lambda t: score_distribution_png(t["y"], t["pd"])),
        ),
        _figure(facts, "grades", "Default rate by grade", "plots/*grade*.png", used, grades),
    ]


def _var(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    from riskops.var import family as var_family

    asset = facts.params.get("asset", "asset")
    tags = sorted(
        (facts.evidence.get("backtests") or {"99": None, "95": None}), reverse=True, key=float
    )

    def exceedances(tag: str) -> Callable[[], tuple[bytes, str] | None]:
        def generate() -> tuple[bytes, str] | None:
            table = _read_table(facts, "forecasts.parquet")
            if table is None:
                return None
            png = _with_tmp(
                lambda d: var_family.plot_exceedances(table, float(tag) / 100, asset, d)
            )
            return png, "forecasts.parquet"

        return generate

    def traffic() -> tuple[bytes, str] | None:
        table = _read_table(facts, "forecasts.parquet")
        if table is None:
            return None
        return _with_tmp(lambda d: var_family.plot_traffic_light_history(table, 0.99, d)), (
            "forecasts.parquet"
        )

    out = [
        _figure(
            facts,
            f"exceedances_{tag}",
            f"Returns, {tag}% VaR and ES, and breaches",
            f"exceedances_{tag}.png",
            used,
            exceedances(tag),
        )
        for tag in tags
    ]
    out.append(
        _figure(
            facts,
            "traffic_light",
            "Basel traffic-light history",
            "traffic_light_history.png",
            used,
            traffic,
        )
    )
    return out


def _volatility(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    from riskops.volatility import family as volatility_family

    def generate() -> tuple[bytes, str] | None:
        table = _read_table(facts, "forecasts.parquet")
        if table is None:
            return None
        png = _with_tmp(
            lambda d: volatility_family.plot_forecasts(
                table, facts.metrics, facts.model_kind, facts.params.get("asset", "asset"), d
            )
        )
        return png, "forecasts.parquet"

    return [
        _figure(
            facts,
            "forecast_vs_realised",
            "Forecast vs realised volatility",
            "forecast_vs_realised.png",
            used,
            generate,
        )
    ]


def _anomaly(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    def generate() -> tuple[bytes, str] | None:
        scores = _read_table(facts, "scores.parquet")
        if scores is None:
            return None
        threshold = facts.evidence.get("alert_threshold")
        events = facts.evidence.get("events") or []
        return anomaly_timeline_png(scores, threshold, events), "scores.parquet"

    return [
        _figure(
            facts,
            "score_timeline",
            "Anomaly score timeline with alerts and events",
            "score_timeline.png",
            used,
            generate,
        )
    ]


def _shap(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    from riskops.governance.card import shap_importance

    def bar() -> tuple[bytes, str] | None:
        importance = shap_importance(facts)
        if not importance:
            return None
        return importance_png(importance), "shap/shap_global_importance.json"

    out = [
        _figure(
            facts,
            "shap_importance",
            "SHAP global importance",
            "shap/shap_importance_bar.png",
            used,
            bar,
            "explainability",
        ),
        _figure(
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
            _figure(
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

    def generate() -> tuple[bytes, str] | None:
        return (drift_png(columns), "gate_evidence.json data_drift") if columns else None

    return [
        _figure(facts, "drift", "Per-feature data drift", "drift/*.png", used, generate, "drift")
    ]


_FAMILY = {"credit": _credit, "var": _var, "volatility": _volatility, "anomaly": _anomaly}


def collect_figures(facts: VersionFacts, *, draw: bool = True) -> list[Figure]:
    """The report's figures in order: family plots, other logged plots, SHAP, drift.

    ``draw=False``: the plots the run logged, as logged, and none drawn from its data.
    """
    if not draw:
        return logged_figures(facts)
    used: set[str] = set()
    found: list[Figure | None] = []
    family = _FAMILY.get(facts.family)
    if family is not None:
        found += family(facts, used)
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
                _artifact(
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
