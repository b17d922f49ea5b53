#!/usr/bin/env bash
# sluice across processes through Redis, measured (docs/benchmarks.md). A redis-server 7.0 on
# loopback (scripts/redis.sh; appendonly no, as Debian ships it: a rate needs no durable state)
# and nginx (scripts/nginx.sh):
#   rate:     4 `sluice http --redis -r 200` processes, 1000 GETs each, against nginx's
#             limit_req at 200 r/s, burst 5 (/limited200/): the 429s nginx logged and the
#             aggregate rate nginx saw ((answers - 1) / (last - first)); beside it the same 4
#             processes without --redis (each at -r 200). (The client's burst is 1: a client
#             that opens with nginx's whole burst leaves it one request of room for the rest
#             of the run, and any jitter of the network or the scheduler is a 429.)
#   gcra:     the Redis GCRA's per-acquire latency (median, p99) beside one PING round trip,
#             and the starts per second one Redis admits with 1, 4 and 16 connections
#             (bench/redis_bench.cpp)
#   queue:    20,000 inputs: enqueue, then 4 `sluice worker --noop -j 64` until drained:
#             tasks/s; beside it one `sluice run --noop` over the same file
#   redo:     400 tasks (sleep 0.05) by 2 workers -j 4 --claim-after 2s, one killed with
#             kill -9 after 1 s: the time from the kill until the queue is done, beside the
#             same run with no kill
#   adaptive: 300 GETs in all by 4 `sluice http -j 16 -r 400 --retries 20 --adaptive --redis`
#             processes sharing one adaptive rate, against nginx's limit_req at 50 r/s,
#             burst 5, 429 with Retry-After: 1 (/limited/): the wall time against the 6 s the
#             server allows and the 429s nginx logged; beside it the same 4 with --adaptive
#             and no --redis (each adapting alone)
# REPS (default 3); PARTS (default "rate gcra queue redo adaptive") picks parts; results in
# bench/results/redis.txt.
source "$(dirname "$0")/cli_common.sh" redis.txt
REPS=${REPS:-3}
PARTS=" ${PARTS:-rate gcra queue redo adaptive} "
part() { [[ $PARTS == *" $1 "* ]]; }
trap 'scripts/nginx.sh stop "$WORK/nginx" >/dev/null 2>&1 || true
      scripts/redis.sh stop "$WORK/redis" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
cmake --build --preset release --target sluice_redis_bench >/dev/null
BENCH=$PWD/build/release/bench/sluice_redis_bench
scripts/nginx.sh start "$WORK/nginx" >/dev/null
scripts/redis.sh start "$WORK/redis" --appendonly no
base=$(cat "$WORK/nginx/url")
redis=$(cat "$WORK/redis/url")

# ---- rate: 4 processes, one shared -r 200, judged by nginx ------------------------------------
judge() {  # judge TAG: what nginx answered on /limited200/TAG/
  grep "/limited200/$1/" "$WORK/nginx/limited.log" | python3 -c '
import sys
rows = sorted((float(l.split()[0]), l.split()[1]) for l in sys.stdin)
ok = [t for t, s in rows if s == "200"]
n429 = sum(1 for _, s in rows if s == "429")
span = ok[-1] - ok[0]
rate = (len(ok) - 1) / span if span > 0 else 0
print(f"answers={len(rows)} ok={len(ok)} n429={n429} span_s={span:.3f} rate_per_s={rate:.2f} "
      f"off_200={abs(rate - 200) / 2:.2f}%")'
}
four() {  # four TAG FLAGS...: 4 processes of 1000 GETs each, at once
  local tag=$1
  shift
  for p in 1 2 3 4; do
    seq 1000 | sed "s|^|$base/limited200/$tag/$p-|" >"$WORK/$tag.$p.txt"
    "$SLUICE" http --no-progress -j 16 -r 200 "$@" -i "$WORK/$tag.$p.txt" \
      >/dev/null 2>>"$WORK/err" &
  done
  wait || true # (without --redis, 429s fail tasks: the exit code counts them)
}
part rate && for ((i = 0; i < REPS; i++)); do
  four "shared$i" --redis "$redis" --limit-name "bench$i"
  echo "workload=rate tool=sluice-redis $(judge "shared$i")"
  four "alone$i"
  echo "workload=rate tool=sluice-no-redis $(judge "alone$i")"
