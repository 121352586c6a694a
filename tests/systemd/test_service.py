"""upwatchd as systemd runs it: socket activation, the sd_notify protocol, and
the system calls and address families upwatch.service allows.

Socket activation goes through systemd-socket-activate (what upwatch.socket
does: the listening socket is passed with LISTEN_FDS). The notify tests point
NOTIFY_SOCKET at a datagram socket of the test and read what the daemon says:
READY=1, STATUS=, WATCHDOG=1 at half of WATCHDOG_USEC and only while the loop
runs, RELOADING=1 with MONOTONIC_USEC= then READY=1 on SIGHUP, STOPPING=1.

The built binaries come from $UPWATCH_BUILD (meson passes its build
directory); without them the tests are skipped.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

BUILD = os.environ.get("UPWATCH_BUILD",
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build"))
UPWATCHD = os.path.join(BUILD, "src", "upwatchd")

pytestmark = pytest.mark.skipif(not os.access(UPWATCHD, os.X_OK),
                                reason="upwatchd is not built in " + BUILD)

NGINX_CONF = """\
worker_processes 1;
events { worker_connections 64; }
http {
    upstream app { server 127.0.0.1:9; }
    server { listen 127.0.0.1:8; location / { proxy_pass http://app; } }
}
"""


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    (tmp_path / "upwatch.conf").write_text("probe off;\n")
    (tmp_path / "state").mkdir()
    return tmp_path


def daemon_args(d, socket_path):
    return [UPWATCHD, "--foreground", "--config", str(d / "upwatch.conf"),
            "--nginx-conf", str(d / "nginx.conf"), "--state-dir", str(d / "state"),
            "--socket", str(socket_path)]


def request(path, obj, timeout=10):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall((json.dumps(obj) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed without an answer")
            buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# --- socket activation ---------------------------------------------------------

@pytest.mark.skipif(not shutil.which("systemd-socket-activate"),
                    reason="systemd-socket-activate not found")
def test_socket_activation_uses_the_passed_socket(workdir):
    activated = workdir / "activated.sock"
    own = workdir / "own.sock"  # --socket: must stay unused when a socket is passed
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", str(activated)] + daemon_args(workdir, own),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not activated.exists():
            assert time.monotonic() < deadline, "systemd-socket-activate did not listen"
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        inode = activated.stat().st_ino

        # The first connection starts upwatchd (exec'd in place) on the passed fd.
        st = request(activated, {"cmd": "status"}, timeout=15)
        assert st["ok"] is True
        assert st["pid"] == proc.pid
        assert request(activated, {"cmd": "stats"})["ok"] is True
        assert not own.exists()
        assert activated.stat().st_ino == inode
    finally:
        code = stop(proc)
    assert code == 0, proc.stderr.read()


# --- sd_notify ------------------------------------------------------------------

class Notify:
    """The NOTIFY_SOCKET end: every datagram with its arrival time."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # (monotonic time, {key: value})
        self.seen = 0  # messages before this index were looked at by wait_for

    def read(self, seconds):
        """Collect messages for the given time; return the new ones."""
        new = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return new
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return new
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            new.append((time.monotonic(), fields))
            self.messages.append(new[-1])

    def wait_for(self, key, value=None, timeout=10):
        """The next message, after the last one wait_for returned, with key."""
        deadline = time.monotonic() + timeout
        while True:
            while self.seen < len(self.messages):
                t, m = self.messages[self.seen]
                self.seen += 1
                if key in m and (value is None or m[key] == value):
                    return t, m
            if time.monotonic() >= deadline:
                break
            self.read(0.05)
        raise AssertionError("no %s=%s from upwatchd within %ss; got %r"
                             % (key, value, timeout, [m for _, m in self.messages]))

    def close(self):
        self.sock.close()


def start_notified(workdir, env_extra):
    notify = Notify(workdir / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, **env_extra)
    env.pop("WATCHDOG_PID", None)
    env.pop("LISTEN_FDS", None)
    env.pop("LISTEN_PID", None)
    proc = subprocess.Popen(daemon_args(workdir, workdir / "upwatch.sock"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, notify


def test_ready_status_reload_and_stopping(workdir):
    proc, notify = start_notified(workdir, {})
    try:
        notify.wait_for("READY", "1")
        assert request(workdir / "upwatch.sock", {"cmd": "status"})["ok"] is True
        if not any("STATUS" in m for _, m in notify.messages):
            notify.wait_for("STATUS")

        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        proc.send_signal(signal.SIGHUP)
        t_reload, m = notify.wait_for("RELOADING", "1")
        after = time.clock_gettime(time.CLOCK_MONOTONIC)
        # MONOTONIC_USEC is CLOCK_MONOTONIC when the reload began
        assert "MONOTONIC_USEC" in m, m
        usec = int(m["MONOTONIC_USEC"])
        assert before * 1e6 - 1e6 <= usec <= after * 1e6 + 1e6
        t_ready, _ = notify.wait_for("READY", "1")
        assert t_ready >= t_reload

        proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING", "1")
        assert proc.wait(timeout=10) == 0
    finally:
        stop(proc)
        notify.close()


def test_no_watchdog_pings_without_watchdog_usec(workdir):
    proc, notify = start_notified(workdir, {})
    try:
        notify.wait_for("READY", "1")
        notify.read(1.5)
        assert not [m for _, m in notify.messages if "WATCHDOG" in m]
    finally:
        stop(proc)
        notify.close()


def test_watchdog_pings_at_half_the_interval_and_only_while_the_loop_runs(workdir):
    # WatchdogSec=1s: a ping every 0.5s.
    proc, notify = start_notified(workdir, {"WATCHDOG_USEC": "1000000"})
    try:
        notify.wait_for("READY", "1")
        pings = [t for t, m in notify.read(3.0) if m.get("WATCHDOG") == "1"]
        assert 4 <= len(pings) <= 8, pings
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert max(gaps) < 0.9, gaps  # never near the 1s deadline

        # Stall the loop (the whole single-threaded process): no ping may come.
        proc.send_signal(signal.SIGSTOP)
        notify.read(0.1)  # drop what was already in flight
        stalled = [m for _, m in notify.read(1.5) if m.get("WATCHDOG") == "1"]
        assert stalled == []
        notify.seen = len(notify.messages)  # only pings after SIGCONT count now
        proc.send_signal(signal.SIGCONT)
        notify.wait_for("WATCHDOG", "1", timeout=2)
    finally:
        stop(proc)
        notify.close()


# --- the unit's seccomp filter and address families ----------------------------

UNIT_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "systemd",
                       "upwatch.service.in")

BUSY_NGINX_CONF = """\
worker_processes 1;
events { worker_connections 64; }
http {
    upstream app { server 127.0.0.1:9; server [::1]:9; }
    upstream named { server localhost:9; }
    server {
        listen 127.0.0.1:8;
        error_log %(dir)s/error.log;
        location / { proxy_pass http://app; }
        location /tls { proxy_pass https://named; }
        location /php { fastcgi_pass unix:%(dir)s/php-fpm.sock; }
    }
}
"""

ERROR_LINE = ('2026/11/21 11:00:00 [error] 123#123: *1 connect() failed (111: Connection '
              'refused) while connecting to upstream, client: 127.0.0.1, server: , request: '
              '"GET / HTTP/1.1", upstream: "http://127.0.0.1:9/", host: "x"\n')


def unit_directives(name):
    with open(UNIT_IN) as f:
        return [line.split("=", 1)[1].strip() for line in f
                if line.startswith(name + "=")]


def syscall_group(name, cache={}):
    """The system calls of a seccomp group, nested groups expanded."""
    if name not in cache:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                             text=True, check=True).stdout
        calls = set()
        for line in out.splitlines()[1:]:
            word = line.split("#", 1)[0].strip()
            if word:
                calls |= syscall_group(word) if word.startswith("@") else {word}
        cache[name] = calls
    return cache[name]


def unit_syscall_filter():
    """What SystemCallFilter= lines of upwatch.service allow, as a set."""
    allowed = set()
    for value in unit_directives("SystemCallFilter"):
        deny = value.startswith("~")
        calls = set()
        for word in value.lstrip("~").split():
            calls |= syscall_group(word) if word.startswith("@") else {word}
        allowed = allowed - calls if deny else allowed | calls
    return allowed


@pytest.mark.skipif(not shutil.which("strace") or not shutil.which("systemd-analyze"),
                    reason="needs strace and systemd-analyze")
def test_daemon_stays_inside_the_units_syscall_filter_and_address_families(workdir):
    d = workdir
    (d / "nginx.conf").write_text(BUSY_NGINX_CONF % {"dir": d})
    (d / "upwatch.conf").write_text(
        "probe_interval 1s;\nprobe_timeout 500ms;\nprobe_retry_interval 500ms;\n"
        "metrics_file %s/upwatch.prom;\nmetrics_interval 1s;\n" % d)
    (d / "error.log").write_text("")
    sock = d / "upwatch.sock"
    trace = d / "trace"
    proc = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace)] + daemon_args(d, sock),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    daemon_pid = None
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                st = request(sock, {"cmd": "status"}, timeout=2)
                if st["ok"]:
                    daemon_pid = st["pid"]
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "upwatchd did not start"
            time.sleep(0.1)
        with open(d / "error.log", "a") as f:
            f.write(ERROR_LINE)
        for cmd in ({"cmd": "upstreams"}, {"cmd": "stats"}, {"cmd": "alerts", "all": True},
                    {"cmd": "probe", "peer": "127.0.0.1:9"},
                    {"cmd": "probe", "peer": "unix:%s/php-fpm.sock" % d}):
            request(sock, cmd)
        time.sleep(2.5)  # a few probe rounds, metrics writes, the log line
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        request(sock, {"cmd": "reload"})
    finally:
        # SIGTERM to strace only detaches it: stop the traced daemon itself
        if daemon_pid:
            try:
                os.kill(daemon_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        stop(proc)

    used, families = set(), set()
    for line in trace.read_text().splitlines():
        parts = line.split(None, 1)
        if len(parts) < 2 or "(" not in parts[1] or parts[1].startswith(("<...", "+++", "---")):
            continue
        name, args = parts[1].split("(", 1)
        used.add(name)
        if name == "socket":
            families.add(args.split(",", 1)[0].strip())
    assert used, "strace saw no system call"
    assert sorted(used - unit_syscall_filter()) == []
    allowed_families = set(" ".join(unit_directives("RestrictAddressFamilies")).split())
    assert families and sorted(families - allowed_families) == []
