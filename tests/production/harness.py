"""Process plumbing for the production-mode tests: servers as bounded, logged local processes.

Docker cannot run on the CI machines, so the topology of ``infra/docker-compose.yml`` is
rebuilt from local processes: one PostgreSQL cluster, an MLflow tracking server and a
Prefect server on it, and any RiskOps process pointed at them through environment variables.

Every process started here

* binds to 127.0.0.1 only,
* runs under coreutils ``timeout`` so that it dies by itself even if pytest is killed
  (``SERVER_LIFETIME_SECONDS``),
* writes stdout and stderr to a log file that is registered in :data:`LOGS`, so the
  conftest can attach the tails to a failing test's report,
* is stopped by its own process id (and its own process group), never by name.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
INIT_SQL = REPO / "infra" / "postgres" / "init.sql"
ANCHOR_SQL = REPO / "infra" / "postgres" / "anchor.sql"
"""Run after ``INIT_SQL`` as in compose: the audit trail's append-only anchor table."""
COMPOSE_FILE = REPO / "infra" / "docker-compose.yml"
DATABASES = ("mlflow", "prefect", "riskops")

#: Hard upper bound on the life of any server, enforced by ``timeout`` outside pytest.
SERVER_LIFETIME_SECONDS = 1800
STARTUP_TIMEOUT_SECONDS = 240.0
APT_TIMEOUT_SECONDS = 900.0

#: name -> log file of every process started in this session, for failure reports.
LOGS: dict[str, Path] = {}
#: name -> seconds from launch to healthy, and from stop signal to exit, for the summary.
STARTUP_SECONDS: dict[str, float] = {}
STOP_SECONDS: dict[str, float] = {}

_TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}


class HarnessError(RuntimeError):
    """A server did not start, or a child process failed; the message carries its log."""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without anything that points at a store or server.

    Stray ``RISKOPS_*``, ``MLFLOW_*`` or ``PREFECT_*`` variables from the developer's shell
    would silently redirect a child to another backend (or, for ``RISKOPS_*``, make
    ``Settings`` refuse to start), so children only see what the harness sets.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RISKOPS_", "MLFLOW_", "PREFECT_", "BENTOML_", "AWS_"))
    }
    env.update(_TELEMETRY_OFF)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class ServerProcess:
    """One long-running child process with a log file and a readiness check.

    Parameters
    ----------
    name
        Unique name, used for the log file and reports.
    argv
        Command line; it is wrapped in ``timeout``.
    env
        Complete environment of the child.
    log_dir
        Folder of the log file.
    ready_url
        Polled until it answers 2xx; ``None`` when ``ready`` is given instead.
    ready
        Alternative readiness probe, a callable returning ``True`` when ready.
    stop_signal
        First signal sent at teardown (PostgreSQL wants SIGINT, a fast shutdown).
    user
        Run as this system user (PostgreSQL refuses to run as root).
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_dir: Path
    ready_url: str | None = None
    ready: object = None
    stop_signal: int = signal.SIGTERM
    user: str | None = None
    cwd: Path | None = None
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS
    startup_seconds: float = field(default=float("nan"), init=False)
    _began: float = field(default=0.0, init=False, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise HarnessError(f"{self.name} was never started")
        return self._proc.pid

    def start(self) -> ServerProcess:
        """Launch and wait until ready."""
        return self.launch().wait_ready()

    def launch(self) -> ServerProcess:
        """Launch without waiting, so that several servers can boot side by side."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        LOGS[self.name] = self.log_path
        argv = [
            "timeout",
            "--signal=TERM",
            "--kill-after=30",
            str(SERVER_LIFETIME_SECONDS),
            *self.argv,
        ]
        self._began = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                argv,
                env=dict(self.env),
                cwd=self.cwd or self.log_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self.user,
            )
        return self

    def wait_ready(self) -> ServerProcess:
        """Poll the readiness probe; on failure stop the process and raise with its log."""
        return wait_all_ready(self)[0]

    def poll_ready(self) -> bool:
        """One readiness check; records the startup time on the first success."""
        if self._proc is not None and self._proc.poll() is not None:
            raise HarnessError(
                f"{self.name} exited with {self._proc.returncode} before it was ready;"
                f" log {self.log_path}:\n{tail(self.log_path)}"
            )
        probe = self.ready if callable(self.ready) else None
        ok = bool(probe()) if probe is not None else http_ok(str(self.ready_url))
        if ok and self.startup_seconds != self.startup_seconds:  # still NaN: first success
            self.startup_seconds = time.monotonic() - self._began
            STARTUP_SECONDS[self.name] = self.startup_seconds
        return ok

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, grace: float = 20.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        began = time.monotonic()
        # The child leads its own process group (start_new_session), so the group id is
        # our child's pid: this reaches the server's workers and nothing else.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, self.stop_signal)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        # A worker that outlived its parent still carries the group id: no orphans.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        STOP_SECONDS[self.name] = time.monotonic() - began

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_all_ready(*servers: ServerProcess) -> tuple[ServerProcess, ...]:
    """Wait for launched servers side by side, so each one's startup time is its own."""
    pending = list(servers)
    while pending:
        for server in list(pending):
            try:
                if server.poll_ready():
                    pending.remove(server)
                    continue
            except HarnessError:
                for other in servers:
                    other.stop()
                raise
            if time.monotonic() > server._began + server.startup_timeout:
                for other in servers:
                    other.stop()
                raise HarnessError(
                    f"{server.name} not ready after {server.startup_timeout:.0f} s;"
                    f" log {server.log_path}:\n{tail(server.log_path)}"
                )
        if pending:
            time.sleep(0.25)
    return servers


