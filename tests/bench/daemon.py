#!/usr/bin/python3
"""End-to-end figures of the real upwatchd, each next to a reference from the
same run (issue 16):

  ingest    real nginx error lines and a storm (every line a failure of one of
            50 configured peers) as a fraction of `wc -l` on the same file:
            upwatchd starts with start_at beginning on an empty log, the file
            is appended, and the daemon's CPU (/proc/PID/schedstat, in ns) is
            counted until `stats` shows every byte read.
            Each round measures wc -l right before each feed; the figures
            are printed as the best of each over the rounds and as the
            median of the rounds' own ratios (the machine's speed drifts
            between rounds).
  ratio     the same storm lines with an nginx configuration of 10,000 server
            blocks and 10,000 upstreams (plus the 50 peers): per-line CPU
            divided by the 50-peer figure. Probing is off in the ingest runs,
            so the figures are the log path alone.
  rss       idle (empty log, no upstreams); after the storm runs (N = RUNS x
            the file's lines, stated, in place of 10 M: what diagnosis keeps
            is capped, not proportional to lines); and with 10,000 listening
            peers in stream{} blocks probed by TCP at 1 s, with the CPU of
            probing them, to set beside bench_probe's bare connect loop.
  latency   is alert_latency.py's (run by run.sh).

Every figure line starts with "FIGURE" so run.sh can gather them.
Loopback only; every wait bounded.

usage: daemon.py BUILD_DIR [MB] [RUNS] [BEFORE_BUILD_DIR]
With BEFORE_BUILD_DIR (an older build), its upwatchd runs beside in the same
interleaved rounds, and every figure is printed for both ("before"/"after").
"""
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import statistics
import time

from benchlib import BIG, nginx_conf, peers50, peers_big, stats, write_storm

build = sys.argv[1] if len(sys.argv) > 1 else "build"
mb = int(sys.argv[2]) if len(sys.argv) > 2 else 200
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
before = sys.argv[4] if len(sys.argv) > 4 else None
upwatchd = os.path.join(build, "src", "upwatchd")
BINS = [("after" if before else "", upwatchd)]
if before:
    BINS.append(("before", os.path.join(before, "src", "upwatchd")))
bench_errlog = os.path.join(build, "tests", "bench", "bench_errlog")
TICK = os.sysconf("SC_CLK_TCK")


def median(xs):
    return statistics.median(xs)


def figure(name, value, label=""):
    print(f"FIGURE {label + ': ' if label else ''}{name}: {value}", flush=True)


def child_cpu(argv):
    """CPU seconds (user + sys) of one run of argv."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def proc_cpu(pid):
    """CPU seconds of a running process: the scheduler's nanoseconds
    (/proc/PID/schedstat), else utime + stime in clock ticks (10 ms: +-5 %
    of a 0.2 s ingest)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0  # MB
    return 0.0



def stream_conf(d, log, peers):
    """A stream{} block per peer: the daemon probes them with a TCP connect."""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(f"pid {d}/nginx.pid;\nerror_log {log};\nevents {{}}\nstream {{\n")
        for i, peer in enumerate(peers):
            f.write(f"  upstream p{i} {{ server {peer}; }}\n"
                    f"  server {{ listen 127.0.0.3:{1024 + i}; proxy_pass p{i}; }}\n")
        f.write("}\n")
    return path


