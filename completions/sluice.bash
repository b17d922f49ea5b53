# bash completion for sluice(1): subcommands, each subcommand's options (read from its own
# --help, so they never drift), file arguments, and commands after `sluice run`.
# Installed as share/bash-completion/completions/sluice.

# Whether option $1 of the subcommand takes a value: its --help line names a type. (The help
# is read whole first: grep -q leaving a pipe early would fail it under pipefail.)
_sluice_takes_value() {
  local help
  help=$("${words[0]}" "${help_of[@]}" --help 2>/dev/null)
  grep -qE -- "^ *(-[-A-Za-z0-9]*,)*$1(,-[-A-Za-z0-9]*)* (TEXT|UINT|FLOAT|INT|N)( |\$)" <<<"$help"
}

_sluice() {
  local cur prev words cword
  _init_completion || return

  if ((cword == 1)); then
    mapfile -t COMPREPLY < <(compgen -W 'run http enqueue worker merge queue --help --version' -- "$cur")
    return
  fi
  local sub=${words[1]} help_of=("${words[1]}")
  if [[ $sub == queue ]]; then
    if ((cword == 2)); then
      mapfile -t COMPREPLY < <(compgen -W 'status' -- "$cur")
      return
    fi
    help_of=(queue status)
  fi

  case $prev in
    -i | --input | -a | --arg-file | -o | --output | --joblog | --control | --cacert | :::: | ::::+)
      _filedir
      return
      ;;
  esac

  # After the command's first word (or --), the rest belongs to the command.
  local i command_at=0
  for ((i = 2; i < cword; i++)); do
    case ${words[i]} in
      --) command_at=$((i + 1)); break ;;
      -*) ;;
      *)
        # (a word that is an option's value is not the command)
        [[ ${words[i - 1]} == -* && ${words[i - 1]} != -*=* ]] &&
          _sluice_takes_value "${words[i - 1]}" && continue
        command_at=$i
        break
        ;;
    esac
  done
  # (no command yet: this word starts it, unless it is an option or an option's value)
  if ((command_at == 0)) && [[ $cur != -* ]] &&
    ! { [[ $prev == -* ]] && _sluice_takes_value "$prev"; }; then
    command_at=$cword
  fi
  if [[ $sub == run || $sub == worker ]] && ((command_at == cword)); then
    mapfile -t COMPREPLY < <(compgen -c -- "$cur")
    return
  fi

  if [[ $cur == -* ]] && ((command_at == 0)); then
    local options
    options=$("${words[0]}" "${help_of[@]}" --help 2>/dev/null |
      grep -E '^ +-' | sed -E 's/^ +//; s/ .*//' | tr ',' '\n')
    mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    return
  fi
  _filedir
}
complete -F _sluice sluice
