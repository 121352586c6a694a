#!/bin/bash
# errlog_parse() throughput next to `wc -l` on the same file, in the same run.
#   tests/bench/errlog.sh BUILD_DIR [MB] [RUNS]
# Generates MB (default 200) of realistic error-log lines with bench_errlog,
# warms the page cache, then runs `wc -l FILE` and `bench_errlog run FILE`
# RUNS times each (default 5), alternating, and keeps the best wall time and
# the best CPU time (user + sys) of each. The CPU-time ratio is the one to
# trust on a busy machine: other processes stretch wall time, not CPU time.
# Not part of the test suite: it prints figures, it asserts nothing.
set -euo pipefail
build=${1:?usage: errlog.sh BUILD_DIR [MB] [RUNS]}
mb=${2:-200}
runs=${3:-5}
bin="$build/tests/bench/bench_errlog"
[ -x "$bin" ] || { echo "errlog.sh: $bin not built" >&2; exit 1; }

file=$(mktemp "${TMPDIR:-/tmp}/errlog-bench.XXXXXX")
trap 'rm -f "$file"' EXIT
"$bin" generate "$file" "$mb"
cat "$file" >/dev/null
bytes=$(wc -c <"$file")
lines=$(wc -l <"$file")

# timed CMD...: prints "wall cpu" in seconds
timed() {
    local TIMEFORMAT='%R %U %S' t
    t=$({ time "$@" >/dev/null; } 2>&1)
    awk '{ printf "%s %.3f\n", $1, $2 + $3 }' <<<"$t"
}

best() { sort -g | head -n1; }
wc_wall=() wc_cpu=() p_wall=() p_cpu=()
for ((i = 0; i < runs; i++)); do
    read -r w c < <(timed wc -l "$file")
    wc_wall+=("$w") wc_cpu+=("$c")
    read -r w c < <(timed "$bin" run "$file")
    p_wall+=("$w") p_cpu+=("$c")
done
"$bin" run "$file" | sed -n 2p

ww=$(printf '%s\n' "${wc_wall[@]}" | best)
wc=$(printf '%s\n' "${wc_cpu[@]}" | best)
pw=$(printf '%s\n' "${p_wall[@]}" | best)
pc=$(printf '%s\n' "${p_cpu[@]}" | best)
awk -v b="$bytes" -v l="$lines" -v ww="$ww" -v wc="$wc" -v pw="$pw" -v pc="$pc" 'BEGIN {
    if (wc <= 0) wc = 0.001
    printf "file: %.1f MB, %d lines (%.0f bytes/line), best of '"$runs"' runs\n", b / 1e6, l, b / l
    f = "%-13s wall %6.3f s  cpu %6.3f s  %10.0f lines/s  %6.0f MB/s (wall)\n"
    printf f, "wc -l", ww, wc, l / ww, b / 1e6 / ww
    printf f, "errlog_parse", pw, pc, l / pw, b / 1e6 / pw
    printf "ratio: errlog_parse runs at %.0f%% of wc -l throughput by wall time, %.0f%% by cpu time (target >= 40%%)\n", 100 * ww / pw, 100 * wc / pc
}'
