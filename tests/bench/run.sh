#!/bin/sh
# Every benchmark, one after the other; each prints its figures next to a
# reference measured in the same run, and a summary of issue 16's figures
# closes the run. By hand, never in CI's pass/fail (a few minutes on 2 cores):
#   tests/bench/run.sh BUILD_DIR [short] [BEFORE_BUILD_DIR]
# "short" (or "") shrinks the durations and files for a quick look; an older
# build given as BEFORE_BUILD_DIR runs beside in the same rounds (errlog,
# diagnose, upwatchd end to end, alert latency) for a before/after table.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
short=${2:-}
before=${3:-}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

{
echo "== errlog: in-process ingest as a fraction of wc -l (issue 16 target >= 25%)"
if [ -n "$short" ]; then mb=20 runs=2; else mb=200 runs=3; fi
"$here/errlog.sh" "$build" $mb $runs ${before:+"$before/tests/bench/bench_errlog"}
echo "== accesslog: combined ingest next to wc -l (issue 17: 10 M lines, target <= 4x wc -l)"
if [ -n "$short" ]; then "$here/accesslog.sh" "$build" 20 2; else "$here/accesslog.sh" "$build" 1200 3; fi
echo "== diagnose: in-process storm, every line a failure of one of 50 configured peers"
"$build/tests/bench/bench_diagnose" ${short:+200000}
if [ -n "$before" ]; then
	echo "before:"
	"$before/tests/bench/bench_diagnose" ${short:+200000} | sed 's/^/before: /'
fi
echo "== storm and real lines per line in upwatchd, callgrind instructions: parser, diagnosis, tail"
if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
	/usr/bin/python3 "$here/storm_callgrind.py" "$build" "$([ -n "$short" ] && echo 20000 || echo 100000)" ${before:+"$before"}
else
	echo "(valgrind not installed: skipped)"
fi
echo "== upwatchd end to end: ingest, config-size ratio, RSS, probing 10k peers"
# 21 rounds (7 short), each a pair (wc -l, feed) of a fraction of a second:
# this machine's speed drifts by +-20 % between minutes, and the median of 7
# pairs still moved by 5 points from one run to the next (24 to 33 %)
/usr/bin/python3 "$here/daemon.py" "$build" $mb $([ -n "$short" ] && echo 7 || echo 21) ${before:+"$before"}
echo "== probe (in-process): 10k TCP peers at 1 s against a bare connect loop"
"$build/tests/bench/bench_probe" --duration "$([ -n "$short" ] && echo 5 || echo 20)" --skip-http
echo "== alerts: log line -> alert on the socket (target p99 <= 1 ms)"
n=$([ -n "$short" ] && echo 200 || echo 1000)
/usr/bin/python3 "$here/alert_latency.py" "$build" $n
if [ -n "$before" ]; then
	/usr/bin/python3 "$here/alert_latency.py" "$before" $n | sed 's/^/before: /'
fi
echo "== tail: line appended -> callback latency"
"$build/tests/bench/bench_tail" ${short:+2000}
echo "== ngxconf: 10k servers, 10k upstreams, 1k files vs nginx -t"
"$here/ngxconf.sh" "$build" 1
echo "== hostile: status p99 under 1,000 clients, 500 hostile backends, 500k lines/s (issue 15)"
/usr/bin/python3 "$here/hostile_load.py" --build "$build" --seconds "$([ -n "$short" ] && echo 5 || echo 20)"
} 2>&1 | tee "$out"

echo
echo "== summary (issue 16)"
grep -E '^(errlog_parse_upstream |errlog_parse |tail ingest|wc -l  |noise: |before: bench_errlog)' "$out" |
	sed 's/^/in-process  /'
grep -E '^(before: )?(storm|noise) \(' "$out" | sed 's/^/in-process  /'
grep -E '^(before: )?(storm|real lines)( with [0-9]+ upstreams)? per line' "$out" | sed 's/^/callgrind   /'
grep '^FIGURE ' "$out" | sed 's/^FIGURE /upwatchd    /'
grep -E '^  (CPU|VmRSS|reference)' "$out" | sed 's/^  /bench_probe /'
grep -E '^(before:)? +p50 .* ms +p99 .*issue 16: p99' "$out" | sed 's/^/latency     /'
grep -E '^status: ' "$out" | sed 's/^/hostile     /'

echo
echo "== summary (issue 17)"
grep -E '^(wc -l \(access log\)|accesslog parse|accessstats ingest)' "$out" | sed 's/^/in-process  /'
