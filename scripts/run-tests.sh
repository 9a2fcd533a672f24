#!/usr/bin/env bash
# The single test command of pullthrough (README and .ci/run call it):
#   installs the build and test dependencies (scripts/install-deps.sh),
#   configures and builds into build/ (Ninja, RelWithDebInfo),
#   runs every CTest test: unit tests (label "unit") and integration tests
#   (label "integration": real registries, nginx, skopeo and curl against build/pullthrough),
#   then the same suite against an AddressSanitizer/UndefinedBehaviorSanitizer build in build-asan/
#   (any sanitizer report, leaks included, fails the run), and a short fuzzing smoke of every
#   libFuzzer target (scripts/fuzz.sh, clang, build-fuzz/). docs/fuzzing.md explains both.
#   Tests labelled "once" run in the first suite only, not under the sanitizers (they test no code
#   of the build under test: test_container_image builds and runs docker/Dockerfile's image).
#
# Extra arguments go to ctest (for the normal and the sanitizer suite; the sanitizer suite adds
# -LE once, and ctest excludes only tests matching every -LE given), e.g.:
#   scripts/run-tests.sh -L unit                        # unit tests only
#   scripts/run-tests.sh -L integration                 # integration tests only
#   scripts/run-tests.sh -LE once                       # all but the container image build
#   SANITIZE=0 FUZZ=0 scripts/run-tests.sh -R test_tunnel -V   # one test, verbose, quickly
# Environment:
#   SKIP_DEPS=1            do not run install-deps.sh (deps already there, or not root)
#   BUILD_DIR=dir          build directory (default build)
#   CTEST_PARALLEL_LEVEL=n tests run at once (default: number of cores)
#   KEEP=1                 integration tests keep their temp dirs (path printed)
#   SANITIZE=0             skip the sanitizer build and suite
#   SANITIZE_BUILD_DIR=dir its build directory (default build-asan)
#   FUZZ=0                 skip the fuzzing smoke
#   FUZZ_SECONDS=n         seconds per fuzz target in the smoke (default 20)
# Exits non-zero when a build or any test fails, a sanitizer reports anything, or a fuzzer finds
# something; the later stages still run after a failed one, so one run shows every problem.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build}
SANITIZE_BUILD_DIR=${SANITIZE_BUILD_DIR:-build-asan}

step() { printf '\n==> %s\n' "$*"; }

# Configures DIR with Ninja, unless it was configured with another generator before.
configure() { # DIR CMAKE-ARGS...
  local dir=$1 cached
  shift
  local gen=(-G Ninja)
  if [ -f "$dir/CMakeCache.txt" ]; then
    cached=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$dir/CMakeCache.txt")
    if [ -n "$cached" ] && [ "$cached" != Ninja ]; then
      echo "note: $dir was configured with '$cached'; keeping that generator"
      gen=()
    fi
  fi
  cmake -S . -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
}

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  step "installing dependencies (scripts/install-deps.sh)"
  bash scripts/install-deps.sh
fi

failures=()
timings=()
stage_start=$SECONDS
timed() { # NAME: records how long the stage since the last call took
  timings+=("$(printf '%-22s %4d s' "$1" $((SECONDS - stage_start)))")
  stage_start=$SECONDS
}

step "configuring $BUILD_DIR"
configure "$BUILD_DIR"

step "checking the layers (scripts/check-layers.sh)"
bash scripts/check-layers.sh || failures+=("layers")
timed "layer check"

step "building"
cmake --build "$BUILD_DIR"
timed "build"

step "testing"
jobs=${CTEST_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel "$jobs" "$@" || failures+=("tests")
timed "tests"

if [ "${SANITIZE:-1}" != 0 ]; then
  step "configuring $SANITIZE_BUILD_DIR (PULLTHROUGH_SANITIZE=ON: ASan + UBSan)"
  configure "$SANITIZE_BUILD_DIR" -DPULLTHROUGH_SANITIZE=ON
  step "building with sanitizers"
  if cmake --build "$SANITIZE_BUILD_DIR"; then
    timed "sanitizer build"
    step "testing with sanitizers"
    # Reports go to files rather than stderr: a proxy started by an integration test logs into a
    # temp dir that the test removes, and a leak is only reported when the proxy exits after the
    # test has passed. Any file here fails the run. halt_on_error: the first error ends the
    # process, so it cannot go unnoticed in a test that only checks responses.
    reports="$ROOT/$SANITIZE_BUILD_DIR/sanitizer-reports"
    rm -rf "$reports"
    mkdir -p "$reports"
    export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:check_initialization_order=1:strict_init_order=1:detect_odr_violation=2:log_path=$reports/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
    # -LE once: tests that check no code of this build (the container image) ran above already.
    ctest --test-dir "$SANITIZE_BUILD_DIR" --output-on-failure --parallel "$jobs" -LE once "$@" ||
      failures+=("sanitizer tests")
    unset ASAN_OPTIONS UBSAN_OPTIONS
    mapfile -t found < <(find "$reports" -type f | sort)
    if [ "${#found[@]}" -gt 0 ]; then
      for report in "${found[@]}"; do
        printf '\n--- %s\n' "$report"
        head -n 60 "$report"
      done
      failures+=("sanitizer reports (${#found[@]} in $reports)")
    fi
  else
    failures+=("sanitizer build")
  fi
  timed "sanitizer tests"
fi

if [ "${FUZZ:-1}" != 0 ]; then
  step "fuzzing smoke (scripts/fuzz.sh, ${FUZZ_SECONDS:-20}s per target)"
  FUZZ_SECONDS=${FUZZ_SECONDS:-20} bash scripts/fuzz.sh || failures+=("fuzzing")
  timed "fuzz build and smoke"
fi

step "time per stage"
printf '%s\n' "${timings[@]}"
if [ "${#failures[@]}" -gt 0 ]; then
  echo "FAILED: ${failures[*]}" >&2
  exit 1
fi
