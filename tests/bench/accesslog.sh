#!/bin/bash
# Access-log ingest next to `wc -l` on the same file, in the same run.
#   tests/bench/accesslog.sh BUILD_DIR [MB] [RUNS]
# Generates MB (default 1200: about 10 M lines) of `combined` lines with
# bench_accesslog, warms the page cache, runs `wc -l`, `bench_accesslog
# run` (each line through accesslog_parse, its status, unescaped path and
# time read: no placing, no counting) and `bench_accesslog stats` (the
# daemon's ingest: matched, placed on a location, counted) RUNS times each
# (default 3),
# alternating, and prints the best CPU time (user + sys) of each and each
# as a fraction of wc -l.
# With valgrind installed it also prints the instructions a line of the
# ingest (callgrind, on the first 167,000 lines: deterministic where the
# timings are not).
# Not part of the test suite: it prints figures, it asserts nothing.
set -euo pipefail
build=${1:?usage: accesslog.sh BUILD_DIR [MB] [RUNS]}
mb=${2:-1200}
runs=${3:-3}
bin="$build/tests/bench/bench_accesslog"
[ -x "$bin" ] || { echo "accesslog.sh: $bin not built" >&2; exit 1; }
file=$(mktemp "${TMPDIR:-/tmp}/accesslog-bench.XXXXXX")
sample=$(mktemp "${TMPDIR:-/tmp}/accesslog-sample.XXXXXX")
trap 'rm -f "$file" "$sample"' EXIT
"$bin" generate "$file" "$mb"
cat "$file" >/dev/null
lines=$(wc -l <"$file")

cpu() {
    local TIMEFORMAT='%3U %3S' t
    t=$({ time "$@" >/dev/null; } 2>&1)
    awk '{ printf "%.3f\n", $1 + $2 }' <<<"$t"
}
best_wc= best_run= best_stats=
for ((i = 0; i < runs; i++)); do
    c=$(cpu wc -l "$file")
    if [ -z "$best_wc" ] || awk -v a="$c" -v b="$best_wc" 'BEGIN { exit !(a < b) }'; then best_wc=$c; fi
    c=$(cpu "$bin" run "$file")
    if [ -z "$best_run" ] || awk -v a="$c" -v b="$best_run" 'BEGIN { exit !(a < b) }'; then best_run=$c; fi
    c=$(cpu "$bin" stats "$file")
    if [ -z "$best_stats" ] || awk -v a="$c" -v b="$best_stats" 'BEGIN { exit !(a < b) }'; then best_stats=$c; fi
done
"$bin" run "$file" | head -1
awk -v l="$lines" -v w="$best_wc" -v r="$best_run" -v s="$best_stats" -v mb="$mb" 'BEGIN {
    if (w <= 0) w = 0.001
    if (r <= 0) r = 0.001
    if (s <= 0) s = 0.001
    printf "file: %d MB, %d lines, best cpu of runs\n", mb, l
    printf "wc -l (access log) cpu %7.3f s  %11.0f lines/s\n", w, l / w
    printf "accesslog parse    cpu %7.3f s  %11.0f lines/s  %5.1f%% of wc -l (%.1fx its time)\n", r, l / r, 100 * w / r, r / w
    printf "accessstats ingest cpu %7.3f s  %11.0f lines/s  %5.1f%% of wc -l (%.1fx its time)\n", s, l / s, 100 * w / s, s / w
}'
if command -v valgrind >/dev/null; then
    head -n 167000 "$file" >"$sample"
    n=$(wc -l <"$sample")
    ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" stats "$sample" 2>&1 >/dev/null |
        awk '/Collected :/ { print $NF }')
    awk -v ir="$ir" -v n="$n" 'BEGIN { printf "accessstats ingest callgrind %.0f instructions a line (%d lines)\n", ir / n, n }'
fi
