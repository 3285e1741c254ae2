"""The contract every model family implements, so that one lifecycle trains them all.

A family (credit, var, volatility, anomaly) knows how to load its data, fit any
estimator that honours its contract (:mod:`riskops.families.contracts`: the built-in kinds
and a user's own model enter the same way), evaluate any estimator of its kind on an
evaluation window, and describe the features and outputs that drift checks compare.
Everything else (logging, registering, gating, promoting, auditing, serving) is generic
and lives elsewhere.

Estimators follow the scikit-learn contract: ``__init__`` stores hyperparameters,
``fit`` returns ``self``, learned state ends in ``_``, ``check_is_fitted`` guards
prediction, and ``sklearn.base.clone`` gives back the unfitted specification.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd


@dataclass(frozen=True)
class TrainOptions:
    """What a user can ask of ``riskops train FAMILY``; unknown keys are a family's ``extra``."""

    model: str | None = None
    dist: str | None = None
    level: float = 0.99
    tune: int = 0
    tune_timeout_s: float = 60.0
    seed: int = 42
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingOutcome:
    """Everything a fit produced that the lifecycle must log, register and gate.

    Attributes
    ----------
    estimator
        The fitted estimator to register (scikit-learn contract, picklable).
    model_kind
        Short name of the estimator kind, e.g. ``"lightgbm"`` or ``"garch"``.
    params
        Hyperparameters, logged as MLflow params.
    metrics
        Flat numeric metrics on held-out data, logged as MLflow metrics. Names are
        the family's (``auc``, ``qlike``, ``kupiec_pvalue``...); gates read them.
    evidence
        JSON-serialisable facts the gates need beyond flat metrics (backtest tables
        as records, event lists, grade tables...). Logged as ``evidence.json``.
    artifact_dir
        A folder of files (plots, SHAP Parquet, HTML) logged under the run as-is.
    input_example
        A few rows of model input, for the MLflow signature and the service schema.
    reference
        Feature frame the model was trained on (model inputs, one row per
        observation): the reference for data drift.
    evaluation
        The held-out dataset ``evaluate`` runs on, so that the current champion can
        be scored on exactly the same window.
    """

    estimator: Any
    model_kind: str
    params: dict[str, Any]
    metrics: dict[str, float]
    evidence: dict[str, Any]
    artifact_dir: Path
    input_example: pd.DataFrame
    reference: pd.DataFrame
    evaluation: Any


class Family(ABC):
    """One model family. Subclasses are stateless; instances are cheap."""

    name: ClassVar[str]
    """``credit``, ``var``, ``volatility`` or ``anomaly``."""
    registered_name: ClassVar[str]
    """Default registered model name, e.g. ``credit_pd``."""
    domain: ClassVar[str]
    """Data domain: ``credit`` or ``market``."""
    models: ClassVar[tuple[str, ...]]
    """Choices for ``--model``; the first is the default."""
    pyfunc_predict_fn: ClassVar[str] = "predict"
    """Method that MLflow's generic pyfunc (``mlflow models serve``) calls."""
    primary_metric: ClassVar[str]
    """Metric that summarises the model in ``riskops models`` (``auc``, ``qlike``...)."""
    default_dataset: ClassVar[str | None] = None
    """Bundled dataset used when the user gives none (market: ``sp500`` unless set)."""

    def default_source(self, source: Any = None) -> Any:
        """``source`` with the family's bundled dataset filled in when it names no data."""
        from dataclasses import replace

        from riskops.data import DataSource

        source = source or DataSource(domain=self.domain)
        if source.path is None and source.bundled is None and self.default_dataset:
            source = replace(source, bundled=self.default_dataset)
        return source

    @abstractmethod
    def fit(
        self, dataset: Any, options: TrainOptions, workdir: Path, estimator: Any = None
    ) -> TrainingOutcome:
        """Split, fit, evaluate on held-out data, explain, and write artifacts to ``workdir``.

        ``estimator`` is the unfitted specification to fit: any model honouring the
        family's contract (:mod:`riskops.families.contracts`); ``None`` means the
        built-in kind ``options.model``. The family clones it, so the caller's object
        is never fitted.
        """

    @abstractmethod
    def evaluate(self, estimator: Any, evaluation: Any) -> dict[str, float]:
        """Metrics of ``estimator`` (fitted, e.g. the champion) on an evaluation window.

        Must return the same metric names as ``fit`` reports for the challenger, so
        that the champion comparison compares like with like.
        """

    @abstractmethod
    def features(self, dataset: Any) -> pd.DataFrame:
        """Model-input features of a dataset, one row per observation, for drift checks."""

    @abstractmethod
    def score(self, estimator: Any, features: pd.DataFrame) -> pd.Series:
        """The model's headline output on ``features`` (PD, VaR, variance, anomaly score),
        compared between challenger and champion for prediction drift."""

    def recent_window(self, dataset: Any) -> Any:
        """The most recent slice of a dataset, for drift checks. Default: the whole of it."""
        return dataset


def scalar_params(estimator: Any, deep: bool = False) -> dict[str, Any]:
    """An estimator's hyperparameters that MLflow can log as params: ``None``, text and
    numbers (nested estimators, arrays and mappings are left out)."""
    return {
        key: value
        for key, value in estimator.get_params(deep=deep).items()
        if value is None or isinstance(value, str | int | float | bool)
    }
