"""The drift gate's per-column metric: Evidently's ``ValueDrift`` without its plots.

Evidently 0.7's ``ValueDriftCalculation.calculate`` always draws two plotly figures per
column (the binned current values over the index and both distributions). For a gate that
drawing is most of the work: on 5,000 rows x 20 columns it took 56-74% of the run's CPU
time (``bench/bench_drift.py`` measures both side by side). ``GateValueDrift``
is a custom metric defined the way Evidently documents custom metrics ("Custom Metric",
docs.evidentlyai.com/metrics/customize_metric: a ``Metric`` subclass and a calculation
class generic in it, which Evidently binds to the metric). Its calculation *is* Evidently's
``ValueDriftCalculation.calculate``: the same ``get_one_column_drift`` (stattest chosen for
the column's type and size, threshold, score) and the same test (FAIL = drift detected).
Only the widget differs: Evidently's own counter for the column ("Drift in column 'x' ...
drift detected, method, score"), without the two figures.

Its snapshots load in plain Evidently without RiskOps (tested): the type alias is the
class path, which Evidently imports (given ``EVIDENTLY_TYPE_PREFIXES=riskops.``) only to
rebuild the metric object itself.

The monitor's checks go to the Evidently workspace with Evidently's own ``ValueDrift``
(full widgets; the dashboard panels select ``ValueDrift``); only the gate uses this one.
Import this module lazily: importing it imports Evidently.
"""

from __future__ import annotations

from typing import Any

from evidently.core.metric_types import SingleValueCalculation
from evidently.metrics import ValueDrift
from evidently.metrics.column_statistics import ValueDriftCalculation


class GateValueDrift(ValueDrift):
    """``ValueDrift`` whose report widget is the column's drift counter only."""

    class Config:
        type_alias = "riskops.drift_metric.GateValueDrift"


class GateValueDriftCalculation(SingleValueCalculation[GateValueDrift]):
    # Evidently's own calculation and test, reused as they are (not copied), so the
    # gate cannot drift away from ValueDrift's results; tests/test_drift.py checks it.
    calculate = ValueDriftCalculation.calculate
    display_name = ValueDriftCalculation.display_name

    def _render(self, result: Any, options: Any, color_options: Any) -> Any:
        # Without the data behind the two figures, Evidently's render draws the counter only.
        bare = result.copy(
            update={
                "scatter": None,
                "current": result.current.copy(update={"distribution": None}),
                "reference": result.reference.copy(update={"distribution": None}),
            }
        )
        return ValueDriftCalculation._render(self, bare, options, color_options)
