"""Causes that need load rather than a broken backend: a backend whose accept
queue is full (backend_overloaded) and nginx out of worker connections
(worker_connections_exhausted). Real nginx, real curl traffic, journald."""
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import Daemon, wait_for
from nginxlab import Nginx, free_port
from test_causes import check_journal, journal  # noqa: F401 (journal is a fixture)


def curls(port, path, n, timeout):
    """n concurrent requests; returns their status codes."""
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-m", str(timeout), "-w",
                               "%{http_code}", f"http://127.0.0.1:{port}{path}"],
                              stdout=subprocess.PIPE, text=True) for _ in range(n)]
    return [int(p.communicate()[0] or 0) for p in procs]


def firing(d, cause):
    return [a for a in d.request({"cmd": "alerts"})["alerts"] if a["cause"] == cause]


def line_of(conf, text):
    with open(conf) as f:
        for i, line in enumerate(f, 1):
            if text in line:
                return f"{conf}:{i}"
    raise AssertionError(f"{text!r} not in {conf}")


def test_full_accept_queue_is_backend_overloaded(workdir, journal):  # noqa: F811
    # listen(0) and never accept: once the queue holds a connection or two,
    # the kernel drops new SYNs and nginx's connects time out
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
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
               nginx_conf=ngx.conf)
    d.start()
    try:
        codes = curls(ngx.port, "/busy/", 8, timeout=4)
        assert 504 in codes, codes
        a = wait_for(lambda: firing(d, "backend_overloaded"), what="backend_overloaded")[0]
        assert a["peer"] == f"127.0.0.1:{port}"
        assert a["upstream"] is None
        assert a["config_ref"] == line_of(ngx.conf, f"proxy_pass http://127.0.0.1:{port};")
        assert a["severity"] == "warning"  # the cause table's (issue 10: one source)
        check_journal(journal, a)
    finally:
        d.stop()
        ngx.stop()
        srv.close()


def test_too_few_worker_connections_is_worker_connections_exhausted(workdir, journal):  # noqa: F811
    # a backend that answers after 3 s keeps each request's two connections
    # (client + upstream) busy; with 4 per worker the fifth connection fails
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    slow.bind(("127.0.0.1", 0))
    slow.listen(64)
    stop = threading.Event()

    def serve():
        slow.settimeout(0.2)
        held = []
        while not stop.is_set():
            try:
                c, _ = slow.accept()
                held.append((c, time.monotonic()))
            except OSError:
                pass
            for c, t in list(held):
                if time.monotonic() - t > 3:
                    try:
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    except OSError:
                        pass
                    c.close()
                    held.remove((c, t))
        for c, _ in held:
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = slow.getsockname()[1]
    body = f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name load.test;
        location / {{ proxy_pass http://127.0.0.1:{port}; }}
    }}"""
    ngx = Nginx(workdir, body, worker_connections=4)
    d = Daemon(workdir, config_text="probe_interval 30s;\nprobe_timeout 1s;\nstart_at end;\n",
               nginx_conf=ngx.conf)
    d.start()
    try:
        curls(ngx.port, "/", 6, timeout=6)
        a = wait_for(lambda: firing(d, "worker_connections_exhausted"),
                     what="worker_connections_exhausted")[0]
        assert a["peer"] is None and a["upstream"] is None
        assert a["config_ref"] == line_of(ngx.conf, "worker_connections 4;")
        assert "worker_connections 8;" in a["fix"]
        check_journal(journal, a)
    finally:
        d.stop()
        ngx.stop()
        stop.set()
        t.join(timeout=2)
        slow.close()


@pytest.fixture
def netns():
    """A network namespace with only loopback: a connect to any other address
    fails at once with ENETUNREACH, and nothing can leave the machine."""
    name = f"upwatch-t{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
                       check=True)
        yield ["ip", "netns", "exec", name]
    finally:
        subprocess.run(["ip", "netns", "delete", name])


def test_unroutable_peer_is_backend_unreachable(workdir, journal, netns):  # noqa: F811
    # 192.0.2.0/24 is TEST-NET-1; inside the namespace there is no route at all
    body = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name load.test;
        location /far/ { proxy_pass http://192.0.2.10:8080; }
    }"""
    ngx = Nginx(workdir, body, wrap=netns)
    d = Daemon(workdir, config_text="probe_interval 1s;\nprobe_timeout 500ms;\nstart_at end;\n",
               nginx_conf=ngx.conf, wrap=netns)
    d.start()
    try:
        assert ngx.get("/far/", n=3) == [502, 502, 502]
        a = wait_for(lambda: firing(d, "backend_unreachable"), what="backend_unreachable")[0]
        assert a["peer"] == "192.0.2.10:8080"
        assert a["upstream"] is None
        assert a["config_ref"] == line_of(ngx.conf, "proxy_pass http://192.0.2.10:8080;")
        assert "101: Network is unreachable" in a["explanation"]
        check_journal(journal, a)
        lp = next(p for p in d.request({"cmd": "upstreams"})["peers"]
                  if p["peer"] == "192.0.2.10:8080")["last_probe"]
        assert lp["result"] == "unreachable"
    finally:
        d.stop()
        ngx.stop()
