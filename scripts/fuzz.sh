#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan + libFuzzer) and runs each
# for a bounded time, starting from a copy of its seed corpus (the committed corpus never grows).
# Usage: scripts/fuzz.sh [SECONDS]   (per target; default 30)
# Prints one line per target:
#   fuzz <name>: ok, N runs in S s
#   fuzz <name>: FAILED (crash|leak|timeout|oom), reproducer in <file>
# Reproduce a failure with: build-fuzz/tests/fuzz/fuzz_<name> <file>
# Build tree: build-fuzz/ (reused); crash artifacts and logs: build-fuzz/artifacts/.
# Exit code: 0 when every target passed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -eq 0 ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]   (a positive number of seconds per target)" >&2
  exit 2
fi
targets=(config session_info request)
dir=build-fuzz
artifacts=$PWD/$dir/artifacts
mkdir -p "$dir" "$artifacts"

# Only the fuzz targets and what they link are built, not the project.
log=$dir.log
if ! { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
         -DCOORDHA_FUZZ=ON -DCOORDHA_BUILD_TESTS=OFF &&
       cmake --build "$dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"; } >"$log" 2>&1; then
  grep -E "error|Error" "$log" | head -40 || true
  echo "fuzz: build of $dir failed; full log: $log" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
for name in "${targets[@]}"; do
  corpus=$work/$name
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$name"/* "$corpus"/
  out=$artifacts/$name.log
  rc=0
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 TMPDIR=$work \
    "$dir/tests/fuzz/fuzz_$name" "$corpus" -max_total_time="$seconds" -timeout=5 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
    >"$out" 2>&1 || rc=$?
  if [[ $rc -eq 0 ]]; then
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$out" | tail -1)
    took=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$out" | tail -1)
    echo "fuzz $name: ok, ${runs:-?} runs in ${took:-?} s"
    continue
  fi
  status=1
  # libFuzzer names the reproducer by kind: crash-, leak-, timeout-, oom-<sha1>.
  reproducer=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$out" | tail -1)
  kind=crash
  case "$(basename "${reproducer:-x}")" in
    "$name"-leak-*) kind=leak ;;
    "$name"-timeout-*) kind=timeout ;;
    "$name"-oom-*) kind=oom ;;
  esac
  echo "fuzz $name: FAILED ($kind), reproducer in ${reproducer:-(none written; see $out)}"
  grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error|[a-z_]+_fuzz: )" "$out" | head -5 | sed 's/^/  /'
done
exit $status
