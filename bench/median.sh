# median: the median of the numbers on standard input, one per line (the mean of the middle
# two for an even count). Sourced by bench/cli_common.sh and bench/interleave.sh.
median() {
  sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
