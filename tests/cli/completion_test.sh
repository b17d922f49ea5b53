#!/usr/bin/env bash
# Loads the bash completion (completions/sluice.bash) as bash-completion would and checks what
# it offers: subcommands, every option of a subcommand's --help, files, commands. And zsh's
# completion parses. Usage: completion_test.sh SLUICE SOURCE_DIR
set -uo pipefail
sluice=$1
src=$2
if [[ ! -r /usr/share/bash-completion/bash_completion ]]; then
  echo "bash-completion is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
# shellcheck disable=SC1091
source /usr/share/bash-completion/bash_completion
# shellcheck source=../../completions/sluice.bash
source "$src/completions/sluice.bash"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch" || exit 1
touch some1.txt some2.txt other.txt
failed=0

# What the completion offers for a command line whose last word is being completed.
offer() {
  COMP_WORDS=("$sluice" "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _sluice
  ((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}" | sort -u | tr '\n' ' '
}
expect() {
  local want=$1 got
  shift
  got=$(offer "$@")
  if [[ $got != "$want" ]]; then
    echo "FAIL: sluice $* -> [$got], want [$want]" >&2
    failed=1
  fi
}
expect_has() {
  local want=$1 got
  shift
  got=" $(offer "$@")"
  if [[ $got != *" $want "* ]]; then
    echo "FAIL: sluice $* does not offer $want: [$got]" >&2
    failed=1
  fi
}

expect '--help --version enqueue http merge queue run worker ' ''
expect 'run ' ru
expect 'status ' queue ''
expect '--max-args --max-at-once ' run --max-a
expect '--max-redirects --max-retry-wait ' http --max-re
expect 'some1.txt some2.txt ' run -i some
expect 'some1.txt some2.txt ' run echo ::: a :::: some
expect 'some1.txt some2.txt ' http --cacert some
expect_has echo run -j 4 ec         # the command: -j's value 4 is not it
expect_has echo run --burst 2 -- ec
expect '' run echo --max-a          # after the command, its own words: no sluice options
# Every option that each subcommand's --help lists is offered.
for sub in run http enqueue worker merge; do
  offered=" $(offer "$sub" -)"
  for o in $("$sluice" "$sub" --help | grep -E '^ +-' | sed -E 's/^ +//; s/ .*//' | tr ',' '\n'); do
    [[ $offered == *" $o "* ]] || { echo "FAIL: sluice $sub - does not offer $o" >&2; failed=1; }
  done
done
if command -v zsh >/dev/null; then
  zsh -n "$src/completions/_sluice" || { echo "FAIL: _sluice does not parse in zsh" >&2; failed=1; }
fi
((failed == 0)) && echo "completion: ok"
exit $failed
