#!/usr/bin/env bash
# The short fuzz run for CI: every fuzz target over its checked-in seed corpus, then a bounded
# number of new executions (under ASan + UBSan, as built with -DTCPKIT_FUZZ=ON). Fails on any
# crash, leak, sanitizer report or broken invariant; the input that did it is left in
# OUT_DIR (default: a temporary folder, printed). The corpus in the repository is not changed.
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR [RUNS] [SECONDS]      defaults: 20000 runs, 60 s per target
set -euo pipefail
if [[ $# -lt 1 || $# -gt 3 ]]; then
  echo "usage: $0 BUILD_DIR [RUNS] [SECONDS]" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1/tests/fuzz
RUNS=${2:-20000}
SECONDS_EACH=${3:-60}
[[ $RUNS =~ ^[0-9]+$ && $SECONDS_EACH =~ ^[0-9]+$ ]] || { echo "$0: RUNS and SECONDS must be numbers" >&2; exit 2; }
shopt -s nullglob
targets=("$BIN"/fuzz_*)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "$0: no fuzz targets in $BIN (configure with CC=clang CXX=clang++ -DTCPKIT_FUZZ=ON and build the 'fuzzers' target)" >&2
  exit 2
fi
OUT=${OUT_DIR:-$(mktemp -d /tmp/tcpkit-fuzz.XXXXXX)}
mkdir -p "$OUT"
# halt_on_error: the first report ends the run with a failing status; leaks are reports too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=0
for exe in "${targets[@]}"; do
  name=$(basename "$exe")
  seeds=$HERE/corpus/${name#fuzz_}
  work=$OUT/$name
  mkdir -p "$work/corpus" "$work/artifacts"
  start=$(date +%s)
  # New inputs go to the scratch corpus; the checked-in seeds are only read.
  if "$exe" -runs="$RUNS" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" >"$work/log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=1
  fi
  summary=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$work/log" | tail -1 || true)
  printf '%-22s %-6s %4ss  %s\n' "$name" "$status" "$(( $(date +%s) - start ))" "$summary"
  if [[ $status == FAILED ]]; then
    grep -E 'ERROR|SUMMARY|invariant failed|runtime error|Test unit written' "$work/log" | head -5 | sed 's/^/    /'
    echo "    log: $work/log" >&2
  fi
done
[[ $failed -eq 0 ]] && { [[ -n ${OUT_DIR:-} ]] || rm -rf "$OUT"; }
exit $failed
