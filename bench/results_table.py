"""``bench/RESULTS.md``: the headline figures of ``bench/results/*.json``, one table.

Each figure is read from the results file its benchmark wrote (never typed by hand) and shown
with the date and the machine of that run, as far as the file records them. The README and
the user docs quote figures from this table only; ``tests/docs/test_figures.py`` checks that
every figure they state is one of these values, and that this file is what the generator
writes from the results now in the repository.

    .venv/bin/python bench/results_table.py           # rewrite bench/RESULTS.md
    .venv/bin/python bench/results_table.py --check   # exit 1 when RESULTS.md is stale

When a benchmark is re-run, its figures change here and in nowhere else: run this script,
then fix whatever the tests name (a README line quoting the old value). A results file
whose layout changed fails here, naming the file and the missing key.

Dates and machines: a results file records its own date (``date``, ``finished_utc``...) and
machine (``cpus``, load average...) when its script writes them; for files written before
the scripts recorded a date, the date is that of the commit that wrote the file, as long as
the file's content is that commit's (:data:`COMMITTED`). A re-run without a date shows "not
recorded", never an old date.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TABLE = ROOT / "bench" / "RESULTS.md"

# Results files written before their scripts recorded a date: the date of the commit that
# wrote each (git log -1 --format=%as -- FILE), valid only while the file's SHA-256 starts
# with the prefix recorded here (the content of that commit).
COMMITTED: dict[str, tuple[str, str]] = {
    "bench_anomaly.json": ("7d1b60027d65", "2026-11-21"),
    "bench_caller_auth.json": ("3781a3aab63b", "2026-12-07"),
    "bench_cli_start.json": ("5c40e4329bd7", "2026-11-21"),
    "bench_credit.json": ("a12076857773", "2026-11-21"),
    "bench_dask.json": ("83cfa739046c", "2026-11-21"),
    "bench_explainers.json": ("c003e455fbd4", "2026-11-27"),
    # Its last note was reworded after the run (no figure changed).
    "bench_gates.json": ("2adb6009ec34", "2026-12-07"),
    "bench_governance_docs.json": ("0f06d0796398", "2026-11-27"),
    "bench_large_batches.json": ("07bc2aca700e", "2026-11-27"),
    "bench_prefect_start.json": ("2eafa39c67dc", "2026-11-27"),
    "bench_rolling.json": ("08cdaf5bd238", "2026-11-21"),
    "bench_safe_formats.json": ("dbbd805152d1", "2026-11-27"),
    "bench_serving.json": ("daf90cf3533e", "2026-11-27"),
    "bench_treeshap.json": ("e9e733472034", "2026-11-27"),
    "bench_verified_load.json": ("857399b3b2ae", "2026-11-27"),
    "bench_volatility.json": ("4bbd155d1fd0", "2026-11-21"),
    "credit_evidence.json": ("ddc074103f55", "2026-11-27"),
}


class ResultsLayoutError(KeyError):
    """A results file lacks a key a figure reads (the benchmark changed its output)."""


def at(*keys: str | int) -> Callable[[Any], Any]:
    """A reader of ``data[k1][k2]...``; a missing key names the whole path."""

    def read(data: Any) -> Any:
        value = data
        for key in keys:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError) as missing:
                path = ".".join(str(k) for k in keys)
                raise ResultsLayoutError(f"no {path!r} (stopped at {key!r})") from missing
        return value

    return read


# ------------------------------------------------------------------------------ formats


def rate(value: float) -> str:
    return f"{value:,.0f} req/s"


def ms(digits: int = 1) -> Callable[[float], str]:
    return lambda value: f"{value:,.{digits}f} ms"


def us(value: float) -> str:
    return f"{value:.1f} µs"


def seconds(digits: int = 1) -> Callable[[float], str]:
    return lambda value: f"{value:,.{digits}f} s"


def times(digits: int = 1) -> Callable[[float], str]:
    return lambda value: f"{value:,.{digits}f}×"


def share(value: float) -> str:
    return f"{100 * value:.1f}%"


def decimal(digits: int = 3) -> Callable[[float], str]:
    return lambda value: f"{value:.{digits}f}"


def span(fmt: Callable[[float], str]) -> Callable[[tuple[float, float]], str]:
    """``low–high`` in ``fmt``'s unit, written once after the high end."""

    def render(bounds: tuple[float, float]) -> str:
        low, high = (fmt(b) for b in bounds)
        unit = re.sub(r"^[\d,.]+", "", high)
        return f"{low.removesuffix(unit)}–{high}"

    return render


