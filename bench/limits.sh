#!/usr/bin/env bash
# Limits on starts, measured (docs/benchmarks.md):
#   overhead: W1 (1M no-op tasks, 64 at once) with one limit (max_at_once), with a clock read
#             per task, with the run's GCRA, and with three
#             (max_at_once, a GCRA rate and a sliding window in one limit set, set so that
#             they never make a task wait), interleaved rep after rep (bench/interleave.sh)
#   window:   300 GETs through `sluice http --window 50/1s -j 16` against a local nginx that
#             logs every arrival (scripts/nginx.sh, /counted/): the most arrivals nginx saw in
#             any 1 s, and the last arrival against the ideal 5 s (six bursts of 50, 1 s
#             apart); beside it GCRA at the same rate (-r 50 --burst 50), the approximation a
#             window replaces
#   adaptive: 300 GETs against nginx's own limit_req (50 r/s, burst 5, 429 with Retry-After: 1;
#             scripts/nginx.sh, /limited/) with `sluice http -r 400 --retries 20`, with and
#             without --adaptive: the wall time against the 6 s the server allows, and the
#             429s nginx logged; and --adaptive against a server that never answers 429
#             (/counted/, -r 200), beside the same run without it (does it ever slow a run?)
# REPS (default 5); results in bench/results/limits.txt.
source "$(dirname "$0")/cli_common.sh" limits.txt
REPS=${REPS:-5}
trap 'scripts/nginx.sh stop "$WORK/nginx" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
cmake --build --preset release --target sluice_bench >/dev/null
BENCH=$PWD/build/release/bench/sluice_bench

# ---- overhead --------------------------------------------------------------------------------
# one: the cap alone; clock: and one steady_clock read per task (the floor of any exact time
# limit); rate1: the cap and the run's GCRA; three: cap, GCRA and a window;
# threeset: the three in one limit set (the cap a concurrency_limit, as --control makes it);
# threeexact: three with a window kept exactly (65,536 in 1 ms; three's is bucketed);
# threetick: the three on a clock that costs next to nothing (the decisions without the read).
bench/interleave.sh -n "$REPS" one "$BENCH w1 1000000 64" clock "$BENCH w1 1000000 64 clock" \
  rate1 "$BENCH w1 1000000 64 rate1" \
  three "$BENCH w1 1000000 64 limits3" threeset "$BENCH w1 1000000 64 limits3set" \
  threeexact "$BENCH w1 1000000 64 limits3exact" threetick "$BENCH w1 1000000 64 limits3tick" |
  tee -a "$RESULTS"

# ---- window, counted at nginx ---------------------------------------------------------------
scripts/nginx.sh start "$WORK/nginx" >/dev/null
base=$(cat "$WORK/nginx/url")
count() {  # count TOOL TAG FLAGS...: runs 300 GETs tagged TAG, prints what nginx counted
  local tool=$1 tag=$2
  shift 2
  seq 300 | sed "s|^|/counted/$tag/|" >"$WORK/$tag.txt"
  "$SLUICE" http -j 16 --no-progress "$@" --url "$base{}" -i "$WORK/$tag.txt" >/dev/null
  grep "/counted/$tag/" "$WORK/nginx/counted.log" | python3 -c '
import sys
ms = sorted(float(l.split()[0]) * 1000 for l in sys.stdin)
def most(width):
    j, best = 0, 0
    for i in range(len(ms)):
        while ms[i] - ms[j] >= width:
            j += 1
        best = max(best, i - j + 1)
    return best
span = (ms[-1] - ms[0]) / 1000
print(f"arrivals={len(ms)} most_in_any_1000ms={most(1000)} most_in_any_998ms={most(998)} "
      f"last_arrival_s={span:.3f} over_ideal_5s={span / 5:.4f}")' | sed "s/^/workload=window tool=$tool /"
}
for ((i = 0; i < REPS; i++)); do
  count sluice-window "w$i" --window 50/1s
  count sluice-gcra "g$i" -r 50 --burst 50
done | tee "$WORK/window"
for tool in sluice-window sluice-gcra; do
  grep "tool=$tool " "$WORK/window" >"$WORK/t"
  say "workload=window tool=$tool runs=$REPS" \
    "median_most_in_any_1000ms=$(sed -E 's/.*most_in_any_1000ms=([0-9]+).*/\1/' "$WORK/t" | median)" \
    "max_most_in_any_1000ms=$(sed -E 's/.*most_in_any_1000ms=([0-9]+).*/\1/' "$WORK/t" | sort -n | tail -1)" \
    "median_last_arrival_s=$(sed -E 's/.*last_arrival_s=([0-9.]+).*/\1/' "$WORK/t" | median)"
done

# ---- adaptive, judged by nginx's limit_req ---------------------------------------------------
limited() {  # limited TOOL TAG PATH FLAGS...: 300 GETs; prints the wall and what nginx answered
  local tool=$1 tag=$2 path=$3
  shift 3
  seq 300 | sed "s|^|/$path/$tag/|" >"$WORK/$tag.txt"
  local t0 t1
  t0=$(date +%s.%N)
  "$SLUICE" http -j 16 --no-progress -o "$WORK/$tag.jsonl" "$@" --url "$base{}" \
    -i "$WORK/$tag.txt" >/dev/null || true
  t1=$(date +%s.%N)
  local ok answered429
  ok=$(grep -c '"ok":true' "$WORK/$tag.jsonl" || true)
  answered429=$(grep -c " 429 /$path/$tag/" "$WORK/nginx/limited.log" || true)
  echo "workload=limit_req tool=$tool ok=$ok wall_s=$(echo "$t1 - $t0" | bc -l | sed 's/^\./0./') " \
    "answered_429=$answered429 share_429=$(echo "scale=4; $answered429 / ($answered429 + 300)" | bc -l)"
}
for ((i = 0; i < REPS; i++)); do
  limited sluice-adaptive "a$i" limited -r 400 --retries 20 --adaptive
  limited sluice-fixed "f$i" limited -r 400 --retries 20
  limited sluice-clean "c$i" counted -r 200
  limited sluice-clean-adaptive "d$i" counted -r 200 --adaptive
done | tee "$WORK/adaptive"
for tool in sluice-adaptive sluice-fixed sluice-clean sluice-clean-adaptive; do
  grep "tool=$tool " "$WORK/adaptive" >"$WORK/t"
  say "workload=limit_req tool=$tool runs=$REPS" \
    "median_wall_s=$(sed -E 's/.*wall_s=([0-9.]+).*/\1/' "$WORK/t" | median)" \
    "median_answered_429=$(sed -E 's/.*answered_429=([0-9]+).*/\1/' "$WORK/t" | median)" \
    "min_ok=$(sed -E 's/.*ok=([0-9]+).*/\1/' "$WORK/t" | sort -n | head -1)"
done
