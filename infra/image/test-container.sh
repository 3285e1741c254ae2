#!/usr/bin/env bash
# `make test-container`: build the RiskOps image, then run it the way a deployment would.
# Inside the image (buildah run, chroot isolation, host network, the image's own user):
# train and promote a credit champion into a RISKOPS_HOME on a folder mounted from a
# temporary directory, start `riskops serve`; from the host: /readyz is 200, /credit/score
# answers PDs with reasons, every server process runs as the image's non-root user. The
# server is stopped (TERM, then KILL after a bounded wait), the container and the temporary
# directory removed, whatever happens.
# Environment: CONTAINER_TEST_PORT (default 8190), RISKOPS_IMAGE, SKIP_IMAGE_BUILD=1 (reuse).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
    echo "make test-container needs root (buildah with vfs storage and chroot isolation): sudo make test-container" >&2
    exit 1
fi
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
image=${RISKOPS_IMAGE:-riskops:$version}
port=${CONTAINER_TEST_PORT:-8190}
work=$(mktemp -d "${TMPDIR:-/tmp}/riskops-container-test.XXXXXX")
ctr=""
server=""

cleanup() {
    local status=$?
    if [ -n "$server" ]; then
        python3 infra/image/smoke.py stop "$server" 30 || status=1
        wait "$server" 2>/dev/null || true
    fi
    if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
if [ "${SKIP_IMAGE_BUILD:-0}" != 1 ]; then
    IMAGE_BUILDER=buildah IMAGE_REPORT="$work/build.txt" RISKOPS_IMAGE="$image" \
        infra/image/build.sh riskops
fi

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
case ${user%%:*} in
    "" | 0 | root) echo "container: image $image runs as root ('$user')" >&2; exit 1 ;;
esac
mkdir -p "$work/home"
chown "$user" "$work/home"
ctr=$(buildah from --pull=false "$image")
facts='
import importlib.metadata, json
from riskops.data.credit import load_credit
applicants = json.loads(load_credit().X.head(5).to_json(orient="records"))
installed = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
print(json.dumps({"applicants": applicants, "installed": installed}))
'
run=(buildah run --isolation chroot --network host --volume "$work/home:/var/lib/riskops" "$ctr" --)

echo "container: train and promote a credit champion in $image (user $user)"
timeout --kill-after=10 900 "${run[@]}" riskops train credit --model logistic
timeout --kill-after=10 600 "${run[@]}" riskops promote credit_pd
# Five real applicants to score, and what the image's environment holds.
timeout --kill-after=10 300 "${run[@]}" python -c "$facts" > "$work/facts.json"
python3 infra/image/smoke.py locked uv.lock "$work/facts.json"

echo "container: riskops serve on 127.0.0.1:$port"
"${run[@]}" riskops serve --host 127.0.0.1 --port "$port" > "$work/serve.log" 2>&1 &
server=$!
if ! python3 infra/image/smoke.py wait-ready "http://127.0.0.1:$port/readyz" 300 ||
    ! python3 infra/image/smoke.py score "http://127.0.0.1:$port/credit/score" "$work/facts.json" ||
    ! python3 infra/image/smoke.py users "$server" "$user"; then
    echo "container: server log (last 40 lines):" >&2
    tail -n 40 "$work/serve.log" >&2
    exit 1
fi
python3 infra/image/smoke.py stop "$server" 30
wait "$server" 2>/dev/null || true
server=""

[ -f "$work/build.txt" ] && cat "$work/build.txt"
echo "container: image $image, size $(buildah images --noheading --format '{{.Size}}' "$image")"
echo "container: test passed in $(($(date +%s) - started)) s"