def listeners(n):
    """n listening loopback sockets (never accepted: the kernel completes a
    probe's handshake; a backlog of 4096 outlasts the run)."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(resource.getrlimit(resource.RLIMIT_NOFILE)[1],
                                                    n + 1024),) * 2)
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.listen(4096)
        socks.append(s)
    return socks



class Daemon:
    def __init__(self, d, upstreams, extra="", stream=None, binary=upwatchd):
        self.d = d
        self.log = os.path.join(d, "error.log")
        open(self.log, "w").close()
        conf = stream_conf(d, self.log, stream) if stream else nginx_conf(d, self.log, upstreams)
        up = os.path.join(d, "upwatch.conf")
        with open(up, "w") as f:
            f.write("start_at beginning;\n" + extra)
        self.sock = os.path.join(d, "u.sock")
        self.proc = subprocess.Popen(
            [binary, "--foreground", "--config", up, "--nginx-conf", conf,
             "--socket", self.sock, "--state-dir", d], stderr=subprocess.DEVNULL)
        for _ in range(1500):
            if os.path.exists(self.sock):
                try:
                    self.stats()
                    return
                except OSError:
                    pass
            time.sleep(0.02)
        raise RuntimeError("upwatchd did not answer")

    def stats(self):
        return stats(self.sock)

    def log_stats(self):
        return self.stats()["logs"][0]

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def rss(self):
        return proc_status(self.proc.pid, "VmRSS")

    def rss_text(self):
        """VmRSS, and how much of it is the process's own (RssAnon) rather
        than pages of shared libraries (RssFile)."""
        pid = self.proc.pid
        return (f"{proc_status(pid, 'VmRSS'):.1f} (RssAnon {proc_status(pid, 'RssAnon'):.1f}, "
                f"RssFile {proc_status(pid, 'RssFile'):.1f})")

    def feed(self, path):
        """Append path to the log; wait until the daemon read every byte.
        Returns (daemon CPU seconds, lines)."""
        start = self.log_stats()
        want = start["bytes"] + os.path.getsize(path)
        c0 = self.cpu()
        with open(path, "rb") as src, open(self.log, "ab") as dst:
            shutil.copyfileobj(src, dst, 4 << 20)
        deadline = time.monotonic() + 300
        while True:
            s = self.log_stats()
            if s["bytes"] >= want:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"upwatchd read {s['bytes']} of {want} bytes")
            time.sleep(0.02)
        return self.cpu() - c0, s["lines"] - start["lines"]

    def rotate(self):
        os.rename(self.log, self.log + ".1")
        open(self.log, "w").close()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()




def scratch_dir():
    """tmpfs when it has room (the files and the logs the daemons are fed,
    under 3 GB at 200 MB with a before build): on a disk, the feeds' writeback ran beside the
    daemons and moved their CPU by +-20 % from one round to the next."""
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize > 4 << 30 and os.access("/dev/shm", os.W_OK):
            return "/dev/shm"
    except OSError:
        pass
    return None


with tempfile.TemporaryDirectory(prefix="upwatch-bench-", dir=scratch_dir()) as tmp:
    real = os.path.join(tmp, "real.log")
    subprocess.run([bench_errlog, "generate", real, str(mb)], stdout=subprocess.DEVNULL,
                   check=True)
    nreal = sum(1 for _ in open(real, "rb"))
    storm = os.path.join(tmp, "storm.log")
    write_storm(storm, nreal)
    for p in (real, storm):
        subprocess.run(["cat", p], stdout=subprocess.DEVNULL, check=True)
    print(f"files: real {os.path.getsize(real) / 1e6:.0f} MB {nreal} lines, storm "
          f"{os.path.getsize(storm) / 1e6:.0f} MB {nreal} lines; best CPU of {runs} runs",
          flush=True)

    # The runs interleave (wc -l, then each daemon in turn, RUNS times) and
    # keep each one's least CPU: the load of other processes comes and goes.
    # Idle RSS moves by +-0.15 MB from one start to the next: the kernel maps
    # a shared library's pages around each fault in 64 KB windows, which fall
    # differently with every address-space layout. The median of 3 starts.
    idle_anon = {}
    for label, binary in BINS:
        samples = []
        for _ in range(3):
            d = tempfile.mkdtemp(dir=tmp)
            dm = Daemon(d, [], "probe off;\n", binary=binary)
            time.sleep(1)
            samples.append((dm.rss(), dm.rss_text(), proc_status(dm.proc.pid, "RssAnon")))
            dm.stop()
        samples.sort()
        idle_anon[label] = samples[1][2]
        figure("rss idle (MB)", f"{samples[1][1]}; median of 3 starts "
               f"({samples[0][0]:.1f}-{samples[2][0]:.1f})", label)
    runs_of = {}
    for label, binary in BINS:
        def new(ups):
            return Daemon(tempfile.mkdtemp(dir=tmp), ups, "probe off;\n", binary=binary)
        runs_of[(label, "real")] = (real, new([]))
        runs_of[(label, "storm")] = (storm, new(peers50()))
        runs_of[(label, "big")] = (storm, new(peers_big()))
    cpu = {}
    wc = {}
    pairs = {}  # key: [(wc -l CPU, daemon CPU)], one pair a round
    n_storm = {}
    rss_after = {}
    try:
        for _ in range(runs):
            for key, (path, dm) in runs_of.items():
                # wc -l right before each feed: a pair measured at the same
                # moment, whatever the machine's speed then
                w = child_cpu(["wc", "-l", path])
                wc[path] = min(wc.get(path, 1e9), w)
                c, n = dm.feed(path)
                dm.rotate()
                cpu[key] = min(cpu.get(key, 1e9), c)
                pairs.setdefault(key, []).append((w, c))
                if key[1] == "storm":
                    n_storm[key[0]] = n_storm.get(key[0], 0) + n
        for label, _ in BINS:
            dm = runs_of[(label, "storm")][1]
            rss_after[label] = (dm.rss_text(), proc_status(dm.proc.pid, "VmHWM"))
    finally:
        for _, dm in runs_of.values():
            dm.stop()

    def pct(w, c):
        return f"{100 * w / max(c, 1e-3):.1f}% of wc -l ({nreal / max(c, 1e-3) / 1e6:.2f} M lines/s)"

    print(f"wc -l: real {wc[real]:.3f} s, storm {wc[storm]:.3f} s")
    for label, _ in BINS:
        c_real, c_storm, c_big = (cpu[(label, k)] for k in ("real", "storm", "big"))
        print(f"{label or 'upwatchd'}: real {c_real:.3f} s, storm {c_storm:.3f} s, "
              f"storm with {BIG} upstreams {c_big:.3f} s")
        figure("upwatchd real-line ingest", pct(wc[real], c_real), label)
        figure("upwatchd storm ingest (50 peers)", pct(wc[storm], c_storm), label)
        figure(f"per-line ratio {BIG} upstreams / 50 peers (storm)",
               f"{c_big / max(c_storm, 1e-3):.2f}", label)
        # The same figures from each round's own pair (wc -l just before the
        # feed; the big and the 50-peer storm of one round), their median:
        # the machine's speed drifts between rounds, which the best of
        # each, taken from different rounds, does not see.
        for kind, name in (("real", "real-line ingest"), ("storm", "storm ingest (50 peers)")):
            own = [100 * w / max(c, 1e-3) for w, c in pairs[(label, kind)]]
            spread = ""
            if len(own) >= 4:
                q1, _, q3 = statistics.quantiles(own, n=4)
                spread = (f" (quartiles {q1:.1f}-{q3:.1f}; {sum(x >= 25 for x in own)} of "
                          f"{len(own)} rounds >= 25%)")
            figure(f"upwatchd {name}, median of the rounds' own ratios",
                   f"{median(own):.1f}% of wc -l{spread}", label)
        figure(f"per-line ratio {BIG} upstreams / 50 peers (storm), median of the rounds' own",
               f"{median([b[1] / max(s[1], 1e-3) for b, s in zip(pairs[(label, 'big')], pairs[(label, 'storm')])]):.2f}",
               label)
        figure(f"rss after {n_storm[label]} storm lines (MB)",
               f"{rss_after[label][0]} (peak VmHWM {rss_after[label][1]:.1f})", label)

    # 10k probed peers at 1 s: TCP (stream{} blocks), every peer listening
    socks = listeners(BIG)
    for label, binary in BINS:
        d = tempfile.mkdtemp(dir=tmp)
        dm = Daemon(d, [], "probe_interval 1s;\nprobe_timeout 1s;\n",
                    stream=[f"127.0.0.2:{s.getsockname()[1]}" for s in socks], binary=binary)
        time.sleep(3)
        c0, t0 = dm.cpu(), time.monotonic()
        p0 = dm.stats()["probes"]
        time.sleep(10)
        used = (dm.cpu() - c0) / (time.monotonic() - t0)
        p1 = dm.stats()["probes"]
        figure(f"upwatchd TCP probing {BIG} listening peers at 1 s",
               f"{100 * used:.1f}% of a core ({p1['sent'] - p0['sent']} probes in 10 s, "
               f"{p1['failed'] - p0['failed']} failed)", label)
        st = dm.stats()["alerts"]
        per_peer = (proc_status(dm.proc.pid, "RssAnon") - idle_anon[label]) * 1024 * 1024 / BIG
        figure(f"rss with {BIG} probed peers (MB)",
               f"{dm.rss_text()}; RssAnon over idle {per_peer:.0f} B a peer; "
               f"{st['firing']} alerts firing", label)
        dm.stop()
    for s in socks:
        s.close()
