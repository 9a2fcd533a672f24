#!/usr/bin/env bash
# Configures and builds pullthrough into build/ (the executable is build/pullthrough).
#   scripts/build.sh [--target NAME]... [CMAKE-ARGS...]
# CMAKE-ARGS go to the configure step (e.g. -DPULLTHROUGH_TESTS=OFF, as docker/Dockerfile does).
# `--target NAME` (or --target=NAME, repeatable) builds only those targets, e.g. `--target
# pullthrough` for the proxy alone (scripts/start.sh); without it, everything configured is built,
# tests included. The configuration is the same either way, so build/ stays shared with
# scripts/run-tests.sh.
# Environment: BUILD_TYPE (default RelWithDebInfo); BUILD_TARGETS="a b" adds targets like --target.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
read -r -a targets <<<"${BUILD_TARGETS:-}"
configure_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target)
      [ $# -ge 2 ] || { echo "build.sh: --target needs a target name" >&2; exit 2; }
      targets+=("$2")
      shift 2
      ;;
    --target=*)
      targets+=("${1#--target=}")
      shift
      ;;
    *)
      configure_args+=("$1")
      shift
      ;;
  esac
done
set -- "${configure_args[@]}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@" >/dev/null
build_args=()
if [ "${#targets[@]}" -gt 0 ]; then build_args=(--target "${targets[@]}"); fi
cmake --build build "${build_args[@]}"
