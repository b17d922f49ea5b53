#!/usr/bin/env bash
# `sluice http` side by side with its peers against one local nginx (scripts/nginx.sh), in
# one run (docs/benchmarks.md):
#   get:     20,000 GETs of a 100-byte static file, 64 at a time: sluice http (rows into
#            -o results.jsonl), wrk -c 64 (the ceiling: it keeps no results) with one thread
#            (as sluice's network runs on one) and with two, xargs -P 64 curl, Python aiohttp
#            with a semaphore of 64. Requests per second.
#   rate:    the same 20,000 at --max-per-second 2000: the achieved rate from the rows'
#            started_at, and its error against 2000.
#   memory:  1,000,000 GETs streamed from a file at -j 64: peak RSS (/usr/bin/time).
# REPS (default 5; xargs and aiohttp 3) runs each; medians are printed. Results:
# bench/results/http.txt.
source "$(dirname "$0")/cli_common.sh" http.txt
PY=/usr/bin/python3  # Debian's, which has python3-aiohttp
cleanup() {
  scripts/nginx.sh stop "$WORK/nginx" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
scripts/nginx.sh start "$WORK/nginx" >/dev/null
BASE=$(<"$WORK/nginx/url")
# Distinct URLs (a query string each) of the same 100-byte file.
awk -v b="$BASE" 'BEGIN { for (i = 1; i <= 20000; i++) print b "/small.txt?i=" i }' >"$WORK/20k.txt"
awk -v b="$BASE" 'BEGIN { for (i = 1; i <= 1000000; i++) print b "/small.txt?i=" i }' >"$WORK/1m.txt"

per_s() { awk -v n="$1" '{ printf "%.0f\n", n / $1 }'; }  # wall seconds -> requests/s

sluice_get() {  # sluice_get [FLAGS...]: the 20,000 GETs into $WORK/r.jsonl
  rm -f "$WORK/r.jsonl"
  "$SLUICE" http -j 64 --no-progress -o "$WORK/r.jsonl" -i "$WORK/20k.txt" "$@"
}
check_get() {  # every row of the last sluice_get has status 200 (not timed)
  local ok
  ok=$(grep -c '"status":200' "$WORK/r.jsonl")
  [[ $ok == 20000 ]] || { echo "bench: $ok of 20000 rows have status 200" >&2; exit 1; }
}
curl_get() { xargs -P 64 -n 1 -a "$WORK/20k.txt" curl -sf -o /dev/null; }

# ---- get: 20,000 GETs, 64 at a time; the tools interleaved, rep by rep ---------------------
tools=(wrk-t1 wrk-t2 sluice xargs aiohttp)
for tool in "${tools[@]}"; do : >"$WORK/get-$tool"; done
wrk_get() { wrk -t "$1" -c 64 -d 3s "$BASE/small.txt" | awk '/Requests\/sec/ { printf "%.0f\n", $2 }'; }
for ((i = 0; i < REPS; i++)); do
  wrk_get 1 >>"$WORK/get-wrk-t1"
  wrk_get 2 >>"$WORK/get-wrk-t2"
  wall sluice_get | per_s 20000 >>"$WORK/get-sluice"
  check_get
  if ((i < 3)); then
    wall curl_get | per_s 20000 >>"$WORK/get-xargs"
    "$PY" bench/http_aiohttp.py "$WORK/20k.txt" 64 | sed -E 's/.*req_per_s=([0-9]+).*/\1/' >>"$WORK/get-aiohttp"
  fi
done
for tool in "${tools[@]}"; do
  say "workload=get tool=$tool requests=20000 concurrency=64 runs=$(wc -l <"$WORK/get-$tool")" \
    "median_req_per_s=$(median <"$WORK/get-$tool") all=$(paste -sd, "$WORK/get-$tool")"
done
ratio() { awk -v a="$(median <"$WORK/get-sluice")" -v b="$(median <"$WORK/get-$1")" -v f="$2" 'BEGIN { printf f, a / b }'; }
say "workload=get sluice_over_wrk_t1=$(ratio wrk-t1 %.3f) sluice_over_wrk_t2=$(ratio wrk-t2 %.3f)" \
  "sluice_over_xargs_curl=$(ratio xargs %.1f) sluice_over_aiohttp=$(ratio aiohttp %.1f)"
# The same ratios rep by rep (sluice and wrk run back to back in a rep, so a rep where the
# machine slowed down slows both), and their medians.
per_rep() { paste -d' ' "$WORK/get-sluice" "$WORK/get-$1" | awk '{ printf "%.3f\n", $1 / $2 }'; }
say "workload=get per_rep_sluice_over_wrk_t1=$(per_rep wrk-t1 | paste -sd, -)" \
  "median=$(per_rep wrk-t1 | median) per_rep_sluice_over_wrk_t2=$(per_rep wrk-t2 | paste -sd, -)" \
  "median=$(per_rep wrk-t2 | median)"

# ---- rate: the same at --max-per-second 2000 ----------------------------------------------
: >"$WORK/rate"
for ((i = 0; i < 3; i++)); do
  sluice_get --max-per-second 2000
  check_get
  python3 - "$WORK/r.jsonl" <<'PY' >>"$WORK/rate"
import json, sys, datetime
t = sorted(datetime.datetime.fromisoformat(json.loads(l)["started_at"].rstrip("Z")).timestamp()
           for l in open(sys.argv[1]))
print(f"{(len(t) - 1) / (t[-1] - t[0]):.2f}")
PY
done
r=$(median <"$WORK/rate")
say "workload=rate tool=sluice requests=20000 max_per_second=2000 runs=3 median_achieved_per_s=$r" \
  "error_pct=$(awk -v r="$r" 'BEGIN { printf "%.3f", (r - 2000) / 20 }') all=$(paste -sd, "$WORK/rate")"

# ---- memory: 1,000,000 GETs streamed from a file ------------------------------------------
rm -f "$WORK/r.jsonl"
/usr/bin/time -f '%M %e' -o "$WORK/time" \
  "$SLUICE" http -j 64 --no-progress -o "$WORK/r.jsonl" -i "$WORK/1m.txt" >/dev/null
rows=$(wc -l <"$WORK/r.jsonl")
[[ $rows == 1000000 ]] || { echo "bench: $rows of 1000000 rows" >&2; exit 1; }
read -r kb secs <"$WORK/time"
say "workload=memory tool=sluice requests=1000000 j=64 peak_rss_mib=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')" \
  "wall_s=$secs req_per_s=$(awk -v s="$secs" 'BEGIN { printf "%.0f", 1e6 / s }')"
