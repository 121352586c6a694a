#!/usr/bin/python3
"""upwatch demo lab: a real nginx in front of misbehaving backends, in a temp dir.

Used as a library by tests/integration/test_causes.py and as a CLI:

    python3 contrib/demo/lab.py demo BUILD_DIR    # build the lab, run upwatchd on it,
                                                  # send traffic, print the alerts
    python3 contrib/demo/lab.py backend KIND ADDR [CERT KEY]   # internal: one backend

The lab (run as root, loopback and unix sockets only):
  * a real nginx (/usr/sbin/nginx, `user nobody nogroup;`) with a generated
    config; pid file, temp paths and error_log (level info) in the sandbox;
  * one location (and upstream block where it makes sense) per scenario, each
    with its own backend process: a server that refuses (nothing listens), one
    that is killed and started again, one that is too slow for the location's
    proxy_read_timeout 1s, one that resets, one that answers garbage, one with
    a 64 KiB header behind proxy_buffer_size 4k, missing / root-only / stale
    unix sockets, a name under .invalid resolved by a local DNS stub that
    answers NXDOMAIN (never a real resolver), a self-signed TLS backend behind
    proxy_ssl_verify on, a two-peer pool whose peers die, and a healthy one;
  * an upwatch.conf for upwatchd (probe_interval 1s, probe_timeout 500ms,
    alert_hold 2s, start_at end);
  * the alert each scenario must raise: cause, peer, upstream and the
    config_ref (file:line), computed from the generated config text.

Everything the lab starts stops on Lab.stop() (or leaving `with Lab() as lab:`);
backends also die with the process that started them (PR_SET_PDEATHSIG).
Only the Python standard library is used."""

import contextlib
import ctypes
import json
import os
import random
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

NGINX = "/usr/sbin/nginx"
CURL = "curl"
OPENSSL = "openssl"
HERE = os.path.abspath(__file__)
DNS_NAME = "does-not-exist.invalid"
WORKER_USER = ("nobody", "nogroup")


# --- scenarios ---------------------------------------------------------------------------

def stop_process(p, timeout=10):
    """SIGTERM p and reap it, SIGKILL after timeout s; None or gone is fine."""
    if p is None or p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


class Sandbox:
    """A temporary directory a lab builds in (_build) and removes on stop;
    a context manager. Labs run as root: nginx's workers run as nobody."""
    PREFIX = "upwatch-lab-"

    def __init__(self, base=None):
        self.base = base
        self.dir = None

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if os.geteuid() != 0:
            raise RuntimeError(f"{type(self).__name__} runs nginx as root with workers as "
                               "nobody: run as root")
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix=self.PREFIX, dir=self.base))
        try:
            self._build()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


class Scenario:
    """One way a backend fails, behind its own location."""

    def __init__(self, name, path, cause, backend=None, upstream=None, npeers=1, unix=None,
                 start=True, demo=True, about=""):
        self.name = name
        self.path = path          # the location nginx serves it under
        self.cause = cause        # the cause upwatchd must name (None: no alert)
        self.backend = backend    # backend kind run on each peer (None: nothing runs)
        self.upstream = upstream  # upstream block name, None for a direct *_pass
        self.npeers = npeers
        self.unix = unix          # socket file name for unix-socket peers
        self.start = start        # start the backend with the lab
        self.demo = demo          # part of the CLI demo (else a spare for the tests)
        self.about = about
        self.peers = []           # peer keys as upwatchd names them
        self.ports = []
        self.config_ref = None    # "file:line" the alert must point at
        self.peer = None          # the alert's expected peer (None for block-level causes)

    def expected(self):
        return {"cause": self.cause, "peer": self.peer, "upstream": self.upstream,
                "config_ref": self.config_ref}


