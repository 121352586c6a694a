#!/bin/sh
# Every benchmark, one after the other; each prints its figures next to a
# reference measured in the same run, and a summary of issue 16's figures
# closes the run. By hand, never in CI's pass/fail (a few minutes on 2 cores):
#   tests/bench/run.sh BUILD_DIR [short]
# "short" shrinks the durations and files for a quick look.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
short=${2:-}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

{
echo "== errlog: in-process ingest as a fraction of wc -l (issue 16 target >= 25%)"
if [ -n "$short" ]; then "$here/errlog.sh" "$build" 20 2; else "$here/errlog.sh" "$build" 200 3; fi
echo "== diagnose: in-process storm, every line a failure of one of 50 configured peers"
"$build/tests/bench/bench_diagnose" ${short:+200000}
echo "== upwatchd end to end: ingest, config-size ratio, RSS, probing 10k peers"
/usr/bin/python3 "$here/daemon.py" "$build" "$([ -n "$short" ] && echo 20 || echo 200)" \
	"$([ -n "$short" ] && echo 1 || echo 3)"
echo "== probe (in-process): 10k TCP peers at 1 s against a bare connect loop"
"$build/tests/bench/bench_probe" --duration "$([ -n "$short" ] && echo 5 || echo 20)" --skip-http
echo "== alerts: log line -> alert on the socket (target p99 <= 1 ms)"
/usr/bin/python3 "$here/alert_latency.py" "$build" "$([ -n "$short" ] && echo 200 || echo 1000)"
echo "== tail: line appended -> callback latency"
"$build/tests/bench/bench_tail" ${short:+2000}
echo "== ngxconf: 10k servers, 10k upstreams, 1k files vs nginx -t"
"$here/ngxconf.sh" "$build" 1
} 2>&1 | tee "$out"

echo
echo "== summary (issue 16)"
grep -E '^(errlog_parse_upstream|errlog_parse |tail ingest|wc -l|noise)' "$out" | sed 's/^/in-process  /'
grep -E '^(storm|noise) ' "$out" | sed 's/^/in-process  /'
grep '^FIGURE ' "$out" | sed 's/^FIGURE /upwatchd    /'
grep -E '^  (CPU|VmRSS|reference)' "$out" | sed 's/^  /bench_probe /'
grep -E '^  p50 .*alert|^  p50' "$out" | head -1 | sed 's/^  /latency     /'
