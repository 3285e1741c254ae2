"""Credit decisions judged on matured outcomes: the supervisors' validation tests, per version.

Input frames (what the decision store and the outcome ingestion hold):

* decisions: ``id``, ``decided_at``, ``model_name``, ``model_version``, ``pd``, ``grade``
  (one row per scored applicant, ids unique);
* outcomes: ``id``, ``default`` (0/1), ``observed_at`` (the default's date, or the date
  a non-default was observed), at most one row per id.

The default definition has a horizon of ``h`` calendar months (the policy's
``default_horizon_months``). A decision is **matured** once ``decided_at + h months <=
as_of``. Among matured decisions with an outcome:

* a default observed within the horizon counts as a default;
* a default observed after the horizon, or a non-default observed at or after the end of
  the horizon, counts as a non-default;
* a non-default observed before the end of the horizon says nothing about the rest of the
  horizon: the decision is **indeterminate** and not counted (reported).

Matured decisions without an outcome are not counted either (reported); immature
decisions are not used at all. An outcome observed after ``as_of`` counts as not yet
known, so that an evaluation as of a past date is reproducible. The rating distribution
(PSI, Herfindahl) is that of all matured decisions, with or without outcome: an outcome
says nothing about a grade.

Computed per model version (references cited in the modules named):

* per grade and for the portfolio: obligors, defaults, realised default rate, mean PD,
  the Jeffreys test (ECB, 2019), the exact binomial test and its normal approximation
  (BCBS WP14, 2005), traffic lights -- :mod:`riskops.stats.binomial`; a grade's PD is
  the mean PD of its obligors;
* discrimination: the AUC on outcomes with DeLong's and Hanley-McNeil's standard errors,
  and the ECB's test against the AUC at initial validation --
  :mod:`riskops.stats.discrimination`;
* stability: the PSI of the grade shares against the development sample
  (:func:`riskops.credit.metrics.psi_from_shares`) and the ECB's Herfindahl index and test
  against the initial grade distribution -- :mod:`riskops.stats.concentration`;
* champion against challenger on the same applicants: the paired DeLong test on the matured
  applicants both scored is :func:`riskops.credit.shadow.paired_outcome_test`'s;
* calibration: the Brier score (scikit-learn's ``brier_score_loss``), the expected
  calibration error over equal-width PD bins (as :func:`riskops.credit.metrics.
  expected_calibration_error`) and the significant grade reversals on outcomes
  (:func:`riskops.credit.metrics.significant_grade_reversals`, one-sided Fisher at 5%, the
  promotion floor's test).

A part that cannot be computed (no initial AUC, only one class of outcome...) is listed
in ``not_evaluated`` with the reason, never filled with a passing value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskops.credit.outcome_policy import OutcomePolicy
from riskops.errors import BadInputError
from riskops.stats._result import jsonable
from riskops.stats.binomial import CalibrationTests, calibration_tests
from riskops.stats.concentration import (
    HerfindahlIndex,
    HerfindahlTest,
    herfindahl,
    herfindahl_test,
)
from riskops.stats.discrimination import (
    AucEstimate,
    AucVsInitialTest,
    compare_with_initial,
    delong_auc,
)

__all__ = [
    "DECISION_COLUMNS",
    "OUTCOME_COLUMNS",
    "InitialValidation",
    "OutcomeCounts",
    "OutcomeResult",
    "evaluate_outcomes",
    "grade_sort_key",
    "horizon_end",
    "matured_labels",
]

DECISION_COLUMNS = ("id", "decided_at", "model_name", "model_version", "pd", "grade")
OUTCOME_COLUMNS = ("id", "default", "observed_at")


def grade_sort_key(label: Any) -> tuple[int, str]:
    """``"G10"`` after ``"G9"``: the number in the label, then the label."""
    text = str(label)
    digits = "".join(ch for ch in text if ch.isdigit())
    return (int(digits) if digits else 0, text)


def horizon_end(decided_at: pd.Series, months: int) -> pd.Series:
    """``decided_at`` plus ``months`` calendar months (end-of-month clipped, as pandas does)."""
    return decided_at + pd.DateOffset(months=int(months))


def _utc(value: Any, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{name}: {value!r} is not a date-time ({exc})") from None
    if stamp is pd.NaT:
        raise BadInputError(f"{name}: missing")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _utc_column(frame: pd.DataFrame, column: str, dataset: str) -> pd.Series:
    values = frame[column]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    try:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{dataset}.{column}: not date-times ({exc})") from None
    return parsed


@dataclass(frozen=True)
class InitialValidation:
    """What a version was validated on before it went live: the reference of the tests.

    Parameters
    ----------
    auc
        AUC at initial validation (the held-out AUC the version was promoted on).
    development_grade_counts
        Obligors per grade in the development sample: the PSI's reference.
    initial_grade_counts
        Obligors per grade at initial validation: the Herfindahl test's reference
        (the development counts when not given).
    """

    auc: float | None = None
    development_grade_counts: Mapping[str, int] | None = None
    initial_grade_counts: Mapping[str, int] | None = None


@dataclass(frozen=True)
class OutcomeCounts:
    """Where the decisions of a version went."""

    decisions: int
    immature: int
    matured: int
    without_outcome: int
    indeterminate: int
    evaluated: int
    defaults: int

    def to_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class OutcomeResult:
    """The validation tests of one model version on its matured decisions."""

    model_name: str
    model_version: str
    as_of: str
    horizon_months: int
    counts: OutcomeCounts
    grades: CalibrationTests
    """Per grade of the rating scale, in order (empty grades included, not evaluated)."""
    portfolio: CalibrationTests
    """The same tests for all evaluated decisions (label ``portfolio``)."""
    matured_grade_counts: tuple[int, ...]
    """Matured decisions per grade (with or without outcome): PSI and Herfindahl."""
    development_grade_counts: tuple[int, ...] | None
    auc: AucEstimate | None
    auc_score: str
    auc_vs_initial: AucVsInitialTest | None
    psi_grades: float | None
    herfindahl: HerfindahlIndex | None
    herfindahl_test: HerfindahlTest | None
    brier: float | None
    ece: float | None
    grades_monotone: bool | None
    grade_reversals_significant: int | None
    not_evaluated: tuple[tuple[str, str], ...] = field(default=())
    """``(what, why)`` for every part that could not be computed."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: nested results as dicts, non-finite numbers as ``None``."""

        def part(value: Any) -> Any:
            return value.to_dict() if value is not None else None

        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "as_of": self.as_of,
            "horizon_months": self.horizon_months,
            "counts": self.counts.to_dict(),
            "grades": _json_rows(self.grades),
            "portfolio": _json_rows(self.portfolio)[0],
            "matured_grade_counts": list(self.matured_grade_counts),
            "development_grade_counts": (
                list(self.development_grade_counts)
                if self.development_grade_counts is not None
                else None
            ),
            "auc": part(self.auc),
            "auc_score": self.auc_score,
            "auc_vs_initial": part(self.auc_vs_initial),
            "psi_grades": jsonable(self.psi_grades),
            "herfindahl": part(self.herfindahl),
            "herfindahl_test": part(self.herfindahl_test),
            "brier": jsonable(self.brier),
            "ece": jsonable(self.ece),
            "grades_monotone": self.grades_monotone,
            "grade_reversals_significant": self.grade_reversals_significant,
            "not_evaluated": [{"what": w, "why": y} for w, y in self.not_evaluated],
        }

    def table(self) -> pd.DataFrame:
        """Per grade, then the portfolio: counts, rates, PDs, p-values, lights, shares.

        Columns: ``grade, n, defaults, default_rate, mean_pd, jeffreys_pvalue,
        jeffreys_light, binomial_pvalue, binomial_light, binomial_normal_pvalue,
        binomial_critical, matured, share_matured, share_development``.
        """
        rows = self.grades.rows() + self.portfolio.rows()
        table = pd.DataFrame(rows).rename(columns={"label": "grade", "pd": "mean_pd"})
        matured = np.asarray(self.matured_grade_counts, dtype=float)
        total = matured.sum()
        table["matured"] = [*self.matured_grade_counts, int(total)]
        table["share_matured"] = [*(matured / total if total else matured * np.nan), 1.0]
        if self.development_grade_counts is not None:
            dev = np.asarray(self.development_grade_counts, dtype=float)
            table["share_development"] = [*(dev / dev.sum()), 1.0]
        else:
            table["share_development"] = np.nan
        columns = [
            "grade",
            "n",
            "defaults",
            "default_rate",
            "mean_pd",
            "jeffreys_pvalue",
            "jeffreys_light",
            "binomial_pvalue",
            "binomial_light",
            "binomial_normal_pvalue",
            "binomial_critical",
            "matured",
            "share_matured",
            "share_development",
        ]
        return table[columns]


