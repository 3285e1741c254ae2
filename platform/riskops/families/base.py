"""The contract every model family implements, so that one lifecycle trains them all.

A family (credit, var, volatility, anomaly, or a plug-in of your own) owns everything about
itself and enters the platform through the hooks of :class:`Family`:

* **the one path for every model** -- :meth:`Family.builtin` (the unfitted built-in kind
  that ``riskops train FAMILY --model K`` registers), :attr:`Family.contract` and
  :meth:`Family.check` (what a data scientist's own estimator must offer), :meth:`Family.adapt`
  (the platform's wrapper that adds grades, explanations, request schemas...). :meth:`fit` is
  a template: it checks, chooses the kind, adapts and clones, then calls the family's
  :meth:`_fit` with the unfitted specification;
* **evaluation** -- :meth:`evaluate`, :meth:`features`, :meth:`score`, :meth:`recent_window`,
  :meth:`independent_window` (the evidence the gates compare);
* **gates** -- :meth:`extra_gates` adds the family's own gates to the generic ones, and
  :meth:`rules` parses the family's own policy section;
* **documents, serving, live monitoring** -- :meth:`documents`, :meth:`service_route`,
  :meth:`online`, :meth:`monitors`, :meth:`served_inputs` (what the service scored, for
  drift), :meth:`with_outcomes` (matured live outcomes as training rows);
* **facts** -- :attr:`key_metrics`, :attr:`trusted_types` (skops's allow-list),
  :attr:`fit_cost` (the flows start the longest fits first).

Families are found through the ``riskops.families`` entry-point group
(:mod:`riskops.families`), the four built-ins included; a fifth family is an installed
package with one entry point, and no file of RiskOps changes.

Estimators follow the scikit-learn contract: ``__init__`` stores hyperparameters,
``fit`` returns ``self``, learned state ends in ``_``, ``check_is_fitted`` guards
prediction, and ``sklearn.base.clone`` gives back the unfitted specification.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pandas as pd

from riskops.errors import BadInputError
from riskops.families.contracts import Contract, kind_of, unfitted

if TYPE_CHECKING:
    from riskops.documents.family import FamilyDocuments


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
        The fitted estimator to register (scikit-learn contract).
    model_kind
        Short name of the estimator kind, e.g. ``"lightgbm"`` or ``"garch"``.
    params
        Hyperparameters, logged as MLflow params.
    metrics
        Flat numeric metrics on held-out data, logged as MLflow metrics. Names are
        the family's (``auc``, ``qlike``, ``kupiec_pvalue``...); gates read them.
    evidence
        JSON-serialisable facts the gates need beyond flat metrics (backtest tables
        as records, event lists, grade tables...). Logged with the gate evidence.
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


class LiveMonitor(Protocol):
    """A monitor of a served champion's live evidence (:meth:`Family.monitors`).

    ``run(life, name)`` evaluates it as of now, records an audit record of its own (with the
    seals of the evidence it read) and returns a report whose ``fired`` says whether an
    alarm fired; ``event_payload(family)`` is what the ``riskops.performance.degraded``
    event then carries (``families``/``models`` to retrain, ``include_outcomes``).
    """

    name: str

    def run(self, life: Any, name: str) -> Any: ...

    def status(
        self, store: Any, name: str, version: int, records: Sequence[Any]
    ) -> dict[str, Any] | None:
        """What the model inventory shows of this monitor for a champion version: a short
        ``status`` line and the facts behind it, from the audit ``records`` of the model and
        the live evidence ``store``; ``None`` when it has nothing on the version yet."""
        ...


class LiveBenchmark(Protocol):
    """A benchmark followed live beside a family's champion (:class:`LiveTraits`): the
    live record compares the champion's forecasts with the benchmark's on the same days."""

    def start(self, history: Any) -> Any:
        """The benchmark fitted on ``history`` and its online state after it."""
        ...

    def save(self, state: Any) -> dict[str, Any]:
        """What a state checkpoint keeps of the benchmark's state (plain JSON data)."""
        ...

    def restore(self, saved: Mapping[str, Any]) -> Any:
        """The benchmark's online state from what :meth:`save` kept."""
        ...


