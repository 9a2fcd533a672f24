#!/usr/bin/env bash
# Configures and builds pullthrough into build/ (the executable is build/pullthrough).
#   scripts/build.sh [--target NAME]... [CMAKE-ARGS...]
# CMAKE-ARGS go to the configure step (e.g. -DPULLTHROUGH_TESTS=OFF, as docker/Dockerfile does).
# `--target NAME` (repeatable) builds only those targets: `--target pullthrough` is the proxy alone
# (scripts/start.sh); without it everything configured is built, tests included. The configuration
# is the same either way, so build/ stays shared with scripts/run-tests.sh.
# Environment: BUILD_TYPE (default RelWithDebInfo).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
targets=()
configure_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --target ]; then
    [ $# -ge 2 ] || { echo "build.sh: --target needs a target name" >&2; exit 2; }
    targets+=(--target "$2")
    shift 2
  else
    configure_args+=("$1")
    shift
  fi
done
set -- "${configure_args[@]}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@" >/dev/null
cmake --build build "${targets[@]}"
