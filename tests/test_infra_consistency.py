"""The deployment files agree with the code and with each other (no servers, no Docker).

``infra/docker-compose.yml``, the Kubernetes manifests in ``infra/k8s`` and the Dockerfiles
are parsed, and every container's environment is fed to ``riskops.settings.Settings`` the
way the container would feed it: a renamed setting, a port that differs between the
service, its probes and its Service object, a server URL pointing at nothing, or a
Dockerfile that stops installing from ``uv.lock`` fails here first.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
COMPOSE_FILE = INFRA / "docker-compose.yml"
K8S = INFRA / "k8s"
DOCKERFILE = INFRA / "docker" / "Dockerfile"
MLFLOW_DOCKERFILE = INFRA / "docker" / "mlflow.Dockerfile"
INIT_SQL = INFRA / "postgres" / "init.sql"
README = INFRA / "README.md"

SERVICE, WORKER = "riskops-service", "prefect-worker"
K8S_SERVICE, K8S_WORKER = "riskops-service", "riskops-worker"
_SCOPES = ("RISKOPS_", "MLFLOW_", "PREFECT_", "AWS_")


# --------------------------------------------------------------------------- loading


def _interpolate(value: Any) -> Any:
    """Compose variable substitution with stand-ins for the values of ``infra/.env``."""
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if op in (":-", "-"):
            return rest
        return f"sample{name.lower().replace('_', '')}"

    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}", substitute, value)
    return text.replace("$$", "$")


def _deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(v) for v in value]
    return _interpolate(value)


def _compose() -> dict[str, Any]:
    return _deep(yaml.safe_load(COMPOSE_FILE.read_text()))


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _compose_env(service: str) -> dict[str, str]:
    env = _services()[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _k8s_documents(include_secret_template: bool = True) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        if path.name == "secret.example.yaml" and not include_secret_template:
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _k8s(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in _k8s_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _container(deployment: str) -> dict[str, Any]:
    containers = _k8s("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _k8s_env(deployment: str) -> dict[str, str]:
    """The environment a pod of ``deployment`` starts with: envFrom first, then env."""
    container = _container(deployment)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(_k8s("ConfigMap", source["configMapRef"]["name"])["data"])
        if "secretRef" in source:
            secret = _k8s("Secret", source["secretRef"]["name"])
            env.update(secret.get("stringData", {}))
    for item in container.get("env", []):
        env[item["name"]] = str(item["value"])
    return {k: str(v) for k, v in env.items()}


def _option(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


def _riskops_image_services() -> list[str]:
    return [
        name
        for name, spec in _services().items()
        if str(spec.get("image", "")).startswith("riskops:")
    ]


def _setting_variables() -> set[str]:
    """Every environment variable ``Settings`` reads, from its fields and aliases."""
    from pydantic import AliasChoices

    from riskops.settings import Settings

    names = set()
    for field_name, info in Settings.model_fields.items():
        names.add(f"RISKOPS_{field_name.upper()}")
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice) for choice in alias.choices}
    return names


def _unknown_riskops_variables(env: dict[str, str]) -> list[str]:
    known = _setting_variables()
    return sorted(k for k in env if k.startswith("RISKOPS_") and k not in known)


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    from riskops.settings import Settings

    for key in list(os.environ):
        if key.startswith(_SCOPES):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), " ".join(rest.split())))
    return out


def _base_image(path: Path, from_argument: str) -> str:
    """The image a ``FROM`` builds on by default: ARG defaults expanded until none is left."""
    instructions = _dockerfile_instructions(path)
    args = dict(arg.split("=", 1) for kw, arg in instructions if kw == "ARG" and "=" in arg)
    image = from_argument.split()[0]
    for _ in range(len(args) + 1):
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
    assert "$" not in image, image
    return image


def _lock_versions() -> dict[str, str]:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"] if "version" in p}


def _image_env() -> dict[str, str]:
    """The ENV of the RiskOps image's runtime stage (what a container starts from)."""
    instructions = _dockerfile_instructions(DOCKERFILE)
    runtime_start = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    env = {}
    for keyword, arg in instructions[runtime_start:]:
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(arg))
    return {k: v for k, v in env.items() if k.startswith(_SCOPES)}


