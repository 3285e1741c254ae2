"""The lifecycle in production mode: CLI processes against PostgreSQL, MLflow and Prefect servers.

Every RiskOps step runs as its own child process with the production environment
(``MLFLOW_TRACKING_URI`` = the MLflow server, ``RISKOPS_AUDIT_URL`` = PostgreSQL,
``PREFECT_API_URL`` = the Prefect server), as it would in ``infra/docker-compose.yml``; the
assertions then read the servers and the databases themselves.

The servers live for the whole session, so each test works on its own registered model
name and counts only its own runs, versions and audit records.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from . import harness

N_TRAINERS = 4


def _json_line(text: str, key: str) -> dict[str, Any]:
    """The last JSON object printed on stdout that has ``key`` (logs may surround it)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                payload = json.loads(line)
            except ValueError:
                continue
            if key in payload:
                return payload
    raise AssertionError(f"no JSON line with {key!r} in:\n{text[-3000:]}")


def _riskops(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["riskops", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _http(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _audit(postgres: harness.PostgresServer, model: str) -> list[tuple[int, str, int | None]]:
    return postgres.query(
        "riskops",
        "SELECT seq, action, version FROM riskops_audit WHERE model = %s ORDER BY seq",
        [model],
    )


def test_train_promote_and_serve_the_champion_from_the_servers(
    production_env, production_settings, postgres, mlflow_server, tmp_path
):
    from riskops import tracking
    from riskops.registry import Registry

    # Given the production stack and a fresh RISKOPS_HOME
    home = Path(production_env["RISKOPS_HOME"])

    # When a credit challenger is trained by the CLI
    trained = harness.run_checked(
        ["riskops", "train", "credit", "--json"], env=production_env, cwd=tmp_path, timeout=600
    )
    train = _json_line(trained.stdout, "run_id")
    version = train["model"]["version"]

    # Then its run, artifacts and version live on the MLflow server
    facts = tracking.run_facts(production_settings, train["run_id"])
    assert facts["status"] == "FINISHED"
    assert facts["artifact_uri"].startswith("mlflow-artifacts:")
    assert facts["metrics"]["auc"] == train["metrics"]["auc"]
    registry = Registry(production_settings)
    info = registry.get_version("credit_pd", version)
    assert info.run_id == train["run_id"]
    assert "challenger" in info.aliases
    # MLflow 3 stores the model as a LoggedModel of the run, proxied to the server's store
    stored = [
        p for p in mlflow_server.artifacts_dir.rglob("MLmodel") if train["run_id"] in p.read_text()
    ]
    assert len(stored) == 1

    # When it is promoted: the bundled data's default champion passes the credit policy
    promoted = _riskops(["promote", "credit_pd", "--json"], production_env, tmp_path)
    assert promoted.returncode == 0, promoted.stdout[-3000:] + promoted.stderr[-3000:]
    decision = _json_line(promoted.stdout, "report")
    expected_actions = ["register", "gate_decision", "promote"]
    assert decision["promoted"] is True and decision["outcome"] == "promoted"
    assert all(r["passed"] for r in decision["report"]["results"])

    # Then the decision and its audit record are in PostgreSQL, the chain verifies, and
    # nothing fell back to the local SQLite files
    records = _audit(postgres, "credit_pd")
    assert [action for _, action, _ in records] == expected_actions
    assert {v for _, _, v in records} == {version}
    verified = _json_line(
        harness.run_checked(
            ["riskops", "audit", "verify", "--json"], env=production_env, cwd=tmp_path
        ).stdout,
        "ok",
    )
    assert verified["ok"] is True
    assert (
        verified["records"] == postgres.query("riskops", "SELECT count(*) FROM riskops_audit")[0][0]
    )
    assert registry.version_for_alias("credit_pd", "champion").version == version
    assert not (home / "audit.db").exists()
    assert not (home / "mlflow.db").exists()

    # When the service starts with the production environment
    port = harness.free_port()
    with harness.ServerProcess(
        name="riskops-service",
        argv=["riskops", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=production_env,
        log_dir=tmp_path / "logs",
        ready_url=f"http://127.0.0.1:{port}/readyz",
        cwd=tmp_path,
    ):
        status, models = _http(f"http://127.0.0.1:{port}/models")
        from riskops.data.credit import load_credit

        applicants = load_credit().X.head(5).to_dict(orient="records")
        scored_status, scored = _http(
            f"http://127.0.0.1:{port}/credit/score", {"applicants": applicants}
        )

    # Then it serves the champion it loaded from the MLflow server, with the same PDs
    assert status == 200, models
    served = {m["name"]: m for m in models["models"]}
    assert served["credit_pd"]["version"] == version
    assert scored_status == 200, scored
    assert scored["model"]["version"] == version
    from riskops.ledger.loader import VerifiedLoader

    loaded = VerifiedLoader(registry.settings).champion("credit_pd")
    assert loaded is not None
    champion = loaded.estimator
    import pandas as pd

    expected = champion.predict_pd(pd.DataFrame(applicants))
    served_pd = [r["pd"] for r in scored["results"]]
    assert len(served_pd) == len(applicants)
    assert max(abs(a - b) for a, b in zip(served_pd, expected, strict=True)) < 1e-9


_TRAINER = """
import sys

# Slow imports before the barrier, so that the four trainings overlap.
import mlflow
import sklearn
import riskops.credit.family
import riskops.lifecycle
from riskops.cli import main

barrier()
sys.argv = ["riskops", "train", "credit", "--model", "logistic", "--name", MODEL, "--json"]
main()  # as the `riskops` command runs: its exit code is the process's
"""

_PROMOTER = """
import sys

from riskops.cli.app import app
from riskops.lifecycle import Lifecycle

lifecycle = Lifecycle()
lifecycle.registry.client.search_registered_models(max_results=1)
lifecycle.trail.engine.connect().close()
barrier()
try:
    app(["promote", MODEL, "--version", str(VERSIONS[WORKER]), "--json"])
except SystemExit as exc:
    print(f"EXIT {exc.code}")
"""


def test_concurrent_trainings_and_racing_promotions_lose_nothing(
    production_env, production_settings, postgres, mlflow_server, tmp_path
):
    from riskops import tracking
    from riskops.audit import AuditTrail
    from riskops.registry import Registry

    model = "credit_pd_race"
    AuditTrail(production_settings)  # creates the table when this test runs first
    audit_before = postgres.query("riskops", "SELECT count(*) FROM riskops_audit")[0][0]

    # Given four processes that train and register the same model at the same moment
    trained = harness.run_python_concurrently(
        f"MODEL = {model!r}\n" + _TRAINER,
        N_TRAINERS,
        env=production_env,
        workdir=tmp_path / "train",
        timeout=900,
    )
    reports = [_json_line(r.stdout, "run_id") for r in trained]

    # Then four distinct versions are registered, one per finished run
    registry = Registry(production_settings)
    versions = registry.versions(model)
    assert sorted(v.version for v in versions) == list(range(1, N_TRAINERS + 1))
    assert sorted(r["model"]["version"] for r in reports) == list(range(1, N_TRAINERS + 1))
    assert {v.run_id for v in versions} == {r["run_id"] for r in reports}
    for report in reports:
        facts = tracking.run_facts(production_settings, report["run_id"])
        assert facts["status"] == "FINISHED"
        assert facts["metrics"]["auc"] == report["metrics"]["auc"]
        assert "gate_evidence.json" in tracking.list_artifacts(
            production_settings, report["run_id"]
        )
    models = [p.read_text() for p in mlflow_server.artifacts_dir.rglob("MLmodel")]
    for report in reports:
        assert sum(report["run_id"] in text for text in models) == 1
    rows = postgres.query(
        "mlflow",
        "SELECT count(*), count(DISTINCT mv.version), count(DISTINCT r.run_uuid) "
        "FROM model_versions mv JOIN runs r ON r.run_uuid = mv.run_id "
        "WHERE mv.name = %s AND r.status = 'FINISHED'",
        [model],
    )
    assert rows == [(N_TRAINERS, N_TRAINERS, N_TRAINERS)]
    registered = _audit(postgres, model)
    assert [a for _, a, _ in registered] == ["register"] * N_TRAINERS
    assert sorted(v for _, _, v in registered) == list(range(1, N_TRAINERS + 1))

    # When two processes race to promote two different versions
    contenders = [1, 2]
    raced = harness.run_python_concurrently(
        f"MODEL = {model!r}\nVERSIONS = {contenders!r}\n" + _PROMOTER,
        2,
        env=production_env,
        workdir=tmp_path / "promote",
        timeout=600,
    )
    exits = [
        int(next(line for line in reversed(r.stdout.splitlines()) if line.startswith("EXIT "))[5:])
        for r in raced
    ]

    # Then exactly one applies; the other is refused, its evidence now being stale
    assert sorted(exits) == [0, 3], [r.stdout[-2000:] for r in raced]
    winner = contenders[exits.index(0)]
    loser = contenders[exits.index(3)]
    refusal = _json_line(raced[exits.index(3)].stdout, "error")
    assert (
        f"evidence compares against no champion but the champion is now v{winner}"
        in refusal["error"]["message"]
    )
    # (search results carry no aliases in MLflow; each version is read on its own)
    champions = [
        n for n in range(1, N_TRAINERS + 1) if "champion" in registry.get_version(model, n).aliases
    ]
    assert champions == [winner]
    assert registry.version_for_alias(model, "champion").version == winner

    # And both decisions are audited, one after the other: the advisory lock serialised them
    decisions = _audit(postgres, model)[N_TRAINERS:]
    assert [(a, v) for _, a, v in decisions] == [
        ("gate_decision", winner),
        ("promote", winner),
        ("gate_decision", loser),
        ("refuse", loser),
    ]
    # And the chain over every record of the session verifies, with nothing lost
    audit_after = postgres.query("riskops", "SELECT count(*) FROM riskops_audit")[0][0]
    assert audit_after - audit_before == N_TRAINERS + 4
    verified = _json_line(
        harness.run_checked(
            ["riskops", "audit", "verify", "--json"], env=production_env, cwd=tmp_path
        ).stdout,
        "ok",
    )
    assert {k: verified[k] for k in ("ok", "records", "first_broken", "reason")} == {
        "ok": True,
        "records": audit_after,
        "first_broken": None,
        "reason": "",
    }
    assert verified["findings"] == []


def _dask_workers(address: str) -> int:
    """Workers connected to the scheduler at ``address``; -1 while it does not answer."""
    from distributed import Client

    try:
        with Client(address, timeout=3) as client:
            return len(client.scheduler_info()["workers"])
    except OSError:
        return -1


def test_universe_flow_on_a_dask_cluster_reports_to_the_servers(
    production_env, production_settings, prefect_server, tmp_path
):
    # Given a Dask scheduler and two single-threaded workers as separate processes, started
    # with the production environment as they would be in a deployment
    port = harness.free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    scheduler = harness.ServerProcess(
        name="dask-scheduler",
        argv=["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=production_env,
        log_dir=logs,
        ready=lambda: _dask_workers(address) >= 0,
        cwd=tmp_path,
    )
    workers = harness.ServerProcess(
        name="dask-workers",
        argv=["dask", "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
        env=production_env,
        log_dir=logs,
        ready=lambda: _dask_workers(address) == 2,
        cwd=tmp_path,
    )
    with scheduler, workers:
        # When `riskops universe` fans four simulated series out to that cluster
        done = harness.run_checked(
            [
                "riskops",
                "universe",
                "--dask-address",
                address,
                "--no-real",
                "--n-simulated",
                "4",
                "--n-days",
                "600",
                "--json",
            ],
            env=production_env,
            cwd=tmp_path,
            timeout=600,
        )
    out = _json_line(done.stdout, "summary")

    # Then the cluster did the work, with the results of a sequential run
    from riskops.universe import UniverseSpec, fit_universe, simulate_universe

    assert out["runner"] == {"address": address, "workers": None}
    sequential = fit_universe(simulate_universe(4, 600, 0), UniverseSpec())
    assert [row["asset"] for row in out["table"]] == [r["asset"] for r in sequential]
    assert [row["alpha"] for row in out["table"]] == [
        r["volatility"]["params"]["alpha[1]"] for r in sequential
    ]
    assert [row["var_99"] for row in out["table"]] == [
        r["var"]["forecast"]["99"]["var"] for r in sequential
    ]

    # And the MLflow server holds the run with its table; the Prefect server the flow runs
    from riskops import tracking

    facts = tracking.run_facts(production_settings, out["run_id"])
    assert facts["status"] == "FINISHED"
    assert facts["params"]["dask_address"] == address
    assert facts["metrics"]["n_ok"] == 4
    assert "universe/universe.csv" in tracking.list_artifacts(production_settings, out["run_id"])
    flows = {f["id"]: f["name"] for f in _http(f"{prefect_server.api_url}/flows/filter", {})[1]}
    runs = _http(f"{prefect_server.api_url}/flow_runs/filter", {})[1]
    universe_runs = [r for r in runs if flows.get(r["flow_id"]) in ("universe", "universe-fit")]
    assert sorted(flows[r["flow_id"]] for r in universe_runs) == ["universe", "universe-fit"]
    assert {r["state"]["type"] for r in universe_runs} == {"COMPLETED"}
    fit_run = next(r for r in universe_runs if flows[r["flow_id"]] == "universe-fit")
    tasks = _http(
        f"{prefect_server.api_url}/task_runs/filter",
        {"flow_runs": {"id": {"any_": [fit_run["id"]]}}},
    )[1]
    assert sorted((t["name"], t["state"]["type"]) for t in tasks) == [
        (f"fit-sim_{i:03d}", "COMPLETED") for i in range(4)
    ]
