#!/usr/bin/env bash
# Long fuzzing outside CI (issue 13 item 1): every libFuzzer target for RUNS executions (default
# 10 million) on a copy of its seed corpus, one after another; new coverage is merged back into tests/fuzz/corpus/<target> (commit what it adds). One line per target goes to
# bench/results/<date>-fuzz-long-<time>/targets.txt: executions, seconds, corpus before and after, and
# any finding (bench/lib.sh).
# Usage: scripts/fuzz-long.sh [TARGET...]   (RUNS=...; JOBS=N: one libFuzzer run in fork mode with N
#        worker processes sharing the corpus, for an idle machine with N cores)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10000000}
# libFuzzer's -timeout is wall-clock: a run niced behind a compile was starved past 10 s on one
# input that takes 0.1 s alone (a false "timeout" finding). A real hang still ends the run.
TIMEOUT=${TIMEOUT:-60}
JOBS=${JOBS:-1}
fork=()
((JOBS > 1)) && fork=(-fork="$JOBS")
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz >/dev/null
source bench/lib.sh
bench_results fuzz-long
out=$OUT/targets.txt
echo "# scripts/fuzz-long.sh RUNS=$RUNS JOBS=$JOBS on $(nproc) cores, $(date -u)" | tee "$out"
targets=("$@")
if ((${#targets[@]} == 0)); then
  for t in build/fuzz/tests/fuzz/fuzz_*; do targets+=("$(basename "$t" | sed 's/^fuzz_//')"); done
fi
failed=()
for name in "${targets[@]}"; do
  bin=build/fuzz/tests/fuzz/fuzz_$name
  corpus=tests/fuzz/corpus/$name
  work=$(mktemp -d)
  cp -r "$corpus/." "$work/"
  before=$(ls "$corpus" | wc -l)
  start=$(date +%s)
  log=build/fuzz/fuzz-long-$name.log
  if "$bin" "${fork[@]}" -runs="$RUNS" -max_len=4096 -timeout="$TIMEOUT" -print_final_stats=1 -artifact_prefix="build/fuzz/$name-" \
    "$work" >"$log" 2>&1; then
    result=ok
  else
    rc=$?
    # 72: libFuzzer's -interrupted_exitcode (stopped by SIGINT, e.g. for time): not a finding.
    if [ $rc = 72 ]; then result="interrupted (SIGINT), no finding"; else result="FINDING (see $log)"; failed+=("$name"); fi
  fi
  secs=$(($(date +%s) - start))
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
  # Fork mode prints no final stats: its parent counts every worker's executions.
  [ -n "$execs" ] || execs=$(sed -n 's/^INFO: fuzzed for \([0-9]*\) iterations.*/\1/p' "$log" | tail -1)
  # Keep only inputs that add coverage to the committed corpus.
  "$bin" -merge=1 "$corpus" "$work" >/dev/null 2>&1 || true
  after=$(ls "$corpus" | wc -l)
  printf '%-10s %12s execs %6ss corpus %4s -> %4s %s\n' "$name" "${execs:-?}" "$secs" "$before" "$after" "$result" | tee -a "$out"
  rm -rf "$work"
done
((${#failed[@]} == 0)) || { echo "findings: ${failed[*]}" | tee -a "$out"; exit 1; }
