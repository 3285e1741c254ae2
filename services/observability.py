"""Per-model Prometheus metrics, next to BentoML's own ``bentoml_*`` request metrics.

Metrics are created on first use, inside the worker: BentoML sets
``PROMETHEUS_MULTIPROC_DIR`` when a worker starts, after the service module is imported,
and ``prometheus_client`` must see it before any metric exists for the values of every
worker to reach ``/metrics``.

=====================================  =========  ==========================================
Name                                   Type       Labels
=====================================  =========  ==========================================
``riskops_requests_total``             counter    model, version, status (HTTP code)
``riskops_rows_total``                 counter    model, version (applicants, days scored)
``riskops_inference_seconds``          histogram  model (handler time, validation included)
``riskops_batch_rows``                 histogram  model
(each route's outputs)                 either     version (e.g. ``riskops_credit_pd``,
                                                  ``riskops_anomaly_alerts_total``)
``riskops_champion_version``           gauge      model (most recent value of any worker)
``riskops_champion_swaps_total``       counter    model
``riskops_inference_log_dropped``      gauge      model (records dropped by a full queue)
=====================================  =========  ==========================================
"""

from __future__ import annotations

import collections
import functools
import threading
from dataclasses import dataclass
from typing import Any

from riskops.serving.route import OutputMetric

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
_ROW_BUCKETS = (1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000)


@dataclass(frozen=True)
class Metrics:
    requests: Any
    rows: Any
    latency: Any
    batch_rows: Any
    outputs: dict[str, Any]
    """A route's output metrics by name (:class:`~riskops.serving.route.OutputMetric`)."""
    champion_version: Any
    swaps: Any
    log_dropped: Any


@functools.cache
def metrics(outputs: tuple[OutputMetric, ...] = ()) -> Metrics:
    """The process's metric objects (created once, after BentoML configured the registry);
    ``outputs``: every route's output metrics."""
    from prometheus_client import Counter, Gauge, Histogram

    def output(metric: OutputMetric) -> Any:
        if metric.kind == "counter":
            return Counter(metric.name, metric.help, ["version"])
        return Histogram(metric.name, metric.help, ["version"], buckets=metric.buckets)

    return Metrics(
        requests=Counter(
            "riskops_requests_total",
            "Requests per model, champion version and HTTP status.",
            ["model", "version", "status"],
        ),
        rows=Counter(
            "riskops_rows_total", "Rows scored (applicants, days, forecasts).", ["model", "version"]
        ),
        latency=Histogram(
            "riskops_inference_seconds",
            "Handler time per request, validation included.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
        ),
        batch_rows=Histogram(
            "riskops_batch_rows", "Rows per request.", ["model"], buckets=_ROW_BUCKETS
        ),
        outputs={m.name: output(m) for m in outputs},
        champion_version=Gauge(
            "riskops_champion_version",
            "Champion version being served.",
            ["model"],
            multiprocess_mode="livemostrecent",
        ),
        swaps=Counter("riskops_champion_swaps_total", "Champion hot swaps.", ["model"]),
        log_dropped=Gauge(
            "riskops_inference_log_dropped",
            "Inference-log records dropped (queue full).",
            ["model"],
            multiprocess_mode="livesum",
        ),
    )


@dataclass(frozen=True)
class ServedMetrics:
    """One model version's metric children, bound once: ``labels()`` takes a lock and builds a
    key on every call, which the request path should not pay five times per request."""

    ok: Any
    rows: Any
    latency: Any
    batch_rows: Any
    outputs: tuple[tuple[OutputMetric, Any], ...]
    """The route's output metrics with their children for this version."""

    @classmethod
    def bind(
        cls, m: Metrics, outputs: tuple[OutputMetric, ...], model: str, version: str
    ) -> ServedMetrics:
        return cls(
            ok=m.requests.labels(model, version, "200"),
            rows=m.rows.labels(model, version),
            latency=m.latency.labels(model),
            batch_rows=m.batch_rows.labels(model),
            outputs=tuple((o, m.outputs[o.name].labels(version)) for o in outputs),
        )

    def observe(self, log: list[dict[str, Any]]) -> None:
        """Feed one request's log records to the route's output metrics."""
        for metric, child in self.outputs:
            if metric.kind == "counter":
                total = sum(row[metric.record_field] for row in log)
                if total:
                    child.inc(total)
            else:
                for row in log:
                    child.observe(row[metric.record_field])


class LogPump:
    """Hands inference-log records to the library's writers from one background thread.

    The request path only appends to a deque, which never blocks and never wakes a thread.
    Calling :meth:`~riskops.inference_log.InferenceLogWriter.log` per request would wake the
    writer's thread each time (``queue.Queue.put`` notifies it), and each wake-up costs the
    event loop a GIL hand-off of up to ``sys.getswitchinterval()`` (5 ms): measured at 4.7 ms
    per request, which capped a worker near 200 requests/s. Here the writers are woken once
    per ``period`` instead, from this thread.
    """

    def __init__(self, writers: dict[str, Any], period: float = 0.25) -> None:
        self.writers = writers
        self.period = period
        self._pending: collections.deque[tuple[str, list[dict[str, Any]]]] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inference-log-pump", daemon=True)

    def start(self) -> LogPump:
        self._thread.start()
        return self

    def put(self, key: str, records: list[dict[str, Any]]) -> None:
        """Queue one request's records for the writer ``key`` (never blocks)."""
        self._pending.append((key, records))

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._drain()

    def _drain(self) -> None:
        while True:
            try:
                key, records = self._pending.popleft()
            except IndexError:
                return
            self.writers[key].log_many(records)

    def close(self) -> None:
        """Stop, hand over what is pending and flush every writer to disk."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._drain()
        for writer in self.writers.values():
            writer.close()
