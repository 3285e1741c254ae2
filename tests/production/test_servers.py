"""The production-mode servers start on PostgreSQL, take concurrent writers and lose nothing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from . import harness

N_WRITERS = 4
N_STEPS = 25


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post_json(url: str, body: dict) -> object:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_servers_are_healthy_and_backed_by_postgres(postgres, mlflow_server, prefect_server):
    # Given the topology booted by the fixtures
    # When the health endpoints and the databases are asked
    with urllib.request.urlopen(f"{mlflow_server.url}/health", timeout=10) as response:
        mlflow_health = response.read().decode()
    prefect_health = _get_json(f"{prefect_server.api_url}/health")
    databases = {row[0] for row in postgres.query("postgres", "SELECT datname FROM pg_database")}
    mlflow_tables = {
        row[0]
        for row in postgres.query(
            "mlflow", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    }
    prefect_tables = {
        row[0]
        for row in postgres.query(
            "prefect", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    }

    # Then both servers answer and each migrated its own database, not a SQLite fallback
    assert mlflow_health.strip() == "OK"
    assert prefect_health is True
    assert {"mlflow", "prefect", "riskops"} <= databases
    assert {"experiments", "runs", "metrics", "params", "registered_models"} <= mlflow_tables
    assert {"flow", "flow_run", "task_run", "work_pool"} <= prefect_tables
    assert mlflow_server.process.alive()
    assert prefect_server.process.alive()


def _status_with_host(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_mlflow_accepts_the_compose_host_names_and_refuses_others(mlflow_server):
    # Given the server runs with MLFLOW_SERVER_ALLOWED_HOSTS from infra/docker-compose.yml
    url = f"{mlflow_server.url}/api/2.0/mlflow/experiments/search?max_results=1"
    port = mlflow_server.url.rsplit(":", 1)[1]

    # When clients arrive under the names they use in compose, and under a foreign name
    statuses = {
        host: _status_with_host(url, host)
        for host in ("mlflow:5000", "localhost:5000", f"127.0.0.1:{port}", "evil.example.com")
    }

    # Then the compose names pass and the foreign one meets MLflow's DNS-rebinding guard
    assert statuses == {
        "mlflow:5000": 200,
        "localhost:5000": 200,
        f"127.0.0.1:{port}": 200,
        "evil.example.com": 403,
    }


_WRITER = """
import json
import pathlib

import mlflow

from riskops import tracking
from riskops.settings import Settings

settings = Settings()  # MLFLOW_TRACKING_URI from the environment: the server
assert not settings.is_local_tracking()
payload = pathlib.Path(f"payload-{WORKER}.json")
payload.write_text(json.dumps({"worker": WORKER, "squares": [i * i for i in range(100)]}))

barrier()
# All four race to create the experiment, then log into it.
experiment = tracking.experiment_id(settings, "harness-concurrency")
with mlflow.start_run(experiment_id=experiment, run_name=f"writer-{WORKER}") as run:
    mlflow.log_params({"worker": WORKER, "alpha": 0.5 + WORKER, "family": "harness"})
    for step in range(N_STEPS):
        mlflow.log_metric("loss", 1.0 / (1 + step + WORKER), step=step)
    mlflow.log_metrics({"final_auc": 0.6 + WORKER / 100, "worker_id": float(WORKER)})
    mlflow.log_artifact(str(payload), "evidence")
    mlflow.set_tag("writer", str(WORKER))
