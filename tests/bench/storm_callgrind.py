#!/usr/bin/python3
"""Instructions per line in the real upwatchd, split by stage, under
valgrind --tool=callgrind (deterministic: no clock, no other process's load),
for issue 16's storm (every line a failure of one of 50 configured peers) and
for the same storm with 10,000 more upstreams configured (the
configuration-size ratio, deterministic), and for real error-log lines
(bench_errlog generate: LINES / 5,000 MB).

upwatchd starts with start_at beginning on a file of LINES storm lines (or
the real lines) and runs until `stats` shows every line read. Each stage is its inclusive cost
as its caller sees it (inlined code counted where it runs):
  parser     errlog_parse_upstream, from pipeline_line
  diagnosis  diag_log_event, from pipeline_line, without report_render (the
             50 alerts' openings, once each: printed apart)
  tail       tailsrc.c's feed (split into lines, deliver, the callback)
             without pipeline_line
On real lines the alerts' renders (openings and changes of cause as lines
of many peers mix) stay in diagnosis and are also printed apart.
The ticks' renders (once a second of valgrind's slow wall time) are left out:
at the daemon's real speed a tick is ~1/200,000 of the lines.

usage: storm_callgrind.py BUILD_DIR [LINES] [BEFORE_BUILD_DIR]
Needs valgrind and callgrind_annotate; loopback and unix sockets only."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import BIG, nginx_conf, peers50, peers_big, stats, write_storm


def setup(build, d, kind, n):
    """The log and configurations of a run; returns (conf, upwatch.conf,
    lines). storm: n storm lines, the 50 peers configured; real: n MB of
    real error-log lines (bench_errlog generate), no upstream configured."""
    log = os.path.join(d, "error.log")
    if kind in ("storm", "big"):
        write_storm(log, n)
        conf = nginx_conf(d, log, peers50() if kind == "storm" else peers_big())
    else:
        subprocess.run([os.path.join(build, "tests", "bench", "bench_errlog"), "generate", log,
                        str(n)], stdout=subprocess.DEVNULL, check=True)
        conf = nginx_conf(d, log, [])
        with open(log, "rb") as f:
            n = sum(1 for _ in f)
    up = os.path.join(d, "upwatch.conf")
    with open(up, "w") as f:
        f.write("start_at beginning;\nprobe off;\n")
    return conf, up, n


def lines_read(sock):
    return stats(sock, 30)["logs"][0]["lines"]


def profile(build, kind, n, out):
    """Runs upwatchd under callgrind until it read the whole log; returns
    the number of lines."""
    d = tempfile.mkdtemp(prefix="upwatch-storm-cg-")
    try:
        conf, up, n = setup(build, d, kind, n)
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
    return n


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


def split(build, kind, n, label):
    with tempfile.TemporaryDirectory() as t:
        out = os.path.join(t, "callgrind.out")
        n = profile(build, kind, n, out)
        tree = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=calling", out],
                              capture_output=True, text=True, check=True).stdout
    pl = children(tree, "pipeline_line")
    parser = pl.get("errlog_parse_upstream", 0)
    diag = pl.get("diag_log_event", 0)
    # (the openings' render is called from event_opens, diagnose.c's rare path)
    render = sum(children(tree, fn).get("report_render", 0)
                 for fn in ("diag_log_event", "event_opens"))
    feed = children(tree, "tailsrc_read").get("feed", 0)
    line = children(tree, "on_log_line").get("pipeline_line", 0)
    tail = feed - line
    if kind in ("storm", "big"):
        print(f"{label}storm{' with %d upstreams' % BIG if kind == 'big' else ''} per line (callgrind instructions, {n} lines): "
              f"parser {parser / n:.0f}, diagnosis {(diag - render) / n:.0f}, "
              f"tail {tail / n:.0f}; sum {(parser + diag - render + tail) / n:.0f} "
              f"(+ {render / n:.0f} a line for the 50 alerts' openings)", flush=True)
        return (parser + diag - render + tail) / n
    else:
        print(f"{label}real lines per line (callgrind instructions, {n} lines): "
              f"parser {parser / n:.0f}, diagnosis {diag / n:.0f} (of which alert renders "
              f"{render / n:.0f}), tail {tail / n:.0f}; sum {(parser + diag + tail) / n:.0f}",
              flush=True)


n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
builds = [(sys.argv[1] if len(sys.argv) > 1 else "build", "")]
if len(sys.argv) > 3:
    builds.append((sys.argv[3], "before: "))
for build, label in builds:
    small = split(build, "storm", n, label)
    big = split(build, "big", n, label)
    print(f"{label}storm per line, {BIG} upstreams / 50 peers (callgrind): {big / small:.2f}",
          flush=True)
for build, label in builds:
    split(build, "real", max(1, n // 5000), label)