def joined(fmt: Callable[[float], str], sep: str = " / ") -> Callable[[Iterable[float]], str]:
    return lambda values: sep.join(fmt(v) for v in values)


# ------------------------------------------------------------------------------ figures


@dataclass(frozen=True)
class Figure:
    """One headline figure: what it measures, where it is read, how it is written.

    ``context`` is a regular expression for the words that name the figure in prose: a
    README or docs line matching it may only quote this figure's value (or that of another
    figure with the same context), so that no page can state a different one.
    """

    key: str
    label: str
    file: str
    read: Callable[[Any], Any]
    fmt: Callable[[Any], str]
    context: str | None = None
    run: str | None = None
    """The part of a results file whose parts are run separately (``runs.<part>``: its own
    date and machine); ``None``, the file's."""

    def value(self, data: Any) -> str:
        try:
            return self.fmt(self.read(data))
        except ResultsLayoutError as error:
            raise ResultsLayoutError(f"{self.file}, figure {self.key}: {error.args[0]}") from None


def _drift_ratios(data: Any) -> tuple[float, float]:
    ratios = [at("full_over_gate")(s) for s in at("scenarios")(data)]
    return min(ratios), max(ratios)


def _drift_agreement(data: Any) -> str:
    scenarios = at("scenarios")(data)
    same = sum(bool(at("same_decision")(s) and at("same_drifted_columns")(s)) for s in scenarios)
    return f"{same} of {len(scenarios)} scenarios"


def _gate_rate(gate: str, n: int, scenario: str) -> Callable[[Any], float]:
    def read(data: Any) -> float:
        for row in at("rows")(data):
            if (row["gate"], row["n"], row["scenario"]) == (gate, n, scenario):
                return float(row["rate"])
        raise ResultsLayoutError(f"no row {gate!r}, n={n}, {scenario!r}")

    return read


def _window_rows(data: Any) -> str:
    old = at("comparison_window", "constant_column", "old")(data)
    new = at("comparison_window", "constant_column", "new")(data)
    return (
        f"{old['champion_training_rows_in_window']:,} of {old['window_rows']:,} → "
        f"{new['champion_training_rows_in_window']:,} of {new['window_rows']:,}"
    )


def _credit_auc(kind: str) -> Callable[[Any], float]:
    def read(data: Any) -> float:
        for row in at("training")(data):
            if row["model"] == kind:
                return float(row["auc"])
        raise ResultsLayoutError(f"no training row for {kind!r}")

    return read


def _credit_scoring(kind: str, key: str) -> Callable[[Any], float]:
    def read(data: Any) -> float:
        for row in at("scoring")(data):
            if row["model"] == kind:
                return float(row[key])
        raise ResultsLayoutError(f"no scoring row for {kind!r}")

    return read


