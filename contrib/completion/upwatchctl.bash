# bash completion for upwatchctl(1)                        -*- shell-script -*-
# Installed as bash-completion's completions/upwatchctl (loaded on demand).
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)) is the completion idiom

_upwatchctl_peers()
{
    # Ask the daemon for its peers; quietly nothing when it is not reachable.
    local sock=$1
    timeout 2 upwatchctl ${sock:+--socket "$sock"} --json upstreams 2>/dev/null |
        grep -o '"peer": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

_upwatchctl()
{
    local cur prev words cword
    _init_completion -n : || return

    local commands='explain status upstreams alerts stats probe reload watch check metrics'
    local opts='--socket --json --version --help'

    case $prev in
        -s | --socket | -c | --config | --nginx-conf)
            _filedir
            return
            ;;
        --nginx-dump | --log)
            _filedir
            [[ -z $cur || $cur == - ]] && COMPREPLY+=(-)
            return
            ;;
        --since)
            COMPREPLY=($(compgen -W '5m 15m 30m 1h 6h 1d' -- "$cur"))
            return
            ;;
    esac

    # Find the command word and the --socket value given so far.
    local i cmd='' sock=''
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -s | --socket) sock=${words[i + 1]}; ((i++)) ;;
            -c | --config | --nginx-conf | --nginx-dump | --since | --log) ((i++)) ;;
            --socket=*) sock=${words[i]#--socket=} ;;
            -*) ;;
            *) [[ -z $cmd ]] && cmd=${words[i]} ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    case $cmd in
        explain)
            COMPREPLY=($(compgen -W '--nginx-conf --nginx-dump --since --log --no-probe
                --config --json' -- "$cur"))
            ;;
        alerts)
            COMPREPLY=($(compgen -W '--all -v --verbose --json' -- "$cur"))
            ;;
        probe)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '--json' -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_upwatchctl_peers "$sock")" -- "$cur"))
                __ltrim_colon_completions "$cur"
            fi
            ;;
        *)
            COMPREPLY=($(compgen -W '--json' -- "$cur"))
            ;;
    esac
} &&
    complete -F _upwatchctl upwatchctl

# ex: filetype=sh
