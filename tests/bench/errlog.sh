#!/bin/bash
# Error-log ingest next to `wc -l` on the same file, in the same run.
#   tests/bench/errlog.sh BUILD_DIR [MB] [RUNS] [BEFORE_BIN]
# Generates MB (default 200) of real error-log lines (the sample corpus of
# tests/fixtures, replayed with fresh numbers) with bench_errlog, warms the
# page cache, then runs, RUNS times each (default 5), alternating:
#   wc -l FILE
#   bench_errlog run FILE        errlog_parse_upstream(), what the daemon calls
#   bench_errlog run-full FILE   errlog_parse(), every field of every line
#   bench_tail ingest FILE       the daemon's whole ingest: tail reads the file
#                                from its start, splits and joins entries, and
#                                calls errlog_parse_upstream()
#   BEFORE_BIN run FILE          optional: an older bench_errlog, for a
#                                before/after figure from the same run
# and the same wc -l, errlog_parse_upstream and errlog_parse on a file of
# client-side lines only (tests/bench/noise-corpus.log replayed: no upstream
# content, what the pre-filter is for),
# and keeps the best CPU time (user + sys) of each: other processes stretch
# wall time, not CPU time. Each is printed as a fraction of wc -l.
# Not part of the test suite: it prints figures, it asserts nothing.
set -euo pipefail
build=${1:?usage: errlog.sh BUILD_DIR [MB] [RUNS] [BEFORE_BIN]}
mb=${2:-200}
runs=${3:-5}
before=${4:-}
bin="$build/tests/bench/bench_errlog"
[ -x "$bin" ] || { echo "errlog.sh: $bin not built" >&2; exit 1; }

file=$(mktemp "${TMPDIR:-/tmp}/errlog-bench.XXXXXX")
noise=$(mktemp "${TMPDIR:-/tmp}/errlog-noise.XXXXXX")
trap 'rm -f "$file" "$noise"' EXIT
"$bin" generate "$file" "$mb" >/dev/null
# client-side lines only (no upstream content): what the pre-filter is for
"$bin" generate "$noise" "$mb" "$(dirname "$0")/noise-corpus.log" >/dev/null
cat "$file" "$noise" >/dev/null
bytes=$(wc -c <"$file")
lines=$(wc -l <"$file")

# cpu CMD...: user + sys seconds
cpu() {
    local TIMEFORMAT='%3U %3S' t
    t=$({ time "$@" >/dev/null; } 2>&1)
    awk '{ printf "%.3f\n", $1 + $2 }' <<<"$t"
}

names=("wc -l" "errlog_parse_upstream" "errlog_parse" "tail ingest (tail + parse)"
       "noise: wc -l" "noise: errlog_parse_upstream" "noise: errlog_parse")
cmds=("wc -l $file" "$bin run $file" "$bin run-full $file" "$build/tests/bench/bench_tail ingest $file"
      "wc -l $noise" "$bin run $noise" "$bin run-full $noise")
if [ -n "$before" ]; then
    names+=("before: $(basename "$before")")
    cmds+=("$before run $file")
fi
declare -a best
for ((i = 0; i < runs; i++)); do
    for k in "${!cmds[@]}"; do
        # shellcheck disable=SC2086
        c=$(cpu ${cmds[$k]})
        if [ -z "${best[$k]:-}" ] || awk -v a="$c" -v b="${best[$k]}" 'BEGIN { exit !(a < b) }'; then
            best[$k]=$c
        fi
    done
done
"$bin" run "$file" | sed -n 2p

printf 'file: %.1f MB, %d lines (%.0f bytes/line), best cpu of %d runs\n' \
    "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$lines" \
    "$(awk -v b="$bytes" -v l="$lines" 'BEGIN { print b / l }')" "$runs"
nlines=$(wc -l <"$noise")
for k in "${!cmds[@]}"; do
    w=${best[0]}
    l=$lines
    case ${names[$k]} in
    noise:*) w=${best[4]} l=$nlines ;;
    esac
    [ "${names[$k]}" = "noise: wc -l" ] && echo "noise file (client-side lines only): $nlines lines"
    awk -v n="${names[$k]}" -v c="${best[$k]}" -v w="$w" -v l="$l" 'BEGIN {
        if (c <= 0) c = 0.001
        if (w <= 0) w = 0.001
        printf "%-32s cpu %7.3f s  %11.0f lines/s  %5.1f%% of wc -l\n", n, c, l / c, 100 * w / c
    }'
done
