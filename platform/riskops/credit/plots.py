"""Validation plots of a PD model on held-out data: ROC, calibration, scores, grades."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_validation_plots"]


def write_validation_plots(
    y: np.ndarray,
    pd_: np.ndarray,
    calibration: pd.DataFrame,
    grades: pd.DataFrame,
    out_dir: Path,
) -> dict[str, Path]:
    """Write ``roc_curve.png``, ``calibration_curve.png``, ``score_distribution.png`` and
    ``grade_default_rates.png`` into ``out_dir``.

    Parameters
    ----------
    y
        Outcomes (1 = default).
    pd_
        Calibrated PDs.
    calibration
        :func:`riskops.credit.metrics.calibration_curve` of ``(y, pd_)``.
    grades
        :func:`riskops.credit.metrics.grade_table` of ``(y, pd_, grades)``.
    out_dir
        Folder to write into (created if needed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y, dtype=int)
    pd_ = np.asarray(pd_, dtype=float)
    written: dict[str, Path] = {}

    def save(fig: plt.Figure, stem: str) -> None:
        fig.tight_layout()
        path = out_dir / f"{stem}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written[stem] = path

    fig, ax = plt.subplots(figsize=(5, 5))
    fpr, tpr, _ = roc_curve(y, pd_)
    ax.plot(fpr, tpr, label=f"model (AUC = {roc_auc_score(y, pd_):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    save(fig, "roc_curve")

    fig, ax = plt.subplots(figsize=(5, 5))
    top = float(max(calibration["mean_pd"].max(), calibration["observed_rate"].max(), 0.05))
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(calibration["mean_pd"], calibration["observed_rate"], marker="o", label="model")
    ax.set(xlabel="Mean PD in bin", ylabel="Observed default rate", title="Calibration")
    ax.legend(loc="upper left")
    save(fig, "calibration_curve")

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0.0, float(pd_.max()) if len(pd_) else 1.0, 40).tolist()
    ax.hist(pd_[y == 0], bins=bins, alpha=0.6, density=True, label="non-default")
    ax.hist(pd_[y == 1], bins=bins, alpha=0.6, density=True, label="default")
    ax.set(xlabel="PD", ylabel="Density", title="Score distribution by outcome")
    ax.legend()
    save(fig, "score_distribution")

    fig, ax = plt.subplots(figsize=(6, 4))
    positions = np.arange(len(grades))
    ax.bar(positions, grades["default_rate"], color="tab:red", alpha=0.7, label="observed")
    ax.plot(positions, grades["mean_pd"], color="black", marker="o", label="mean PD")
    ax.set_xticks(positions, grades["grade"].astype(str))
    ax.set(xlabel="Grade (1 = best)", ylabel="Default rate", title="Default rate by grade")
    ax.legend()
    save(fig, "grade_default_rates")
    return written