done | tee "$WORK/rate"
part rate && for tool in sluice-redis sluice-no-redis; do
  grep "tool=$tool " "$WORK/rate" >"$WORK/t"
  say "workload=rate tool=$tool reps=$REPS median_n429=$(sed 's/.*n429=\([0-9]*\).*/\1/' "$WORK/t" | median)" \
    "median_rate_per_s=$(sed 's/.*rate_per_s=\([0-9.]*\).*/\1/' "$WORK/t" | median)"
done

# ---- gcra: latency and admits ----------------------------------------------------------------
part gcra && for ((i = 0; i < REPS; i++)); do "$BENCH" latency "$redis" 20000; done | tee "$WORK/lat"
part gcra && for w in redis_gcra_acquire redis_ping_floor; do
  grep "workload=$w " "$WORK/lat" >"$WORK/t"
  say "workload=$w reps=$REPS median_us=$(sed 's/.*median_us=\([0-9.]*\).*/\1/' "$WORK/t" | median)" \
    "p99_us=$(sed 's/.*p99_us=\([0-9.]*\).*/\1/' "$WORK/t" | median)"
done
part gcra && for c in 1 4 16; do
  for ((i = 0; i < REPS; i++)); do "$BENCH" throughput "$redis" "$c" 3; done >"$WORK/t"
  say "workload=redis_gcra_admits connections=$c reps=$REPS" \
    "median_per_s=$(sed 's/.*per_s=\([0-9.]*\).*/\1/' "$WORK/t" | median)"
done

# ---- queue: throughput with 4 workers ---------------------------------------------------------
seq 20000 | awk '{ printf "{\"id\":%d}\n", $1 }' >"$WORK/in.jsonl"
part queue && for ((i = 0; i < REPS; i++)); do
  q="tp$i"
  e=$(wall "$SLUICE" enqueue --redis "$redis" --queue "$q" -i "$WORK/in.jsonl" --key id)
  t0=$(date +%s%N)
  for w in 1 2 3 4; do
    "$SLUICE" worker --no-progress --redis "$redis" --queue "$q" --noop -j 64 \
      -o "$WORK/$q.$w.jsonl" 2>>"$WORK/err" &
  done
  wait
  t1=$(date +%s%N)
  rows=$(cat "$WORK/$q".*.jsonl | wc -l)
  rm -f "$WORK/one.jsonl"
  one=$(wall "$SLUICE" run --no-progress --noop -j 64 -o "$WORK/one.jsonl" -i "$WORK/in.jsonl" --key id)
  awk -v e="$e" -v ns=$((t1 - t0)) -v rows="$rows" -v one="$one" 'BEGIN {
    printf "workload=queue enqueue_s=%.3f enqueue_per_s=%.0f workers_s=%.3f rows=%d tasks_per_s=%.0f one_run_s=%.3f one_run_per_s=%.0f\n",
      e, 20000 / e, ns / 1e9, rows, rows / (ns / 1e9), one, 20000 / one }'
done | tee "$WORK/queue"
part queue && for f in enqueue_per_s tasks_per_s one_run_per_s; do
  echo "median_$f=$(sed "s/.*$f=\([0-9.]*\).*/\1/" "$WORK/queue" | median)"
done | paste -sd' ' | sed "s/^/workload=queue reps=$REPS /" | tee -a "$RESULTS"

