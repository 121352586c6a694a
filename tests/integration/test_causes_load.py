"""Causes that need load rather than a broken backend: a backend whose accept
queue is full (backend_overloaded) and nginx out of worker connections
(worker_connections_exhausted). Real nginx, real curl traffic, journald."""
import os
import re
import subprocess
import time

import pytest

from conftest import Daemon, check_journal, wait_for
from nginxlab import Backend, Nginx, curls

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (nginx workers run as nobody)")


def firing(d, cause):
    return [a for a in d.request({"cmd": "alerts"})["alerts"] if a["cause"] == cause]


def test_full_accept_queue_is_backend_overloaded(workdir, needs_journal, identity):
    # listen(0) and never accept: once the queue holds a connection or two,
    # the kernel drops new SYNs and nginx's connects time out
    srv = Backend("noaccept")
    port = srv.port
    body = f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name load.test;
        location /busy/ {{
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
            proxy_pass http://127.0.0.1:{port};
        }}
    }}"""
    ngx = Nginx(workdir, body)
    d = Daemon(workdir, config_text="probe_interval 30s;\nprobe_timeout 1s;\nstart_at end;\n",
               nginx_conf=ngx.conf, identity=identity)
    try:
        d.start()
        codes = curls(ngx.port, "/busy/", 8, timeout=4)
        assert 504 in codes, codes
        a = wait_for(lambda: firing(d, "backend_overloaded"), what="backend_overloaded")[0]
        assert a["peer"] == f"127.0.0.1:{port}"
        assert a["upstream"] is None
        assert a["config_ref"] == ngx.ref(f"proxy_pass http://127.0.0.1:{port};")
        assert a["severity"] == "warning"  # the cause table's (issue 10: one source)
        check_journal(needs_journal, a, d)
    finally:
        d.stop()
        ngx.stop()
        srv.stop()


def test_too_few_worker_connections_is_worker_connections_exhausted(workdir, needs_journal,
                                                                     identity):
    # a backend that answers after 3 s keeps each request's two connections
    # (client + upstream) busy; with 4 per worker the fifth connection fails
    slow = Backend("slow")  # answers each request after 3 s
    port = slow.port
    body = f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name load.test;
        location / {{ proxy_pass http://127.0.0.1:{port}; }}
    }}"""
    ngx = Nginx(workdir, body, worker_connections=4)
    d = Daemon(workdir, config_text="probe_interval 30s;\nprobe_timeout 1s;\nstart_at end;\n",
               nginx_conf=ngx.conf, identity=identity)
    try:
        d.start()
        curls(ngx.port, "/", 6, timeout=6)
        wait_for(lambda: firing(d, "worker_connections_exhausted"),
                 what="worker_connections_exhausted")
        time.sleep(2.5)  # the words follow the counts once a tick
        a = firing(d, "worker_connections_exhausted")[0]
        assert a["peer"] is None and a["upstream"] is None
        assert a["config_ref"] == ngx.ref("worker_connections 4;")
        # sized from what came at once: 6 clients, each with its upstream
        # connection (test_backend_load.py applies such a value)
        m = re.search(r"\n    worker_connections (\d+);\n", a["fix"])
        assert m and int(m.group(1)) >= 6 * 2, a["fix"]
        # journald has the words of the firing moment: the numbers grew since
        first = needs_journal.wait(lambda es: es, UPWATCH_ALERT_ID=a["id"])[0]["UPWATCH_FIX"]
        assert re.sub(r"\d+", "N", first) == re.sub(r"\d+", "N", a["fix"])
        check_journal(needs_journal, dict(a, fix=first), d)
    finally:
        d.stop()
        ngx.stop()
        slow.stop()


@pytest.fixture
def netns():
    """A network namespace with only loopback: a connect to any other address
    fails at once with ENETUNREACH, and nothing can leave the machine."""
    name = f"upwatch-t{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
                       check=True)
        # nsenter, not `ip netns exec`: that makes a mount namespace of its
        # own, where the session journald's socket is not
        yield ["nsenter", f"--net=/run/netns/{name}", "--"]
    finally:
        subprocess.run(["ip", "netns", "delete", name])


def test_unroutable_peer_is_backend_unreachable(workdir, needs_journal, identity, netns):
    # 192.0.2.0/24 is TEST-NET-1; inside the namespace there is no route at all
    body = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name load.test;
        location /far/ { proxy_pass http://192.0.2.10:8080; }
    }"""
    ngx = Nginx(workdir, body, wrap=netns)
    d = Daemon(workdir, config_text="probe_interval 1s;\nprobe_timeout 500ms;\nstart_at end;\n",
               nginx_conf=ngx.conf, wrap=netns, identity=identity)
    try:
        d.start()
        assert ngx.get("/far/", n=3) == [502, 502, 502]
        a = wait_for(lambda: firing(d, "backend_unreachable"), what="backend_unreachable")[0]
        assert a["peer"] == "192.0.2.10:8080"
        assert a["upstream"] is None
        assert a["config_ref"] == ngx.ref("proxy_pass http://192.0.2.10:8080;")
        assert "101: Network is unreachable" in a["explanation"]
        check_journal(needs_journal, a, d)
        lp = next(p for p in d.request({"cmd": "upstreams"})["peers"]
                  if p["peer"] == "192.0.2.10:8080")["last_probe"]
        assert lp["result"] == "unreachable"
    finally:
        d.stop()
        ngx.stop()