@dataclass(frozen=True)
class LiveTraits:
    """How the live path (:mod:`riskops.live`) follows a family's champions.

    Attributes
    ----------
    multi_asset
        One state reads a bar of several series at once (the anomaly detectors); otherwise
        each series the champion follows has a state of its own.
    benchmark
        A benchmark followed beside the champion (volatility: GARCH(1,1)-normal, so that the
        live Diebold-Mariano test compares like with like), or ``None``.
    exception_watch
        The champion's VaR exceptions are watched sequentially against its promotion
        backtest (:class:`riskops.live.watch.Watch`).
    reference_evidence
        The verified evidence file the live record is read against (VaR: the promotion
        backtest's ``forecasts.parquet``), or ``None``.
    reference_metric
        The training run's metric the live record is read against (anomaly: the
        ``target_alert_rate``), or ``None``.
    shadow_backtest
        The family's comparative backtest of a shadow window read from the live forecast
        ledger (rows of matured days with both versions' forecasts in, facts out; pure:
        :mod:`riskops.market.shadow_backtest`), or ``None`` when the family judges no live
        shadow window. With it, a challenger's shadow window is read from the ledger
        (:func:`riskops.live.shadow.live_shadow_pairs`) instead of :meth:`Family.shadow_pairs`,
        and the window's live inputs are its matured returns, made into drift features by
        :meth:`Family.features` of a market dataset (:func:`riskops.live.shadow.window_inputs`).
    """

    multi_asset: bool = False
    benchmark: LiveBenchmark | None = None
    exception_watch: bool = False
    reference_evidence: str | None = None
    reference_metric: str | None = None
    shadow_backtest: Callable[[pd.DataFrame], dict[str, Any]] | None = None


Gate = Callable[[Mapping[str, Any]], Any]
"""A family gate: gate evidence in, a :class:`~riskops.gates.GateResult` (or a list) out."""


@dataclass(frozen=True)
class GateWindow:
    """The recent window the drift gates compare the training data with.

    ``features`` is ``None`` when there is no window independent of the training data; then
    ``description["reason"]`` says why and the drift gate reports "not evaluated".
    """

    features: pd.DataFrame | None
    description: dict[str, Any]


@dataclass(frozen=True)
class EvidenceContext:
    """What a family's evidence hooks see of one training: the model's name, the training
    and recent datasets, the fitted outcome, the policy, the served champion's recent
    inputs (its inference log, the last ``n`` rows, read by the lifecycle), and a champion
    version's live record since its promotion (:func:`riskops.live.record.champion_record`;
    ``None`` when it has none)."""

    name: str
    dataset: Any
    recent: Any | None
    outcome: TrainingOutcome
    policy: Any
    served_inputs: Callable[[int], pd.DataFrame]
    live_record: Callable[[int], Any] = field(default=lambda version: None)


