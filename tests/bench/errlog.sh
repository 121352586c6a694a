#!/bin/sh
# errlog_parse() throughput next to `wc -l` on the same file, in the same run.
#   tests/bench/errlog.sh BUILD_DIR [MB] [RUNS]
# Generates MB (default 200) of realistic error-log lines with bench_errlog,
# warms the page cache, then times `wc -l FILE` and `bench_errlog run FILE`
# RUNS times each (default 5, best run kept) and prints lines/s, MB/s and the
# ratio. Not part of the test suite: it prints figures, it asserts nothing.
set -eu
build=${1:?usage: errlog.sh BUILD_DIR [MB] [RUNS]}
mb=${2:-200}
runs=${3:-5}
bin="$build/tests/bench/bench_errlog"
[ -x "$bin" ] || { echo "errlog.sh: $bin not built" >&2; exit 1; }

file=$(mktemp "${TMPDIR:-/tmp}/errlog-bench.XXXXXX")
trap 'rm -f "$file"' EXIT INT TERM
"$bin" generate "$file" "$mb"
cat "$file" >/dev/null
bytes=$(wc -c <"$file")
lines=$(wc -l <"$file")

now_ns() { date +%s%N; }

# best_of CMD...: the shortest wall time of $runs runs, in ns
best_of() {
    best=
    i=0
    while [ "$i" -lt "$runs" ]; do
        t0=$(now_ns)
        "$@" >/dev/null
        t1=$(now_ns)
        t=$((t1 - t0))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
        i=$((i + 1))
    done
    echo "$best"
}

wc_ns=$(best_of wc -l "$file")
parse_ns=$(best_of "$bin" run "$file")
"$bin" run "$file" | sed -n 2p

awk -v b="$bytes" -v l="$lines" -v w="$wc_ns" -v p="$parse_ns" 'BEGIN {
    printf "file: %.1f MB, %d lines (%.0f bytes/line)\n", b / 1e6, l, b / l
    f = "%-14s %7.3f s %12.0f lines/s %8.0f MB/s\n"
    printf f, "wc -l", w / 1e9, l / (w / 1e9), b / 1e6 / (w / 1e9)
    printf f, "errlog_parse", p / 1e9, l / (p / 1e9), b / 1e6 / (p / 1e9)
    printf "ratio: errlog_parse runs at %.0f%% of wc -l throughput (target >= 40%%)\n", 100 * w / p
}'