SERVING = "bench_serving.json"
FIGURES: tuple[Figure, ...] = (
    # Serving
    Figure(
        "serving.rps",
        "Credit scoring over HTTP, one applicant per request, 16 connections, 2 workers",
        SERVING,
        at("results", "riskops_w2", "rps"),
        rate,
    ),
    Figure(
        "serving.p99",
        "Credit scoring, same load: p99 latency",
        SERVING,
        at("results", "riskops_w2", "p99_ms"),
        ms(1),
    ),
    Figure(
        "serving.vs_mlflow",
        "Credit scoring, same load: throughput over `mlflow models serve` as started (1 worker)",
        SERVING,
        at("summary", "ours_over_mlflow"),
        times(1),
        context=r"mlflow models serve",
    ),
    Figure(
        "serving.vs_mlflow_equal_workers",
        "Credit scoring, same load: throughput over `mlflow models serve` with 2 workers as well",
        SERVING,
        at("summary", "ours_over_mlflow_same_workers", "2"),
        times(1),
        context=r"mlflow models serve",
    ),
    Figure(
        "serving.vs_floor",
        "Credit scoring, same load: throughput as a share of a bare Starlette + model floor",
        SERVING,
        at("summary", "ours_over_floor"),
        times(2),
        context=r"Starlette|floor",
    ),
    Figure(
        "serving.bento_floor_vs_floor",
        "The floor's work behind a typed BentoML API, as a share of the same floor",
        SERVING,
        at("summary", "bento_floor_over_floor"),
        times(2),
        context=r"Starlette|floor",
    ),
    Figure(
        "batch.credit_1000",
        "1,000 applicants with 4 reason codes in one request over HTTP, median",
        "bench_large_batches.json",
        at("http", "credit_1000_ms_median"),
        ms(0),
    ),
    Figure(
        "batch.anomaly_10000",
        "10,000-day request to the anomaly ensemble champion over HTTP, median",
        "bench_large_batches.json",
        at("http", "anomaly_largest_request_alone", "seconds_median"),
        seconds(1),
    ),
    Figure(
        "batch.credit_p99_during_anomaly",
        "Single-applicant credit p99 while a 10,000-day anomaly request runs (4 connections)",
        "bench_large_batches.json",
        at("http", "credit_single_during_largest_anomaly", "p99_ms"),
        ms(1),
    ),
    # Explanations
    Figure(
        "treeshap.vs_shap_cpu",
        "Tree SHAP of a 200-tree forest: SHAP's CPU per row over RiskOps's compiled one",
        "bench_treeshap.json",
        at("forest_shap", "ratio_shap_over_ours_cpu"),
        times(1),
    ),
    Figure(
        "treeshap.credit_vs_pred_contrib",
        "Credit reason codes, 1,000 applicants: LightGBM's `pred_contrib` time over RiskOps's",
        "bench_treeshap.json",
        at("credit", "shap_1000_rows", "ratio"),
        times(1),
    ),
    Figure(
        "explainers.permutation",
        "A user pipeline explained model-agnostically (permutation): batch time per applicant "
        "over the built-in model's",
        "bench_explainers.json",
        at("paths", "permutation", "batch_ratio_to_native"),
        times(0),
    ),
    # Market models
    Figure(
        "rolling.seconds",
        "Rolling 99% GARCH-t VaR, 2,000 forecasts, refitted every day",
        "bench_rolling.json",
        at("fast_seconds"),
        seconds(1),
    ),
    Figure(
        "rolling.vs_arch_cold",
        "Rolling 99% GARCH-t VaR, 2,000 daily refits: time of a cold `arch` refit loop over "
        "RiskOps's",
        "bench_rolling.json",
        at("speedup"),
        times(1),
        context=r"\barch\b.*(refit|warm)|(refit|warm).*\barch\b",
    ),
    Figure(
        "rolling.vs_arch_warm",
        "Rolling 99% GARCH-t VaR, 2,000 daily refits: time of an `arch` refit loop warm-started "
        "from the previous day's estimates (`starting_values=`) over RiskOps's",
        "bench_rolling.json",
        at("speedup_vs_arch_warm"),
        times(1),
        context=r"\barch\b.*(refit|warm)|(refit|warm).*\barch\b",
    ),
    Figure(
        "live.vs_arch_refilter",
        "Online GARCH-t VaR update per observation: arch re-filtering with fixed parameters "
        "over RiskOps's online update",
        "bench_live.json",
        at("throughput", "ratio_online_to_fixed_refilter"),
        times(0),
        run="throughput",
    ),
    Figure(
        "live.ledger",
        "Live path, 500 series: observations per second through the ledger (checks, online "
        "update, score, one synchronous SQLite transaction per batch)",
        "bench_live.json",
        at("ledger_append", "obs_per_second"),
        lambda value: f"{value:,.0f} obs/s",
        run="stream",
    ),
    Figure(
        "live.latency_200",
        "Live path on Redis Streams, 500 series at 200 messages/s (commit, publish, "
        "acknowledge after a durable point): p50 / p99 from a message on the "
        "broker to its published forecast",
        "bench_live.json",
        lambda d: [at("broker_latency", "at_lower_rate", k)(d) for k in ("p50_ms", "p99_ms")],
        joined(ms(0)),
        run="stream",
    ),
    Figure(
        "live.latency_1000",
        "Live path on Redis Streams, 500 series at 1,000 messages/s (commit, publish, "
        "acknowledge after a durable point): p50 / p99 from a message on the "
        "broker to its published forecast",
        "bench_live.json",
        lambda d: [at("broker_latency", k)(d) for k in ("p50_ms", "p99_ms")],
        joined(ms(0)),
        run="stream",
    ),
    Figure(
        "live.latency_1000_strict",
        "The same at 1,000 messages/s with one synced commit per batch, acknowledged before "
        "publishing (strict mode, same run): p50 / p99",
        "bench_live.json",
        lambda d: [at("broker_latency_strict", k)(d) for k in ("p50_ms", "p99_ms")],
        joined(ms(0)),
        run="stream",
    ),
    Figure(
        "live.cusum",
        "CUSUM alarm on live 99% VaR exceptions: mean days to a false alarm (calibrated "
        "GARCH-t model) / to an alarm when the model covers 98% (simulated)",
        "bench_live.json",
        lambda d: [
            at("alarms", "scenarios", s, "cusum", "mean")(d)
            for s in ("garch_t_calibrated", "covers_98_zero_state")
        ],
        joined(lambda value: f"{value:,.0f} days"),
        run="alarms",
    ),
    Figure(
        "volatility.qlike",
        "Volatility QLIKE, last 500 days of the S&P 500: GARCH(1,1)-normal / GJR-t / "
        "HAR-LightGBM (lower is better)",
        "bench_volatility.json",
        lambda d: [
            at("models", m, "qlike")(d) for m in ("garch11_normal", "gjr_t", "har_lightgbm")
        ],
        joined(decimal(3)),
    ),
    Figure(
        "anomaly.recall",
        "Anomaly ensemble: share of 21 curated stress days in its top 1% (seed 42)",
        "bench_anomaly.json",
        at("us_indices", "models", "ensemble", "event_recall"),
        share,
    ),
    Figure(
        "dask.speedup",
        "56-series universe (GARCH + FHS VaR + backtest): sequential time over a 2-worker "
        "Dask cluster",
        "bench_dask.json",
        at("workloads", "heavy", "ratios", "sequential_fit / dask_warm_fit"),
        times(2),
    ),
    # Credit
    Figure(
        "credit.auc",
        "Credit PD, LightGBM, held-out AUC on the bundled applicants",
        "bench_credit.json",
        _credit_auc("lightgbm"),
        decimal(3),
    ),
    Figure(
        "credit.one_applicant",
        "One applicant scored in process (PD, grade, 4 reason codes), median",
        "bench_credit.json",
        _credit_scoring("lightgbm", "records_median_ms"),
        ms(2),
    ),
    Figure(
        "credit.window",
        "Champion training rows in the comparison window: row-content split → applicant split",
        "credit_evidence.json",
        _window_rows,
        str,
    ),
    # Gates
    Figure(
        "gates.var_size",
        "VaR gate set, 1,000 days: a correct model refused (size)",
        "bench_gates.json",
        _gate_rate("market_var backtests (all)", 1000, "correct"),
        share,
    ),
    Figure(
        "gates.var_power",
        "VaR gate set, 1,000 days: a 99% VaR covering 98% refused (power)",
        "bench_gates.json",
        _gate_rate("market_var backtests (all)", 1000, "vol understated 17% (99% covers 98%)"),
        share,
    ),
    Figure(
        "drift.vs_preset",
        "Drift gate against Evidently's full `DataDriftPreset`, 100,000 rows × 20 columns: "
        "wall time of the preset over the gate's",
        "bench_drift.json",
        _drift_ratios,
        span(times(1)),
    ),
    Figure(
        "drift.agreement",
        "Drift gate and `DataDriftPreset`, same runs: same decision and same drifted columns",
        "bench_drift.json",
        _drift_agreement,
        str,
    ),
    Figure(
        "decisions.p99_cost",
        "Every credit decision recorded durably before its answer, one applicant per request, "
        "16 connections: p99 latency added over the inference log's (no record kept)",
        "bench_decisions.json",
        at("one_applicant", "p99_cost_ms"),
        ms(1),
    ),
    Figure(
        "decisions.throughput_share",
        "Same load: requests per second with the durable decision store, as a share of "
        "the inference log's",
        "bench_decisions.json",
        at("one_applicant", "ratio_durable_over_inference_log", "rps"),
        share,
    ),
    Figure(
        "decisions.per_second",
        "Credit decisions recorded durably, 100 applicants per request, 4 connections",
        "bench_decisions.json",
        at("hundred_applicants", "durable", "decisions_per_second"),
        lambda value: f"{value:,.0f} decisions/s",
    ),
    Figure(
        "outcomes.million",
        "1,000,000 matured credit decisions evaluated against their grades, median",
        "bench_outcomes.json",
        at("speed", "evaluate_outcomes_median_s"),
        seconds(1),
    ),
    # Governance and identities
    Figure(
        "load.verified",
        "Verified model load (identity + hashes) over a plain MLflow load, credit champion",
        "bench_verified_load.json",
        at("verified_over_plain"),
        times(2),
    ),
    Figure(
        "audit.record",
        "One keyed audit record (SQLite table + MAC'd anchor file), median per record",
        "bench_audit_append.json",
        at("per_record", "keyed", "median_ms"),
        ms(1),
    ),
    Figure(
        "audit.anchor_postgres",
        "An audit record with its append-only PostgreSQL anchor (durable commit) over one "
        "without, median",
        "bench_audit_append.json",
        at("ratios_median", "postgres_anchor_over_keyed"),
        times(2),
    ),
    Figure(
        "auth.cached",
        "A service token checked per request (after its first argon2 verification)",
        "bench_caller_auth.json",
        at("cached_check_us"),
        us,
    ),
    Figure(
        "auth.argon2",
        "argon2id verification of a token, once per token and process",
        "bench_caller_auth.json",
        at("argon2_verify_ms"),
        ms(1),
    ),
    Figure(
        "documents.registration",
        "Model card and validation report written at a process's first registration",
        "bench_governance_docs.json",
        at("rows", 0, "documents_at_registration_s"),
        seconds(2),
    ),
    # Start-up
    Figure(
        "start.cli",
        "`riskops --help` start-up",
        "bench_cli_start.json",
        at("riskops_help_s"),
        seconds(1),
    ),
    Figure(
        "start.prefect_cold",
        "A trivial Prefect flow with its temporary server on a new Prefect home",
        "bench_prefect_start.json",
        at("first_flow_cold_home_s"),
        seconds(1),
    ),
)