def scenarios():
    return [
        Scenario("healthy", "/healthy/", None, "ok", upstream="healthy_app",
                 about="answers 200 at once"),
        Scenario("down", "/down/", "backend_down", None, upstream="down_app",
                 about="nothing listens on the port"),
        Scenario("restarted", "/restarted/", "backend_restarted", "ok", upstream="restarted_app",
                 about="killed, then started again while traffic flows"),
        Scenario("slow", "/slow/", "backend_slow", "slow",
                 about="sleeps 3 s; the location waits proxy_read_timeout 1s"),
        Scenario("reset", "/reset/", "backend_reset", "reset", upstream="reset_app",
                 about="reads the request, then resets (SO_LINGER 0)"),
        Scenario("garbage", "/garbage/", "invalid_response", "garbage",
                 about="answers HELLO, not HTTP"),
        Scenario("huge", "/huge/", "header_too_big", "huge",
                 about="sends a 64 KiB header; proxy_buffer_size 4k"),
        Scenario("sock_missing", "/sock-missing/", "socket_missing", None,
                 upstream="sock_missing_app", unix="missing.sock",
                 about="the unix socket does not exist"),
        Scenario("sock_perm", "/sock-perm/", "socket_permission", "ok", unix="perm.sock",
                 about="root:root 0600 socket, nginx workers run as nobody"),
        Scenario("sock_stale", "/sock-stale/", "socket_stale", None, upstream="sock_stale_app",
                 unix="stale.sock", about="socket file left behind, nobody accepts"),
        Scenario("dns", "/dns/", "dns_failure", None,
                 about=DNS_NAME + " via a local stub that answers NXDOMAIN"),
        Scenario("tls", "/tls/", "tls_failure", "tls",
                 about="self-signed certificate, proxy_ssl_verify on"),
        Scenario("pool", "/pool/", "no_live_upstreams", "ok", upstream="pool_app", npeers=2,
                 about="both peers die; max_fails=1 fail_timeout=30s"),
        # two spare peers for tests that kill and restart backends themselves
        Scenario("predict", "/predict/", "peer_failing", "ok", upstream="predict_app",
                 about="killed with no traffic: predicted before nginx hits it"),
        Scenario("recover", "/recover/", "backend_down", "ok", upstream="recover_app",
                 about="goes down under traffic and comes back"),
        Scenario("subscribe", "/subscribe/", "header_too_big", "huge", demo=False,
                 about="a 64 KiB header at the default proxy_buffer_size"),
    ]


# --- small helpers -----------------------------------------------------------------------

def _set_pdeathsig():
    """Die with the parent: nothing the lab starts outlives it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


_taken = set()


def free_port(kind=socket.SOCK_STREAM):
    """A loopback port nothing uses now, below the kernel's ephemeral range: no
    outgoing connection and no bind(0) elsewhere on the machine can take it
    while the lab holds it free (a down peer) or restarts a backend on it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, 12000)
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(10000, low)
        if port in _taken:
            continue
        try:
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        _taken.add(port)
        return port
    raise RuntimeError("no free loopback port below %d" % low)


class ConfigText:
    """Config lines with named marks, so line numbers come from the text itself."""

    def __init__(self):
        self.lines = []
        self.marks = {}

    def add(self, text, mark=None):
        for ln in text.split("\n"):
            self.lines.append(ln)
        if mark:
            self.marks[mark] = len(self.lines)
        return len(self.lines)

    def text(self):
        return "\n".join(self.lines) + "\n"


def line_of(text, needle):
    """1-based number of the only line of text containing needle."""
    hits = [i + 1 for i, ln in enumerate(text.split("\n")) if needle in ln]
    if len(hits) != 1:
        raise ValueError(f"{needle!r} is on lines {hits}")
    return hits[0]