def _all_containers() -> list[tuple[str, dict[str, str]]]:
    """Every RiskOps container with its complete environment: image ENV, then its own."""
    base = _image_env()
    compose = [(f"compose:{n}", base | _compose_env(n)) for n in _riskops_image_services()]
    k8s = [(f"k8s:{d}", base | _k8s_env(d)) for d in (K8S_SERVICE, K8S_WORKER)]
    return compose + k8s


def _init_sql_databases() -> set[str]:
    return set(re.findall(r"CREATE DATABASE (\w+)", INIT_SQL.read_text(), flags=re.I))


# --------------------------------------------------------------------------- settings


def test_every_riskops_variable_is_a_settings_field():
    # Given the environment of every RiskOps container, in compose and in Kubernetes
    # When the RISKOPS_* names are checked against the fields of Settings
    problems = {name: _unknown_riskops_variables(env) for name, env in _all_containers()}

    # Then none is unknown (pydantic-settings would otherwise ignore a misspelt one)
    assert {k: v for k, v in problems.items() if v} == {}
    assert len(problems) >= 5


def test_the_check_catches_a_renamed_setting():
    # Given the service's environment with one setting renamed
    env = _compose_env(SERVICE)
    env["RISKOPS_SERVE_PORTNUMBER"] = env.pop("RISKOPS_SERVE_PORT")

    # When / Then both the static check and Settings itself reject it
    assert _unknown_riskops_variables(env) == ["RISKOPS_SERVE_PORTNUMBER"]


def test_a_renamed_setting_makes_settings_refuse_to_start(monkeypatch):
    env = _compose_env(SERVICE)
    env["RISKOPS_SERVE_PORTNUMBER"] = env.pop("RISKOPS_SERVE_PORT")
    with pytest.raises(ValueError, match="RISKOPS_SERVE_PORTNUMBER"):
        _settings_from(env, monkeypatch)


@pytest.mark.parametrize("name", [name for name, _ in _all_containers()])
def test_container_environment_validates_as_settings(name, monkeypatch):
    # Given the environment a container starts with
    env = dict(_all_containers())[name]

    # When Settings is built from it, as `riskops` does at startup
    settings = _settings_from(env, monkeypatch)

    # Then it validates and reads the values the deployment meant
    assert str(settings.home) == env["RISKOPS_HOME"] == "/var/lib/riskops"
    if "MLFLOW_TRACKING_URI" in env:
        assert settings.mlflow_tracking_uri == env["MLFLOW_TRACKING_URI"]
        assert not settings.is_local_tracking()
    if "RISKOPS_AUDIT_URL" in env:
        assert settings.audit_database_url == env["RISKOPS_AUDIT_URL"]
    if "RISKOPS_EVIDENCE_URL" in env:
        assert settings.evidence_database_url == env["RISKOPS_EVIDENCE_URL"]
    if "RISKOPS_SERVE_PORT" in env:
        assert settings.serve_port == int(env["RISKOPS_SERVE_PORT"])
    if "RISKOPS_API_KEY" in env:
        assert settings.api_key is not None
        assert settings.api_key.get_secret_value() == env["RISKOPS_API_KEY"]


