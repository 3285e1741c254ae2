"""From a model's raw score to a calibrated PD, and from PDs to rating grades.

Calibration maps a raw score (log-odds for boosting and logistic regression, a vote
share for random forests) to a probability of default. It is fitted on scores the
model produced for rows it did not train on (out-of-fold scores), which is what
makes the PDs honest. Platt scaling (Platt, 1999) is a logistic regression on the
score, strictly increasing, so it never changes the ranking (AUC, KS and Gini are
untouched); isotonic regression (Zadrozny & Elkan, 2002) is free-form but monotone
non-decreasing, and can create ties.

A rating scale groups PDs into grades, grade 1 being the best (lowest PD), with
band edges at quantiles of the development-sample PDs.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from riskops.errors import BadInputError

__all__ = ["CALIBRATIONS", "RatingScale", "ScoreCalibrator"]

CALIBRATIONS = ("sigmoid", "isotonic", None)

# CRR (EU Regulation 575/2013) Art. 160(1) and 163(1): IRB PDs are floored at 0.03%.
REGULATORY_PD_FLOOR = 0.0003


class ScoreCalibrator(BaseEstimator):
    """Map raw scores to probabilities of default.

    Parameters
    ----------
    method
        ``"sigmoid"`` (Platt scaling), ``"isotonic"``, or ``None`` for scores that are
        already probabilities (log-odds pass through the logistic function, vote shares
        pass through unchanged; see ``score_is_logit``).
    score_is_logit
        Whether raw scores are log-odds (boosting, logistic regression).
    floor
        Lowest PD reported; the ceiling is ``1 - floor``.
    """

    def __init__(
        self,
        method: str | None = "sigmoid",
        score_is_logit: bool = True,
        floor: float = REGULATORY_PD_FLOOR,
    ) -> None:
        self.method = method
        self.score_is_logit = score_is_logit
        self.floor = floor

    def fit(self, raw_score: np.ndarray, y: np.ndarray) -> ScoreCalibrator:
        raw_score = np.asarray(raw_score, dtype=float).ravel()
        y = np.asarray(y).ravel()
        if self.method not in CALIBRATIONS:
            raise BadInputError(f"calibration: {self.method!r} is not one of {CALIBRATIONS}")
        if self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            # Nearly unpenalised: Platt's two parameters, not a regularised model.
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(raw_score[:, None], y)
            self.slope_ = float(platt.coef_[0, 0])
            self.intercept_ = float(platt.intercept_[0])
        elif self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            iso.fit(raw_score, y)
            self.thresholds_ = np.asarray(iso.X_thresholds_, dtype=float)
            self.levels_ = np.asarray(iso.y_thresholds_, dtype=float)
        self.fitted_method_ = self.method or "none"
        return self

    def transform(self, raw_score: np.ndarray) -> np.ndarray:
        """Calibrated PDs, clipped to ``[floor, 1 - floor]``."""
        if "fitted_method_" not in self.__dict__:  # check_is_fitted's cost only when unfitted
            check_is_fitted(self, "fitted_method_")
        raw_score = np.asarray(raw_score, dtype=float)
        if self.fitted_method_ == "sigmoid":
            pd_ = _expit(self.slope_ * raw_score + self.intercept_)
        elif self.fitted_method_ == "isotonic":
            # Same as IsotonicRegression.predict (linear between thresholds, clipped
            # outside), without its input validation, which dominates one-row latency.
            pd_ = np.interp(raw_score, self.thresholds_, self.levels_)
        elif self.score_is_logit:
            pd_ = _expit(raw_score)
        else:
            pd_ = raw_score
        return np.clip(pd_, self.floor, 1.0 - self.floor)


class RatingScale(BaseEstimator):
    """Rating grades from PD quantiles of a development sample; grade 1 is the best.

    Parameters
    ----------
    n_grades
        Number of grades wanted; fewer remain when quantiles coincide (ties).

    Attributes
    ----------
    edges_ : ndarray
        Band edges ``[0, e_1, ..., e_{n-1}, 1]``: grade ``g`` holds PDs in
        ``[edges_[g-1], edges_[g])`` (the last band includes 1).
    labels_ : ndarray of str
        ``"G1"`` ... ``"Gn"``.
    """

    def __init__(self, n_grades: int = 8) -> None:
        self.n_grades = n_grades

    def fit(self, pd_: np.ndarray) -> RatingScale:
        pd_ = np.asarray(pd_, dtype=float)
        if self.n_grades < 2:
            raise BadInputError(f"n_grades: need at least 2 grades, got {self.n_grades}")
        inner = np.quantile(pd_, np.linspace(0, 1, self.n_grades + 1)[1:-1])
        inner = np.unique(inner[(inner > 0.0) & (inner < 1.0)])
        self.edges_ = np.concatenate([[0.0], inner, [1.0]])
        self.labels_ = np.array([f"G{g}" for g in range(1, len(self.edges_))], dtype=object)
        return self

    def grade(self, pd_: np.ndarray) -> np.ndarray:
        if "edges_" not in self.__dict__:  # check_is_fitted's cost only when unfitted
            check_is_fitted(self, "edges_")
        index = np.searchsorted(self.edges_[1:-1], np.asarray(pd_, dtype=float), side="right")
        return self.labels_[index]

    def grade_number(self, labels: np.ndarray) -> np.ndarray:
        """``"G3"`` → 3, for sorting and plotting."""
        return np.array([int(str(g)[1:]) for g in labels], dtype=int)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
