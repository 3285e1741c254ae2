"""Monitoring: champions' training reference against recent data and inference logs."""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from riskops.audit import AuditTrail
from riskops.data import DataSource, load
from riskops.errors import BadInputError, NotFoundError
from riskops.families import family_of_registered, get_family
from riskops.policy import load_policies
from riskops.settings import Settings, scratch_dir

REFERENCE = "data/reference.parquet"
"""The training sample logged with the champion's run: the reference of drift checks."""


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
    """Drift checks of the champions the audit trail names; each check is a monitoring run
    of its own (never written into the champion's training run, whose files are evidence
    hashed at registration) and an audit record."""

    def __init__(self, settings: Settings | None = None) -> None:
        from riskops.ledger.loader import VerifiedLoader

        self.settings = settings or Settings()
        self.loader = VerifiedLoader(self.settings)

    def check(
        self, name: str, recent: DataSource | None = None, max_log_rows: int = 5000
    ) -> DriftCheck:
        """Drift of the champion's inputs: logged requests first, else recent market data."""
        from riskops import drift, drift_history, tracking

        state = self.loader.state(name)
        if state.champion is None:
            return DriftCheck(name, None, "", None, [], None, False, None, "no champion")
        _, champion = self.loader.registered(name, state.champion, state)
        family_name = family_of_registered(name, champion.tags.get("family"))
        family = get_family(family_name)
        policy = load_policies(self.settings.policy_file).for_model(name, family_name)
        with scratch_dir(self.settings, "monitor") as tmp:
            stored = self.loader.read_evidence(name, champion.version, REFERENCE, state)
            if stored is None:
                raise NotFoundError(f"model: {name} v{champion.version} logged no {REFERENCE}")
            reference = pd.read_parquet(io.BytesIO(stored))
            logged = family.served_inputs(self.settings, name, max_log_rows)
            columns = [c for c in reference.columns if c in logged.columns]
            if recent is not None and family.domain == "credit":
                # A file the user names wins over the inference log.
                current, source = self._recent_applicants(name, champion.version, recent, state)
                missing = [c for c in reference.columns if c not in current.columns]
                if missing:
                    raise BadInputError(
                        f"--data: {recent.path} lacks the model's features {missing}"
                    )
                current = current[list(reference.columns)]
            elif len(logged) >= 100 and len(columns) == len(reference.columns):
                current, source = logged[columns], f"served inputs ({len(logged)} rows)"
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
                    f"no recent data: {len(logged)} served input rows kept, fewer than 100; "
                    f"give a file of recent applicants (riskops monitor --family "
                    f"{family_name} --data FILE)",
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
            run_id = tracking.log_standalone(
                self.settings,
                "monitoring",
                f"{name} v{champion.version} drift",
                [html],
                {"model": name, "version": champion.version, "source": source},
                {"riskops.monitored_model": name, "riskops.monitored_run": champion.run_id},
            )
            uri = f"runs:/{run_id}/{html.name}"
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

    def _recent_applicants(
        self, name: str, version: int, recent: DataSource, state: Any
    ) -> tuple[pd.DataFrame, str]:
        """Recent applicants from a file, read with the column mapping the champion was
        trained with (its target and positive label, unless given), labels optional."""
        from dataclasses import fields, replace

        from riskops.tracking import SPEC_FILE

        spec = self.loader.read_json(name, version, SPEC_FILE, state) or {}
        known = {f.name for f in fields(DataSource)}
        trained = {k: v for k, v in (spec.get("source") or {}).items() if k in known}
        if trained.pop("path", None) is None and not trained.get("target"):
            # Trained on the bundled applicants: their outcome column.
            from riskops.data.credit import CREDIT_DATA_POSITIVE_LABEL, CREDIT_DATA_TARGET

            trained |= {"target": CREDIT_DATA_TARGET, "positive_label": CREDIT_DATA_POSITIVE_LABEL}
        trained["protected"] = tuple(trained.get("protected") or ())
        mapping = DataSource(**{**trained, "domain": "credit"})
        given = {
            k: v
            for k, v in vars(recent).items()
            if k in ("target", "positive_label", "date_col") and v is not None
        }
        if recent.path is None:
            raise BadInputError("--data: a file of recent applicants is needed")
        from riskops.data.credit import load_credit

        source = replace(mapping.recent(Path(recent.path)), **given)
        dataset = load_credit(
            source.path,
            target=source.target,
            positive_label=source.positive_label,
            date_col=source.date_col,
            labels_optional=True,
        )
        return dataset.frame, f"{Path(recent.path).name} ({len(dataset.frame)} rows)"