def run_checked(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    cwd: Path | None = None,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; a non-zero exit raises with its output."""
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=user,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{argv[0]} timed out after {timeout:.0f} s:\n{exc.output}") from exc
    if done.returncode != 0:
        raise HarnessError(
            f"{' '.join(argv)} exited with {done.returncode}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
        )
    return done


# --------------------------------------------------------------------------- concurrency

_WORKER_PRELUDE = """\
import os as _os, pathlib as _pathlib, time as _time

WORKER = int(_os.environ["HARNESS_WORKER"])


def barrier(timeout=120.0):
    # Everyone announces readiness, then waits for the parent's go: the contended part
    # starts in all workers within milliseconds, after their slow imports.
    folder = _pathlib.Path(_os.environ["HARNESS_BARRIER"])
    (folder / f"ready-{WORKER}").touch()
    deadline = _time.monotonic() + timeout
    while not (folder / "go").exists():
        if _time.monotonic() > deadline:
            raise TimeoutError("barrier: no go from the parent")
        _time.sleep(0.01)

"""


def run_python_concurrently(
    code: str,
    n: int,
    *,
    env: Mapping[str, str],
    workdir: Path,
    timeout: float = 120.0,
) -> list[subprocess.CompletedProcess[str]]:
    """Run ``n`` copies of a Python script at once; all must succeed.

    The script sees ``WORKER`` (0..n-1) and ``barrier()``: each copy calls ``barrier()``
    right before its contended part (logging runs, promoting a model...), and the parent
    releases all of them together once every copy has reached it.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "worker.py"
    script.write_text(_WORKER_PRELUDE + textwrap.dedent(code))
    barrier_dir = Path(tempfile.mkdtemp(prefix="barrier-", dir=workdir))
    procs: list[subprocess.Popen[str]] = []
    logs: list[Path] = []
    try:
        for worker in range(n):
            log = workdir / f"worker-{worker}.log"
            logs.append(log)
            child_env = {
                **env,
                "HARNESS_WORKER": str(worker),
                "HARNESS_BARRIER": str(barrier_dir),
            }
            with log.open("w") as handle:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(script)],
                        env=child_env,
                        cwd=workdir,
                        stdin=subprocess.DEVNULL,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                        text=True,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + timeout
        while len(list(barrier_dir.glob("ready-*"))) < n:
            failed = [i for i, p in enumerate(procs) if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                raise HarnessError(
                    f"workers {failed or 'all'} never reached the barrier:\n"
                    + "\n".join(f"--- worker {i} ---\n{tail(logs[i])}" for i in range(n))
                )
            time.sleep(0.02)
        (barrier_dir / "go").touch()
        results = []
        for worker, proc in enumerate(procs):
            try:
                proc.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as exc:
                raise HarnessError(f"worker {worker} timed out:\n{tail(logs[worker])}") from exc
            output = logs[worker].read_text(errors="replace")
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, output, ""))
        bad = [r for r in results if r.returncode != 0]
        if bad:
            raise HarnessError(
                "\n".join(
                    f"--- worker {results.index(r)} exited {r.returncode} ---\n{r.stdout}"
                    for r in bad
                )
            )
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir(install: bool = True) -> Path:
    """The folder of ``initdb``/``postgres``/``psql``, installing Debian's package if needed."""
    found = _find_postgres_bin()
    if found is not None:
        return found
    if not install:
        raise HarnessError("PostgreSQL server binaries (initdb, postgres) not found")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise HarnessError(
            "PostgreSQL server binaries not found and cannot install them here"
            " (needs root and apt-get): install the `postgresql` package"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_checked(["apt-get", "update"], env=env, timeout=APT_TIMEOUT_SECONDS)
    run_checked(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        env=env,
        timeout=APT_TIMEOUT_SECONDS,
    )
    found = _find_postgres_bin()
    if found is None:
        raise HarnessError("installed `postgresql` but still no initdb/postgres binaries")
    return found


def _find_postgres_bin() -> Path | None:
    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parents[1].name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=version, reverse=True)
    candidates = [Path(p).parent for p in debian]
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "postgres", "psql")):
            return folder
    return None


