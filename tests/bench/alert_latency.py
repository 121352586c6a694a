#!/usr/bin/python3
"""Latency from an nginx error-log line to the alert on the JSON socket.

Starts upwatchd on a generated nginx configuration, subscribes, then appends
`connect() failed (111)` lines for distinct loopback peers (nothing listens
there, so each line is a new backend_down alert and triggers a probe) and
measures write() -> alert line received. Prints p50/p99. Target: p99 < 10 ms.

usage: alert_latency.py BUILD_DIR [N]
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
upwatchd = os.path.join(build, "src", "upwatchd")

LINE = ('{ts} [error] 77#77: *{i} connect() failed (111: Connection refused) while connecting '
        'to upstream, client: 127.0.0.1, server: bench.test, request: "GET / HTTP/1.1", '
        'upstream: "http://127.0.0.1:{port}/", host: "bench.test"\n')

with tempfile.TemporaryDirectory(prefix="upwatch-bench-") as d:
    log = os.path.join(d, "error.log")
    open(log, "w").close()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"pid {d}/nginx.pid;\nerror_log {log};\nevents {{}}\nhttp {{}}\n")
    up = os.path.join(d, "upwatch.conf")
    with open(up, "w") as f:
        f.write("probe_interval 5s;\nprobe_timeout 1s;\nstart_at end;\n")
    sock = os.path.join(d, "u.sock")
    proc = subprocess.Popen([upwatchd, "--foreground", "--config", up, "--nginx-conf", conf,
                             "--socket", sock, "--state-dir", d], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        c = socket.socket(socket.AF_UNIX)
        c.connect(sock)
        c.sendall(b'{"cmd":"subscribe"}\n')
        buf = b""
        while b"\n" not in buf:
            buf += c.recv(65536)
        buf = buf.split(b"\n", 1)[1]

        fd = os.open(log, os.O_WRONLY | os.O_APPEND)
        lat = []
        for i in range(n):
            port = 20000 + i
            ts = time.strftime("%Y/%m/%d %H:%M:%S")
            t0 = time.perf_counter()
            os.write(fd, LINE.format(ts=ts, i=i, port=port).encode())
            want = f'"peer":"127.0.0.1:{port}"'.encode()
            while True:
                while b"\n" not in buf:
                    buf += c.recv(65536)
                line, buf = buf.split(b"\n", 1)
                if want in line and b'"state":"firing"' in line:
                    break
            lat.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.002)
        os.close(fd)
        lat.sort()
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        print(f"log line -> alert on the socket, {n} alerts:")
        print(f"  p50 {p(0.50):.3f} ms   p99 {p(0.99):.3f} ms   max {lat[-1]:.3f} ms"
              f"   mean {statistics.mean(lat):.3f} ms   (issue 16: p99 <= 1 ms)")
    finally:
        proc.terminate()
        proc.wait()
