"""Stale DNS (issue 13): nginx resolved a host name at start-up and keeps
connecting to that address after the name moved.

nginx and upwatchd each run in a mount namespace of their own with a temp
file bound over /etc/hosts; the file is rewritten in place, so both see
every change, and the host's /etc/hosts is never touched. Only loopback
addresses (127.0.0.2 and 127.0.0.3) are used. upwatchd runs as root and as
the unit's service user."""
import os
import subprocess

import pytest

from conftest import UPWATCHD, Daemon, all_alerts, find, wait_alert, wait_for
from nginxlab import Identity, Nginx, free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (unshare, mount)")

BIND = 'mount --bind "$0" /etc/hosts && exec "$@"'


def hosts_wrap(path):
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", BIND, path]


def write_hosts(path, addr):
    # in place (same inode): the bind mounts of both namespaces see it
    with open(path, "r+" if os.path.exists(path) else "w") as f:
        f.seek(0)
        f.truncate()
        f.write(f"127.0.0.1 localhost\n{addr} app.test\n")
    os.chmod(path, 0o644)


class HostsDaemon(Daemon):
    """upwatchd with the test's /etc/hosts: the bind mount is made inside the
    session journald's namespace, after entering it."""

    def __init__(self, workdir, hosts, **kw):
        super().__init__(workdir, **kw)
        self.hosts = hosts

    def command(self):
        cmd = super().command()
        i = cmd.index(UPWATCHD) - len(self.identity.wrap)
        return cmd[:i] + hosts_wrap(self.hosts) + cmd[i:]


class HttpServer:
    """python3's http.server on addr:port (a real HTTP listener)."""

    def __init__(self, addr, port, workdir):
        self.proc = subprocess.Popen(["python3", "-m", "http.server", "--bind", addr, str(port),
                                      "--directory", workdir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addr, self.port = addr, port
        wait_for(self._answers, what=f"http.server on {addr}:{port}")

    def _answers(self):
        import socket
        try:
            socket.create_connection((self.addr, self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def lab(workdir, identity):
    hosts = os.path.join(workdir, "hosts")
    write_hosts(hosts, "127.0.0.2")
    port = free_port()
    with open(os.path.join(workdir, "index.html"), "w") as f:
        f.write("ok\n")
    backend = HttpServer("127.0.0.2", port, workdir)
    body = f"""    upstream named {{
        server app.test:{port} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:@PORT@;
        server_name dns.test;
        location / {{ proxy_pass http://named; }}
    }}
"""
    nginx = Nginx(workdir, body, wrap=hosts_wrap(hosts))
    d = HostsDaemon(workdir, hosts, nginx_conf=nginx.conf, identity=identity,
                    config_text="probe_interval 1s;\nprobe_timeout 500ms;\nalert_hold 3s;\n")
    d.start()
    return hosts, port, backend, nginx, d


def answers(d, key):
    for p in d.request({"cmd": "upstreams"})["peers"]:
        if p["peer"] == key and p.get("last_probe"):
            return p["last_probe"].get("dns_answers"), p["last_probe"]["result"]
    return None, None


def test_a_moved_name_is_dns_stale_and_a_reload_fixes_it(workdir, identity):
    hosts, port, backend, nginx, d = lab(workdir, identity)
    key = f"app.test:{port}"
    moved = None
    try:
        assert nginx.get("/", 3) == [200, 200, 200]
        wait_for(lambda: answers(d, key) == (["127.0.0.2"], "ok"), what="app.test resolved")
        # the backend moves to 127.0.0.3 and the name follows it
        backend.stop()
        moved = HttpServer("127.0.0.3", port, workdir)
        write_hosts(hosts, "127.0.0.3")
        wait_for(lambda: answers(d, key) == (["127.0.0.3"], "ok"), what="app.test moved")
        # nginx still connects to the address it resolved at start-up
        assert nginx.get("/", 3) == [502, 502, 502]
        a = wait_alert(d, "dns_stale", key)
        assert a["upstream"] == "named"
        assert a["config_ref"] == nginx.ref(f"server app.test:{port}")
        assert "nginx connects to an old address of app.test" in a["summary"]
        assert "nginx -t && nginx -s reload" in a["fix"]
        assert f"server app.test:{port} resolve;" in a["fix"]
        assert any(f"nginx connects to 127.0.0.2:{port}" in e and "now to 127.0.0.3" in e
                   for e in a["evidence"])
        stale = [x for x in all_alerts(d) if x["cause"] == "dns_stale"]
        assert len(stale) == 1
        # the old address's failures are this story, not an alert of their own
        assert find(d, "backend_down", f"127.0.0.2:{port}", state="firing") is None
        assert find(d, "backend_down", key, state="firing") is None

        # apply the fix: nginx resolves again and the 502s stop
        nginx.reload()
        # (the old worker may take a few more connections while it quits)
        wait_for(lambda: nginx.get("/", 5) == [200] * 5, what="nginx to use 127.0.0.3")
        assert nginx.get("/", 5) == [200] * 5
        wait_alert(d, "dns_stale", key, state="resolved", timeout=30)
        stale = [x for x in all_alerts(d) if x["cause"] == "dns_stale"]
        assert len(stale) == 1
    finally:
        d.stop()
        nginx.stop()
        if moved:
            moved.stop()
        else:
            backend.stop()


def test_a_name_that_did_not_move_is_backend_down_not_dns_stale(workdir, identity):
    hosts, port, backend, nginx, d = lab(workdir, identity)
    key = f"app.test:{port}"
    try:
        assert nginx.get("/", 1) == [200]
        wait_for(lambda: answers(d, key) == (["127.0.0.2"], "ok"), what="app.test resolved")
        backend.stop()
        assert nginx.get("/", 3) == [502, 502, 502]
        a = wait_alert(d, "backend_down", f"127.0.0.2:{port}")
        assert "connect() failed (111" in " ".join(a["evidence"])
        wait_for(lambda: answers(d, key)[1] == "refused", what="app.test probed down")
        assert nginx.get("/", 2) == [502, 502]
        assert not [x for x in all_alerts(d) if x["cause"] == "dns_stale"]
    finally:
        d.stop()
        nginx.stop()


def test_a_moved_name_whose_old_address_still_answers_raises_nothing(workdir):
    hosts, port, backend, nginx, d = lab(workdir, Identity("root"))
    key = f"app.test:{port}"
    moved = None
    try:
        wait_for(lambda: answers(d, key) == (["127.0.0.2"], "ok"), what="app.test resolved")
        moved = HttpServer("127.0.0.3", port, workdir)
        write_hosts(hosts, "127.0.0.3")
        wait_for(lambda: answers(d, key) == (["127.0.0.3"], "ok"), what="app.test moved")
        # nginx still uses 127.0.0.2, which still serves: nothing to tell
        assert nginx.get("/", 5) == [200] * 5
        d.request({"cmd": "probe", "peer": key})
        assert [a for a in all_alerts(d) if a["state"] == "firing"] == []
    finally:
        d.stop()
        nginx.stop()
        backend.stop()
        if moved:
            moved.stop()