# ---- redo: a worker killed, its tasks taken over ----------------------------------------------
seq 400 | awk '{ printf "{\"id\":%d}\n", $1 }' >"$WORK/slow.jsonl"
drained_after() {  # drained_after QUEUE T0_NS: seconds from T0 until the queue has 400 done
  while ! "$SLUICE" queue status --redis "$redis" --queue "$1" | grep -q ' 400 done'; do
    sleep 0.02
  done
  awk -v ns=$(($(date +%s%N) - $2)) 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}
part redo && for ((i = 0; i < REPS; i++)); do
  for kill in no yes; do
    q="redo$kill$i"
    "$SLUICE" enqueue --redis "$redis" --queue "$q" -i "$WORK/slow.jsonl" --key id 2>/dev/null
    t0=$(date +%s%N)
    pids=()
    for w in 1 2; do
      "$SLUICE" worker --no-progress --redis "$redis" --queue "$q" -j 4 --claim-after 2s \
        -o "$WORK/$q.$w.jsonl" -- sh -c 'sleep 0.05' 2>>"$WORK/err" &
      pids+=($!)
    done
    if [[ $kill == yes ]]; then
      sleep 1
      kill -9 "${pids[0]}"
      tk=$(date +%s%N)
      after=$(drained_after "$q" "$tk")
      echo "workload=redo killed=yes claim_after_s=2 from_kill_to_done_s=$after total_s=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')"
    else
      after=$(drained_after "$q" "$t0")
      echo "workload=redo killed=no total_s=$after"
    fi
    wait 2>/dev/null || true
  done
done | tee "$WORK/redo"
part redo && say "workload=redo reps=$REPS claim_after_s=2" \
  "median_from_kill_to_done_s=$(grep killed=yes "$WORK/redo" | sed 's/.*from_kill_to_done_s=\([0-9.]*\).*/\1/' | median)" \
  "median_total_killed_s=$(grep killed=yes "$WORK/redo" | sed 's/.*total_s=\([0-9.]*\).*/\1/' | median)" \
  "median_total_no_kill_s=$(grep killed=no "$WORK/redo" | sed 's/.*total_s=\([0-9.]*\).*/\1/' | median)"

# ---- adaptive: one AIMD rate for 4 processes, judged by nginx's limit_req ----------------------
fourth() {  # fourth TAG FLAGS...: 4 processes of 75 GETs each to /limited/TAG/, at once
  local tag=$1 t0 t1
  shift
  t0=$(date +%s%N)
  for p in 1 2 3 4; do
    seq 75 | sed "s|^|$base/limited/$tag/$p-|" >"$WORK/$tag.$p.txt"
    "$SLUICE" http --no-progress -j 16 -r 400 --retries 20 --adaptive "$@" \
      -i "$WORK/$tag.$p.txt" >/dev/null 2>>"$WORK/err" &
  done
  wait
  t1=$(date +%s%N)
  echo "wall_s=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')" \
    "n429=$(grep -c " 429 .*/limited/$tag/" "$WORK/nginx/limited.log")" \
    "n200=$(grep -c " 200 .*/limited/$tag/" "$WORK/nginx/limited.log")"
}
part adaptive && for ((i = 0; i < REPS; i++)); do
  echo "workload=adaptive tool=sluice-redis $(fourth "ar$i" --redis "$redis" --limit-name "ar$i")"
  echo "workload=adaptive tool=sluice-alone $(fourth "aa$i")"
done | tee "$WORK/adaptive"
part adaptive && for tool in sluice-redis sluice-alone; do
  grep "tool=$tool " "$WORK/adaptive" >"$WORK/t"
  say "workload=adaptive tool=$tool reps=$REPS" \
    "median_wall_s=$(sed 's/.*wall_s=\([0-9.]*\).*/\1/' "$WORK/t" | median)" \
    "median_n429=$(sed 's/.*n429=\([0-9]*\).*/\1/' "$WORK/t" | median)"
done
