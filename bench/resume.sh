#!/usr/bin/env bash
# Resume at scale and the pipeline without fork, in one run (docs/benchmarks.md):
#   fresh:   N inputs (default 10,000,000 lines) through `sluice run --noop -o big.jsonl`: the
#            whole pipeline (inputs, occurrences, rows, the results file) without a child
#            process per task: tasks/s and peak RSS. It also makes the results file.
#   resume:  the same command again, every task done: the results file read through the key
#            scan into 128-bit fingerprints (MB/s of that phase, from --stats), the inputs
#            read and skipped, wall and peak RSS;
#   peers:   `wc -l` of the same file (reads it, parses nothing), and the library's own
#            resume_scan (create_or_resume_jsonl_file) over a file of N rows of the same size.
# REPS (default 3) runs each; medians are printed. Results: bench/results/resume.txt.
#   N=1000000 bench/resume.sh    a smaller run (~1 min)
source "$(dirname "$0")/cli_common.sh" resume.txt
trap 'rm -rf "$WORK"' EXIT
N=${N:-10000000}
REPS=${REPS:-3}
cmake --build --preset release --target sluice_bench >/dev/null
BENCH=$PWD/build/release/bench/sluice_bench
seq "$N" >"$WORK/in.txt"

timed() {  # timed CMD...: "SECONDS PEAK_RSS_KB", the command's stderr kept in $WORK/err
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) -v kb="$(cat "$WORK/rss")" 'BEGIN { printf "%.3f %d\n", ns / 1e9, kb }'
}
col() { awk -v c="$1" '{ print $c }'; }

# ---- fresh: N inputs, nothing done yet ------------------------------------------------------
for ((i = 0; i < REPS; i++)); do
  rm -f "$WORK/big.jsonl"
  t=$(timed "$SLUICE" run --noop -j 64 --no-progress --stats -o "$WORK/big.jsonl" -i "$WORK/in.txt")
  rate=$(tail -n1 "$WORK/err" | sed -E 's/.*: ([0-9]+) tasks\/s.*/\1/')
  echo "$t $rate"
done >"$WORK/fresh"
rows=$(wc -l <"$WORK/big.jsonl")
[[ $rows == "$N" ]] || { echo "bench: big.jsonl has $rows rows, not $N" >&2; exit 1; }
bytes=$(stat -c %s "$WORK/big.jsonl")
say "workload=fresh tool=sluice-noop n=$N runs=$REPS median_wall_s=$(col 1 <"$WORK/fresh" | median)" \
  "median_tasks_per_s=$(col 3 <"$WORK/fresh" | median) median_peak_rss_kb=$(col 2 <"$WORK/fresh" | median)" \
  "rss_bytes_per_task=$(col 2 <"$WORK/fresh" | median | awk -v n="$N" '{ printf "%.1f", $1 * 1024 / n }')" \
  "file_bytes=$bytes"

# ---- resume: the same command again, every task done ---------------------------------------
for ((i = 0; i < REPS; i++)); do
  t=$(timed "$SLUICE" run --noop -j 64 --no-progress --stats -o "$WORK/big.jsonl" -i "$WORK/in.txt")
  mbs=$(grep 'resumed:' "$WORK/err" | sed -E 's/.* ([0-9]+) MB\/s.*/\1/')
  secs=$(grep 'resumed:' "$WORK/err" | sed -E 's/.* read in ([0-9.]+) s.*/\1/')
  echo "$t $mbs $secs"
done >"$WORK/resume"
[[ $(wc -l <"$WORK/big.jsonl") == "$N" ]] || { echo "bench: a resume ran tasks again" >&2; exit 1; }
fresh_kb=$(col 2 <"$WORK/fresh" | median)
resume_kb=$(col 2 <"$WORK/resume" | median)
say "workload=resume tool=sluice-run n=$N runs=$REPS median_scan_mb_per_s=$(col 3 <"$WORK/resume" | median)" \
  "median_scan_s=$(col 4 <"$WORK/resume" | median) median_wall_s=$(col 1 <"$WORK/resume" | median)" \
  "median_peak_rss_kb=$resume_kb" \
  "rss_bytes_per_done_task=$(awk -v a="$resume_kb" -v b="$fresh_kb" -v n="$N" 'BEGIN { printf "%.1f", (a - b) * 1024 / n }')" \
  "all_scan_mb_per_s=$(col 3 <"$WORK/resume" | paste -sd,)"

# ---- peers: wc -l, and the library's resume_scan on a file of the same size ---------------
for ((i = 0; i < REPS; i++)); do timed wc -l "$WORK/big.jsonl"; done >"$WORK/wc"
say "workload=resume tool=wc-l n=$N runs=$REPS median_wall_s=$(col 1 <"$WORK/wc" | median)" \
  "median_mb_per_s=$(col 1 <"$WORK/wc" | median | awk -v b="$bytes" '{ printf "%.0f", b / 1e6 / $1 }')"
row_bytes=$((bytes / N))
rm -f "$WORK/big.jsonl"  # room on disk for the library's file
for ((i = 0; i < REPS; i++)); do
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BENCH" resume_scan "$N" "$row_bytes" "$WORK/lib.jsonl" \
    >"$WORK/line" || exit 1
  echo "$(sed -E 's/.*mb_per_s=([0-9.]+).*/\1/' "$WORK/line") $(cat "$WORK/rss")"
done >"$WORK/lib"
say "workload=resume tool=library-create_or_resume n=$N row_bytes=$row_bytes runs=$REPS" \
  "median_mb_per_s=$(col 1 <"$WORK/lib" | median) median_peak_rss_kb=$(col 2 <"$WORK/lib" | median)" \
  "all_mb_per_s=$(col 1 <"$WORK/lib" | paste -sd,)"
