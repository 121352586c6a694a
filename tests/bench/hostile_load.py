#!/usr/bin/env python3
"""Issue 15's load bench: `status` latency while, at once,
  - 1,000 socket clients connect and ask `status` once a second each,
  - 500 hostile loopback backends (accept-and-hang, garbage, slow-drip) are
    configured and probed (every second, 1 s timeout),
  - a storm of 500,000 lines/s naming those backends is appended to the
    error log (rotated by rename at 200 MB, as logrotate would).
Prints `status` p50/p99/max and what the daemon did meanwhile. A benchmark,
not a test: it asserts nothing. Loopback only; every loop is bounded by
--seconds and stops by itself. Run as root (private mount namespace, so no
alert reaches the host's journal):

    tests/bench/hostile_load.py [--build build] [--seconds 20]
"""
import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BACKENDS = 500
CLIENTS = 1000
RATE = 500_000  # lines per second
ROTATE_AT = 200 << 20


# --- hostile backends: one asyncio process, 500 listeners ---

async def _hang(reader, writer):
    await reader.read(65536)
    await asyncio.sleep(3600)


async def _garbage(reader, writer):
    await reader.read(65536)
    writer.write(os.urandom(512))
    writer.close()


async def _drip(reader, writer):
    await reader.read(65536)
    for b in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 4096:
        if writer.is_closing() or reader.at_eof():
            return
        writer.write(bytes([b]))
        await asyncio.sleep(0.2)


def _quiet(handler):
    async def run(reader, writer):
        try:
            await handler(reader, writer)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
    return run


def backends(ports, seconds):
    async def main():
        servers = []
        modes = (_hang, _garbage, _drip)
        for i, p in enumerate(ports):
            servers.append(await asyncio.start_server(_quiet(modes[i % 3]), "127.0.0.1", p,
                                                      backlog=64))
        await asyncio.sleep(seconds)
        for s in servers:
            s.close()
    try:
        asyncio.run(asyncio.wait_for(main(), seconds + 5))
    except (asyncio.TimeoutError, KeyboardInterrupt):
        pass


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


# --- the storm: RATE lines/s for `seconds`, paced per 10 ms ---

def errline(i, port):
    if i % 2:
        return (f"2026/11/21 10:00:00 [error] 7#7: *{i} upstream timed out (110: Connection "
                f"timed out) while reading response header from upstream, client: 127.0.0.1, "
                f"server: x, request: \"GET /{i} HTTP/1.1\", upstream: "
                f"\"http://127.0.0.1:{port}/\", host: \"x\"\n")
    return (f"2026/11/21 10:00:00 [error] 7#7: *{i} connect() failed (111: Connection "
            f"refused) while connecting to upstream, client: 127.0.0.1, server: x, "
            f"request: \"GET /{i} HTTP/1.1\", upstream: \"http://127.0.0.1:{port}/\", "
            f"host: \"x\"\n")


def storm(log, ports, seconds, out):
    slice_lines = RATE // 100
    chunk = "".join(errline(i, ports[i % len(ports)]) for i in range(slice_lines)).encode()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    written = size = 0
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        os.write(fd, chunk)
        written += slice_lines
        size += len(chunk)
        if size >= ROTATE_AT:
            os.rename(log, log + ".1")
            os.close(fd)
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            size = 0
        n += 1
        delay = start + n / 100 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    os.close(fd)
    out.put(("storm", written, time.monotonic() - start))


# --- 1,000 clients asking `status` once a second ---

def clients(path, seconds, out):
    counts = {"answered": 0, "refused": 0, "closed": 0, "held_max": 0}
    held = [0]

    async def one(i):
        end = time.monotonic() + seconds
        await asyncio.sleep(i * 0.001)
        while time.monotonic() < end:
            try:
                r, w = await asyncio.open_unix_connection(path, limit=1 << 24)
            except OSError:
                counts["closed"] += 1
                await asyncio.sleep(1)
                continue
            held[0] += 1
            counts["held_max"] = max(counts["held_max"], held[0])
            try:
                while time.monotonic() < end:
                    w.write(b'{"cmd":"status"}\n')
                    await w.drain()
                    ln = await asyncio.wait_for(r.readline(), 10)
                    if not ln:
                        counts["closed"] += 1
                        break
                    if json.loads(ln).get("ok"):
                        counts["answered"] += 1
                    else:
                        counts["refused"] += 1
                        break
                    await asyncio.sleep(1)
            except (OSError, asyncio.TimeoutError, ValueError):
                counts["closed"] += 1
            finally:
                held[0] -= 1
                w.close()
            await asyncio.sleep(1)

    async def main():
        await asyncio.gather(*(one(i) for i in range(CLIENTS)))

    try:
        asyncio.run(asyncio.wait_for(main(), seconds + 15))
    except asyncio.TimeoutError:
        pass
    out.put(("clients", counts))


# --- the daemon ---

def daemon_pid(sock, upwatchd):
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if argv[0] == upwatchd.encode() and sock.encode() in argv:
                return int(pid)
    return None


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def sched_s(pid):
    """(seconds on a CPU, seconds runnable but waiting for one) of the main
    thread: the rest of the wall time it slept in the loop. Tells a daemon
    that idles from one that other processes crowd out."""
    try:
        run, wait = open(f"/proc/{pid}/schedstat").read().split()[:2]
        return int(run) / 1e9, int(wait) / 1e9
    except (OSError, ValueError):
        return 0.0, 0.0


def rss_mb(pid):
    for ln in open(f"/proc/{pid}/status"):
        if ln.startswith("VmRSS:"):
            return int(ln.split()[1]) / 1024
    return 0


