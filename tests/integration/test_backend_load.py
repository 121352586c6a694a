"""Pools and connection limits sized from what was seen (issue 13), on real
software: gunicorn with too few sync workers for a slow endpoint, uwsgi with
too few processes and no room in its listen queue, and nginx with
worker_connections 16 under 50 concurrent clients. Each asserts the setting
named at its place (command line, or events block line) and the value
suggested — then APPLIES that value and sees the 502/504s (or dropped
connections) stop: the strongest test a fix can have."""
import os
import pwd
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import Daemon, find, wait_for
from debianlab import GUNICORN, PARAMS, UWSGI, WEB_USER, missing_software
from nginxlab import Backend, Nginx, curls, free_port

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (nginx workers run as nobody)"),
    pytest.mark.skipif(bool(missing_software()),
                       reason="not installed: " + ", ".join(missing_software())),
]

SLOW_APP = '''\
import time
import urllib.parse


def application(environ, start_response):
    q = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    time.sleep(int(q.get("sleep", ["0"])[0]) / 1000.0)
    hog = b"x" * (int(q.get("alloc", ["0"])[0]) * 1024 * 1024)  # MiB, touched
    body = b"ok %d\\n" % (len(hog) // (1024 * 1024))
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

DAEMON_CONF = "probe_interval 30s;\nprobe_timeout 1s;\nalert_hold 5s;\nstart_at end;\n"


@pytest.fixture
def appdir():
    """A directory the service user can read, with the slow WSGI app."""
    d = os.path.realpath(tempfile.mkdtemp(prefix="upwatch-load-"))
    os.chmod(d, 0o755)
    with open(os.path.join(d, "slow.py"), "w") as f:
        f.write(SLOW_APP)
    os.chmod(os.path.join(d, "slow.py"), 0o644)
    web = pwd.getpwnam(WEB_USER)
    os.chown(d, web.pw_uid, web.pw_gid)
    yield d
    subprocess.run(["rm", "-rf", d])


class Program:
    """A backend started as the web user in its own process group."""

    def __init__(self, argv, cwd, ready):
        self.argv, self.cwd, self.ready = argv, cwd, ready
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.cwd, "program.log"), "a")
        self.proc = subprocess.Popen(["setpriv", "--reuid", WEB_USER, "--regid", WEB_USER,
                                      "--init-groups", "--"] + self.argv, cwd=self.cwd,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, process_group=0)
        wait_for(lambda: self.ready() or self.proc.poll() is not None, timeout=20,
                 interval=0.05, what=f"{self.argv[0]} to listen")
        assert self.proc.poll() is None, open(self.log.name).read()[-2000:]
        return self

    def stop(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        self.log.close()
        # its workers, killed with it, may hold the socket a moment longer:
        # a restart before they are gone would find the address in use
        wait_for(lambda: not self.ready(), timeout=10, interval=0.02,
                 what=f"{self.argv[0]}'s workers to die")


def tcp_listening(port):
    s = socket.socket()
    try:
        s.settimeout(0.5)
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def settled_alert(d, cause, peer):
    """The alert once its words have followed the last counts (the tick)."""
    wait_for(lambda: find(d, cause, peer), timeout=15, what=cause)
    time.sleep(2.5)  # counts re-render once a tick: let the storm's last lines in
    return find(d, cause, peer)


# --- gunicorn: --workers (command line) or workers (its config file) ---

def gunicorn(appdir, port, workers, style):
    argv = [GUNICORN]
    if style == "config":
        conf = os.path.join(appdir, "gunicorn.conf.py")
        with open(conf, "w") as f:
            f.write(f'bind = "127.0.0.1:{port}"\nworkers = {workers}\ntimeout = 60\n')
        os.chmod(conf, 0o644)
        argv += ["-c", conf]
    else:
        argv += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "60"]
    return Program(argv + ["slow:application"], appdir, lambda: tcp_listening(port))


@pytest.mark.parametrize("style", ["flags", "config"])
def test_too_few_gunicorn_workers_are_overloaded_and_the_suggested_count_fixes_it(
        workdir, appdir, identity, style):
    port = free_port()
    body = f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name load.test;
        location /g/ {{
            proxy_read_timeout 3s;
            proxy_pass http://127.0.0.1:{port};
        }}
    }}"""
    g = gunicorn(appdir, port, 1, style).start()
    ngx = Nginx(workdir, body)
    d = Daemon(workdir, config_text=DAEMON_CONF, nginx_conf=ngx.conf, identity=identity)
    try:
        d.start()
        # 8 requests of 1 s at once, one sync worker: from the third on they
        # wait in gunicorn's accept queue past nginx's 3 s
        codes = curls(ngx.port, "/g/?sleep=1000", 8, timeout=15)
        assert 504 in codes, codes
        peer = f"127.0.0.1:{port}"
        a = settled_alert(d, "backend_overloaded", peer)
        assert find(d, "backend_slow", peer) is None
        if style == "config":
            at = os.path.join(appdir, "gunicorn.conf.py") + ":2"
            m = re.search(rf"more workers at {re.escape(at)} \(now 1\):\n    workers = (\d+)\n",
                          a["fix"])
            assert a["config_ref"] == at
        else:
            m = re.search(r"more workers at its command line \(now 1\):\n    --workers (\d+)\n",
                          a["fix"])
        assert m, a["fix"]
        n = int(m.group(1))
        # 8 requests of 1 s within 3 s need at least 3 workers; no more than
        # the 8 that came at once (plus the one there)
        assert 3 <= n <= 9, a["fix"]
        assert any(e.startswith("software: gunicorn") for e in a["evidence"]), a["evidence"]
        # the fix, applied: the same storm passes
        g.stop()
        g = gunicorn(appdir, port, n, style).start()
        codes = curls(ngx.port, "/g/?sleep=1000", 8, timeout=15)
        assert codes == [200] * 8, (n, open(ngx.error_log).read()[-1500:])
    finally:
        d.stop()
        ngx.stop()
        g.stop()


# --- uwsgi: processes (flags or its ini), no room in the listen queue ---

def uwsgi(appdir, sock, processes, style, listen=2):
    opts = [("plugin", "python3"), ("master", "true"), ("processes", str(processes)),
            ("listen", str(listen)), ("socket", sock), ("chmod-socket", "666"),
            ("wsgi-file", os.path.join(appdir, "slow.py")), ("need-app", "true"),
            ("die-on-term", "true"), ("disable-logging", "true")]
    if style == "ini":
        ini = os.path.join(appdir, "app.ini")
        with open(ini, "w") as f:
            f.write("[uwsgi]\n" + "".join(f"{k} = {v}\n" for k, v in opts))
        os.chmod(ini, 0o644)
        argv = [UWSGI, "--ini", ini]
    else:
        argv = [UWSGI] + [f"--{k}" if v == "true" else f"--{k}={v}" for k, v in opts]
    return Program(argv, appdir, lambda: os.path.exists(sock) and unix_listening(sock))


def unix_listening(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.settimeout(0.5)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.mark.parametrize("style", ["flags", "ini"])
def test_too_few_uwsgi_processes_are_overloaded_and_the_suggested_count_fixes_it(
        workdir, appdir, identity, style):
    sock = os.path.join(appdir, "uwsgi.sock")
    body = f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name load.test;
        location /u/ {{
            include {PARAMS}/uwsgi_params;
            uwsgi_read_timeout 30s;
            uwsgi_pass unix:{sock};
        }}
    }}"""
    u = uwsgi(appdir, sock, 1, style).start()
    ngx = Nginx(workdir, body)
    d = Daemon(workdir, config_text=DAEMON_CONF, nginx_conf=ngx.conf, identity=identity)
    try:
        d.start()
        # one process busy 1 s, a queue of 2: the rest find no room (EAGAIN)
        codes = curls(ngx.port, "/u/?sleep=1000", 8, timeout=15)
        assert 502 in codes, codes
        peer = f"unix:{sock}"
        a = settled_alert(d, "backend_overloaded", peer)
        assert "(11: Resource temporarily unavailable)" in a["explanation"], a["explanation"]
        # more processes, and room in the listen queue (the refused found none)
        ini = os.path.join(appdir, "app.ini")
        if style == "ini":
            m = re.search(rf"more workers at {re.escape(ini)}:4 \(now 1\):\n    processes = "
                          rf"(\d+)\nand room in its listen queue at {re.escape(ini)}:5 \(now 2; "
                          r"[^)]*\):\n    listen = (\d+)\n", a["fix"])
            assert a["config_ref"] == f"{ini}:4"  # processes = 1
        else:
            m = re.search(r"more workers at its command line \(now 1\):\n    --processes (\d+)\n"
                          r"and room in its listen queue at its command line \(now 2; [^)]*\):\n"
                          r"    --listen (\d+)\n", a["fix"])
        assert m, a["fix"]
        n, listen = int(m.group(1)), int(m.group(2))
        refused = codes.count(502)
        assert n >= 1 + refused, (a["fix"], codes)  # every refused request needed one
        assert listen >= 8, a["fix"]  # room for all that came at once
        # the fix, applied
        u.stop()
        u = uwsgi(appdir, sock, n, style, listen).start()
        assert curls(ngx.port, "/u/?sleep=1000", 8, timeout=15) == [200] * 8
    finally:
        d.stop()
        ngx.stop()
        u.stop()


# --- nginx: worker_connections ---

def test_worker_connections_are_sized_from_50_clients_and_the_value_fixes_it(workdir,
                                                                             identity):
    slow = Backend("slow")  # answers each request after 3 s
    body = f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name load.test;
        location / {{ proxy_pass http://127.0.0.1:{slow.port}; }}
    }}"""
    ngx = Nginx(workdir, body, worker_connections=16)
    d = Daemon(workdir, config_text=DAEMON_CONF, nginx_conf=ngx.conf, identity=identity)
    fixed = None
    try:
        d.start()
        codes = curls(ngx.port, "/", 50, timeout=10)
        # the clients nginx had no slot for got no answer at all: not 502s
        assert 0 in codes and 502 not in codes, codes
        a = settled_alert(d, "worker_connections_exhausted", None)
        assert a["config_ref"] == ngx.ref("worker_connections 16;")
        assert "those clients saw a dropped connection" in a["explanation"]
        m = re.search(r"\n    worker_connections (\d+);\n", a["fix"])
        assert m, a["fix"]
        n = int(m.group(1))
        assert n >= 50 * 2, a["fix"]  # a client and an upstream connection each
        # the fix, applied: the same 50 clients are all answered
        d.stop()
        ngx.stop()
        fixdir = os.path.join(workdir, "fixed")
        os.makedirs(fixdir)
        fixed = Nginx(fixdir, body, worker_connections=n)
        assert curls(fixed.port, "/", 50, timeout=10) == [200] * 50
        assert "worker_connections are not enough" not in open(fixed.error_log).read()
    finally:
        d.stop()
        ngx.stop()
        if fixed:
            fixed.stop()
        slow.stop()