print(json.dumps({"run_id": run.info.run_id, "artifact_uri": run.info.artifact_uri}))
"""


def test_mlflow_on_postgres_keeps_everything_from_concurrent_writers(
    production_env, mlflow_server, postgres, tmp_path
):
    # Given four processes that reach the same MLflow server through riskops.tracking
    code = f"N_STEPS = {N_STEPS}\n" + _WRITER

    # When they create the experiment and log runs at the same moment
    results = harness.run_python_concurrently(
        code, N_WRITERS, env=production_env, workdir=tmp_path / "writers"
    )
    reported = [json.loads(r.stdout.strip().splitlines()[-1]) for r in results]

    # Then one experiment holds four finished runs with every param, metric step and artifact
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=mlflow_server.url)
    experiment = client.get_experiment_by_name("riskops-harness-concurrency")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert sorted(r.info.run_id for r in runs) == sorted(r["run_id"] for r in reported)
    assert len(runs) == N_WRITERS
    for run in runs:
        worker = int(run.data.params["worker"])
        assert run.info.status == "FINISHED"
        assert run.data.params == {
            "worker": str(worker),
            "alpha": str(0.5 + worker),
            "family": "harness",
        }
        assert run.data.metrics["final_auc"] == 0.6 + worker / 100
        assert run.data.tags["writer"] == str(worker)
        history = client.get_metric_history(run.info.run_id, "loss")
        assert sorted((m.step, m.value) for m in history) == [
            (step, 1.0 / (1 + step + worker)) for step in range(N_STEPS)
        ]
        # Artifacts went through the server's proxy into its destination folder
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        local = Path(
            client.download_artifacts(run.info.run_id, "evidence", str(tmp_path / run.info.run_id))
        )
        content = json.loads((local / f"payload-{worker}.json").read_text())
        assert content == {"worker": worker, "squares": [i * i for i in range(100)]}
        stored = list(mlflow_server.artifacts_dir.rglob(f"{run.info.run_id}/**/payload-*.json"))
        assert [p.name for p in stored] == [f"payload-{worker}.json"]
    # And the rows are in PostgreSQL itself
    rows = postgres.query(
        "mlflow",
        "SELECT count(*) FROM metrics m JOIN runs r ON r.run_uuid = m.run_uuid"
        " WHERE r.experiment_id = %s AND m.key = 'loss'",
        [int(experiment.experiment_id)],
    )
    assert rows == [(N_WRITERS * N_STEPS,)]


_FLOW = """
import json

from prefect import flow, task


@task
def square(x: int) -> int:
    return x * x


@flow(name="harness-smoke")
def smoke(n: int) -> int:
    return sum(square(i) for i in range(n))


state = smoke(4, return_state=True)
print(json.dumps({"flow_run_id": str(state.state_details.flow_run_id),
                  "result": state.result()}))
"""


def test_prefect_flow_runs_against_the_postgres_backed_server(
    production_env, prefect_server, postgres, tmp_path
):
    # Given a flow script and an environment whose PREFECT_API_URL is the server
    script = tmp_path / "smoke_flow.py"
    script.write_text(_FLOW)

    # When it runs in a child process
    done = harness.run_checked(
        [str(harness.VENV_BIN / "python"), str(script)],
        env=production_env,
        cwd=tmp_path,
        timeout=120,
    )
    reported = json.loads(done.stdout.strip().splitlines()[-1])
    flow_run_id = reported["flow_run_id"]

    # Then the server knows the completed run and its four task runs, stored in PostgreSQL
    assert reported["result"] == 0 + 1 + 4 + 9
    flow_run = _get_json(f"{prefect_server.api_url}/flow_runs/{flow_run_id}")
    assert flow_run["state"]["type"] == "COMPLETED"
    flow = _get_json(f"{prefect_server.api_url}/flows/{flow_run['flow_id']}")
    assert flow["name"] == "harness-smoke"
    task_runs = _post_json(
        f"{prefect_server.api_url}/task_runs/filter",
        {"flow_runs": {"id": {"any_": [flow_run_id]}}},
    )
    assert len(task_runs) == 4
    assert {t["state"]["type"] for t in task_runs} == {"COMPLETED"}
    rows = postgres.query("prefect", "SELECT state_type FROM flow_run WHERE id = %s", [flow_run_id])
    assert rows == [("COMPLETED",)]
