#!/usr/bin/env bash
# The manual page: mandoc finds nothing to warn about, and every option that each
# subcommand's --help lists appears in it. Usage: manual_test.sh SLUICE SOURCE_DIR
set -uo pipefail
sluice=$1
page=$2/docs/sluice.1
if ! command -v mandoc >/dev/null; then
  echo "mandoc is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
failed=0
# The options of a subcommand: the names in its --help's option column.
options_of() {
  "$sluice" "$@" --help | grep -E '^ +-' | sed -E 's/^ +//; s/ .*//' | tr ',' '\n'
}
if ! mandoc -Tlint -Wwarning "$page"; then
  echo "FAIL: mandoc -Tlint warns about $page" >&2
  failed=1
fi
text=$(mandoc -Tutf8 "$page" | col -bx)
for sub in run http enqueue worker merge "queue status"; do
  # shellcheck disable=SC2086
  for o in $(options_of $sub); do
    if ! grep -qE -- "(^|[^-A-Za-z0-9])$o([^-A-Za-z0-9]|$)" <<<"$text"; then
      echo "FAIL: sluice $sub's $o is not in the manual page" >&2
      failed=1
    fi
  done
  grep -q "$sub" <<<"$text" || { echo "FAIL: no $sub in the manual page" >&2; failed=1; }
done
((failed == 0)) && echo "manual page: ok"
exit $failed
