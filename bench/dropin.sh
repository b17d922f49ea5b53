#!/usr/bin/env bash
# sluice run as a drop-in for GNU parallel and xargs, side by side in one run
# (docs/benchmarks.md, "The drop-in command line"):
#   exit:     the time from the last task's end to the process's exit, -j 16 -r 1 over 10
#             inputs from a file, standard input and :::; GNU parallel --delay 1 alongside
#   null:     file names from a find -print0-style stream (some with spaces and newlines),
#             -0 -j 2 -- true: sluice, xargs -0 -P 2 -n 1, parallel -0 -j 2; wall and per job
#   pack:     100,000 arguments packed by -X: commands started (sluice -X, xargs, parallel -X)
#   combine:  ::: $(seq 1000) ::: $(seq 1000) with --noop: peak RSS against 1,000 tasks
# REPS (default 5) runs each of exit, pack and combine; NULL_NAMES (default 100000) names for
# sluice and xargs, NULL_PARALLEL (default 10000) for parallel (about 30 ms a job here).
# Results: bench/results/dropin.txt.
source "$(dirname "$0")/cli_common.sh" dropin.txt
trap 'rm -rf "$WORK"' EXIT
NULL_NAMES=${NULL_NAMES:-100000}
NULL_PARALLEL=${NULL_PARALLEL:-10000}
now() { date +%s%N; }

# ---- exit: last task's end to exit --------------------------------------------------------
# Each task prints the time it ends; the run's exit is taken as soon as it returns.
seq 10 >"$WORK/ten.txt"
exit_latency() {  # exit_latency CMD...: ms from the last printed time to the exit
  "$@" >"$WORK/ends" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  local t1 last
  t1=$(now)
  last=$(sort -n "$WORK/ends" | tail -n1)
  [[ $(wc -l <"$WORK/ends") == 10 ]] || { echo "bench: not 10 tasks" >&2; exit 1; }
  awk -v ns=$((t1 - last)) 'BEGIN { printf "%.1f\n", ns / 1e6 }'
}
echo 'date +%s%N' >"$WORK/end.sh"  # (a script: parallel hands its command line to a shell)
task=(sh "$WORK/end.sh")
for source in file stdin args; do
  for ((i = 0; i < REPS; i++)); do
    case $source in
      file) exit_latency "$SLUICE" run -j 16 -r 1 --burst 10 --no-progress -i "$WORK/ten.txt" -- "${task[@]}" ;;
      stdin) exit_latency "$SLUICE" run -j 16 -r 1 --burst 10 --no-progress -- "${task[@]}" <"$WORK/ten.txt" ;;
      args) exit_latency "$SLUICE" run -j 16 -r 1 --burst 10 --no-progress -- "${task[@]}" ::: $(seq 10) ;;
    esac
  done >"$WORK/exit-$source"
  say "workload=exit tool=sluice source=$source flags='-j 16 -r 1 --burst 10' runs=$REPS" \
    "median_ms=$(median <"$WORK/exit-$source") all_ms=$(paste -sd, "$WORK/exit-$source")"
done
# Without a burst the starts are 1 s apart (9 s a run): one run each.
exit_latency "$SLUICE" run -j 16 -r 1 --no-progress -i "$WORK/ten.txt" -- "${task[@]}" >"$WORK/exit-paced"
say "workload=exit tool=sluice source=file flags='-j 16 -r 1' runs=1 ms=$(cat "$WORK/exit-paced")"
exit_latency parallel --will-cite -j 16 --delay 1 -a "$WORK/ten.txt" "${task[@]}" >"$WORK/exit-parallel"
say "workload=exit tool=parallel source=file flags='-j 16 --delay 1' runs=1 ms=$(cat "$WORK/exit-parallel")"

# ---- null: NUL-separated names, -j 2 -- true ---------------------------------------------
python3 - "$WORK/names0" "$NULL_NAMES" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for i in range(n):
        name = f"dir {i % 97}/file {i}.txt"
        if i % 10 == 0:
            name = name.replace(" ", "\n", 1)  # a newline: only -0 passes it whole
        f.write(name.encode() + b"\0")
