#!/usr/bin/env bash
# The sluice CLI side by side with xargs -P and GNU parallel, in one run (docs/benchmarks.md):
#   spawn:   2,000 jobs of /bin/true at -j 2 (sluice, xargs -P 2 -n 1, parallel -j 2)
#   fast:    100,000 lines at -j 64 of /bin/true with -o results.jsonl (jobs/s, sluice's own
#            CPU per job from --stats), xargs -P 64 alongside
#   rate:    500 tasks at --max-per-second 50: achieved rate and most starts in any 1 s
# REPS (default 5) runs each; medians are printed. Results: bench/results/cli.txt.
source "$(dirname "$0")/cli_common.sh" cli.txt
trap 'rm -rf "$WORK"' EXIT
seq 2000 >"$WORK/2k.txt"
seq 100000 >"$WORK/100k.txt"
seq 500 >"$WORK/500.txt"

# ---- spawn: 2,000 x /bin/true at -j 2 ----------------------------------------------------
for tool in sluice xargs parallel; do
  reps=$REPS
  [[ $tool == parallel ]] && reps=3  # ~10 s a run
  for ((i = 0; i < reps; i++)); do
    case $tool in
      sluice) wall "$SLUICE" run -j 2 --no-progress -i "$WORK/2k.txt" -- /bin/true ;;
      xargs) wall xargs -P 2 -n 1 -a "$WORK/2k.txt" /bin/true ;;
      parallel) wall parallel --will-cite -j 2 -a "$WORK/2k.txt" /bin/true ;;
    esac
  done >"$WORK/spawn-$tool"
  say "workload=spawn tool=$tool jobs=2000 j=2 runs=$reps median_s=$(median <"$WORK/spawn-$tool")" \
    "all_s=$(paste -sd, "$WORK/spawn-$tool")"
done
s=$(median <"$WORK/spawn-sluice")
x=$(median <"$WORK/spawn-xargs")
p=$(median <"$WORK/spawn-parallel")
say "workload=spawn sluice_over_xargs=$(awk -v a="$s" -v b="$x" 'BEGIN { printf "%.3f", a / b }')" \
  "parallel_over_sluice=$(awk -v a="$p" -v b="$s" 'BEGIN { printf "%.2f", a / b }')"

# ---- fast: 100,000 lines at -j 64 into results.jsonl -------------------------------------------
for ((i = 0; i < 3; i++)); do
  rm -f "$WORK/out.jsonl"
  "$SLUICE" run -j 64 --no-progress --stats -o "$WORK/out.jsonl" -i "$WORK/100k.txt" -- /bin/true \
    2>&1 >/dev/null | tail -n1
  [[ $(wc -l <"$WORK/out.jsonl") == 100000 ]] || { echo "bench: out.jsonl is short" >&2; exit 1; }
done >"$WORK/fast"
jobs_s=$(sed -E 's/.*: ([0-9]+) tasks\/s.*/\1/' "$WORK/fast" | median)
cpu_us=$(sed -E 's/.* ([0-9.]+) us per task.*/\1/' "$WORK/fast" | median)
say "workload=fast tool=sluice jobs=100000 j=64 runs=3 median_jobs_per_s=$jobs_s median_own_cpu_us_per_job=$cpu_us"
for ((i = 0; i < 3; i++)); do wall xargs -P 64 -n 1 -a "$WORK/100k.txt" /bin/true; done >"$WORK/fast-xargs"
say "workload=fast tool=xargs jobs=100000 j=64 runs=3 median_jobs_per_s=$(median <"$WORK/fast-xargs" |
  awk '{ printf "%.0f", 100000 / $1 }')"

# ---- rate: 500 tasks at 50/s ---------------------------------------------------------------
rm -f "$WORK/rate.jsonl"
"$SLUICE" run -j 64 -r 50 --no-progress -o "$WORK/rate.jsonl" -i "$WORK/500.txt" -- /bin/true
python3 - "$WORK/rate.jsonl" <<'PY' | tee -a "$RESULTS"
import json, sys, datetime
t = sorted(datetime.datetime.fromisoformat(json.loads(l)["started_at"].rstrip("Z")).timestamp()
           for l in open(sys.argv[1]))
rate = (len(t) - 1) / (t[-1] - t[0])
# Most starts in any window [s, s + 1 s): windows starting at each start suffice.
j, most = 0, 0
for i in range(len(t)):
    while t[i] - t[j] >= 1.0:
        j += 1
    most = max(most, i - j + 1)
print(f"workload=rate tool=sluice tasks={len(t)} max_per_second=50 achieved_per_s={rate:.2f} max_starts_in_1s={most}")
PY
