#!/usr/bin/env bash
# Load patterns that used to break the access role (issue 12 item 9), against one mobix node hosted
# in the load generator's process (SQLite, every change durable before its response), each RUNS
# times for SECONDS: the Start/Interim/Stop cycle, a takeover storm (a NAS restarting without
# Accounting-On: every Start takes over an address in use), 60,000 sessions for one MSISDN, and a
# flood above capacity (8 sockets x 256 in flight against max_pending_writes 500: the excess is
# dropped unanswered and counted). A lookup thread measures find_by_ip meanwhile. Goal: >= 20,000
# requests/s on each, lookups fast for everyone else. Prints markdown rows; raw output in bench/results/ (committed with the rows it produced).
# Usage: bench/run_radius_patterns.sh [RUNS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SECS=${2:-10}
B=build/release
[ -x $B/bench/bench_radius_acct ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
source bench/lib.sh
bench_results radius_patterns
raw=$OUT/rounds.txt
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { sort -n | awk 'NR==1{mn=$1} {mx=$1} END {print mn "–" mx}'; }
field() { awk -v k="$1" '$1 == k {print $2}'; }
machine="$(nproc) cores, $(uname -r)"
row() { # NAME DESCRIPTION ARGS...
  local name=$1 what=$2 rates=() p99s=() drops=() out
  shift 2
  for r in $(seq "$RUNS"); do
    out=$($B/bench/bench_radius_acct --inprocess --seconds "$SECS" "$@")
    printf '== %s run %s: %s\n%s\n' "$name" "$r" "$*" "$out" >>"$raw"
    rates+=("$(echo "$out" | field accounting_requests_per_second)")
    p99s+=("$(echo "$out" | field lookup_p99_us)")
    drops+=("$(echo "$out" | field dropped_overloaded)")
  done
  local m p; m=$(printf '%s\n' "${rates[@]}" | median); p=$(printf '%s\n' "${p99s[@]}" | median)
  local d; d=$(printf '%s\n' "${drops[@]}" | median)
  echo "| $what | $m ($(printf '%s\n' "${rates[@]}" | minmax)) | $p µs | $d | \`bench/run_radius_patterns.sh $RUNS $SECS\` | $(date -u +%F) | $machine |"
}
echo "| pattern (median of $RUNS × ${SECS}s) | answered requests/s | lookup p99 | dropped (overloaded) | command | date | machine |"
echo "|---|---|---|---|---|---|---|"
row cycle "Start / Interim / Stop over 20,000 sessions" --pattern cycle
row takeover "takeover storm: every Start takes over an address in use (20,000 addresses)" --pattern takeover
row one_msisdn "60,000 sessions for one MSISDN, then takeovers among them" --pattern one_msisdn --sessions 60000
row flood "flood above capacity: 8 × 256 in flight, max_pending_writes 500" --pattern cycle --clients 8 --window 256 --max-pending-writes 500
echo "raw output: $raw" >&2
