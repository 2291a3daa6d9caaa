#!/usr/bin/env bash
# Runs every libFuzzer target for FUZZ_SECONDS (default 30) on a copy of its seed corpus. A crash,
# a leak or undefined behaviour (the fuzz build aborts on UB) fails the run, and the target's whole
# output is printed then, not only its last lines; the input that failed is kept in FUZZ_ARTIFACTS.
# Usage: tests/fuzz/run.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?build dir}
secs=${FUZZ_SECONDS:-30}
artifacts=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
mkdir -p "$artifacts"
failed=()
for target in "$build"/tests/fuzz/fuzz_*; do
  name=$(basename "$target" | sed 's/^fuzz_//')
  work=$(mktemp -d)
  cp -r "$here/corpus/$name/." "$work/"
  echo "fuzz $name for ${secs}s ($(ls "$work" | wc -l) seeds)"
  log=$artifacts/$name.log
  if "$target" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" "$work" >"$log" 2>&1; then
    tail -4 "$log"
  else
    echo "FAIL: fuzz $name (exit $?); its output:"
    cat "$log"
    failed+=("$name")
  fi
  rm -rf "$work"
done
if ((${#failed[@]})); then
  echo "fuzzing failed: ${failed[*]} (inputs in $artifacts)"
  exit 1
fi