def _require(frame: pd.DataFrame, columns: tuple[str, ...], dataset: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BadInputError(f"{dataset}: missing column(s) {missing}; expected {list(columns)}")


def _version_groups(decisions: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """``(model_name, model_version, row positions)`` per version, sorted."""
    name_code, names = pd.factorize(decisions["model_name"].astype(str))
    version_code, versions = pd.factorize(decisions["model_version"].astype(str))
    key = name_code.astype(np.int64) * max(len(versions), 1) + version_code
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    bounds = np.append(starts, len(order))
    groups = []
    for i, k in enumerate(keys):
        name = str(names[k // max(len(versions), 1)])
        version = str(versions[k % max(len(versions), 1)])
        groups.append((name, version, order[bounds[i] : bounds[i + 1]]))
    groups.sort(key=lambda g: (g[0], grade_sort_key(g[1])))
    return groups


@dataclass(frozen=True)
class _Labels:
    """Per decision: matured, outcome known at ``as_of``, counted, indeterminate, default."""

    matured: np.ndarray
    has_outcome: np.ndarray
    evaluated: np.ndarray
    indeterminate: np.ndarray
    y: np.ndarray


def _matured_labels(
    decisions: pd.DataFrame, outcomes: pd.DataFrame, as_of: pd.Timestamp, horizon_months: int
) -> _Labels:
    """The default definition applied to every decision (see the module docstring)."""
    decision_ids = pd.Index(decisions["id"].astype(str))
    if not decision_ids.is_unique:
        dup = decision_ids[decision_ids.duplicated()].unique()[:5].tolist()
        raise BadInputError(f"decisions.id: ids must be unique (e.g. {dup})")
    outcome_ids = pd.Index(outcomes["id"].astype(str))
    if not outcome_ids.is_unique:
        dup = outcome_ids[outcome_ids.duplicated()].unique()[:5].tolist()
        raise BadInputError(f"outcomes.id: at most one outcome per decision (e.g. {dup})")
    default = outcomes["default"].to_numpy()
    if default.dtype == bool:
        default = default.astype(np.int8)
    if not np.all((default == 0) | (default == 1)):
        raise BadInputError("outcomes.default: must be 0 or 1")

    decided = _utc_column(decisions, "decided_at", "decisions")
    if np.any(decided.isna().to_numpy()):
        raise BadInputError("decisions.decided_at: missing date-times")
    end_ns = horizon_end(decided, horizon_months).to_numpy(dtype="datetime64[ns]").view(np.int64)
    matured = end_ns <= as_of.value

    position = outcome_ids.get_indexer(decision_ids)
    observed_all = _utc_column(outcomes, "observed_at", "outcomes")
    if np.any(observed_all.isna().to_numpy()):
        raise BadInputError("outcomes.observed_at: missing date-times")
    observed_ns = observed_all.to_numpy(dtype="datetime64[ns]").view(np.int64)
    if not len(observed_ns):  # no outcome recorded yet: nothing to look up
        position = np.full(len(decision_ids), -1)
        observed_ns = default = np.zeros(1, dtype=np.int64)
    take = np.where(position >= 0, position, 0)
    # An outcome observed after as_of was not known at as_of: the evaluation as of a past
    # date sees what was known then, and gives the same answer when run again later.
    has_outcome = (position >= 0) & (observed_ns[take] <= as_of.value)
    row_default = np.where(has_outcome, default[take], 0).astype(np.int8)
    row_observed = np.where(has_outcome, observed_ns[take], 0)
    defaulted_within = has_outcome & (row_default == 1) & (row_observed <= end_ns)
    survived = has_outcome & (
        ((row_default == 0) & (row_observed >= end_ns))
        | ((row_default == 1) & (row_observed > end_ns))
    )
    determinate = defaulted_within | survived
    return _Labels(
        matured=matured,
        has_outcome=has_outcome,
        evaluated=matured & determinate,
        indeterminate=matured & has_outcome & ~determinate,
        y=defaulted_within.astype(np.int8),
    )


def matured_labels(
    decisions: pd.DataFrame, outcomes: pd.DataFrame, *, as_of: Any, horizon_months: int
) -> pd.DataFrame:
    """The decisions the tests count, with their label: ``id, default`` (1 a default within
    the horizon, 0 none), one row per matured decision with a determinate outcome known at
    ``as_of`` (the default definition of the module docstring); what a retrain on matured
    outcomes adds to its training data."""
    _require(decisions, ("id", "decided_at"), "decisions")
    _require(outcomes, OUTCOME_COLUMNS, "outcomes")
    labels = _matured_labels(decisions, outcomes, _utc(as_of, "as_of"), horizon_months)
    keep = labels.evaluated
    return pd.DataFrame(
        {
            "id": decisions["id"].astype(str).to_numpy()[keep],
            "default": labels.y[keep],
        }
    )


def evaluate_outcomes(
    decisions: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    as_of: Any,
    policy: OutcomePolicy | None = None,
    references: Mapping[tuple[str, str], InitialValidation] | None = None,
) -> tuple[OutcomeResult, ...]:
    """The validation tests on matured outcomes, one result per model version.

    Parameters
    ----------
    decisions, outcomes
        Frames with :data:`DECISION_COLUMNS` and :data:`OUTCOME_COLUMNS` (see the module
        docstring). Date-times are read as UTC (naive ones are taken to be UTC).
    as_of
        The evaluation time: decisions made at least the horizon before it are matured.
    policy
        The credit policy's ``outcomes`` section (horizon, traffic lights, AUC score,
        ECE bins); the defaults when ``None``.
    references
        ``{(model_name, model_version): InitialValidation}``; a version without one has
        its AUC test, PSI and Herfindahl test reported as not evaluated.

    Raises
    ------
    BadInputError
        A missing column, duplicate decision or outcome ids, a default that is not 0/1,
        a PD outside ``[0, 1]`` or an unparseable date-time.
    """
    policy = policy or OutcomePolicy()
    references = references or {}
    _require(decisions, DECISION_COLUMNS, "decisions")
    _require(outcomes, OUTCOME_COLUMNS, "outcomes")
    as_of_ts = _utc(as_of, "as_of")
    pd_ = decisions["pd"].to_numpy(dtype=float)
    if not np.all((pd_ >= 0.0) & (pd_ <= 1.0)):
        raise BadInputError("decisions.pd: PDs must be within [0, 1]")
    if decisions["grade"].isna().any():
        raise BadInputError("decisions.grade: every decision needs its grade")
    labels = _matured_labels(decisions, outcomes, as_of_ts, policy.default_horizon_months)
    matured, evaluated, y = labels.matured, labels.evaluated, labels.y
    indeterminate, has_outcome = labels.indeterminate, labels.has_outcome
    grades = decisions["grade"].astype(str).to_numpy()

    results = []
    for name, version, rows in _version_groups(decisions):
        results.append(
            _evaluate_version(
                name,
                version,
                rows,
                pd_=pd_,
                y=y,
                grades=grades,
                matured=matured,
                evaluated=evaluated,
                indeterminate=indeterminate,
                has_outcome=has_outcome,
                as_of=as_of_ts,
                policy=policy,
                reference=references.get((name, version)),
            )
        )
    return tuple(results)


def _evaluate_version(
    name: str,
    version: str,
    rows: np.ndarray,
    *,
    pd_: np.ndarray,
    y: np.ndarray,
    grades: np.ndarray,
    matured: np.ndarray,
    evaluated: np.ndarray,
    indeterminate: np.ndarray,
    has_outcome: np.ndarray,
    as_of: pd.Timestamp,
    policy: OutcomePolicy,
    reference: InitialValidation | None,
) -> OutcomeResult:
    not_evaluated: list[tuple[str, str]] = []
    v_matured = matured[rows]
    v_eval = evaluated[rows]
    grade_codes, observed_labels = pd.factorize(grades[rows])
    dev_counts_map = dict(reference.development_grade_counts or {}) if reference else {}
    init_counts_map = (
        dict(reference.initial_grade_counts or reference.development_grade_counts or {})
        if reference
        else {}
    )
    labels = sorted(
        {*map(str, observed_labels), *map(str, dev_counts_map), *map(str, init_counts_map)},
        key=grade_sort_key,
    )
    k = len(labels)
    # Map this version's factorised labels onto the ordered scale.
    scale_index = np.array([labels.index(str(g)) for g in observed_labels], dtype=np.int64)
    g = scale_index[grade_codes] if len(grade_codes) else grade_codes.astype(np.int64)

    e_rows = rows[v_eval]
    e_grade = g[v_eval]
    e_y = y[e_rows].astype(float)
    e_pd = pd_[e_rows]
    n_grade = np.bincount(e_grade, minlength=k)
    d_grade = np.bincount(e_grade, weights=e_y, minlength=k)
    pd_sum = np.bincount(e_grade, weights=e_pd, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pd = np.where(n_grade > 0, pd_sum / np.maximum(n_grade, 1), np.nan)
    lights = policy.traffic_lights
    grade_tests = calibration_tests(
        labels,
        n_grade,
        np.round(d_grade),
        np.nan_to_num(mean_pd, nan=0.0),
        yellow_below=lights.yellow_below,
        red_below=lights.red_below,
    )
    grade_tests = _blank_empty_pd(grade_tests, n_grade)
    n_eval = int(n_grade.sum())
    n_def = round(float(d_grade.sum()))
    portfolio = calibration_tests(
        ["portfolio"],
        [n_eval],
        [n_def],
        [float(e_pd.mean()) if n_eval else 0.0],
        yellow_below=lights.yellow_below,
        red_below=lights.red_below,
    )
    portfolio = _blank_empty_pd(portfolio, np.array([n_eval]))
    if n_eval == 0:
        not_evaluated.append(("calibration", "no matured decision with a determinate outcome"))

    matured_counts = np.bincount(g[v_matured], minlength=k)
    counts = OutcomeCounts(
        decisions=len(rows),
        immature=int((~v_matured).sum()),
        matured=int(v_matured.sum()),
        without_outcome=int((v_matured & ~has_outcome[rows]).sum()),
        indeterminate=int(indeterminate[rows].sum()),
        evaluated=n_eval,
        defaults=n_def,
    )

    # Discrimination.
    auc = auc_test = None
    if n_def >= 2 and n_eval - n_def >= 2:
        score = e_pd if policy.auc_score == "pd" else (e_grade + 1).astype(float)
        auc = delong_auc(e_y, score)
        if reference is not None and reference.auc is not None:
            rule = policy.alarms.auc_below_initial
            variance = rule.variance if rule is not None else "delong"
            auc_test = compare_with_initial(auc, reference.auc, variance=variance)
        else:
            not_evaluated.append(("auc_vs_initial", "no AUC at initial validation"))
    else:
        not_evaluated.append(
            ("auc", f"needs 2 defaults and 2 non-defaults, has {n_def} and {n_eval - n_def}")
        )

    # Stability.
    psi_value = None
    dev_counts = None
    if dev_counts_map:
        dev_counts = np.array([int(dev_counts_map.get(label, 0)) for label in labels])
    if dev_counts is not None and dev_counts.sum() > 0 and matured_counts.sum() > 0:
        from riskops.credit.metrics import psi_from_shares

        psi_value = psi_from_shares(
            dev_counts / dev_counts.sum(), matured_counts / matured_counts.sum()
        )
    elif matured_counts.sum() == 0:
        not_evaluated.append(("psi_grades", "no matured decision"))
    else:
        not_evaluated.append(("psi_grades", "no development grade distribution"))
    hi = hi_test = None
    if k >= 2 and matured_counts.sum() > 0:
        hi = herfindahl(matured_counts)
        init = np.array([int(init_counts_map.get(label, 0)) for label in labels])
        if init.sum() > 0:
            hi_test = herfindahl_test(matured_counts, init)
        else:
            not_evaluated.append(("herfindahl_test", "no initial grade distribution"))
    else:
        not_evaluated.append(("herfindahl", "needs matured decisions in a scale of 2+ grades"))

    # Calibration on outcomes.
    brier = ece = None
    monotone = None
    reversals = None
    if n_eval > 0:
        from sklearn.metrics import brier_score_loss

        brier = float(brier_score_loss(e_y, e_pd, pos_label=1))
        ece = _ece(e_y, e_pd, policy.ece_bins)
        from riskops.credit.metrics import grades_monotone, significant_grade_reversals

        table = _nonempty_grade_table(labels, n_grade, d_grade)
        if len(table) >= 2:
            monotone = grades_monotone(table)
            reversals = int(significant_grade_reversals(table))
        else:
            not_evaluated.append(("grade_reversals", "fewer than 2 grades with outcomes"))

    return OutcomeResult(
        model_name=name,
        model_version=version,
        as_of=as_of.isoformat(),
        horizon_months=policy.default_horizon_months,
        counts=counts,
        grades=grade_tests,
        portfolio=portfolio,
        matured_grade_counts=tuple(int(x) for x in matured_counts),
        development_grade_counts=(
            tuple(int(x) for x in dev_counts) if dev_counts is not None else None
        ),
        auc=auc,
        auc_score=policy.auc_score,
        auc_vs_initial=auc_test,
        psi_grades=psi_value,
        herfindahl=hi,
        herfindahl_test=hi_test,
        brier=brier,
        ece=ece,
        grades_monotone=monotone,
        grade_reversals_significant=reversals,
        not_evaluated=tuple(not_evaluated),
    )


def _json_rows(tests: CalibrationTests) -> list[dict[str, Any]]:
    return [{key: jsonable(value) for key, value in row.items()} for row in tests.rows()]


def _blank_empty_pd(tests: CalibrationTests, n: np.ndarray) -> CalibrationTests:
    """An empty grade has no mean PD: ``nan``, not the placeholder the tests ran with."""
    from dataclasses import replace

    pd_values = tuple(
        float("nan") if count == 0 else p for p, count in zip(tests.pd, n, strict=True)
    )
    return replace(tests, pd=pd_values)


def _nonempty_grade_table(labels: list[str], n: np.ndarray, d: np.ndarray) -> pd.DataFrame:
    keep = n > 0
    table = pd.DataFrame(
        {
            "grade": np.asarray(labels, dtype=object)[keep],
            "n": n[keep].astype(int),
            "defaults": np.round(d[keep]).astype(int),
        }
    )
    table["default_rate"] = table["defaults"] / table["n"]
    return table


def _ece(y: np.ndarray, pd_: np.ndarray, n_bins: int) -> float:
    """Expected calibration error over ``n_bins`` equal-width PD bins, right-open, the top
    bin closed: the binning of :func:`riskops.credit.metrics.expected_calibration_error`,
    by counting rather than grouping (one pass over a million rows)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, pd_, side="right") - 1, 0, n_bins - 1)
    gap = np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(
        bins, weights=pd_, minlength=n_bins
    )
    return float(np.abs(gap).sum() / len(y))
