"""Monitoring: champions' training reference against recent data and inference logs."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from riskops import registry as reg
from riskops.audit import AuditTrail
from riskops.data import DataSource, load
from riskops.families import family_of_registered, get_family
from riskops.inference_log import read_inference_log
from riskops.policy import load_policies
from riskops.settings import Settings


@dataclass(frozen=True)
class DriftCheck:
    model: str
    version: int | None
    source: str
    share_of_drifted_columns: float | None
    drifted_columns: list[str]
    threshold: float | None
    retrain: bool
    report_uri: str | None
    note: str = ""
    evidently_run: str | None = None
    """The check's run in the Evidently workspace (``riskops.drift_history``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Monitor:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.registry = reg.Registry(self.settings)

    def check(
        self, name: str, recent: DataSource | None = None, max_log_rows: int = 5000
    ) -> DriftCheck:
        """Drift of the champion's inputs: logged requests first, else recent market data."""
        from riskops import drift, drift_history, tracking

        champion = self.registry.version_for_alias(name, reg.CHAMPION)
        if champion is None:
            return DriftCheck(name, None, "", None, [], None, False, None, "no champion")
        family_name = family_of_registered(name, champion.tags.get("family"))
        family = get_family(family_name)
        policy = load_policies(self.settings.policy_file).for_model(name, family_name)
        with tempfile.TemporaryDirectory() as tmp:
            ref_path = tracking.download(
                self.settings, champion.run_id, "data/reference.parquet", Path(tmp)
            )
            reference = pd.read_parquet(ref_path)
            logged = read_inference_log(self.settings, name, last_n=max_log_rows)
            columns = [c for c in reference.columns if c in logged.columns]
            if len(logged) >= 100 and len(columns) == len(reference.columns):
                current, source = logged[columns], f"inference log ({len(logged)} rows)"
            elif family.domain == "market":
                dataset = load(family.default_source(recent))
                current = family.features(family.recent_window(dataset))
                source = f"recent window of {dataset.describe()['name']}"
            else:
                return DriftCheck(
                    name,
                    champion.version,
                    "",
                    None,
                    [],
                    None,
                    False,
                    None,
                    "no recent data: the inference log has fewer than 100 requests",
                )
            html = Path(tmp) / f"drift_{time.strftime('%Y%m%dT%H%M%S')}.html"
            result = drift.data_drift(
                reference,
                current,
                drift_share=policy.data_drift.max_drift_share,
                max_rows=policy.data_drift.max_rows,
                stattest=policy.data_drift.stattest,
                threshold=policy.data_drift.threshold,
                html_path=html,
                # Not time critical, and the workspace's dashboard panels select ValueDrift.
                plots=True,
            )
            uri = tracking.log_file(self.settings, champion.run_id, html, "monitoring")
            evidently_run = drift_history.record_check(
                self.settings, name, result, run_name=f"v{champion.version} {source}"
            )
        retrain = result.share_of_drifted_columns > policy.data_drift.max_drift_share
        check = DriftCheck(
            name,
            champion.version,
            source,
            result.share_of_drifted_columns,
            result.drifted_columns,
            policy.data_drift.max_drift_share,
            retrain,
            uri,
            evidently_run=evidently_run,
        )
        facts = {k: v for k, v in check.to_dict().items() if k not in ("model", "version")}
        AuditTrail(self.settings).append("monitor", name, champion.version, **facts)
        return check
