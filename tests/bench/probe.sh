#!/bin/sh
# Probe benchmark: 10,000 TCP peers at a 1 s interval (CPU, RSS) and HTTP
# probes per second on one core, each printed beside a reference measured in
# the same run. Loopback only; bounded by DURATION.
#
# usage: tests/bench/probe.sh [BUILD_DIR] [DURATION_S]   (defaults: build 60)
# Targets: 10,000 TCP peers at 1 s with <= 25% of one core and RSS < 16 MB.
set -eu

build=${1:-build}
duration=${2:-60}
bin="$build/tests/bench/bench_probe"
if [ ! -x "$bin" ]; then
	echo "no $bin: build first (meson setup $build && ninja -C $build)" >&2
	exit 1
fi

echo "== TCP: 10,000 peers, 1 s interval, ${duration} s; HTTP against a minimal epoll server"
"$bin" --duration "$duration"

# The same HTTP measurement against a real nginx when there is one.
nginx=$(command -v nginx || true)
[ -x /usr/sbin/nginx ] && nginx=/usr/sbin/nginx
if [ -z "$nginx" ]; then
	echo "(no nginx: skipping the nginx HTTP run)"
	exit 0
fi
tmp=$(mktemp -d /tmp/upwatch-bench-XXXXXX)
cleanup() {
	[ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
	sleep 0.2
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cpus=$(nproc)
affinity=""
[ "$cpus" -gt 1 ] && affinity="worker_cpu_affinity 10;"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
$affinity
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { return 200 "ok\n"; }
    }
}
CONF
"$nginx" -p "$tmp" -c "$tmp/nginx.conf"
i=0
while ! [ -f "$tmp/nginx.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo "== HTTP against nginx on 127.0.0.1:$port (one worker)"
"$bin" --skip-tcp --http-port "$port"