# ---------------------------------------------------------------------- date and machine


def _first(data: Any, paths: Iterable[tuple[str, ...]]) -> Any:
    for path in paths:
        try:
            return at(*path)(data)
        except ResultsLayoutError:
            continue
    return None


_DATE_KEYS = (("date",), ("finished_utc",), ("finished", "utc"), ("started", "utc"))
_CPU_KEYS = (("machine", "cpus"), ("machine", "cores"), ("cpus",), ("cpu_count",))
_LOAD_KEYS = (
    ("load_average_1m",),
    ("load_average",),
    ("load_average_start",),
    ("load_average_before",),
    ("loadavg_before",),
    ("machine", "load_avg_before"),
    ("machine", "load_before"),
    ("machine", "load_average_before"),
    ("machine", "load_average_at_end"),
    ("machine", "load_avg_1m_at_end"),
    ("speed", "load_average_before"),
)


def run_date(name: str, data: Any, raw: bytes) -> str:
    """The run's date as the file records it, else the commit's that wrote this content."""
    recorded = _first(data, _DATE_KEYS)
    if isinstance(recorded, str) and re.match(r"\d{4}-\d{2}-\d{2}", recorded):
        return recorded[:10]
    committed = COMMITTED.get(name)
    if committed and hashlib.sha256(raw).hexdigest().startswith(committed[0]):
        return f"{committed[1]} (committed)"
    return "not recorded"


