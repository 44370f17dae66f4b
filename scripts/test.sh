#!/usr/bin/env bash
# Sets up and runs every coordha test on Debian 12:
#   1. installs the Debian packages it needs (scripts/install-deps.sh),
#   2. builds with -Wall -Wextra -Werror and runs all tests (unit + integration with real etcd),
#   3. builds with ASan+UBSan and runs the unit tests,
#   4. builds with clang + TSan (+ -Wthread-safety -Werror) and runs the concurrent tests,
#   5. builds the libFuzzer targets and runs each for FUZZ_SECONDS (default 30; scripts/fuzz.sh).
# Step 2 includes the two-minute chaos run with every nemesis (tests/integration/chaos_test.cc).
# Usage: scripts/test.sh [--quick]   (--quick: step 2 only)
# Build trees: build/, build-asan/, build-tsan/, build-fuzz/ (reused between runs). Exit code: 0
# all passed.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac

bash scripts/install-deps.sh
jobs=$(nproc)
summary=()
passed=0
failed=0

step() { printf '\n== %s   (%d:%02d in)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

build() {  # build DIR [--target T] cmake-args...   (--target: build only T, e.g. unit_tests)
  local dir=$1; shift
  local target=()
  if [[ ${1:-} == --target ]]; then target=(--target "$2"); shift 2; fi
  local log="$dir.log"
  mkdir -p "$dir"
  if ! { cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j"$jobs" "${target[@]}"; } >"$log" 2>&1; then
    grep -E "error|Error" "$log" | head -40 || true
    echo "build of $dir failed; full log: $log" >&2
    exit 1
  fi
  echo "built $dir"
}

run_tests() {  # run_tests NAME DIR ctest-args...
  local name=$1 dir=$2; shift 2
  local out rc=0
  out=$(ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1) || rc=$?
  echo "$out" | grep -vE "^ *(Start|[0-9]+/[0-9]+ Test) " || true
  local line
  line=$(echo "$out" | grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" | tail -1)
  if [[ -z $line ]]; then
    echo "$name: ctest ran no test" >&2
    exit 1
  fi
  local total nfail
  total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
  nfail=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed.*/\1/')
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  summary+=("$name: $((total - nfail)) passed, $nfail failed")
  return $rc
}

status=0
step "build (gcc, -Werror)"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOORDHA_WERROR=ON
step "all tests"
run_tests "all tests" build || status=1

if [[ $quick -eq 0 ]]; then
  step "build (gcc, ASan + UBSan)"
  build build-asan --target unit_tests \
    -DCMAKE_BUILD_TYPE=Debug -DCOORDHA_SANITIZE=address -DCOORDHA_WERROR=ON
  step "unit tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    run_tests "unit tests (ASan+UBSan)" build-asan -L unit || status=1

  step "build (clang, TSan, -Wthread-safety -Werror)"
  build build-tsan --target concurrent_tests \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCOORDHA_SANITIZE=thread -DCOORDHA_WERROR=ON
  step "concurrent tests under TSan"
  TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp halt_on_error=0 second_deadlock_stack=1" \
    run_tests "concurrent tests (TSan)" build-tsan -L concurrent || status=1

  step "fuzzing (libFuzzer, 3 targets × ${FUZZ_SECONDS:-30} s)"
  # One passed or failed per target; a failed build counts all three as failed.
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}" 2>&1 | tee build-fuzz-run.log || status=1
  fuzz_ok=$(grep -c "^fuzz [a-z_]*: ok," build-fuzz-run.log || true)
  passed=$((passed + fuzz_ok))
  failed=$((failed + 3 - fuzz_ok))
  summary+=("fuzzing (libFuzzer): $fuzz_ok passed, $((3 - fuzz_ok)) failed")
fi

step "summary"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
exit $status
