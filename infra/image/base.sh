#!/usr/bin/env bash
# A stand-in for python:3.11-slim-bookworm built from Debian packages only, for machines that
# reach a Debian mirror and PyPI but no container registry:
#   debootstrap --variant=minbase bookworm  ->  buildah image FROM scratch
#   + python3 (3.11), python3-pip, python3-venv, ca-certificates from Debian, inside it.
# Usage (root, buildah + debootstrap installed; `make base-image` does it all):
#   infra/image/base.sh [TAG]        default TAG: localhost/riskops-python:3.11-slim-bookworm
# The Dockerfiles then build on it with `--build-arg BASE_IMAGE=TAG`.
# Environment: DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR (default deb.debian.org), STORAGE_DRIVER.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "infra/image/base.sh needs root (buildah with vfs storage and chroot isolation): sudo make base-image" >&2
    exit 1
fi
tag=${1:-localhost/riskops-python:3.11-slim-bookworm}
release=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

ctr=""
cleanup() {
    if [ -n "$ctr" ]; then
        buildah umount "$ctr" >/dev/null 2>&1 || true
        buildah rm "$ctr" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

start=$(date +%s)
ctr=$(buildah from scratch)
rootfs=$(buildah mount "$ctr")
echo "base image: debootstrap --variant=minbase $release from $mirror"
debootstrap --variant=minbase "$release" "$rootfs" "$mirror" >/dev/null
buildah umount "$ctr" >/dev/null

# Inside the new root file system: the same package sources with updates and security
# fixes, the path excludes of Debian's slim images (no docs but copyright, no man pages, no
# translations), then Python and pip from Debian.
buildah run --isolation chroot "$ctr" -- /bin/sh -eu -c "
export DEBIAN_FRONTEND=noninteractive
cat > /etc/apt/sources.list <<SOURCES
deb $mirror $release main
deb $mirror $release-updates main
deb $security $release-security main
SOURCES
cat > /etc/dpkg/dpkg.cfg.d/slim <<EXCLUDES
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EXCLUDES
cat > /etc/apt/apt.conf.d/slim <<APT
APT::Install-Recommends \"false\";
APT::Install-Suggests \"false\";
APT
apt-get update -qq
apt-get dist-upgrade -y -qq >/dev/null
apt-get install -y -qq python3 python3-pip python3-venv ca-certificates >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log
find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian
find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
# The official image's layout: python, python3, pip, pip3 in /usr/local/bin.
for name in python python3; do ln -sf /usr/bin/python3.11 /usr/local/bin/\$name; done
for name in pip pip3; do ln -sf /usr/bin/pip3 /usr/local/bin/\$name; done
# This Python belongs to the image, as in the official one: pip may install into it
# (PEP 668's marker is meant for a shared system, not a container's only Python).
rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
"

# SSL_CERT_FILE: uv and other rustls clients verify against Debian's trust store (the one
# ca-certificates maintains, where a site adds its own CAs) instead of a bundled copy.
buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --cmd python3 \
    --label org.opencontainers.image.title="Python 3.11 on Debian $release (minbase), from Debian packages" \
    --label org.opencontainers.image.source="infra/image/base.sh" \
    "$ctr"
buildah commit --quiet "$ctr" "$tag" >/dev/null
buildah rm "$ctr" >/dev/null
ctr=""
echo "base image: $tag built in $(($(date +%s) - start)) s"
