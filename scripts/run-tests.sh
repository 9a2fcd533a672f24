#!/usr/bin/env bash
# The single test command of pullthrough (README and .ci/run call it):
#   installs the build and test dependencies (scripts/install-deps.sh),
#   configures and builds into build/ (Ninja, RelWithDebInfo),
#   runs every CTest test: unit tests (label "unit") and integration tests
#   (label "integration": real registries, nginx, skopeo and curl against build/pullthrough).
#
# Extra arguments go to ctest, e.g.:
#   scripts/run-tests.sh -L unit                        # unit tests only
#   scripts/run-tests.sh -L integration                 # integration tests only
#   scripts/run-tests.sh -R test_tunnel -V              # one test, verbose
# Environment:
#   SKIP_DEPS=1            do not run install-deps.sh (deps already there, or not root)
#   BUILD_DIR=dir          build directory (default build)
#   CTEST_PARALLEL_LEVEL=n tests run at once (default: number of cores)
#   KEEP=1                 integration tests keep their temp dirs (path printed)
# Exits non-zero when the build or any test fails.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build}

step() { printf '\n==> %s\n' "$*"; }

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  step "installing dependencies (scripts/install-deps.sh)"
  bash scripts/install-deps.sh
fi

step "configuring $BUILD_DIR"
gen=(-G Ninja)
if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cached=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt")
  if [ -n "$cached" ] && [ "$cached" != Ninja ]; then
    echo "note: $BUILD_DIR was configured with '$cached'; keeping that generator"
    gen=()
  fi
fi
cmake -S . -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo

step "building"
cmake --build "$BUILD_DIR"

step "testing"
jobs=${CTEST_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel "$jobs" "$@"
