"""Host-side checks of `make test-container` (standard library only: runs on the bare host).

    python3 infra/image/smoke.py wait-ready URL SECONDS      poll /readyz until 200
    python3 infra/image/smoke.py locked uv.lock FACTS.json   installed distributions == uv.lock
    python3 infra/image/smoke.py score URL FACTS.json        POST /credit/score, check PD + reasons
    python3 infra/image/smoke.py users PID USER              PID's container processes run as USER
    python3 infra/image/smoke.py stop PID SECONDS            TERM the tree, KILL what outlives it

Each command prints what it found and exits 1 when the check fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable


def _get(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, urllib.error.URLError):
        return 0


def wait_ready(url: str, seconds: str) -> int:
    deadline = time.monotonic() + float(seconds)
    status = 0
    while time.monotonic() < deadline:
        status = _get(url)
        if status == 200:
            print(f"container: GET {url} -> 200")
            return 0
        time.sleep(1.0)
    print(f"container: GET {url} -> {status or 'no answer'} after {seconds} s", file=sys.stderr)
    return 1


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock_file: str, facts_file: str) -> int:
    """Every distribution in the image's environment is in uv.lock, at the locked version."""
    import tomllib

    with open(lock_file, "rb") as handle:
        lock = tomllib.load(handle)
    # A package may be locked at several versions, one per resolution fork (Python version,
    # platform): the installed one must be one of them.
    versions: dict[str, set[str]] = {}
    for package in lock["package"]:
        versions.setdefault(_normalised(package["name"]), set()).add(package.get("version"))
    with open(facts_file) as handle:
        installed = json.load(handle)["installed"]
    problems = []
    for name, version in sorted(installed.items()):
        wanted = versions.get(_normalised(name), set())
        if version not in wanted:
            problems.append(f"{name} {version} (uv.lock: {sorted(wanted) or 'absent'})")
    if problems or not installed:
        print("container: not the locked environment: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(
        f"container: {len(installed)} installed distributions, each at its uv.lock version "
        f"({len(versions)} names in the lock, dev and optional groups included)"
    )
    return 0


def score(url: str, facts_file: str) -> int:
    with open(facts_file) as handle:
        applicants = json.load(handle)["applicants"]
    body = json.dumps({"applicants": applicants, "reasons": 3}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        print(f"container: POST {url} -> {error.code}: {error.read()[:500]!r}", file=sys.stderr)
        return 1
    results = answer.get("results", [])
    problems = []
    if len(results) != len(applicants):
        problems.append(f"{len(results)} results for {len(applicants)} applicants")
    for i, result in enumerate(results):
        pd_value = result.get("pd")
        if not isinstance(pd_value, float) or not 0.0 < pd_value < 1.0:
            problems.append(f"applicant {i}: pd {pd_value!r} not in (0, 1)")
        if not result.get("reasons"):
            problems.append(f"applicant {i}: no reasons")
    if problems:
        print(f"container: POST {url} -> {status}, but " + "; ".join(problems), file=sys.stderr)
        return 1
    model = answer.get("model", {})
    first = results[0]
    reasons = ", ".join(r["feature"] for r in first["reasons"])
    print(
        f"container: POST {url} -> {status}: {model.get('name')} v{model.get('version')}, "
        f"{len(results)} applicants, first pd {first['pd']:.4f} grade {first.get('grade')} "
        f"reasons {reasons}"
    )
    return 0


def _tree(root: int) -> list[int]:
    """``root`` and every process descending from it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _uid_and_name(pid: int) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
    except OSError:
        return None
    return int(fields["Uid"].split()[1]), fields["Name"].strip()


def _in_container(pid: int) -> bool:
    """Whether ``pid`` runs inside a container's root file system (not buildah's helpers)."""
    try:
        return os.readlink(f"/proc/{pid}/root") != "/"
    except OSError:
        return False


def users(pid: str, image_user: str) -> int:
    """Every process inside the container (buildah's helpers excluded) runs as the image's
    USER: its numeric uid when it names one, else any uid but root's."""
    seen = {p: _uid_and_name(p) for p in _tree(int(pid)) if _in_container(p)}
    found = {p: v for p, v in seen.items() if v is not None}
    if not found:
        print(f"container: no container process under pid {pid}", file=sys.stderr)
        return 1
    uids = sorted({uid for uid, _ in found.values()})
    names = sorted({name for _, name in found.values()})
    print(f"container: {len(found)} processes ({', '.join(names)}) run as uid {uids}")
    wanted = image_user.split(":")[0]
    if wanted.isdigit():
        return 0 if int(wanted) != 0 and uids == [int(wanted)] else 1
    return 1 if 0 in uids else 0


def stop(pid: str, seconds: str) -> int:
    """SIGTERM the whole tree (children first), wait, SIGKILL survivors: no orphans."""
    root = int(pid)
    tree = _tree(root)
    for p in reversed(tree):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        alive = [p for p in tree if _alive(p)]
        if not alive:
            print(f"container: server stopped ({len(tree)} processes)")
            return 0
        time.sleep(0.5)
    for p in _alive_of(tree):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    time.sleep(1.0)
    left = _alive_of(tree)
    print(f"container: killed what outlived SIGTERM; left: {left}")
    return 1 if left else 0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _alive_of(pids: list[int]) -> list[int]:
    return [p for p in pids if _alive(p)]


if __name__ == "__main__":
    commands: dict[str, Callable[..., int]] = {
        "wait-ready": wait_ready,
        "locked": locked,
        "score": score,
        "users": users,
        "stop": stop,
    }
    sys.exit(commands[sys.argv[1]](*sys.argv[2:]))