def run_machine(data: Any) -> str:
    """CPUs and the 1-minute load average at the run, as far as the file records them."""
    cpus = _first(data, _CPU_KEYS)
    load = _first(data, _LOAD_KEYS)
    if load is None:
        uptime = _first(data, (("started", "uptime"),))
        found = re.search(r"load average: ([\d.]+)", uptime or "")
        load = float(found.group(1)) if found else None
    if isinstance(load, list | tuple):
        load = load[0] if load else None
    parts = [f"{cpus} cpus" if cpus else "cpus not recorded"]
    parts.append(f"load {float(load):.1f}" if load is not None else "load not recorded")
    return ", ".join(parts)


# ------------------------------------------------------------------------------- table


def rendered(results: Path = RESULTS) -> list[tuple[Figure, str, str, str]]:
    """Every figure with its value, date and machine, read from ``results``."""
    loaded: dict[str, tuple[Any, bytes]] = {}
    out = []
    for figure in FIGURES:
        if figure.file not in loaded:
            raw = (results / figure.file).read_bytes()
            loaded[figure.file] = (json.loads(raw), raw)
        data, raw = loaded[figure.file]
        measured = data if figure.run is None else at("runs", figure.run)(data)
        out.append(
            (
                figure,
                figure.value(data),
                run_date(figure.file, measured, raw),
                run_machine(measured),
            )
        )
    return out


