"""What the automatic governance documents add to a train and a promote, side by side.

In a throwaway RISKOPS_HOME (SQLite MLflow store): credit trained twice and each challenger
promoted. The time of :func:`riskops.governance.publish.publish` is measured inside each
train and promote (``documents.seconds``) and set against the whole call; the full
``riskops report`` (:func:`riskops.governance.report.generate`: every figure, Evidently
embedded) of the same version is timed for comparison. Writes
``bench/results/bench_governance_docs.json``.

Run: ``.venv/bin/python bench/bench_governance_docs.py`` (about 1-2 minutes on a quiet
2-core machine).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-governance-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        os.environ["RISKOPS_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
        os.environ.setdefault("RISKOPS_ACTOR", "bench")
        from riskops.families.base import TrainOptions
        from riskops.governance.report import generate
        from riskops.lifecycle import Lifecycle

        lifecycle = Lifecycle()
        rows = []
        for seed in (42, 7):
            started = time.perf_counter()
            trained = lifecycle.train("credit", options=TrainOptions(seed=seed))
            train_s = time.perf_counter() - started
            started = time.perf_counter()
            promoted = lifecycle.promote(trained.name, trained.version)
            decision = str(promoted.outcome)
            documents = promoted.documents if promoted.promoted else {"seconds": float("nan")}
            promote_s = time.perf_counter() - started
            started = time.perf_counter()
            generate(
                lifecycle.settings,
                trained.name,
                trained.version,
                out=Path(tmp) / f"report-v{trained.version}.html",
            )
            full_s = time.perf_counter() - started
            rows.append(
                {
                    "version": trained.version,
                    "train_s": round(train_s, 2),
                    "documents_at_registration_s": trained.documents.get("seconds"),
                    "registration_share": round(trained.documents["seconds"] / train_s, 3),
                    "promote_s": round(promote_s, 2),
                    "promotion_decision": decision,
                    "documents_at_promotion_s": documents.get("seconds"),
                    "promotion_share": round(documents["seconds"] / promote_s, 3),
                    "full_riskops_report_s": round(full_s, 2),
                    "full_report_vs_registration_documents": round(
                        full_s / trained.documents["seconds"], 1
                    ),
                }
            )
            print(json.dumps(rows[-1]))
    out = Path(__file__).parent / "results" / "bench_governance_docs.json"
    out.write_text(
        json.dumps(
            {
                "rows": rows,
                "load_average_1m": os.getloadavg()[0],
                "cpu_count": os.cpu_count(),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
