#!/usr/bin/env bash
# Side-by-side benchmark of sluice and its peers on the shared workloads, in one run.
#
#   bench/run.sh                 sluice + bare Asio baseline + Python asyncio, REPS=3
#   bench/run.sh cli             only the CLI against xargs -P and GNU parallel (bench/cli.sh)
#   bench/run.sh http            only `sluice http` against wrk, xargs -P curl and aiohttp on a
#                                local nginx (bench/http.sh)
#   bench/run.sh storage         only the JSON Lines workloads (resume_scan, append) and their
#                                peers (wc -l, Python json.loads / write+flush / fsync)
#   PEERS_ALL=1 bench/run.sh     also every peer of ../shared/bench/peers (Go, Rust, Node,
#                                Python; installs and builds them, takes ~20 min)
#
# Each (program, workload) runs REPS times, one at a time; raw lines go to
# bench/results/raw.txt and the medians to bench/results/medians.txt (one key=value line per
# result, with peak_rss_kb from /usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
SHARED=${SHARED:-../shared/bench}
OUT=bench/results
mkdir -p "$OUT"
scripts/install-deps.sh --bench

cmake --preset release >/dev/null
cmake --build --preset release --target sluice_bench >/dev/null
SLUICE=build/release/bench/sluice_bench
ASIO=build/release/bench/peer-asio
g++ -std=c++20 -O2 -DNDEBUG -pthread -o "$ASIO" "$SHARED/peers/asio/bench.cpp"
PY=(python3 "$SHARED/peers/python/bench.py")

: >"$OUT/raw.txt"
run() {  # run LABEL CMD...: one measured run, its line tagged with peak RSS
  local tf out
  tf=$(mktemp)
  if [[ $(type -t "$1") == function ]]; then
    out=$("$@")
    echo 0 >"$tf"
  else
    out=$(/usr/bin/time -f '%M' -o "$tf" "$@")
  fi
  echo "$out peak_rss_kb=$(tail -n1 "$tf")" | tee -a "$OUT/raw.txt"
  rm -f "$tf"
}

xargs_spawn() {  # xargs_spawn N P: N runs of /bin/true through xargs -P P, in the same format
  local t0 t1
  t0=$(date +%s%N)
  seq "$1" | xargs -P "$2" -n 1 /bin/true
  t1=$(date +%s%N)
  awk -v n="$1" -v p="$2" -v ns=$((t1 - t0)) 'BEGIN {
    printf "peer=xargs workload=spawn n=%d limit=%d wall_ms=%.1f us_per_process=%.1f\n",
           n, p, ns / 1e6, ns / 1e3 / n }'
}

RESULTS=${TMPDIR:-/tmp}/sluice-bench-results.jsonl  # 5M rows of 215 bytes (1.075 GB)
wc_scan() {  # wc_scan FILE: wc -l over the results file, in the same format
  local t0 t1 size
  size=$(stat -c %s "$1")
  t0=$(date +%s%N)
  wc -l "$1" >/dev/null
  t1=$(date +%s%N)
  awk -v b="$size" -v ns=$((t1 - t0)) 'BEGIN {
    printf "peer=wc-l workload=resume_scan n=5000000 bytes=%d wall_ms=%.1f mb_per_s=%.1f\n",
           b, ns / 1e6, b / 1e3 / (ns / 1e6) }'
}
STORAGE_PY=(python3 bench/storage_peers.py)

runner_workloads() {
  run $SLUICE w1 1000000 64
  run $SLUICE w1 1000000 64 amap
  run $ASIO asio-workerpool w1 1000000 64
  run $ASIO asio-cospawn w1 1000000 64
  run "${PY[@]}" asyncio-spawnloop w1 1000000 64
  run $SLUICE w2 1000000 64
  run $ASIO asio-workerpool w2 1000000 64
  run $SLUICE w3 10000000 100
  run $SLUICE w3 5000000 100
  run $SLUICE w3 1000000 100
  run $SLUICE w3 50000 100
  run $ASIO asio-workerpool w3 5000000 100
  run "${PY[@]}" asyncio-spawnloop w3 1000000 100
  run $SLUICE w4 10000 1000
  run $ASIO asio-workerpool w4 10000 1000
  run "${PY[@]}" asyncio-spawnloop w4 10000 1000
  run $SLUICE w5 3000 1000
  run $SLUICE scope 1000000 64
  run $SLUICE spawn 2000 2
  run xargs_spawn 2000 2
  run $SLUICE batch_load 1000000 1000 cache
  run $SLUICE batch_load 1000000 1000 nocache
  run $SLUICE batch_load 1000000 1000 many
}

storage_workloads() {
  run $SLUICE resume_scan 5000000 215 "$RESULTS"
  run wc_scan "$RESULTS"
  run "${STORAGE_PY[@]}" resume_scan "$RESULTS"
  run $SLUICE append 1000000 215 default
  run "${STORAGE_PY[@]}" append 200000 215 default
  run $SLUICE append 2000 215 each_row
  run "${STORAGE_PY[@]}" append 2000 215 each_row
}

GROUP=${1:-all}  # all, or storage: only the JSON Lines workloads
[[ $GROUP == cli ]] && exec bench/cli.sh
[[ $GROUP == http ]] && exec bench/http.sh
for rep in $(seq "$REPS"); do
  echo "--- rep $rep" >&2
  [[ $GROUP == storage ]] || runner_workloads
  storage_workloads
done

# Medians per (peer, workload, n): each numeric field's median over the reps.
python3 - "$OUT/raw.txt" >"$OUT/medians.txt" <<'PY'
import sys, statistics, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    kv = dict(p.split("=", 1) for p in line.split())
    rows.setdefault((kv["peer"], kv["workload"], kv["n"]), []).append(kv)
for (peer, wl, n), runs in rows.items():
    out = {"peer": peer, "workload": wl, "n": n, "limit": runs[0].get("limit", "")}
    for k in runs[0]:
        if k in out:
            continue
        try:
            out[k] = "%g" % statistics.median(float(r[k]) for r in runs)
        except ValueError:
            pass
    out["reps"] = str(len(runs))
    print(" ".join(f"{k}={v}" for k, v in out.items()))
PY
cat "$OUT/medians.txt"

if [[ ${PEERS_ALL:-0} == 1 ]]; then
  REPS=$REPS RESULTS_DIR="$PWD/$OUT/peers" "$SHARED/peers/run_peers.sh"
fi