def values(results: Path = RESULTS) -> dict[str, str]:
    """``{figure key: value as written}``."""
    return {figure.key: value for figure, value, _, _ in rendered(results)}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(results: Path = RESULTS) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bench/results_table.py` from `bench/results/*.json`; do not edit by "
        "hand. Each figure comes from the results file its benchmark script wrote "
        "(`bench/bench_*.py`, named like the file). *Date*: the run's, as the file "
        "records it, else that of the commit that wrote the file (*committed*). *Machine*: "
        "the CPUs and the 1-minute load average the file records; these machines share "
        "their cores with other jobs, so absolute times are upper bounds and the ratios, "
        "measured side by side in one run, are the result.",
        "",
        "| figure | value | results file | date | machine |",
        "|---|---|---|---|---|",
    ]
    for figure, value, date, machine in rendered(results):
        lines.append(
            f"| {_cell(figure.label)} | **{_cell(value)}** | `{figure.file}` | {date} | {machine} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if RESULTS.md is stale")
    args = parser.parse_args(argv)
    text = markdown()
    if args.check:
        if not TABLE.exists() or TABLE.read_text() != text:
            print(f"{TABLE.relative_to(ROOT)} is stale: run python bench/results_table.py")
            return 1
        return 0
    TABLE.write_text(text)
    print(f"wrote {TABLE.relative_to(ROOT)} ({len(FIGURES)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
