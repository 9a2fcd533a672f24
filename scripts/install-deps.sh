#!/usr/bin/env bash
# Installs everything pullthrough needs to build, run and test on Debian 12.
# Idempotent: packages already present are left alone. Runs as root (CI) or via sudo.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

build_deps=(
  build-essential cmake ninja-build pkg-config
  libasio-dev libssl-dev node-llhttp librocksdb-dev
  libfmt-dev libspdlog-dev catch2 libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libc-ares-dev
)
# Real peers for the integration tests: the CNCF registry, the real clients (skopeo, containerd,
# docker, podman), nginx as a CDN, squid as a corporate proxy (squid-openssl: the benchmark's
# ssl_bump peer is the same package), htpasswd, debootstrap for a base image to build ours on, and
# Ceph's monitor, OSD and RADOS Gateway as a real S3 server (s3cmd to check it; the rest of
# ceph-common's recommends are not needed: --no-install-recommends below).
test_deps=(
  docker-registry skopeo containerd docker.io podman nginx-light squid-openssl debootstrap
  curl openssl apache2-utils ca-certificates
  python3 python3-cryptography python3-yaml procps iproute2  # python3-yaml: test_kubernetes_manifests
  clang libclang-rt-14-dev llvm  # libFuzzer and llvm-symbolizer for scripts/fuzz.sh
  chromium  # headless, for the status page test
  ceph-mon ceph-osd radosgw s3cmd  # a single-node Ceph RGW as the S3 server (tests/integration/rgw.sh)
)

want=("${build_deps[@]}")
if [ "${1:-}" != "--build-only" ]; then want+=("${test_deps[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Installing docker-registry and nginx may start their system services; a build box wants neither
# (the tests start their own instances). Only right after installing, so a test suite running
# meanwhile keeps its own servers.
if [ "${#missing[@]}" -gt 0 ]; then
  for svc in docker-registry nginx squid docker containerd; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      $SUDO systemctl stop "$svc" || true
      $SUDO systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
  done
  # Without systemd (containers, CI sandboxes) the postinst may have started them directly.
  pkill -f '^nginx: master process /usr/sbin/nginx$' 2>/dev/null || true
  pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true
  pkill -x squid 2>/dev/null || true
  pkill -f '^/usr/sbin/dockerd( |$)' 2>/dev/null || true
  pkill -f '^/usr/bin/containerd$' 2>/dev/null || true
fi
exit 0
