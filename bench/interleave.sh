#!/usr/bin/env bash
# Runs benchmark commands in turn, rep after rep, so that all of them see the same phases of
# a VM whose speed drifts over minutes; prints each one's median and range, and the median
# of the per-rep ratios of each command to the first. Each command prints one line with a
# ns_per_<something>= field (sluice_bench's format).
#
#   bench/interleave.sh [-n REPS] LABEL 'CMD' LABEL 'CMD' ...
#
#   bench/interleave.sh -n 9 w1 'build/release/bench/sluice_bench w1 1000000 64' \
#                            scope 'build/release/bench/sluice_bench scope 1000000 64'
#   bench/interleave.sh -n 7 before '/tmp/old/sluice_bench batch_load 1000000 1000' \
#                            this 'build/release/bench/sluice_bench batch_load 1000000 1000'
set -euo pipefail
reps=7
if [[ ${1-} == -n ]]; then
  reps=$2
  shift 2
fi
if (($# < 2 || $# % 2)); then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
labels=()
commands=()
while (($#)); do
  labels+=("$1")
  commands+=("$2")
  shift 2
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((r = 0; r < reps; r++)); do
  for i in "${!commands[@]}"; do
    line=$(bash -c "${commands[$i]}")
    value=$(grep -oE 'ns_per_[a-z]+=[0-9.]+' <<<"$line" | head -n1 | cut -d= -f2)
    [[ -n $value ]] || { echo "interleave: no ns_per_ field in: $line" >&2; exit 1; }
    echo "$value" >>"$work/$i"
  done
done

source "$(dirname "$0")/median.sh"
for i in "${!commands[@]}"; do
  range=$(sort -g "$work/$i" | sed -n '1p;$p' | paste -sd- -)
  out="${labels[$i]} reps=$reps median=$(median <"$work/$i") range=$range"
  if ((i > 0)); then
    ratio=$(paste -d' ' "$work/$i" "$work/0" | awk '{ printf "%.3f\n", $1 / $2 }' | median)
    out+=" per_rep_ratio_to_${labels[0]}=$ratio"
  fi
  echo "$out"
done
