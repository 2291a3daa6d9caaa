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
