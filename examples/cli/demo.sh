#!/usr/bin/env bash
# The main job: sluice runs a simulated API call for each of 300 orders, 16 at once and at most
# 100 starts a second, retrying failures, into a resumable results file; then runs again to
# show that nothing already done is redone. (A call fails 11 times in 256: with 2 retries, a
# run of 300 saw a task fail three times in a row about once in 40 runs, and the script
# failed; with 4, about once in 20,000.)
set -euo pipefail
cd "$(dirname "$0")/../.."
SLUICE=${SLUICE:-build/release/apps/sluice/sluice}
OUT=build/demo/results.jsonl
mkdir -p "$(dirname "$OUT")"
rm -f "$OUT"
run() {
  "$SLUICE" run --progress --stats -j 16 -r 100 --retries 4 --backoff 50ms,1s \
    -o "$OUT" -i examples/cli/orders.txt -- examples/cli/fake_api.sh {}
}
echo "== first run: 300 orders"
run
echo "== $(wc -l <"$OUT") rows in $OUT; the first one:"
head -n1 "$OUT"
echo "== second run: everything is in $OUT already, so nothing runs"
run
echo "== still $(wc -l <"$OUT") rows"