class Family(ABC):
    """One model family. Subclasses are stateless; instances are cheap."""

    name: ClassVar[str]
    """The family's name on the command line: ``credit``, ``var``..."""
    registered_name: ClassVar[str]
    """Default registered model name, e.g. ``credit_pd``."""
    domain: ClassVar[str]
    """Data domain: ``credit`` or ``market`` (how :mod:`riskops.data` loads a source)."""
    models: ClassVar[tuple[str, ...]]
    """Built-in kinds, the choices of ``--model``; the first is the default."""
    contract: ClassVar[Contract]
    """What a user's own estimator must offer (checked before anything is written)."""
    pyfunc_predict_fn: ClassVar[str] = "predict"
    """Method that MLflow's generic pyfunc (``mlflow models serve``) calls."""
    primary_metric: ClassVar[str]
    """Metric that summarises the model in ``riskops models`` (``auc``, ``qlike``...)."""
    key_metrics: ClassVar[tuple[str, ...]] = ()
    """The few metrics that summarise a version in listings and on the console."""
    default_dataset: ClassVar[str | None] = None
    """Bundled dataset used when the user gives none (market: ``sp500`` unless set)."""
    trusted_types: ClassVar[tuple[str, ...]] = ()
    """Types the family's built-in estimators are made of, beyond what skops trusts by
    default: they are stored with skops (no code runs on load)."""
    fit_cost: ClassVar[int] = 1
    """Relative cost of a default training on the bundled data (credit 4, anomaly 3, var 2,
    volatility 1); flows start the most expensive first, so the short ones fill in behind."""

    # ------------------------------------------------------------ one path for every model
    @abstractmethod
    def builtin(self, kind: str, options: TrainOptions) -> Any:
        """The unfitted built-in estimator ``kind`` (one of :attr:`models`) for ``options``."""

    def check(self, estimator: Any) -> None:
        """Raise :class:`~riskops.families.contracts.ContractError` naming what
        ``estimator`` lacks for this family. Nothing is fitted or written before it passes."""
        self.contract.check(self.name, estimator)

    def adapt(self, spec: Any, options: TrainOptions) -> Any:
        """The unfitted specification in the form the family's lifecycle and service use:
        a user's estimator wrapped in the platform's adapter, options (level, alert rate)
        applied. Default: unchanged."""
        return spec

    def specification(self, options: TrainOptions, estimator: Any = None) -> tuple[Any, str]:
        """``(unfitted adapted specification, kind)`` of what :meth:`fit` will fit.

        ``estimator`` is a user's unfitted model (checked against :attr:`contract`);
        ``None`` means the built-in kind ``options.model`` (default: the first of
        :attr:`models`). The caller's object is cloned, never fitted.
        """
        if estimator is None:
            kind = options.model or self.models[0]
            if kind not in self.models:
                raise BadInputError(f"--model: {kind!r} is not one of {list(self.models)}")
            spec = self.builtin(kind, options)
        else:
            self.check(estimator)
            kind = options.model or kind_of(estimator)
            spec = unfitted(estimator)
        return self.adapt(spec, options), kind

    def fit(
        self, dataset: Any, options: TrainOptions, workdir: Path, estimator: Any = None
    ) -> TrainingOutcome:
        """Check, choose the kind, adapt and clone (:meth:`specification`), then split, fit,
        evaluate on held-out data, explain and write artifacts to ``workdir`` (:meth:`_fit`)."""
        spec, kind = self.specification(options, estimator)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        return self._fit(dataset, options, workdir, spec, kind)

    @abstractmethod
    def _fit(
        self, dataset: Any, options: TrainOptions, workdir: Path, spec: Any, kind: str
    ) -> TrainingOutcome:
        """Fit the unfitted, adapted ``spec`` of kind ``kind`` on the family's own split."""

    # -------------------------------------------------------------------- evaluation
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

    def default_source(self, source: Any = None) -> Any:
        """``source`` with the family's bundled dataset filled in when it names no data."""
        from dataclasses import replace

        from riskops.data import DataSource

        source = source or DataSource(domain=self.domain)
        if source.path is None and source.bundled is None and self.default_dataset:
            source = replace(source, bundled=self.default_dataset)
        return source

    # ------------------------------------------------------------------------ evidence
    def prepare_source(self, source: Any, policy: Any) -> Any:
        """The training source as the policy wants it read (credit: protected columns kept
        out of the features). Default: unchanged."""
        return source

    def follow_champion(
        self, dataset: Any, version: int, read_evidence: Callable[[str], Any]
    ) -> Any:
        """The dataset prepared against champion ``version``'s own evidence
        (``read_evidence(file)`` gives a verified JSON artifact of its run, or None). Credit
        keeps the rows the champion trained on on the training side. Default: unchanged."""
        return dataset

    def gate_window(self, context: EvidenceContext) -> GateWindow:
        """The recent window for the drift gates. Default (market): the recent dataset's
        (else the training data's) most recent slice, as model features."""
        recent = context.recent if context.recent is not None else context.dataset
        frame = self.features(self.recent_window(recent))
        kind = "recent_file" if context.recent is not None else "latest_period"
        return GateWindow(frame, {"kind": kind, "source": recent.name, "rows": len(frame)})

    def extra_evidence(self, context: EvidenceContext) -> dict[str, Any]:
        """Facts beyond the fit for the family's own gates (credit: fairness). Default: none."""
        return {}

    def compare(self, champion: Any, version: int, context: EvidenceContext) -> dict[str, Any]:
        """The champion's metrics on the challenger's evaluation window (same names as the
        challenger's). Default: :meth:`evaluate` on the very same window."""
        return {"metrics": self.evaluate(champion, context.outcome.evaluation)}

    def prediction_rows(
        self,
        window: GateWindow,
        comparison: dict[str, Any],
        champion: Any,
        context: EvidenceContext,
    ) -> pd.DataFrame | None:
        """Rows on which challenger and champion outputs are compared. Default: the window."""
        return window.features

    def check_outputs(self, estimator: Any, example: Any) -> list[str]:
        """What is wrong with the model's outputs on its input example (the promotion smoke
        test; an output outside the family's contract refuses even a forced promotion).
        Default: ``pyfunc_predict_fn`` gives finite numbers."""
        import numpy as np

        values = np.asarray(getattr(estimator, self.pyfunc_predict_fn)(example), dtype=float)
        if values.size == 0 or not np.all(np.isfinite(values)):
            return [f"{self.pyfunc_predict_fn} gave non-finite or no values on its example"]
        return []

    def summarize(self, outcome: TrainingOutcome, policy: Any) -> dict[str, Any]:
        """What the family adds to a training's result (``riskops train --json``), beside
        the generic fields. Default: nothing."""
        return {}

    # ------------------------------------------------------------------------- gates
    def rules(self, policy: Any) -> Any:
        """The family's own policy rules (its section of the policy), parsed; default none."""
        return None

    def extra_gates(self, policy: Any) -> list[tuple[str, Gate]]:
        """The family's own gates under ``policy``, as ``(name, gate)`` pairs that run after
        the generic floors, backtests and drift gates. Default: none."""
        return []

    # ------------------------------------------------------------- documents, serving, live
    def documents(self) -> FamilyDocuments:
        """The family's part of model cards and validation reports
        (:class:`riskops.documents.FamilyDocuments`). Default: the text from the family
        class's own docstring, the evidence's record lists as tables, no caveats and no
        figures of its own."""
        from riskops.documents.family import FamilyDocuments

        return FamilyDocuments.generic(self.name, type(self).__doc__)

    def service_route(self) -> Any:
        """The HTTP route that serves this family's champions
        (:class:`riskops.serving.Route`), or ``None`` for a family that is not served."""
        return None

    def online(self, estimator: Any, history: Any = None, checkpoint: Any = None) -> Any:
        """Live state of a fitted champion, advanced one observation at a time without a
        refit (:class:`riskops.market.online.OnlineState`), or ``None`` when the family has
        no live path. ``history`` is what the state starts from (the family says what:
        percent returns, a dataset); ``None``, the champion's own training data.
        ``checkpoint``, when given, is a saved state (``OnlineState.to_dict()``) to resume
        instead: the state the family builds, restored for ``estimator``."""
        return None

    def live_traits(self) -> LiveTraits:
        """How the live path follows this family's champions (:class:`LiveTraits`); the
        default follows each series alone, with no benchmark, watch or reference."""
        return LiveTraits()

    def monitors(self) -> tuple[LiveMonitor, ...]:
        """Monitors run on a served champion's live evidence (backtests, matured outcomes)."""
        return ()

    def shadow_pairs(self, life: Any, name: str, champion: int, challenger: int) -> ShadowPairs:
        """The live requests both the champion and the challenger in shadow answered, paired
        (:mod:`riskops.lifecycle.shadow` judges them at the challenger's promotion). Default:
        none, with the reason."""
        return ShadowPairs(None, f"the {self.name} family records no shadow answers")

    def served_inputs(self, settings: Any, name: str, last: int) -> pd.DataFrame:
        """The last ``last`` input rows the service scored for ``name``, one column per
        feature (the recent window of drift checks). Default: the inference log."""
        from riskops.inference_log import read_inference_log

        return read_inference_log(settings, name, last_n=last)

    def with_outcomes(
        self, dataset: Any, name: str, settings: Any, policy: Any
    ) -> tuple[Any, dict[str, Any]]:
        """``dataset`` with ``name``'s matured live outcomes added as training rows, and the
        lineage of what was added (``riskops retrain --include-outcomes``). Default: the
        family records no outcomes."""
        raise BadInputError(
            f"--include-outcomes: the {self.name} family records no matured outcomes to add"
        )


