"""The software behind each peer and fixes right for it (issue 13), on real
Debian backends (debianlab): php-fpm, gunicorn and uwsgi are identified with
the file:line (or command line) that binds each peer, as root and as the
service user (who cannot read other users' /proc/PID/fd: the world-readable
command lines and the software's own configuration tell it); a full php-fpm
pool is backend_overloaded with `pm.max_children = N` at the pool file's
line — and N applied makes the 504s stop; a dead gunicorn's neighbour port,
another gunicorn, is listed by name and never proposed; a uwsgi socket behind
proxy_pass is "this port speaks uwsgi: use uwsgi_pass" — and the fix applied
makes the 502s stop."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import Daemon, find, wait_alert, wait_for
from debianlab import GUNICORN, PARAMS, WEB_USER, DebianLab, missing_software
from nginxlab import IDENTITIES, NGINX, Identity

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (nginx and php-fpm masters)"),
    pytest.mark.skipif(bool(missing_software()),
                       reason="not installed: " + ", ".join(missing_software())),
]

SLOW_PHP = ("<?php\nif (isset($_GET['sleep'])) usleep((int)$_GET['sleep'] * 1000);\n"
            "header('Content-Type: text/plain');\necho \"ok from php-fpm\\n\";\n")
PHP_READ_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def lab():
    with DebianLab() as lab:
        lab._write("www/index.php", SLOW_PHP)
        add_locations(lab)
        yield lab


def add_locations(lab):
    """Two more locations: /php-short/ (fastcgi_read_timeout 3s) and
    /uwsgi-http/ (proxy_pass http:// to the uwsgi socket: the wrong protocol)."""
    text = lab.nginx_conf_text
    tail = "    }\n}"
    assert text.rstrip().endswith(tail)
    head = text.rstrip()[:-len(tail)]
    extra = ("        location /php-short/ {\n"
             f"            include {PARAMS}/fastcgi_params;\n"
             f"            fastcgi_param SCRIPT_FILENAME {lab.path('www', 'index.php')};\n"
             f"            fastcgi_read_timeout {PHP_READ_TIMEOUT_S}s;\n"
             f"            fastcgi_pass unix:{lab.sockets['php']};\n"
             "        }\n"
             "        location /uwsgi-http/ {\n"
             f"            proxy_pass http://unix:{lab.sockets['uwsgi']}:;\n"
             "        }\n")
    lab.nginx_conf_text = head + extra + tail + "\n"
    lab.uwsgi_http_line = head.count("\n") + extra.count("\n") - 1
    write_nginx(lab, lab.nginx_conf_text)


def write_nginx(lab, text):
    with open(lab.nginx_conf, "w") as f:
        f.write(text)
    r = subprocess.run([NGINX, "-t", "-q", "-c", lab.nginx_conf, "-p", lab.dir,
                        "-e", lab.error_log], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pid = int(open(lab.path("run", "nginx.pid")).read())
    os.kill(pid, signal.SIGHUP)
    time.sleep(1.0)  # the old workers finish; no status tells a reload is complete


def start_daemon(lab, identity):
    d = Daemon(tempfile.mkdtemp(prefix="daemon-", dir=lab.dir),
               config_text=lab.upwatch_conf_text(), identity=Identity(identity))
    return d.start()


def peer_object(d, key):
    for p in d.request({"cmd": "upstreams"})["peers"]:
        if p["peer"] == key:
            return p
    return None


def pool_line(lab, setting):
    with open(lab.path("pool.d", "www.conf")) as f:
        for i, line in enumerate(f, 1):
            if line.split("=")[0].strip() == setting:
                return f"{lab.path('pool.d', 'www.conf')}:{i}"
    raise AssertionError(setting)


@pytest.fixture
def restore(lab):
    yield
    lab.php_pool()
    for s in lab.services.values():
        if s.proc is None or s.proc.poll() is not None:
            s.proc = None
            s.start()
    php = lab.services["php"]
    if php.proc is not None and not php.listening():
        php.restart()


@pytest.mark.parametrize("ident", IDENTITIES)
def test_every_peer_names_its_software_and_the_line_that_binds_it(lab, restore, ident):
    d = start_daemon(lab, ident)
    want = {"php": ("php-fpm", pool_line(lab, "listen")),
            "gunicorn_tcp": ("gunicorn", "command line"),
            "gunicorn_unix": ("gunicorn", "command line"),
            "uwsgi": ("uwsgi", "command line")}
    for name, (sw, ref) in want.items():
        key = lab.services[name].peer
        p = wait_for(lambda: (peer_object(d, key) or {}).get("software"), timeout=10,
                     what=f"software of {key}")
        assert (p["name"], p["config_ref"]) == (sw, ref), (key, p)
    assert peer_object(d, lab.services["php"].peer)["software"]["section"] == "www"
    assert peer_object(d, lab.services["uwsgi"].peer)["software"]["protocol"] == "uwsgi"
    assert peer_object(d, lab.services["php"].peer)["software"]["workers"] == {
        "value": "5", "config_ref": pool_line(lab, "pm.max_children")}


def small_pool(lab, max_children):
    """php-fpm's pool with pm = dynamic and pm.max_children (debianlab's
    php_pool() spells every "_" as ".", which these names have in them).
    Dynamic, so that php-fpm says "server reached pm.max_children setting"."""
    pool = lab.php_pool()
    with open(pool) as f:
        text = f.read()
    for k, v in (("pm.max_children", max_children), ("pm.start_servers", max_children),
                 ("pm.min_spare_servers", 1), ("pm.max_spare_servers", max_children)):
        text = re.sub(rf"(?m)^{re.escape(k)} = .*$", f"{k} = {v}", text)
    with open(pool, "w") as f:
        f.write(text)


def storm(lab, n=8, sleep_ms=1000):
    return lab.get_many(f"/php-short/?sleep={sleep_ms}", n, timeout=15)


@pytest.mark.parametrize("ident", IDENTITIES)
def test_a_full_php_pool_is_overloaded_and_the_suggested_size_fixes_it(lab, restore, ident):
    php = lab.services["php"]
    small_pool(lab, 1)
    php.restart()
    d = start_daemon(lab, ident)
    codes = storm(lab)
    assert 504 in codes, codes
    a = wait_alert(d, "backend_overloaded", php.peer)
    assert find(d, "backend_slow", php.peer) is None
    ref = pool_line(lab, "pm.max_children")
    assert a["config_ref"] == ref
    m = re.search(r"more workers at (\S+) \(now 1\):\n    pm.max_children = (\d+)\n", a["fix"])
    assert m and m.group(1) == ref, a["fix"]
    n = int(m.group(2))
    assert n >= 3, a["fix"]  # 8 requests of 1 s within 3 s need at least 3 workers
    assert any(e.startswith("software: php-fpm [www]") for e in a["evidence"]), a["evidence"]
    log = lab.path("logs", "php-fpm.error.log")
    if os.access(log, os.R_OK) and (ident == "root" or os.stat(log).st_mode & 0o004):
        # php-fpm's own word, from the error_log its configuration names
        assert any(e.startswith("php-fpm log: ") and "reached pm.max_children" in e
                   for e in a["evidence"]), a["evidence"]
    # the fix, applied: the same storm passes
    small_pool(lab, n)
    php.restart()
    assert storm(lab) == [200] * 8


@pytest.mark.parametrize("ident", IDENTITIES)
def test_another_apps_port_is_listed_and_never_proposed(lab, restore, ident):
    g = lab.services["gunicorn_tcp"]
    other_port = lab.ports["gunicorn_tcp"] + 1
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the last run's TIME_WAIT
    try:
        s.bind(("127.0.0.1", other_port))
    except OSError:
        pytest.skip(f"port {other_port} is taken")
    finally:
        s.close()
    other = subprocess.Popen(["setpriv", "--reuid", WEB_USER, "--regid", WEB_USER,
                              "--init-groups", "--", GUNICORN, "--bind",
                              f"127.0.0.1:{other_port}", "--workers", "1", "wsgi:application"],
                             cwd=lab.path("apps"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, process_group=0)
    try:
        wait_for(lambda: subprocess.run(["curl", "-s", "-o", "/dev/null",
                                         f"http://127.0.0.1:{other_port}/"]).returncode == 0,
                 timeout=20, what="the other gunicorn")
        d = start_daemon(lab, ident)
        g.kill()
        assert lab.get("/gunicorn-tcp/", 3) == [502] * 3
        a = wait_alert(d, "backend_down", g.peer)
        assert f"127.0.0.1:{other_port}" not in a["fix"], a["fix"]
        assert "none is known to be this backend" in a["fix"]
        assert f" {other_port} (gunicorn" in a["explanation"], a["explanation"]
    finally:
        os.killpg(other.pid, signal.SIGKILL)
        other.wait()


@pytest.mark.parametrize("ident", IDENTITIES)
def test_uwsgi_behind_proxy_pass_is_told_to_use_uwsgi_pass(lab, restore, ident):
    u = lab.services["uwsgi"]
    d = start_daemon(lab, ident)
    codes = lab.get("/uwsgi-http/", 3)
    assert all(c == 502 for c in codes), codes
    ref = f"{lab.nginx_conf}:{lab.uwsgi_http_line}"
    a = wait_for(lambda: next((x for x in (find(d, c, u.peer) for c in
                                           ("backend_reset", "invalid_response")) if x), None),
                 timeout=15, what="reset or invalid_response")
    assert f"This port speaks uwsgi: use uwsgi_pass at {ref}" in a["fix"], a["fix"]
    assert a["config_ref"] == ref
    # the fix, applied: uwsgi_pass with uwsgi_params at that line
    text = lab.nginx_conf_text.replace(
        f"            proxy_pass http://unix:{lab.sockets['uwsgi']}:;\n",
        f"            include {PARAMS}/uwsgi_params;\n"
        f"            uwsgi_pass unix:{lab.sockets['uwsgi']};\n")
    write_nginx(lab, text)
    try:
        assert lab.get("/uwsgi-http/", 3) == [200] * 3
    finally:
        write_nginx(lab, lab.nginx_conf_text)