def _unprivileged_user() -> str | None:
    """``None`` when we are not root; else a system user that may own the cluster."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "riskops-pg"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    run_checked(["useradd", "--system", "--user-group", "--no-create-home", "riskops-pg"])
    return "riskops-pg"


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster with the databases of ``infra/postgres/init.sql``."""

    host: str
    port: int
    user: str
    password: str
    bin_dir: Path
    process: ServerProcess

    def url(self, database: str, driver: str = "psycopg2") -> str:
        """SQLAlchemy URL, e.g. ``url("mlflow")`` or ``url("prefect", "asyncpg")``."""
        return (
            f"postgresql+{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    @property
    def urls(self) -> dict[str, str]:
        """psycopg2 URLs of every database, keyed by database name."""
        return {name: self.url(name) for name in DATABASES}

    def dsn(self, database: str) -> str:
        """libpq URL (for psql and psycopg2.connect)."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def query(self, database: str, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        import psycopg2

        with contextlib.closing(psycopg2.connect(self.dsn(database), connect_timeout=5)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                return list(cur.fetchall()) if cur.description else []


@contextlib.contextmanager
def postgres_cluster(
    log_dir: Path, port: int | None = None, *, durable: bool = False
) -> Iterator[PostgresServer]:
    """Init, start and (at exit) stop and delete a PostgreSQL cluster on ``port`` (a free
    one by default); ``durable`` keeps PostgreSQL's durable commits (a benchmark's)."""
    import psycopg2

    bin_dir = postgres_bin_dir()
    user = _unprivileged_user()
    # pytest's tmp folders are private to root; the cluster lives where its owner can enter.
    root = Path(tempfile.mkdtemp(prefix="riskops-pg-"))
    data = root / "data"
    password = secrets.token_urlsafe(18)
    superuser = "riskops"
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if user is not None:
        info = pwd.getpwnam(user)
        os.chown(root, info.pw_uid, info.pw_gid)
        os.chown(pwfile, info.pw_uid, info.pw_gid)
    os.chmod(root, 0o700)
    try:
        run_checked(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                superuser,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=root,
            user=user,
            timeout=120,
        )
        pwfile.unlink()
        port = port or free_port()

        def accepting() -> bool:
            try:
                psycopg2.connect(
                    host="127.0.0.1",
                    port=port,
                    user=superuser,
                    password=password,
                    dbname="postgres",
                    connect_timeout=2,
                ).close()
            except psycopg2.OperationalError:
                return False
            return True

        process = ServerProcess(
            name="postgres",
            argv=[
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"port={port}",
                "-c",
                f"unix_socket_directories={root}",
                # A throwaway cluster: durability buys nothing, speed does.
                *(
                    []
                    if durable
                    else [
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                    ]
                ),
                "-c",
                "max_connections=200",
            ],
            env=clean_environment(),
            log_dir=log_dir,
            ready=accepting,
            stop_signal=signal.SIGINT,
            user=user,
            cwd=root,
            startup_timeout=60,
        )
        process.start()
        server = PostgresServer("127.0.0.1", port, superuser, password, bin_dir, process)
        try:
            # The very files the postgres image runs from /docker-entrypoint-initdb.d.
            run_checked(
                [
                    str(bin_dir / "psql"),
                    "-v",
                    "ON_ERROR_STOP=1",
                    "--no-psqlrc",
                    "--dbname",
                    server.dsn("postgres"),
                    "-f",
                    str(INIT_SQL),
                    "-f",
                    str(ANCHOR_SQL),
                ],
                env=clean_environment(),
                timeout=60,
            )
            yield server
        finally:
            process.stop(grace=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- MLflow, Prefect


@dataclass(frozen=True)
class MlflowServer:
    url: str
    backend_store_uri: str
    artifacts_dir: Path
    process: ServerProcess


def compose_environment(service: str) -> dict[str, str]:
    """The literal ``environment`` of a service in ``infra/docker-compose.yml``."""
    import yaml

    spec = yaml.safe_load(COMPOSE_FILE.read_text())["services"][service]
    return {k: str(v) for k, v in (spec.get("environment") or {}).items()}


def mlflow_server(
    pg: PostgresServer, workdir: Path, log_dir: Path, *, workers: int = 1
) -> MlflowServer:
    """An MLflow server on ``pg``'s ``mlflow`` database, artifacts proxied; not launched yet.

    One worker by default: uvicorn then serves the Flask app from a thread pool, so requests
    still run concurrently against PostgreSQL, and each extra worker costs seconds of imports
    at startup on a 2-core machine.
    """
    port = free_port()
    artifacts = workdir / "mlflow-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    backend = pg.url("mlflow")
    process = ServerProcess(
        name="mlflow",
        argv=[
            str(VENV_BIN / "mlflow"),
            "server",
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        # Stores from the environment and the Host-header allow-list of the compose file,
        # exactly as infra/docker-compose.yml passes them.
        env=clean_environment(
            {
                "MLFLOW_BACKEND_STORE_URI": backend,
                "MLFLOW_ARTIFACTS_DESTINATION": str(artifacts),
                "MLFLOW_SERVER_ALLOWED_HOSTS": compose_environment("mlflow")[
                    "MLFLOW_SERVER_ALLOWED_HOSTS"
                ],
            }
        ),
        log_dir=log_dir,
        ready_url=f"http://127.0.0.1:{port}/health",
        cwd=workdir,
    )
    return MlflowServer(f"http://127.0.0.1:{port}", backend, artifacts, process)


@dataclass(frozen=True)
class PrefectServer:
    url: str
    api_url: str
    database_url: str
    process: ServerProcess


def prefect_server(pg: PostgresServer, workdir: Path, log_dir: Path) -> PrefectServer:
    """A Prefect server on ``pg``'s ``prefect`` database, without the UI; not launched yet."""
    port = free_port()
    database = pg.url("prefect", driver="asyncpg")
    home = workdir / "prefect-server-home"
    home.mkdir(parents=True, exist_ok=True)
    env = clean_environment(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_DATABASE_CONNECTION_URL": database,
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    process = ServerProcess(
        name="prefect",
        argv=[
            str(VENV_BIN / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
            "--analytics-off",
        ],
        env=env,
        log_dir=log_dir,
        ready_url=f"http://127.0.0.1:{port}/api/health",
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    return PrefectServer(url, f"{url}/api", database, process)