class Client:
    """Newline-delimited JSON client of upwatchd's socket: the only one the
    demo and the tests use (a subscriber is a Client that sent subscribe)."""

    def __init__(self, path, timeout=10.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.timeout = timeout
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def line(self, timeout=None):
        """The next JSON line; waits at most timeout (the client's default)."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("upwatchd closed the connection")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\n", 1)
        return json.loads(ln)

    def request(self, obj):
        self.send_raw((json.dumps(obj) + "\n").encode())
        return self.line()

    def subscribe(self):
        """Ask for alert changes; returns the acknowledgement line."""
        return self.request({"cmd": "subscribe"})

    def close(self):
        self.sock.close()


def request(sock_path, obj, timeout=10.0):
    c = Client(sock_path, timeout)
    try:
        return c.request(obj)
    finally:
        c.close()


# --- the lab -----------------------------------------------------------------------------

class Lab(Sandbox):
    def __init__(self, base=None, nginx=NGINX):
        super().__init__(base)
        self.nginx_bin = nginx
        self.scenarios = {s.name: s for s in scenarios()}
        self.procs = {}        # scenario name -> [Popen or None per peer]
        self.nginx = None
        self.dns = None
        self.daemon = None
        self.port = None       # nginx's port

    # paths
    @property
    def nginx_conf(self):
        return self.path("nginx.conf")

    @property
    def error_log(self):
        return self.path("logs", "error.log")

    @property
    def upwatch_conf(self):
        return self.path("upwatch.conf")

    @property
    def socket(self):
        return self.path("upwatch.sock")

    @property
    def state_dir(self):
        return self.path("state")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def expected(self, name):
        return self.scenarios[name].expected()

    # --- building ---

    def _build(self):
        os.chmod(self.dir, 0o755)  # nginx workers (nobody) reach the sockets below
        for d in ("logs", "run", "tls", "temp", "state"):
            os.makedirs(self.path(d), mode=0o755, exist_ok=True)
        os.chmod(self.path("run"), 0o755)
        self.port = free_port()
        self.dns_port = free_port(socket.SOCK_DGRAM)
        for s in self.scenarios.values():
            if s.unix:
                s.peers = ["unix:" + self.path("run", s.unix)]
            elif s.name == "dns":
                s.peers = [DNS_NAME]
            else:
                s.ports = [free_port() for _ in range(s.npeers)]
                s.peers = [f"127.0.0.1:{p}" for p in s.ports]
            s.peer = None if s.cause == "no_live_upstreams" else s.peers[0]
        self._make_certs()
        self._write_nginx_conf()
        self._write_upwatch_conf()

        self.dns = self._spawn("dns", f"127.0.0.1:{self.dns_port}")
        self._make_stale_socket(self.path("run", self.scenarios["sock_stale"].unix))
        for s in self.scenarios.values():
            self.procs[s.name] = [None] * len(s.peers)
            if s.backend and s.start:
                for i in range(len(s.peers)):
                    self.start_backend(s.name, i)
        self._start_nginx()

    def _make_certs(self):
        """A self-signed backend certificate for lab.test, and an unrelated CA nginx trusts."""
        for name, cn in (("backend", "lab.test"), ("ca", "upwatch lab CA")):
            subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                            "-keyout", self.path("tls", name + ".key"),
                            "-out", self.path("tls", name + ".pem"), "-subj", "/CN=" + cn],
                           check=True, capture_output=True)

    def _make_stale_socket(self, path):
        """Bound and listened once, then the owner went away: the file stays."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        os.chmod(path, 0o666)
        s.listen(1)
        s.close()

    def _write_nginx_conf(self):
        sc = self.scenarios
        c = ConfigText()
        c.add(f"# generated by {HERE}\n"
              f"user {WORKER_USER[0]} {WORKER_USER[1]};\n"
              "worker_processes 1;\n"
              "daemon off;\n"
              f"pid {self.path('nginx.pid')};\n"
              f"error_log {self.error_log} info;\n"
              "events {\n    worker_connections 512;\n}\n"
              "http {\n"
              "    access_log off;\n"
              f"    client_body_temp_path {self.path('temp', 'body')};\n"
              f"    proxy_temp_path {self.path('temp', 'proxy')};\n"
              f"    fastcgi_temp_path {self.path('temp', 'fastcgi')};\n"
              f"    uwsgi_temp_path {self.path('temp', 'uwsgi')};\n"
              f"    scgi_temp_path {self.path('temp', 'scgi')};\n"
              "    proxy_connect_timeout 2s;\n")
        # upstream blocks
        for s in sc.values():
            if not s.upstream:
                continue
            c.add(f"    upstream {s.upstream} {{", mark=s.name + ".upstream")
            for i, peer in enumerate(s.peers):
                extra = " max_fails=1 fail_timeout=30s" if s.npeers > 1 else ""
                c.add(f"        server {peer}{extra};", mark=f"{s.name}.server{i}")
            c.add("    }")
        c.add("    server {\n"
              f"        listen 127.0.0.1:{self.port};\n"
              "        server_name lab.test;\n"
              "        location = / {\n            return 200 \"upwatch lab\\n\";\n        }")
        for s in sc.values():
            c.add(f"        location {s.path} {{")
            if s.upstream:
                c.add(f"            proxy_pass http://{s.upstream};", mark=s.name + ".pass")
            elif s.name == "slow":
                c.add("            proxy_read_timeout 1s;", mark="slow.timeout")
                c.add(f"            proxy_pass http://{s.peers[0]};", mark="slow.pass")
            elif s.name == "huge":
                c.add("            proxy_buffer_size 4k;", mark="huge.buffer")
                c.add(f"            proxy_pass http://{s.peers[0]};", mark="huge.pass")
            elif s.name == "tls":
                c.add(f"            proxy_pass https://{s.peers[0]};", mark="tls.pass")
                c.add("            proxy_ssl_verify on;\n"
                      f"            proxy_ssl_trusted_certificate {self.path('tls', 'ca.pem')};\n"
                      "            proxy_ssl_name lab.test;\n"
                      "            proxy_ssl_server_name on;")
            elif s.name == "dns":
                c.add(f"            resolver 127.0.0.1:{self.dns_port} valid=1s ipv6=off;",
                      mark="dns.resolver")
                c.add("            resolver_timeout 2s;\n"
                      f"            set $lab_backend \"{DNS_NAME}\";")
                c.add("            proxy_pass http://$lab_backend;", mark="dns.pass")
            elif s.unix:
                c.add(f"            proxy_pass http://{s.peers[0]}:;", mark=s.name + ".pass")
            else:
                c.add(f"            proxy_pass http://{s.peers[0]};", mark=s.name + ".pass")
            c.add("        }")
        c.add("    }\n}")
        text = c.text()
        with open(self.nginx_conf, "w") as f:
            f.write(text)
        self.nginx_conf_text = text

        def ref(mark):
            return f"{self.nginx_conf}:{c.marks[mark]}"

        # where each cause's advice points (src/advice.c): the peer's `server`
        # line, else the *_pass; the timeout or buffer directive that is too
        # small; the resolver; the upstream block for a block-level cause
        for s in sc.values():
            if s.name == "slow":
                s.config_ref = ref("slow.timeout")
            elif s.name == "huge":
                s.config_ref = ref("huge.buffer")
            elif s.name == "dns":
                s.config_ref = ref("dns.resolver")
            elif s.cause == "no_live_upstreams":
                s.config_ref = ref(s.name + ".upstream")
            elif s.upstream:
                s.config_ref = ref(s.name + ".server0")
            else:
                s.config_ref = ref(s.name + ".pass")
        self.marks = {k: ref(k) for k in c.marks}
        # cross-check against the text itself
        for s in sc.values():
            if s.upstream:
                assert line_of(text, f"upstream {s.upstream} {{") == c.marks[s.name + ".upstream"]

    def _write_upwatch_conf(self):
        with open(self.upwatch_conf, "w") as f:
            f.write(self.upwatch_conf_text())

    def upwatch_conf_text(self):
        return (f"nginx_conf {self.nginx_conf};\n"
                f"socket {self.socket};\n"
                f"state_dir {self.state_dir};\n"
                "probe_interval 1s;\n"
                "probe_timeout 500ms;\n"
                "probe_retry_interval 1s;\n"
                "alert_hold 2s;\n"
                "start_at end;\n")

    # --- processes ---

    def _spawn(self, kind, addr):
        cert = key = None
        if kind == "tls":
            cert, key = self.path("tls", "backend.pem"), self.path("tls", "backend.key")
        return spawn_backend(kind, addr, cert, key)

    def start_backend(self, name, i=0):
        """Start (or start again) peer i of a scenario; returns its pid."""
        s = self.scenarios[name]
        if self.procs[name][i] is not None:
            raise RuntimeError(f"backend {name}[{i}] already runs")
        p = self._spawn(s.backend or "ok", s.peers[i])
        self.procs[name][i] = p
        return p.pid

    def kill_backend(self, name, i=None):
        """Kill peer i (all peers when None) of a scenario: SIGKILL, as a crash would."""
        idx = range(len(self.procs[name])) if i is None else [i]
        for j in idx:
            p = self.procs[name][j]
            if p is None:
                continue
            p.kill()
            p.wait()
            p.stdout.close()
            self.procs[name][j] = None
        s = self.scenarios[name]
        # a killed server leaves its unix socket file behind; the lab's sockets stay as set up
        if s.unix and s.name != "sock_stale":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path("run", s.unix))

    def restart_backend(self, name, down_s=1.5, i=0):
        """Kill a backend, leave it down for down_s, start it again."""
        self.kill_backend(name, i)
        time.sleep(down_s)
        return self.start_backend(name, i)

    def _start_nginx(self):
        r = subprocess.run([self.nginx_bin, "-t", "-q", "-c", self.nginx_conf, "-p", self.dir,
                            "-e", self.error_log], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("nginx -t failed:\n" + r.stderr)
        self.nginx_out = open(self.path("logs", "nginx.stderr"), "w")
        self.nginx = subprocess.Popen([self.nginx_bin, "-c", self.nginx_conf, "-p", self.dir,
                                       "-e", self.error_log],
                                      stdout=self.nginx_out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, preexec_fn=_set_pdeathsig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise RuntimeError("nginx exited at start: " + self._read(
                    self.path("logs", "nginx.stderr")) + self._read(self.error_log))
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                if self.traffic("/", 1) == [200]:
                    return
            time.sleep(0.05)
        raise RuntimeError("nginx did not answer on port %d" % self.port)

    @staticmethod
    def _read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start_daemon(self, build_dir, log=None):
        """upwatchd --foreground on the lab's configs (the CLI's daemon; tests use conftest's)."""
        upwatchd = os.path.join(build_dir, "src", "upwatchd")
        self.daemon_log = log or open(self.path("logs", "upwatchd.log"), "w+")
        self.daemon = subprocess.Popen([upwatchd, "--foreground", "--config", self.upwatch_conf,
                                        "--socket", self.socket, "--state-dir", self.state_dir],
                                       stdout=self.daemon_log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, preexec_fn=_set_pdeathsig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise RuntimeError("upwatchd exited at start, see " + self.daemon_log.name)
            with contextlib.suppress(OSError, ValueError):
                if request(self.socket, {"cmd": "status"}, timeout=1).get("ok"):
                    return self.daemon
            time.sleep(0.05)
        raise RuntimeError("upwatchd did not answer on " + self.socket)

    def request(self, obj):
        return request(self.socket, obj)

    def stop(self):
        """Stop everything the lab started and remove the sandbox."""
        stop_process(self.daemon)
        self.daemon = None
        stop_process(self.nginx)  # SIGTERM, nginx's fast shutdown: workers exit with it
        self.nginx = None
        for name in list(self.procs):
            self.kill_backend(name)
        if self.dns:
            self.dns.kill()
            self.dns.wait()
            self.dns.stdout.close()
            self.dns = None
        if getattr(self, "nginx_out", None):
            self.nginx_out.close()
            self.nginx_out = None
        super().stop()

    # --- traffic ---

    def traffic_many(self, paths, timeout=10):
        """One request to each path, all at once; {path: status}."""
        out = {}
        ts = [threading.Thread(target=lambda p=p: out.__setitem__(p, self.traffic(p, 1, timeout)[0]))
              for p in paths]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    def traffic(self, path, n, timeout=10, concurrency=1):
        """n curl requests to path; their status codes in order (0: no answer)."""
        def one(_):
            r = subprocess.run([CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "--max-time", str(timeout), self.url(path)],
                               capture_output=True, text=True)
            try:
                return int(r.stdout.strip() or 0)
            except ValueError:
                return 0
        if concurrency <= 1:
            return [one(i) for i in range(n)]
        codes = [None] * n
        lock = threading.Lock()
        nxt = [0]

        def worker():
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= n:
                    return
                codes[i] = one(i)
        ts = [threading.Thread(target=worker) for _ in range(min(concurrency, n))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return codes


# --- backends (run as `lab.py backend KIND ADDR`) ----------------------------------------

# kind: what it does with each connection
BACKEND_KINDS = {
    "ok": "reads the request, answers 200",
    "slow": "reads the request, answers 200 after 3 s",
    "hang": "accepts, reads, never answers (holds the connection)",
    "reset": "reads the request, then resets (SO_LINGER 0)",
    "close": "reads the request, then closes without an answer",
    "garbage": "answers HELLO, not HTTP",
    "huge": "answers with a 64 KiB header",
    "tls": "TLS with the given certificate, then 200",
    "noaccept": "listen(0) and never accept: the accept queue fills",
    "dns": "a UDP DNS stub answering NXDOMAIN to everything",
}


def spawn_backend(kind, addr, cert=None, key=None, timeout=10.0):
    """Start one backend process (`lab.py backend KIND ADDR`); returns its
    Popen once it listens. It dies with its parent (PR_SET_PDEATHSIG)."""
    if kind not in BACKEND_KINDS:
        raise ValueError(f"unknown backend kind {kind!r}")
    argv = [sys.executable, HERE, "backend", kind, addr]
    if kind == "tls":
        argv += [cert, key]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, close_fds=True)
    r, _, _ = select.select([p.stdout], [], [], timeout)
    ready = p.stdout.readline() if r else b""
    if ready.strip() != b"ready":
        p.kill()
        p.wait()
        p.stdout.close()
        raise RuntimeError(f"backend {kind} on {addr} did not start")
    return p


class Backend:
    """A handle on one backend process: Backend("reset") on a free loopback
    port, Backend("ok", path=...) on a unix socket. stop() kills it (SIGKILL,
    as a crash would) and removes its socket file."""

    def __init__(self, kind, port=None, path=None, cert=None, key=None):
        self.kind = kind
        self.path = path
        self.port = None if path else (port or free_port())
        self.addr = "unix:" + path if path else f"127.0.0.1:{self.port}"
        self.proc = spawn_backend(kind, self.addr, cert, key)
        self.pid = self.proc.pid

    def stop(self):
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc = None
        if self.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


REQUEST_MAX = 64 * 1024
OK_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
               b"Connection: close\r\n\r\nok\n")


def _read_request(c):
    """Read up to the end of the request head (bounded in size and time)."""
    c.settimeout(5)
    buf = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in buf and len(buf) < REQUEST_MAX:
            chunk = c.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf


def _handle(kind, c, tls_ctx):
    try:
        if tls_ctx:
            c.settimeout(5)
            c = tls_ctx.wrap_socket(c, server_side=True)
        req = _read_request(c)
        if not req:
            return
        if kind in ("ok", "tls"):
            c.sendall(OK_RESPONSE)
        elif kind == "slow":
            time.sleep(3)
            c.sendall(OK_RESPONSE)
        elif kind == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        elif kind == "garbage":
            c.sendall(b"HELLO\r\n\r\n")
        elif kind == "hang":
            time.sleep(3600)  # the process dies with its parent: bounded by the test
        elif kind == "huge":
            c.sendall(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * 65536 +
                      b"\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(OSError):
            c.close()


def _dns_stub(addr):
    """Answer every query NXDOMAIN (RCODE 3), echoing the question."""
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, int(port)))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(4096)
        if len(data) < 12:
            continue
        i = 12
        while i < len(data) and data[i] != 0:
            i += data[i] + 1
        qend = i + 5
        if qend > len(data):
            continue
        rd = data[2] & 0x01
        flags = bytes([0x80 | (data[2] & 0x78) | rd, 0x80 | 0x03])
        s.sendto(data[:2] + flags + b"\x00\x01\x00\x00\x00\x00\x00\x00" + data[12:qend], peer)


def backend_main(kind, addr, cert=None, key=None):
    _set_pdeathsig()
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    if kind == "dns":
        _dns_stub(addr)
        return
    if addr.startswith("unix:"):
        path = addr[5:]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        # the wrong-owner socket: root:root 0600 while nginx workers are nobody
        os.chmod(path, 0o600 if kind == "ok" and path.endswith("perm.sock") else 0o666)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
    if kind == "noaccept":
        s.listen(0)
        print("ready", flush=True)
        while True:
            time.sleep(3600)
    s.listen(128)
    tls_ctx = None
    if kind == "tls":
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.load_cert_chain(cert, key)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=_handle, args=(kind, c, tls_ctx), daemon=True).start()


