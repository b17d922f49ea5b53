#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang-14, ASan + UBSan) and runs each on its corpus in
# fuzz/corpus/TARGET for FUZZ_SECONDS (default 12; six targets, 72 s in all). Inputs the
# fuzzer finds go to a scratch directory, never into the repository; a crash or a broken
# invariant fails the script and leaves the input that caused it in build/fuzz/findings/.
#   scripts/fuzz.sh                 all targets
#   scripts/fuzz.sh fuzz_jsonl      one target
#   build/fuzz/fuzz/fuzz_jsonl FILE   replays one input
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
seconds=${FUZZ_SECONDS:-12}
targets=("$@")
((${#targets[@]})) || targets=(fuzz_jsonl fuzz_placeholders fuzz_options fuzz_control fuzz_http_response fuzz_bytes)
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]}"
findings=$PWD/build/fuzz/findings
mkdir -p "$findings"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  # -timeout: one input may take 10 s at most; -rss_limit_mb: the 24 GiB machine, shared.
  if ! build/fuzz/fuzz/"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$findings/$t-" "$scratch/$t" "fuzz/corpus/$t" \
      >"$scratch/$t.log" 2>&1; then
    tail -n 40 "$scratch/$t.log" >&2
    echo "fuzz: $t failed; the input is in $findings (replay: build/fuzz/fuzz/$t FILE)" >&2
    exit 1
  fi
  echo "fuzz: $t: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$scratch/$t.log" |
    grep -o '[0-9]*$') inputs in ${seconds}s, no finding"
done
