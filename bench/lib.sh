# Shared by the bench scripts (issue 17 item 5): each run keeps its evidence in a directory of its
# own, bench/results/<date>-<name>-<time>/ (committed with the rows it produced): output.txt, all
# the run printed (its rows included), and the per-round data its medians and ratios come from.
# Source it after `cd` to the repository's root.

# bench_results NAME: makes that directory, sets OUT to its absolute path and tees everything the
# script prints from now on (stdout and stderr) to OUT/output.txt.
bench_results() {
  OUT=$PWD/bench/results/$(date -u +%Y%m%d)-$1-$(date -u +%H%M%S)
  mkdir -p "$OUT"
  exec > >(tee "$OUT/output.txt") 2>&1
}

# wait_jobs: waits for the script's background jobs. A bare `wait` would also wait for the tee
# that bench_results started, which ends only when the script's output closes: it never returns.
wait_jobs() {
  local p
  for p in $(jobs -p); do wait "$p" 2>/dev/null || true; done
}
