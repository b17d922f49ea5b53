# What bench/cli.sh and bench/http.sh share, sourced by both: the setup (dependencies, the
# release build of the CLI, a work directory), wall, median and say.
#   source bench/cli_common.sh RESULTS_NAME    results go to bench/results/RESULTS_NAME
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPS=${REPS:-5}
OUT=bench/results
mkdir -p "$OUT"
scripts/install-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target sluice_cli >/dev/null
SLUICE=$PWD/build/release/apps/sluice/sluice
WORK=$(mktemp -d)
RESULTS=$OUT/$1
: >"$RESULTS"

wall() {  # wall CMD...: the command's wall time in seconds, its output dropped; stops on failure
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}
source bench/median.sh
say() { echo "$*" | tee -a "$RESULTS"; }