EOF
head -z -n "$NULL_PARALLEL" "$WORK/names0" >"$WORK/names0-small"
per_job() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.3f", s * 1e3 / n }'; }
s=$(wall "$SLUICE" run -0 -j 2 --no-progress -- /bin/true <"$WORK/names0")
say "workload=null tool=sluice names=$NULL_NAMES j=2 s=$s ms_per_job=$(per_job "$s" "$NULL_NAMES")"
x=$(wall xargs -0 -P 2 -n 1 /bin/true <"$WORK/names0")
say "workload=null tool=xargs names=$NULL_NAMES j=2 s=$x ms_per_job=$(per_job "$x" "$NULL_NAMES")"
s2=$(wall "$SLUICE" run -0 -j 2 --no-progress -- /bin/true <"$WORK/names0-small")
say "workload=null tool=sluice names=$NULL_PARALLEL j=2 s=$s2 ms_per_job=$(per_job "$s2" "$NULL_PARALLEL")"
p=$(wall parallel --will-cite -0 -j 2 /bin/true <"$WORK/names0-small")
say "workload=null tool=parallel names=$NULL_PARALLEL j=2 s=$p ms_per_job=$(per_job "$p" "$NULL_PARALLEL")"
# Every name reached its command whole: the names written back by -0 -X equal the input.
"$SLUICE" run -0 -X -j 1 --no-progress -- printf '%s\0' <"$WORK/names0" | cmp - "$WORK/names0"
say "workload=null check='-0 -X printf %s\\0 gives back every name byte for byte: ok'"

# ---- pack: 100,000 arguments -------------------------------------------------------------
seq 100000 >"$WORK/100k.txt"
count() { "$@" <"$WORK/100k.txt" 2>/dev/null | wc -l; }
say "workload=pack tool=sluice flags='-X -j 1' commands=$(count "$SLUICE" run -X -j 1 --no-progress -- echo)"
say "workload=pack tool=sluice flags='-X -j 2' commands=$(count "$SLUICE" run -X -j 2 --no-progress -- echo)"
say "workload=pack tool=xargs flags='' commands=$(count xargs echo)"
say "workload=pack tool=xargs flags='-P 2' commands=$(count xargs -P 2 echo)"
say "workload=pack tool=parallel flags='-X -j 1' commands=$(count parallel --will-cite -X -j 1 echo)"
say "workload=pack tool=parallel flags='-X -j 2' commands=$(count parallel --will-cite -X -j 2 echo)"
for tool in sluice xargs parallel; do
  for ((i = 0; i < REPS; i++)); do
    case $tool in
      sluice) wall "$SLUICE" run -X -j 1 --no-progress -- echo <"$WORK/100k.txt" ;;
      xargs) wall xargs echo <"$WORK/100k.txt" ;;
      parallel) wall parallel --will-cite -X -j 1 echo <"$WORK/100k.txt" ;;
    esac
  done >"$WORK/pack-$tool"
  say "workload=pack tool=$tool runs=$REPS median_s=$(median <"$WORK/pack-$tool")"
done

# ---- combine: a million combinations, held as two lists ------------------------------------
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n1; }
for ((i = 0; i < REPS; i++)); do
  rss "$SLUICE" run --noop -j 16 --no-progress ::: $(seq 1000) ::: $(seq 1000)
done >"$WORK/combine-million"
for ((i = 0; i < REPS; i++)); do
  rss "$SLUICE" run --noop -j 16 --no-progress ::: $(seq 1000) ::: 1
done >"$WORK/combine-thousand"
say "workload=combine tool=sluice tasks=1000000 runs=$REPS median_peak_rss_kib=$(median <"$WORK/combine-million")"
say "workload=combine tool=sluice tasks=1000 runs=$REPS median_peak_rss_kib=$(median <"$WORK/combine-thousand")"
w=$(wall "$SLUICE" run --noop -j 16 --no-progress ::: $(seq 1000) ::: $(seq 1000))
say "workload=combine tool=sluice tasks=1000000 s=$w"