def request(f, s, obj):
    s.sendall((json.dumps(obj) + "\n").encode())
    return json.loads(f.readline())


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("UPWATCH_BUILD", "build"))
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    seconds = min(a.seconds, 120)
    upwatchd = os.path.abspath(os.path.join(a.build, "src", "upwatchd"))
    if not os.access(upwatchd, os.X_OK) or os.geteuid() != 0:
        print("needs root and a built", upwatchd, file=sys.stderr)
        return 77
    work = tempfile.mkdtemp(prefix="upwatch-hostile-")
    log = os.path.join(work, "error.log")
    sock = os.path.join(work, "upwatch.sock")
    ports = free_ports(BACKENDS)
    with open(os.path.join(work, "nginx.conf"), "w") as f:
        f.write(f"pid {work}/nginx.pid;\nerror_log {log};\nevents {{}}\nhttp {{\n")
        for i in range(0, BACKENDS, 10):
            f.write(f"upstream pool{i} {{\n")
            f.writelines(f"  server 127.0.0.1:{p};\n" for p in ports[i:i + 10])
            f.write("}\n")
        f.write("server { listen 127.0.0.1:1; location / { proxy_pass http://pool0; } }\n}\n")
    with open(os.path.join(work, "upwatch.conf"), "w") as f:
        f.write("probe_interval 1s;\nprobe_timeout 1s;\nstart_at end;\n")
    open(log, "w").close()
    os.makedirs(os.path.join(work, "state"))

    procs = []
    bk = mp.Process(target=backends, args=(ports, seconds + 10), daemon=True)
    bk.start()
    procs.append(bk)
    time.sleep(1)
    # a private mount namespace whose /run/systemd/journal is empty: alerts
    # and log lines never reach the host's journal
    nofile = min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    inner = ("mount -t tmpfs tmpfs /run/systemd/journal 2>/dev/null; exec \"$@\"")
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", inner, "sh",
           # as upwatch.service's LimitNOFILE=65536, or as close as we may
           "prlimit", f"--nofile={nofile}:{nofile}",
           upwatchd, "--foreground", "--config", os.path.join(work, "upwatch.conf"),
           "--nginx-conf", os.path.join(work, "nginx.conf"), "--socket", sock,
           "--state-dir", os.path.join(work, "state")]
    dlog = open(os.path.join(work, "upwatchd.log"), "w")
    d = subprocess.Popen(cmd, stdout=dlog, stderr=subprocess.STDOUT)
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        if not os.path.exists(sock):
            dlog.flush()
            print(open(dlog.name).read(), file=sys.stderr)
            raise SystemExit("upwatchd did not start")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(sock)
        f = s.makefile("rb")
        request(f, s, {"cmd": "status"})  # our slot, taken before the crowd
        pid = daemon_pid(sock, upwatchd)
        cpu0 = cpu_s(pid)
        sched0 = sched_s(pid)
        st0 = request(f, s, {"cmd": "stats"})

        q = mp.Queue()
        for target, args in ((clients, (sock, seconds, q)), (storm, (log, ports, seconds, q))):
            p = mp.Process(target=target, args=args, daemon=True)
            p.start()
            procs.append(p)

        lat = []
        errors = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            t = time.monotonic()
            r = request(f, s, {"cmd": "status"})
            lat.append((time.monotonic() - t) * 1000)
            errors += not r.get("ok")
            time.sleep(0.02)
        cpu = cpu_s(pid) - cpu0
        sched1 = sched_s(pid)
        wall = time.monotonic() - start
        rss = rss_mb(pid)
        st = request(f, s, {"cmd": "stats"})
        status = request(f, s, {"cmd": "status"})
        res = {}
        for _ in range(2):
            try:
                k, *v = q.get(timeout=30)
                res[k] = v
            except Exception:
                break
    finally:
        d.terminate()
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
        for p in procs:
            p.terminate()
            p.join(5)

    def tail_sum(st_, k):
        return sum(lg.get(k, 0) for lg in st_["logs"])

    lines = tail_sum(st, "lines") - tail_sum(st0, "lines")
    print(f"hostile_load: {seconds:.0f} s, {BACKENDS} hostile backends, {CLIENTS} clients, "
          f"{RATE} lines/s asked, daemon nofile {nofile}")
    print(f"status: n={len(lat)} errors={errors} p50={pct(lat, 50):.2f} ms "
          f"p90={pct(lat, 90):.2f} ms p99={pct(lat, 99):.2f} ms max={max(lat):.2f} ms")
    if "storm" in res:
        w, el = res["storm"]
        print(f"storm: {w} lines written in {el:.1f} s ({w / el:,.0f} lines/s)")
    print(f"daemon: read {lines} lines ({lines / seconds:,.0f} lines/s), "
          f"lost {tail_sum(st, 'lines_lost')}, rotations {tail_sum(st, 'rotations')}, "
          f"CPU {cpu:.1f} s ({100 * cpu / seconds:.0f} %), RSS {rss:.0f} MB")
    on_cpu, waiting = sched1[0] - sched0[0], sched1[1] - sched0[1]
    print(f"daemon loop: of {wall:.1f} s, on a CPU {on_cpu:.1f} s, runnable but waiting for "
          f"a CPU {waiting:.1f} s, asleep {max(wall - on_cpu - waiting, 0):.1f} s")
    print("probes:", json.dumps(st["probes"]))
    print("ipc:", json.dumps(st.get("ipc")))
    if "clients" in res:
        print("clients:", json.dumps(res["clients"][0]))
    print(f"alerts firing: {status.get('alerts_firing')}, learned: {st.get('learned_peers')}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
