#!/usr/bin/python3
"""Instructions per storm line in the real upwatchd, split by stage, under
valgrind --tool=callgrind (deterministic: no clock, no other process's load;
issue 16's storm, every line a failure of one of 50 configured peers).

upwatchd starts with start_at beginning on a storm file of LINES lines and
runs until `stats` shows every line read. Each stage is its inclusive cost
as its caller sees it (inlined code counted where it runs):
  parser     errlog_parse_upstream, from pipeline_line
  diagnosis  diag_log_event, from pipeline_line, without report_render (the
             50 alerts' openings, once each: printed apart)
  tail       tailsrc.c's feed (split into lines, deliver, the callback)
             without pipeline_line
The ticks' renders (once a second of valgrind's slow wall time) are left out:
at the daemon's real speed a tick is ~1/200,000 of the lines.

usage: storm_callgrind.py BUILD_DIR [LINES] [BEFORE_BUILD_DIR]
Needs valgrind and callgrind_annotate; loopback and unix sockets only."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

NPEERS = 50


def storm(d, n):
    log = os.path.join(d, "error.log")
    line = ('2026/11/21 10:00:{s:02d} [error] 7#7: *{i} connect() failed (111: Connection '
            'refused) while connecting to upstream, client: 127.0.0.1, server: bench.test, '
            'request: "GET /u{p}/x HTTP/1.1", upstream: "http://127.0.0.1:{port}/u{p}/x", '
            'host: "bench.test"\n')
    with open(log, "w") as f:
        f.writelines(line.format(s=i // 20000 % 60, i=i, p=i % NPEERS, port=20000 + i % NPEERS)
                     for i in range(n))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"pid {d}/nginx.pid;\nerror_log {log};\nevents {{}}\nhttp {{\n")
        for i in range(NPEERS):
            f.write(f"  upstream u{i} {{ server 127.0.0.1:{20000 + i}; }}\n")
        f.write("  server {\n    server_name bench.test;\n")
        for i in range(NPEERS):
            f.write(f"    location /u{i}/ {{ proxy_pass http://u{i}; }}\n")
        f.write("  }\n}\n")
    up = os.path.join(d, "upwatch.conf")
    with open(up, "w") as f:
        f.write("start_at beginning;\nprobe off;\n")
    return conf, up


def lines_read(sock):
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(30)
    c.connect(sock)
    c.sendall(b'{"cmd":"stats"}\n')
    buf = b""
    while b"\n" not in buf:
        r = c.recv(65536)
        if not r:
            break
        buf += r
    c.close()
    return json.loads(buf.split(b"\n", 1)[0])["logs"][0]["lines"]


def profile(build, n, out):
    d = tempfile.mkdtemp(prefix="upwatch-storm-cg-")
    try:
        conf, up = storm(d, n)
        sock = os.path.join(d, "u.sock")
        p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              os.path.join(build, "src", "upwatchd"), "--foreground",
                              "--config", up, "--nginx-conf", conf, "--socket", sock,
                              "--state-dir", d], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        try:
            while time.monotonic() < deadline:
                try:
                    if lines_read(sock) >= n:
                        break
                except (OSError, ValueError, KeyError, IndexError):
                    pass
                time.sleep(0.5)
            else:
                raise RuntimeError("upwatchd did not read the storm in 600 s")
        finally:
            p.terminate()
            p.wait()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def children(tree, fn):
    """{callee: inclusive cost} of fn's calls, summed over fn's entries."""
    got, inside = {}, False
    for line in tree.splitlines():
        if "*  " in line:
            inside = line.split("*  ", 1)[1].split(" [")[0].endswith(":" + fn)
            continue
        if inside and ">   " in line:
            cost = int(line.split()[0].replace(",", ""))
            callee = line.split(">   ", 1)[1].split(" (")[0].rsplit(":", 1)[-1]
            got[callee] = got.get(callee, 0) + cost
    return got


def split(build, n, label):
    with tempfile.TemporaryDirectory() as t:
        out = os.path.join(t, "callgrind.out")
        profile(build, n, out)
        tree = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=calling", out],
                              capture_output=True, text=True, check=True).stdout
    pl = children(tree, "pipeline_line")
    parser = pl.get("errlog_parse_upstream", 0)
    diag = pl.get("diag_log_event", 0)
    # (the openings' render is called from event_opens, diagnose.c's rare path)
    opening = sum(children(tree, fn).get("report_render", 0)
                  for fn in ("diag_log_event", "event_opens"))
    feed = children(tree, "tailsrc_read").get("feed", 0)
    line = children(tree, "on_log_line").get("pipeline_line", 0)
    tail = feed - line
    print(f"{label}storm per line (callgrind instructions, {n} lines): "
          f"parser {parser / n:.0f}, diagnosis {(diag - opening) / n:.0f}, tail {tail / n:.0f}; "
          f"sum {(parser + diag - opening + tail) / n:.0f} "
          f"(+ {opening / n:.0f} a line for the 50 alerts' openings)", flush=True)


n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
split(sys.argv[1] if len(sys.argv) > 1 else "build", n, "")
if len(sys.argv) > 3:
    split(sys.argv[3], n, "before: ")
