#!/usr/bin/env bash
# Runs every libFuzzer target for FUZZ_SECONDS (default 30) on a copy of its seed corpus.
# Usage: tests/fuzz/run.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?build dir}
secs=${FUZZ_SECONDS:-30}
for target in "$build"/tests/fuzz/fuzz_*; do
  name=$(basename "$target" | sed 's/^fuzz_//')
  work=$(mktemp -d)
  cp -r "$here/corpus/$name/." "$work/"
  echo "fuzz $name for ${secs}s ($(ls "$work" | wc -l) seeds)"
  "$target" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 "$work" 2>&1 | tail -4
  rm -rf "$work"
done