# --- the demo ------------------------------------------------------------------------------

def wait_alerts(lab, want, timeout=20.0):
    """Poll until every (cause, peer, upstream) in want has fired; the alerts seen."""
    deadline = time.monotonic() + timeout
    alerts = []
    while time.monotonic() < deadline:
        alerts = lab.request({"cmd": "alerts", "all": True}).get("alerts", [])
        seen = {(a["cause"], a["peer"], a["upstream"]) for a in alerts}
        if want <= seen:
            return alerts, True
        time.sleep(0.5)
    return alerts, False


def demo(build_dir):
    build_dir = os.path.abspath(build_dir)
    upwatchctl = os.path.join(build_dir, "src", "upwatchctl")
    with Lab() as lab:
        print(f"lab: nginx on 127.0.0.1:{lab.port}, sandbox {lab.dir}")
        for s in lab.scenarios.values():
            if s.demo:
                print(f"  {s.path:<16} {s.name:<13} {s.about}")
        lab.start_daemon(build_dir)
        print("lab: upwatchd runs; sending traffic to every scenario")

        # the restarted backend goes away and comes back while requests flow
        stop = threading.Event()

        def steady():
            while not stop.is_set():
                lab.traffic("/restarted/", 1, timeout=3)
                time.sleep(0.1)
        t = threading.Thread(target=steady)
        t.start()
        time.sleep(0.5)
        lab.kill_backend("restarted")
        lab.kill_backend("pool")
        lab.kill_backend("recover")
        for s in lab.scenarios.values():
            if s.name in ("healthy", "predict", "restarted") or not s.demo:
                continue
            n = 2 if s.name == "slow" else 4
            codes = lab.traffic(s.path, n, timeout=5, concurrency=n)
            print(f"  {s.path:<16} {' '.join(str(x) for x in codes)}")
        # users keep hitting the broken locations, so what nginx logs stays current
        failing = [s.path for s in lab.scenarios.values()
                   if s.cause and s.demo and s.name not in ("predict", "restarted")]
        keep = threading.Event()

        def keep_failing():
            while not keep.wait(0.5):
                lab.traffic_many(failing, timeout=3)
        t2 = threading.Thread(target=keep_failing)
        t2.start()
        lab.start_backend("restarted")
        time.sleep(1.5)
        stop.set()
        t.join()
        lab.kill_backend("predict")  # no traffic: upwatchd predicts it
        try:
            want = {(s.cause, s.peer, s.upstream) for s in lab.scenarios.values()
                    if s.cause and s.demo}
            _, settled = wait_alerts(lab, want, timeout=20)
            print(f"lab: alerts {'settled' if settled else 'still incomplete after 20 s'}\n",
                  flush=True)
            subprocess.run([upwatchctl, "--socket", lab.socket, "alerts", "-v"])
            print("\nlab: every alert so far, resolved ones included:\n", flush=True)
            subprocess.run([upwatchctl, "--socket", lab.socket, "alerts", "--all"])
        finally:
            keep.set()
            t2.join()
    return 0 if settled else 1


def main(argv):
    if len(argv) >= 3 and argv[1] == "backend":
        backend_main(*argv[2:])
        return 0
    if len(argv) == 3 and argv[1] == "demo":
        return demo(argv[2])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
