#!/bin/bash
# setup.sh: installs what smimed needs on Debian 12, idempotently, and creates the
# system user that runs the embedded PostgreSQL (PostgreSQL refuses to run as root).
# Safe to run again and again; does nothing when everything is there.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap gcc g++ libc6-dev
  libgrpc-dev grpc-proto protobuf-compiler libprotobuf-dev
  protobuf-c-compiler libprotobuf-c-dev
  android-libboringssl-dev
  libpq-dev postgresql-15
  python3 python3-grpcio python3-protobuf python3-cryptography
  openssl
  ruby ruby-grpc ruby-grpc-tools protobuf-compiler-grpc python3-yaml
  ruby-pg
  clang-14 libclang-rt-14-dev
  podman runc
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # The postgresql package starts a system-wide cluster we do not use.
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster 15 main stop 2>/dev/null || true
  fi
fi

if [ "$(id -u)" -eq 0 ] && ! getent passwd smimed >/dev/null; then
  echo "setup: creating the system user smimed"
  useradd --system --user-group --home-dir /var/lib/smimed --shell /usr/sbin/nologin smimed
fi
