#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang into build-fuzz and runs each of them for
# FUZZ_SECONDS, one after the other. docs/fuzzing.md describes the targets and what they check.
#
#   scripts/fuzz.sh                          # every target, 300 s each
#   FUZZ_SECONDS=20 scripts/fuzz.sh          # the CI smoke (scripts/run-tests.sh runs this)
#   scripts/fuzz.sh http_codec_fuzz          # some targets only
# Environment:
#   FUZZ_SECONDS=n     seconds per target (default 300)
#   FUZZ_BUILD_DIR=dir build directory (default build-fuzz)
#   FUZZ_JOBS=n        parallel compile jobs (default: number of cores)
#   FUZZ_WORK=dir      grown corpora and crash files (default $FUZZ_BUILD_DIR/fuzz-work)
# Every target starts from its checked-in seeds (tests/fuzz/corpus/<target>, never written) and
# its grown corpus from earlier runs. An input that crashes, leaks, trips a sanitizer, breaks an
# invariant or hangs is saved as $FUZZ_WORK/crashes/<target>/<kind>-<sha1>; reproduce it with
#   build-fuzz/fuzz/<target> <that file>
# Prints the executions per target. Exits non-zero when the build fails or any target found something.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-300}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
WORK=${FUZZ_WORK:-$BUILD/fuzz-work}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

step() { printf '\n==> %s\n' "$*"; }

for tool in clang clang++; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 2; }
done

step "configuring $BUILD (clang, PULLTHROUGH_FUZZ=ON)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPULLTHROUGH_FUZZ=ON -DPULLTHROUGH_SANITIZE=OFF >/dev/null

# The targets as tests/fuzz/CMakeLists.txt declares them.
mapfile -t all_targets < <(sed -n 's/^pt_fuzz_target(\([a-z0-9_]*\))$/\1/p' tests/fuzz/CMakeLists.txt)
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=("${all_targets[@]}"); fi

step "building ${targets[*]}"
cmake --build "$BUILD" --parallel "$JOBS" --target "${targets[@]}"

# Findings must stop the run with a report and a saved input; leaks count as findings.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

step "fuzzing each target for ${SECONDS_PER_TARGET}s"
failed=()
summary=()
for target in "${targets[@]}"; do
  corpus="$WORK/corpus/$target"
  crashes="$WORK/crashes/$target"
  log="$WORK/logs/$target.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  status=0
  # The first corpus directory receives the new inputs, so the checked-in seeds stay as they are.
  "$BUILD/fuzz/$target" "$corpus" "tests/fuzz/corpus/$target" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  inputs=$(find "$corpus" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="FOUND (exit $status)"
    failed+=("$target")
    echo "--- $target: last lines of $log"
    grep -E 'ERROR|invariant broken|runtime error|SUMMARY|Test unit written' "$log" | head -n 20 || tail -n 30 "$log"
  fi
  line=$(printf '%-24s %12s execs %8s/s %6s corpus  %s' "$target" "${execs:-?}" "${rate:-?}" "$inputs" "$result")
  echo "$line"
  summary+=("$line")
done

step "summary (${SECONDS_PER_TARGET}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: findings in ${failed[*]}; inputs saved under $WORK/crashes/" >&2
  exit 1
fi
