"""Shared fixtures: the built binaries, a running upwatchd, the session's
private journald, and the identity upwatchd runs as.

Binaries come from $UPWATCH_BUILD (meson passes its build directory).
Everything else a test builds on (nginx, backends, the socket client,
free_port) is in nginxlab.py."""
import os
import signal
import subprocess
import tempfile

import pytest

from nginxlab import (IDENTITIES, RUNNING_NGINX, Client, Identity, Journal, journal_available,
                      message_ids, stop_process, wait_for)

__all__ = ["UPWATCHD", "UPWATCHCTL", "Client", "Daemon", "wait_for", "check_journal",
           "all_alerts", "find", "wait_alert", "firing_for", "fields", "MESSAGE_IDS",
           "expect_defect"]

BUILD = os.environ.get("UPWATCH_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
UPWATCHD = os.path.join(BUILD, "src", "upwatchd")
UPWATCHCTL = os.path.join(BUILD, "src", "upwatchctl")
MESSAGE_IDS = message_ids()

MINIMAL_NGINX = """\
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ }}
http {{ }}
"""

_running = []  # every Daemon started, so that none outlives its test
_journal = None  # the session's private journald (see the journal fixture)


class Daemon:
    """upwatchd on a socket in workdir. When neither nginx_conf nor the config
    text names an nginx configuration, it reads a minimal one of its own, so
    the host's /etc/nginx never matters. It runs inside the session journald's
    mount namespace (its journal entries go there, never to the host's
    journal), entered through `wrap` (e.g. nsenter --net=...), as `identity`."""

    def __init__(self, workdir, config_text="", args=(), nginx_conf=None, wrap=(),
                 identity=None):
        self.dir = workdir
        self.identity = identity or Identity("root")
        self.sock = os.path.join(workdir, "upwatch.sock")
        self.config = os.path.join(workdir, "upwatch.conf")
        self.state = os.path.join(workdir, "state")
        os.makedirs(self.state, exist_ok=True)
        self.identity.own(workdir, self.state)
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
        self.wrap = list(wrap)  # e.g. ["nsenter", "--net=/run/netns/NAME", "--"]
        self.proc = None
        self.log = open(os.path.join(workdir, "upwatchd.log"), "w+")

    def command(self):
        # self.wrap first: it may name things (/run/netns/X) that only the
        # host's mount namespace has
        inner = _journal.wrap if _journal else []
        return self.wrap + inner + self.identity.wrap + [
            UPWATCHD, "--foreground", "--config", self.config, "--socket", self.sock,
            "--state-dir", self.state] + self.args

    def start(self, env=None, wait=True):
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
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
        except (OSError, ValueError):
            return False

    def client(self, **kw):
        return Client(self.sock, **kw)

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
        stop_process(self.proc)
        return self.proc.returncode if self.proc else None

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


# --- alerts as the socket returns them ---

def all_alerts(d):
    r = d.request({"cmd": "alerts", "all": True})
    assert r["ok"] is True
    return r["alerts"]


def find(d, cause, peer, upstream=None, state=None):
    """The newest alert for (cause, peer) — (cause, upstream) when peer is None."""
    for a in all_alerts(d):
        if a["cause"] != cause or a["peer"] != peer:
            continue
        if peer is None and a["upstream"] != upstream:
            continue
        if state and a["state"] != state:
            continue
        return a
    return None


def wait_alert(d, cause, peer, upstream=None, state="firing", timeout=15.0):
    return wait_for(lambda: find(d, cause, peer, upstream, state), timeout=timeout, interval=0.1,
                    what=f"{state} {cause} alert for {peer or upstream}")


def firing_for(d, peer):
    return [a for a in all_alerts(d) if a["peer"] == peer and a["state"] == "firing"]


def fields(a):
    return {k: a[k] for k in ("cause", "peer", "upstream", "config_ref")}


def check_journal(journal, a, daemon=None):
    """The alert's firing entry in the (private) journal carries the alert's
    fields; MESSAGE_ID as the catalog documents it."""
    mid = MESSAGE_IDS[a["cause"]]
    match = {"MESSAGE_ID": mid, "UPWATCH_ALERT_ID": a["id"]}
    if daemon is not None:
        match["_PID"] = daemon.proc.pid
    entries = journal.wait(lambda es: any(e.get("UPWATCH_STATE") == "firing" for e in es),
                           **match)
    e = next(e for e in entries if e.get("UPWATCH_STATE") == "firing")
    assert e["MESSAGE_ID"] == mid
    assert e["SYSLOG_IDENTIFIER"] == "upwatchd"
    assert e["UPWATCH_ALERT_ID"] == a["id"]
    assert e["UPWATCH_CAUSE"] == a["cause"]
    assert e.get("UPWATCH_PEER") == a["peer"]
    assert e.get("UPWATCH_UPSTREAM") == a["upstream"]
    assert e.get("UPWATCH_CONFIG_REF") == a["config_ref"]
    assert e["MESSAGE"] == a["summary"]
    assert e["UPWATCH_FIX"] == a["fix"]
    # the cause table's priority (LOG_ERR or LOG_CRIT) while critical, else LOG_WARNING
    assert int(e["PRIORITY"]) in ((2, 3) if a["severity"] == "critical" else (4,))
    return e


# --- fixtures ---

@pytest.fixture(scope="session", autouse=True)
def journal():
    """The session's own systemd-journald, in a private mount namespace; every
    Daemon runs inside it. Without root (or journald) there is none, and the
    tests that read the journal skip."""
    global _journal
    if not journal_available():
        yield None
        return
    _journal = Journal()
    try:
        yield _journal
    finally:
        j, _journal = _journal, None
        j.stop()


@pytest.fixture
def needs_journal(journal):
    if journal is None:
        pytest.skip("needs root, systemd-journald, unshare and nsenter")
    return journal


@pytest.fixture(autouse=True)
def _stop_leftover_daemons():
    """A test that fails (or forgets) before stopping its daemon or nginx must
    not leave it running: stop every daemon and nginx the test itself started. Daemons of
    module- or session-scoped fixtures were started before and stay."""
    before, before_nginx = len(_running), len(RUNNING_NGINX)
    yield
    while len(_running) > before:
        _running.pop().stop()
    while len(RUNNING_NGINX) > before_nginx:
        RUNNING_NGINX[-1].stop()


def expect_defect(request, identity, when, reason):
    """Mark the running test xfail(strict=True) when upwatchd runs as `when`
    ("root" or "service"): a known defect of the daemon, named in reason. The
    test fails again (XPASS strict) the day the defect is fixed, so the mark
    goes with the fix."""
    if identity.name == when:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))


def _identity(name):
    if name == "service" and os.geteuid() != 0:
        pytest.skip("running upwatchd as the service user needs root")
    return Identity(name)


@pytest.fixture(params=IDENTITIES)
def identity(request):
    """Run the test twice: upwatchd as root, and as the unit runs it."""
    return _identity(request.param)


@pytest.fixture(scope="module", params=IDENTITIES)
def module_identity(request):
    """identity for module-scoped labs: every test of the module, twice."""
    return _identity(request.param)


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


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long test (runs by default; -m 'not slow' skips it)")
    # meson's timeout sends SIGTERM: turn it into an interrupt, so that
    # fixture teardown still stops nginx, backends (in process groups of
    # their own) and the session journald
    signal.signal(signal.SIGTERM, _interrupted)
