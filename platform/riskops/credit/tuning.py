"""Time-boxed hyperparameter search (Optuna TPE) with cross-validation on training data.

The objective is the mean cross-validated AUC of the uncalibrated model: Platt
scaling never changes the ranking, so calibration is left out of the search to
keep each trial cheap. Folds are stratified, or forward-chaining in time when the
data are dated, so that no trial is scored on rows older than the ones it fitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SEARCH_SPACES", "tune"]


def _lightgbm_space(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 800, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 32),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 120),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 20.0, log=True),
    }


def _random_forest_space(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=25),
        "max_depth": trial.suggest_int("max_depth", 4, 14),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 60),
        "max_features": trial.suggest_float("max_features", 0.2, 0.9),
    }


def _logistic_space(trial: Any) -> dict[str, Any]:
    return {
        "C": trial.suggest_float("C", 1e-3, 100.0, log=True),
        "log_transform": trial.suggest_categorical("log_transform", [True, False]),
    }


SEARCH_SPACES = {
    "lightgbm": _lightgbm_space,
    "random_forest": _random_forest_space,
    "logistic": _logistic_space,
}


def tune(
    kind: str,
    X: pd.DataFrame,
    y: pd.Series,
    base_params: dict[str, Any],
    *,
    n_trials: int,
    timeout_s: float,
    seed: int = 0,
    n_splits: int = 3,
    dated: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Search hyperparameters of model ``kind`` on ``(X, y)``.

    Parameters
    ----------
    kind
        ``lightgbm``, ``random_forest`` or ``logistic``.
    X, y
        Training part only; the test split must never reach the search.
    base_params
        Fixed hyperparameters the search does not touch (constraints, seed...).
    n_trials, timeout_s
        Stop after this many trials or this many seconds, whichever comes first.
    seed
        Seed of the TPE sampler and of the folds.
    n_splits
        Cross-validation folds.
    dated
        Rows are in time order: use forward-chaining folds.

    Returns
    -------
    best_params, trials
        The best trial's parameters, and every finished trial as
        ``{"number", "params", "value"}`` (``value`` is the mean CV AUC).
    """
    import optuna
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, TimeSeriesSplit

    from riskops.credit.models import MODEL_KINDS

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    model_class = MODEL_KINDS[kind]
    space = SEARCH_SPACES[kind]
    y = pd.Series(np.asarray(y), index=X.index)
    if dated:
        folds = list(TimeSeriesSplit(n_splits=n_splits).split(X))
    else:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = list(splitter.split(X, y))
    fixed = {**base_params, "calibration": None, "cv": 0}

    def objective(trial: Any) -> float:
        params = {**fixed, **space(trial)}
        scores = []
        for fit_rows, held_out in folds:
            y_fit, y_held = y.iloc[fit_rows], y.iloc[held_out]
            if y_fit.nunique() < 2 or y_held.nunique() < 2:
                continue
            model = model_class(**params).fit(X.iloc[fit_rows], y_fit)
            scores.append(roc_auc_score(y_held, model.decision_function(X.iloc[held_out])))
        return float(np.mean(scores)) if scores else float("nan")

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials, timeout=timeout_s, catch=(ValueError,))
    trials = [
        {"number": t.number, "params": dict(t.params), "value": float(t.value)}
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
    ]
    best = dict(study.best_trial.params) if trials else {}
    return best, trials