@dataclass(frozen=True)
class ShadowPairs:
    """A shadow window: one row per live input both versions scored, with ``pd_champion``,
    ``pd_challenger``, ``grade_champion``, ``grade_challenger``, ``decided_at`` (and
    ``request_id``); ``None`` with ``reason`` when there is none. ``delong``: the facts of
    the paired discrimination test on the matured outcomes of the window, when the family
    has one, judged by the family's own gate (credit:
    :func:`riskops.credit.shadow.paired_outcome_test`, with ``seals``: the heads of the
    streams read). ``seal``: the head of the evidence stream read.
    ``inputs``: the live input rows of the window (one column per feature), when kept, for
    their data drift against the challenger's training data.

    A market window (:mod:`riskops.live.shadow`) pairs matured days instead: ``comparison``
    holds the family's comparative backtest of them (:attr:`LiveTraits.shadow_backtest`),
    ``seals`` every stream head read, ``window`` the window's facts (rows, days, series,
    first, last), ``output`` the forecast whose drift between the two versions is
    measured (``{output}_champion`` and ``{output}_challenger``; credit: ``pd``) and
    ``inputs`` the window's returns as the family's drift features."""

    pairs: pd.DataFrame | None
    reason: str = ""
    delong: dict[str, Any] | None = None
    seal: dict[str, Any] | None = None
    inputs: pd.DataFrame | None = None
    comparison: dict[str, Any] | None = None
    seals: tuple[dict[str, Any], ...] = ()
    window: dict[str, Any] | None = None
    output: str | None = "pd"


def scalar_params(estimator: Any, deep: bool = False) -> dict[str, Any]:
    """An estimator's hyperparameters that MLflow can log as params: ``None``, text and
    numbers (nested estimators, arrays and mappings are left out)."""
    return {
        key: value
        for key, value in estimator.get_params(deep=deep).items()
        if value is None or isinstance(value, str | int | float | bool)
    }
