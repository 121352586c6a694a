"""Shared fixtures: the built binaries, a running upwatchd, a socket client.

Binaries come from $UPWATCH_BUILD (meson passes its build directory)."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

BUILD = os.environ.get("UPWATCH_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
UPWATCHD = os.path.join(BUILD, "src", "upwatchd")
UPWATCHCTL = os.path.join(BUILD, "src", "upwatchctl")


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Client:
    """A line-oriented client of the JSON socket."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, obj):
        self.send_raw((json.dumps(obj) + "\n").encode())
        return self.line()

    def close(self):
        self.sock.close()


MINIMAL_NGINX = """\
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ }}
http {{ }}
"""


_running = []  # every Daemon started, so that none outlives its test


class Daemon:
    """upwatchd on a socket in workdir. When neither nginx_conf nor the config
    text names an nginx configuration, it reads a minimal one of its own, so
    the host's /etc/nginx never matters."""

    def __init__(self, workdir, config_text="", args=(), nginx_conf=None, wrap=()):
        self.dir = workdir
        self.sock = os.path.join(workdir, "upwatch.sock")
        self.config = os.path.join(workdir, "upwatch.conf")
        self.state = os.path.join(workdir, "state")
        os.makedirs(self.state, exist_ok=True)
        if not os.path.exists(self.config) or config_text:
            with open(self.config, "w") as f:
                f.write(config_text)
        flags = []
        if nginx_conf is None and "nginx_conf" not in config_text:
            nginx_conf = os.path.join(workdir, "nginx.conf")
            with open(nginx_conf, "w") as f:
                f.write(MINIMAL_NGINX.format(dir=workdir))
        if nginx_conf is not None:
            flags = ["--nginx-conf", nginx_conf]
        self.nginx_conf = nginx_conf
        self.args = flags + list(args)
        self.wrap = list(wrap)  # e.g. ["ip", "netns", "exec", NAME]
        self.proc = None
        self.log = open(os.path.join(workdir, "upwatchd.log"), "w+")

    def start(self, env=None, wait=True):
        cmd = self.wrap + [UPWATCHD, "--foreground", "--config", self.config, "--socket", self.sock,
               "--state-dir", self.state] + self.args
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env if env is not None else os.environ.copy())
        _running.append(self)
        if wait:
            wait_for(lambda: self._answers() or self._died(), what="upwatchd socket")
            assert self.proc.poll() is None, "upwatchd exited:\n" + self.output()
        return self

    def _died(self):
        return self.proc.poll() is not None

    def _answers(self):
        try:
            c = Client(self.sock, timeout=1)
            ok = c.request({"cmd": "status"}).get("ok")
            c.close()
            return ok
        except OSError:
            return False

    def client(self):
        return Client(self.sock)

    def request(self, obj):
        c = self.client()
        try:
            return c.request(obj)
        finally:
            c.close()

    def ctl(self, *args, check=False):
        r = subprocess.run([UPWATCHCTL, "--socket", self.sock] + list(args),
                           capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


@pytest.fixture(autouse=True)
def _stop_leftover_daemons():
    """A test that fails (or forgets) before stopping its daemon must not
    leave it running: stop every daemon the test itself started. Daemons of
    module- or session-scoped fixtures were started before and stay."""
    before = len(_running)
    yield
    while len(_running) > before:
        _running.pop().stop()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="upwatch-it-") as d:
        os.chmod(d, 0o755)
        yield d


@pytest.fixture
def daemon(workdir):
    d = Daemon(workdir, config_text="probe_interval 1s;\nprobe_timeout 500ms;\n")
    yield d
    d.stop()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long test (runs by default; -m 'not slow' skips it)")
