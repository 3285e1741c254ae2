#!/usr/bin/env bash
# Build the RiskOps and MLflow images from infra/docker/*.Dockerfile (`make image`).
#   infra/image/build.sh [riskops|mlflow]...     default: both
# With `docker build` when a Docker engine answers, else with buildah (vfs storage, chroot
# isolation: no daemon, no privileges beyond root, works inside a container). buildah builds on
# a base image made from Debian packages (infra/image/base.sh; built once, then reused) unless
# BASE_IMAGE names another, e.g. python:3.11-slim-bookworm when a registry is reachable.
# Environment: IMAGE_BUILDER (docker|buildah, default: detected), BASE_IMAGE, RISKOPS_IMAGE,
# MLFLOW_IMAGE, HOST_CA_BUNDLE (buildah: CA bundle the build's downloads trust, default the
# host's /etc/ssl/certs/ca-certificates.crt; empty: the image's own).
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
mlflow_version=$(sed -n 's/^ARG MLFLOW_VERSION=//p' infra/docker/mlflow.Dockerfile)
riskops_image=${RISKOPS_IMAGE:-riskops:$version}
mlflow_image=${MLFLOW_IMAGE:-riskops-mlflow:$mlflow_version}
local_base=localhost/riskops-python:3.11-slim-bookworm

if [ -z "${IMAGE_BUILDER:-}" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        IMAGE_BUILDER=docker
    else
        IMAGE_BUILDER=buildah
    fi
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(riskops mlflow)

build_args=()
if [ "$IMAGE_BUILDER" = buildah ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "make image without Docker needs root (buildah, vfs, chroot): sudo make image" >&2
        exit 1
    fi
    export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
    base=${BASE_IMAGE:-$local_base}
    if [ "$base" = "$local_base" ] && ! buildah inspect --type image "$base" >/dev/null 2>&1; then
        infra/image/base.sh "$base"
    fi
    build_args+=(--build-arg "BASE_IMAGE=$base")
    # A TLS-inspecting egress proxy: the build's pip and uv must trust what the host trusts.
    # Bind-mounted for the RUN steps only; the images keep Debian's bundle.
    ca_bundle=${HOST_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
    volumes=()
    if [ -n "$ca_bundle" ] && [ -f "$ca_bundle" ]; then
        volumes+=(--volume "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro")
    fi
elif [ -n "${BASE_IMAGE:-}" ]; then
    build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
fi

size_of() {
    if [ "$IMAGE_BUILDER" = docker ]; then
        docker image ls --format '{{.Size}}' "$1"
    else
        buildah images --noheading --format '{{.Size}}' "$1"
    fi
}

build() {  # build NAME DOCKERFILE TAG
    local name=$1 dockerfile=$2 tag=$3 start seconds size
    start=$(date +%s)
    echo "image: building $tag from $dockerfile with $IMAGE_BUILDER"
    if [ "$IMAGE_BUILDER" = docker ]; then
        docker build -f "$dockerfile" "${build_args[@]}" -t "$tag" .
    else
        local previous
        previous=$(buildah images --noheading --quiet --no-trunc "$tag" 2>/dev/null || true)
        buildah bud --isolation chroot --network host --pull=false \
            --ignorefile "$dockerfile.dockerignore" "${volumes[@]}" "${build_args[@]}" \
            -f "$dockerfile" -t "$tag" .
        # The image this tag named before is left untagged: remove it, or every rebuild keeps
        # another copy (vfs: the full root file system) in buildah's storage.
        if [ -n "$previous" ] &&
            [ "$previous" != "$(buildah images --noheading --quiet --no-trunc "$tag")" ]; then
            buildah rmi "$previous" >/dev/null 2>&1 || true
        fi
    fi
    seconds=$(($(date +%s) - start))
    size=$(size_of "$tag")
    echo "image: $tag built in ${seconds} s, size $size" | tee -a "${IMAGE_REPORT:-/dev/null}"
}

for target in "${targets[@]}"; do
    case $target in
        riskops) build riskops infra/docker/Dockerfile "$riskops_image" ;;
        mlflow) build mlflow infra/docker/mlflow.Dockerfile "$mlflow_image" ;;
        *) echo "unknown image $target (riskops|mlflow)" >&2; exit 2 ;;
    esac
done
