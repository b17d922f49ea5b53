#!/usr/bin/env bash
# The figures of the seed functions' issue, side by side in one run (docs/benchmarks.md):
#
#   bench/seeds.sh portable     what the Asio fast paths are worth: W1, scope and batch_load
#                               built with them (release preset) and without (portable preset)
#   bench/seeds.sh in_process   a call through in_process (a process_pool of forked workers)
#                               and through in_pool (threads), against Python's
#                               ProcessPoolExecutor and ThreadPoolExecutor via run_in_executor
#                               (what aioextensions' in_process and in_thread do)
#   bench/seeds.sh              both
#
# REPS (default 7) reps of each, interleaved (bench/interleave.sh): medians and per-rep ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-7}
parts=${1:-portable in_process}
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release --target sluice_bench >/dev/null
fast=build/release/bench/sluice_bench
if [[ " $parts " == *" portable "* ]]; then
  cmake --preset portable >/dev/null
  cmake --build --preset portable --target sluice_bench >/dev/null
  portable=build/portable/bench/sluice_bench
  for wl in "w1 1000000 64" "scope 1000000 64" "batch_load 1000000 1000 cache"; do
    echo "== $wl: fast paths, then portable"
    bench/interleave.sh -n "$REPS" fast "$fast $wl" portable "$portable $wl"
  done
fi
if [[ " $parts " == *" in_process "* ]]; then
  for limit in 1 2; do
    echo "== in_process: 20,000 calls, $limit at once ($limit workers)"
    bench/interleave.sh -n "$REPS" \
      sluice-process "$fast in_process 20000 $limit process" \
      python-process "python3 bench/in_process_peer.py 20000 $limit process" \
      sluice-thread "$fast in_process 20000 $limit thread" \
      python-thread "python3 bench/in_process_peer.py 20000 $limit thread"
  done
fi