@pytest.mark.parametrize(
    ("where", "env_of"),
    [
        ("compose", {"service": _compose_env(SERVICE), "worker": _compose_env(WORKER)}),
        ("k8s", {"service": _k8s_env(K8S_SERVICE), "worker": _k8s_env(K8S_WORKER)}),
    ],
)
def test_service_and_worker_are_pointed_at_the_servers(where, env_of):
    shared = {"RISKOPS_HOME", "MLFLOW_TRACKING_URI", "RISKOPS_AUDIT_URL", "RISKOPS_EVIDENCE_URL"}
    needs = {
        "service": shared | {"RISKOPS_API_KEY"},
        "worker": shared | {"PREFECT_API_URL"},
    }
    for role, required in needs.items():
        missing = required - set(env_of[role])
        assert not missing, f"{where} {role} lacks {sorted(missing)}"
        assert env_of[role]["MLFLOW_TRACKING_URI"].startswith("http")
        assert urlsplit(env_of[role]["RISKOPS_AUDIT_URL"]).scheme == "postgresql+psycopg2"
        # the service's decisions are the evidence the worker's outcome tests read
        evidence = urlsplit(env_of[role]["RISKOPS_EVIDENCE_URL"])
        assert (evidence.scheme, evidence.path) == ("postgresql+psycopg2", "/riskops")
    assert urlsplit(env_of["worker"]["PREFECT_API_URL"]).path == "/api"
    assert env_of["service"].get("RISKOPS_SERVE_HOST") == "0.0.0.0"


