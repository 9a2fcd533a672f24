#!/usr/bin/env bash
# Installs the Debian packages only the benchmark needs (the test suite does not):
# squid-openssl (the ssl_bump baseline), hyperfine (optional), python3-matplotlib (the chart).
# The integration-test tools (docker-registry, skopeo, nginx, curl) come from scripts/install-deps.sh.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "bench/setup.sh: run as root (apt-get)" >&2
  exit 1
fi
pkgs=(squid-openssl hyperfine python3-matplotlib linux-perf valgrind)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: squid's recommends pull in a web stack we do not need.
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian package enables and starts a system squid on :3128; the benchmark runs its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet squid 2>/dev/null; then
  systemctl stop squid || true
  systemctl disable squid >/dev/null 2>&1 || true
fi
echo "bench/setup.sh: ${pkgs[*]} installed"
