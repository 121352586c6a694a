#!/bin/sh
# Every benchmark, one after the other; each prints its figures next to a
# reference measured in the same run. By hand, never in CI's pass/fail:
#   tests/bench/run.sh BUILD_DIR [short]
# "short" shrinks the durations for a quick look.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
short=${2:-}

echo "== errlog: ingest as a fraction of wc -l (issue 16 target >= 25%)"
if [ -n "$short" ]; then "$here/errlog.sh" "$build" 20 2; else "$here/errlog.sh" "$build"; fi
echo "== tail: line appended -> callback latency (target p99 < 2 ms)"
"$build/tests/bench/bench_tail" ${short:+2000}
echo "== ngxconf: 10k servers, 10k upstreams, 1k files vs nginx -t"
"$here/ngxconf.sh" "$build" ${short:+1}
echo "== probe: 10k TCP peers at 1 s (target <= 25% CPU, RSS < 16 MB), HTTP probes/s"
"$here/probe.sh" "$build" "$([ -n "$short" ] && echo 10 || echo 60)"
echo "== diagnose: storm, every line a failure of one of 50 configured peers (us/line)"
"$build/tests/bench/bench_diagnose" ${short:+200000}
echo "== alerts: log line -> alert on the socket (target p99 < 10 ms)"
/usr/bin/python3 "$here/alert_latency.py" "$build" "$([ -n "$short" ] && echo 200 || echo 1000)"
echo "== hostile: status p99 under 1,000 clients, 500 hostile backends, 500k lines/s (issue 15)"
/usr/bin/python3 "$here/hostile_load.py" --build "$build" --seconds "$([ -n "$short" ] && echo 5 || echo 20)"