def test_compose_urls_point_at_compose_servers_and_databases():
    # Given the compose servers and the databases init.sql creates
    services = _services()
    databases = _init_sql_databases()
    mlflow_port = int(_option(services["mlflow"]["command"], "--port"))
    prefect_port = int(_option(services["prefect-server"]["command"], "--port"))
    assert databases == {"mlflow", "prefect", "riskops"}

    # Then every client URL names a compose service, the right port and an existing database
    for name in _riskops_image_services():
        env = _compose_env(name)
        if "MLFLOW_TRACKING_URI" in env:
            url = urlsplit(env["MLFLOW_TRACKING_URI"])
            assert (url.hostname, url.port) == ("mlflow", mlflow_port)
        if "PREFECT_API_URL" in env:
            url = urlsplit(env["PREFECT_API_URL"])
            assert (url.hostname, url.port, url.path) == ("prefect-server", prefect_port, "/api")
        if "RISKOPS_AUDIT_URL" in env:
            url = urlsplit(env["RISKOPS_AUDIT_URL"])
            assert (url.hostname, url.port, url.path) == ("postgres", 5432, "/riskops")
    mlflow_db = urlsplit(_compose_env("mlflow")["MLFLOW_BACKEND_STORE_URI"])
    prefect_db = urlsplit(_compose_env("prefect-server")["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert (mlflow_db.scheme, mlflow_db.path) == ("postgresql+psycopg2", "/mlflow")
    assert (prefect_db.scheme, prefect_db.path) == ("postgresql+asyncpg", "/prefect")
    assert {mlflow_db.hostname, prefect_db.hostname} == {"postgres"}
    pg = _compose_env("postgres")
    assert {mlflow_db.username, prefect_db.username} == {pg["POSTGRES_USER"]}
    assert {mlflow_db.password, prefect_db.password} == {pg["POSTGRES_PASSWORD"]}


def _mlflow_host_check():
    """MLflow's own Host-header rule, loaded without importing the server (Flask, seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("mlflow")
    assert spec is not None
    assert spec.origin is not None
    path = Path(spec.origin).parent / "server" / "security_utils.py"
    module_spec = importlib.util.spec_from_file_location("_mlflow_security_utils", path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.is_allowed_host_header


def test_mlflow_server_accepts_the_host_header_of_every_client():
    # MLflow >= 3.5 answers 403 to unknown Host headers, but exempts /health: a wrong list
    # would leave the container healthy and every client refused. (tests/production runs a
    # real server with this very list.)
    is_allowed_host_header = _mlflow_host_check()

    allowed = [h.strip() for h in _compose_env("mlflow")["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")]
    clients = {
        urlsplit(_compose_env(n)["MLFLOW_TRACKING_URI"]).netloc
        for n in _riskops_image_services()
        if "MLFLOW_TRACKING_URI" in _compose_env(n)
    }
    published = {f"localhost:{p.split(':')[-1]}" for p in _services()["mlflow"]["ports"]}
    assert clients == {"mlflow:5000"}
    for host in clients | published:
        assert is_allowed_host_header(allowed, host), host
    assert not is_allowed_host_header(allowed, "evil.example.com:5000")


def test_mlflow_artifacts_are_proxied_to_the_bucket_minio_init_creates():
    mlflow = _services()["mlflow"]
    env = _compose_env("mlflow")
    bucket = _option(mlflow["command"], "--artifacts-destination")
    assert "--serve-artifacts" in mlflow["command"]
    assert bucket == "s3://mlflow-artifacts"
    assert "local/mlflow-artifacts" in " ".join(_services()["minio-init"]["command"])
    assert urlsplit(env["MLFLOW_S3_ENDPOINT_URL"]).hostname == "minio"
    minio = _compose_env("minio")
    assert env["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]


# --------------------------------------------------------------------------- ports, probes


def _port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def _healthcheck_url(spec: dict[str, Any]) -> str:
    found = re.search(r"https?://[^'\"\s]+", " ".join(spec["healthcheck"]["test"]))
    assert found, spec["healthcheck"]
    return found.group(0)


def test_compose_service_ports_agree():
    # Given the compose service: command, settings, healthcheck and published port
    spec = _services()[SERVICE]
    env = _compose_env(SERVICE)
    command_port = int(_option(spec["command"], "--port"))
    health = _healthcheck_url(spec)

    # Then they all name the same port
    assert int(env["RISKOPS_SERVE_PORT"]) == command_port
    assert _option(spec["command"], "--host") == env["RISKOPS_SERVE_HOST"] == "0.0.0.0"
    assert _port_of(health) == command_port
    assert urlsplit(health).path in {"/readyz", "/livez"}
    assert [int(p.split(":")[-1]) for p in spec["ports"]] == [command_port]


def test_compose_server_healthchecks_probe_the_ports_they_listen_on():
    services = _services()
    for name, path in (("mlflow", "/health"), ("prefect-server", "/api/health")):
        url = _healthcheck_url(services[name])
        assert _port_of(url) == int(_option(services[name]["command"], "--port")), name
        assert urlsplit(url).path == path
    worker = _healthcheck_url(services[WORKER])
    assert _port_of(worker) == int(_compose_env(WORKER)["PREFECT_WORKER_WEBSERVER_PORT"])
    assert "--with-healthcheck" in services[WORKER]["command"]


def _named_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    matches = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    assert len(matches) == 1, f"no container port named {port}"
    return int(matches[0])


def test_k8s_service_ports_and_probes_agree():
    # Given the service Deployment, its ConfigMap and its Service object
    container = _container(K8S_SERVICE)
    env = _k8s_env(K8S_SERVICE)
    command_port = int(_option(container["command"], "--port"))
    service = _k8s("Service", K8S_SERVICE)

    # Then command, settings, containerPort, probes and Service targetPort are one port
    assert [int(p["containerPort"]) for p in container["ports"]] == [command_port]
    assert int(env["RISKOPS_SERVE_PORT"]) == command_port
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("readinessProbe", "livenessProbe", "startupProbe")
        if kind in container
    }
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/livez"
    for probe in probes.values():
        assert _named_port(container, probe["port"]) == command_port
    assert [_named_port(container, p["targetPort"]) for p in service["spec"]["ports"]] == [
        command_port
    ]


def test_k8s_worker_probe_hits_the_worker_healthcheck():
    container = _container(K8S_WORKER)
    env = _k8s_env(K8S_WORKER)
    probe = container["livenessProbe"]["httpGet"]
    assert "--with-healthcheck" in container["command"]
    assert _option(container["command"], "--pool") == "riskops"
    assert _option(container["command"], "--type") == "process"
    assert probe["path"] == "/health"
    assert _named_port(container, probe["port"]) == int(env["PREFECT_WORKER_WEBSERVER_PORT"])


def test_k8s_objects_select_and_reference_each_other():
    docs = _k8s_documents()
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for deployment in (K8S_SERVICE, K8S_WORKER):
        spec = _k8s("Deployment", deployment)["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for source in pod["containers"][0]["envFrom"]:
            ref = source.get("configMapRef") or source.get("secretRef")
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            assert (kind, ref["name"]) in names
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert ("PersistentVolumeClaim", claim) in names
    service = _k8s("Service", K8S_SERVICE)
    pod_labels = _k8s("Deployment", K8S_SERVICE)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    worker_labels = _k8s("Deployment", K8S_WORKER)["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= worker_labels.items()
    hpa = _k8s("HorizontalPodAutoscaler", K8S_SERVICE)["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": K8S_SERVICE,
    }
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    # CPU utilisation is relative to the request: without one the HPA never scales.
    assert _container(K8S_SERVICE)["resources"]["requests"]["cpu"]


def test_kustomization_lists_every_manifest_but_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}
    images = {i["name"] for i in kustomization["images"]}
    for deployment in (K8S_SERVICE, K8S_WORKER):
        assert _container(deployment)["image"].split(":")[0] in images


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomization_builds():
    done = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(done.stdout) if d)
    assert kinds == sorted(
        [
            "Namespace",
            "ConfigMap",
            "PersistentVolumeClaim",
            "Deployment",
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
        ]
    )


# --------------------------------------------------------------------------- compose wiring


def test_compose_dependencies_wait_for_health():
    services = _services()
    for name, spec in services.items():
        for target, rule in (spec.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
            else:
                assert condition == "service_completed_successfully"
                assert services[target].get("restart") == "no"
    long_running = {n for n, s in services.items() if s.get("restart") != "no"}
    assert all("healthcheck" in services[n] for n in long_running)
    assert services[SERVICE]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    for server in ("mlflow", "prefect-server"):
        assert services[WORKER]["depends_on"][server]["condition"] == "service_healthy"


def test_compose_mounts_and_builds_exist():
    services = _services()
    for name, spec in services.items():
        build = spec.get("build")
        if build:
            context = (INFRA / build["context"]).resolve()
            assert context == REPO, name
            assert (context / build["dockerfile"]).is_file(), name
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (INFRA / source).is_file(), f"{name} mounts missing {source}"
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert {n for n in named if not n.startswith(".")} == set(_compose()["volumes"])
    # The service's inference logs reach the worker's drift checks.
    shared = set(services[SERVICE]["volumes"]) & set(services[WORKER]["volumes"])
    assert any(v.endswith(":/var/lib/riskops/inference") for v in shared)


# --------------------------------------------------------------------------- images


def test_dockerfile_installs_exactly_the_lock():
    instructions = _dockerfile_instructions(DOCKERFILE)
    stages = [i for i, (kw, _) in enumerate(instructions) if kw == "FROM"]
    assert len(stages) == 2, "builder and runtime stages"
    runs = [(i, arg) for i, (kw, arg) in enumerate(instructions) if kw == "RUN"]
    syncs = [(i, arg) for i, arg in runs if "uv sync" in arg]
    assert syncs
    for _, arg in syncs:
        assert "--frozen" in arg.split()
        assert "--no-dev" in arg.split()
        assert "--extra prod" in arg
        assert "pip install" not in arg
    lock_copy = [i for i, (kw, arg) in enumerate(instructions) if kw == "COPY" and "uv.lock" in arg]
    assert lock_copy
    assert lock_copy[0] < syncs[0][0], "uv.lock is copied before the first sync"
    assert all(stages[0] < i < stages[1] for i, _ in syncs), "sync happens in the builder"
    # The extra that brings the PostgreSQL and S3 clients exists and is locked.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    prod = {re.split(r"[<>=!~ ]", d)[0] for d in project["optional-dependencies"]["prod"]}
    assert {"psycopg2-binary", "boto3"} <= prod <= set(_lock_versions())


def test_runtime_stage_is_slim_non_root_and_carries_venv_and_source():
    instructions = _dockerfile_instructions(DOCKERFILE)
    runtime_start = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    runtime = instructions[runtime_start:]
    assert _base_image(DOCKERFILE, runtime[0][1]) == "python:3.11-slim-bookworm"
    copies = [arg for kw, arg in runtime if kw == "COPY"]
    assert any("--from=builder" in c and "/app/.venv" in c for c in copies)
    for folder in ("platform/", "pipelines/", "services/"):
        assert any(c.startswith(folder) for c in copies), folder
        assert (REPO / folder).is_dir()
    users = [arg for kw, arg in runtime if kw == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"0", "root"}
    env = " ".join(arg for kw, arg in runtime if kw == "ENV")
    assert "PATH=/app/.venv/bin:" in env
    assert "RISKOPS_HOME=/var/lib/riskops" in env
    assert all(var in _setting_variables() for var in re.findall(r"\b(RISKOPS_\w+)=", env))


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, MLFLOW_DOCKERFILE], ids=lambda p: p.name)
def test_every_stage_builds_on_the_official_image_unless_base_image_is_given(dockerfile):
    # Given the FROM lines of a Dockerfile (infra/image/build.sh passes BASE_IMAGE to buildah)
    instructions = _dockerfile_instructions(dockerfile)
    stages = [arg for kw, arg in instructions if kw == "FROM"]

    # Then each stage starts from the one build argument, whose default is the official image
    assert stages
    assert all(stage.split()[0] == "${BASE_IMAGE}" for stage in stages)
    assert _base_image(dockerfile, stages[0]) == "python:3.11-slim-bookworm"


def test_ci_builds_and_runs_the_image_after_the_tests():
    # Given the CI script and the Makefile
    ci = (REPO / ".ci" / "run").read_text()
    makefile = (REPO / "Makefile").read_text()
    steps = re.findall(r"^step \"[^\"]+\" (make [\w-]+)$", ci, flags=re.M)

    # Then CI runs the container test as its own step after the test suite, and make knows it
    assert steps == ["make test", "make test-container"]
    assert re.search(r"^test-container:", makefile, flags=re.M)
    assert (INFRA / "image" / "test-container.sh").is_file()


def test_one_image_serves_worker_service_and_prefect_server():
    services = _services()
    images = {services[n]["image"] for n in (SERVICE, WORKER, "prefect-server")}
    assert len(images) == 1
    assert {services[n]["build"]["dockerfile"] for n in (SERVICE, WORKER)} == {
        "infra/docker/Dockerfile"
    }


def test_mlflow_image_pins_the_locked_versions():
    # Client (uv.lock) and server (mlflow.Dockerfile) must run the same MLflow.
    args = dict(
        arg.split("=", 1)
        for kw, arg in _dockerfile_instructions(MLFLOW_DOCKERFILE)
        if kw == "ARG" and "=" in arg
    )
    lock = _lock_versions()
    assert args["MLFLOW_VERSION"] == lock["mlflow"]
    assert args["PSYCOPG2_VERSION"] == lock["psycopg2-binary"]
    assert args["BOTO3_VERSION"] == lock["boto3"]
    assert _services()["mlflow"]["image"].endswith(f":{lock['mlflow']}")
    assert "psycopg2" in _compose_env("mlflow")["MLFLOW_BACKEND_STORE_URI"]


# --------------------------------------------------------------------------- documentation


def test_readme_documents_every_setting_the_deployments_use():
    # Every variable a deployment sets, and every variable Settings reads, has a table row.
    readme = README.read_text()
    rows = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]+)`", readme, flags=re.M))
    used = set()
    for _, env in _all_containers():
        used |= {k for k in env if k.startswith(_SCOPES)}
    for server in ("mlflow", "prefect-server"):
        used |= {k for k in _compose_env(server) if k.startswith(_SCOPES)}
    readable = {v for v in _setting_variables() if v.startswith("RISKOPS_")}
    assert sorted(used - rows) == []
    assert sorted(readable - rows) == []
