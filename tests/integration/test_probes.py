"""Probes as the daemon runs them: on demand, listener facts, never blocking."""
import json
import os
import socket
import threading
import time

from conftest import Daemon, wait_for
from nginxlab import Backend, free_port


def write_nginx(workdir, servers, location_extra=""):
    conf = os.path.join(workdir, "nginx-probes.conf")
    with open(conf, "w") as f:
        f.write(f"pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\nevents {{}}\n"
                "http {\n  upstream pool {\n")
        for s in servers:
            f.write(f"    server {s};\n")
        f.write("  }\n  server { listen 127.0.0.1:1; location / { proxy_pass http://pool; "
                f"{location_extra} }} }}\n}}\n")
    return conf


def test_probe_command_answers_with_the_result(workdir):
    ok = Backend("ok")
    dead = free_port()
    conf = write_nginx(workdir, [f"127.0.0.1:{ok.port}", f"127.0.0.1:{dead}"])
    d = Daemon(workdir, config_text="probe_interval 1m;\nprobe_timeout 2s;\n", nginx_conf=conf)
    d.start()
    try:
        r = json.loads(d.ctl("--json", "probe", f"127.0.0.1:{ok.port}", check=True).stdout)
        assert r["ok"] is True and r["peer"] == f"127.0.0.1:{ok.port}"
        assert r["last_probe"]["result"] == "ok"
        assert r["last_probe"]["http_status"] == 200
        r = d.ctl("probe", f"127.0.0.1:{dead}")
        assert r.returncode == 0
        assert "refused" in r.stdout
        r = d.ctl("probe", "127.0.0.1:1")
        assert r.returncode == 1
        assert "unknown peer" in r.stderr
        r = d.ctl("probe", "not a peer")
        assert r.returncode == 1
    finally:
        d.stop()
        ok.stop()


def test_listener_facts_name_the_process_that_listens(workdir):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    conf = write_nginx(workdir, [f"127.0.0.1:{port}"])
    d = Daemon(workdir, config_text="probe_interval 1m;\nprobe_timeout 500ms;\n",
               nginx_conf=conf)
    d.start()
    try:
        peer = d.request({"cmd": "upstreams"})["peers"][0]
        assert peer["peer"] == f"127.0.0.1:{port}"
        assert peer["listener"]["pid"] == os.getpid()
        with open("/proc/self/comm") as f:
            assert peer["listener"]["process"] == f.read().strip()
    finally:
        d.stop()
        srv.close()


def test_two_hundred_hanging_peers_do_not_block_the_socket(workdir):
    # 200 listeners that complete the handshake (backlog) and never answer
    socks = []
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        socks.append(s)
    # a probe waits as long as nginx would: its proxy_read_timeout
    conf = write_nginx(workdir, [f"127.0.0.1:{s.getsockname()[1]}" for s in socks],
                       "proxy_read_timeout 1500ms;")
    d = Daemon(workdir, config_text="probe_interval 2s;\nprobe_timeout 1500ms;\n"
               "probe_max_inflight 256;\n", nginx_conf=conf)
    d.start()
    try:
        wait_for(lambda: d.request({"cmd": "stats"})["probes"]["sent"] >= 200,
                 what="probes in flight", timeout=15)
        c = d.client()
        worst = 0.0
        for _ in range(50):
            t = time.monotonic()
            assert c.request({"cmd": "status"})["ok"] is True
            worst = max(worst, time.monotonic() - t)
            time.sleep(0.02)
        c.close()
        print(f"worst status answer while 200 probes hang: {worst * 1000:.1f} ms")
        # blocking would cost seconds (the probe timeout); this is not a benchmark
        assert worst < 0.5
        wait_for(lambda: d.request({"cmd": "stats"})["probes"]["by_result"].get("timeout", 0)
                 >= 200, what="200 timeouts", timeout=15)
    finally:
        d.stop()
        for s in socks:
            s.close()


class Stub(threading.Thread):
    """Answers every request with `reply` after `delay` seconds and counts
    the connections it accepted."""

    def __init__(self, reply=b"", delay=0.0):
        super().__init__(daemon=True)
        self.reply, self.delay = reply, delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stopping = False
        self.start()

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            threading.Thread(target=self.answer, args=(c,), daemon=True).start()

    def answer(self, c):
        try:
            c.settimeout(5)
            c.recv(65536)
            time.sleep(self.delay)  # the backend's own slowness, not synchronisation
            c.sendall(self.reply)
        except OSError:
            pass
        c.close()

    def stop(self):
        self.stopping = True
        self.join(timeout=2)
        self.sock.close()


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def test_peers_are_judged_as_nginx_judges_them(workdir):
    # a 404 on / is a response nginx passes on; a backend slower than
    # probe_timeout but within nginx's proxy_read_timeout is healthy
    missing = Stub(NOT_FOUND)
    slow = Stub(OK, delay=1.0)
    conf = write_nginx(workdir, [f"127.0.0.1:{missing.port}", f"127.0.0.1:{slow.port}"],
                       "proxy_read_timeout 5s;")
    d = Daemon(workdir, config_text="probe_interval 1m;\nprobe_timeout 300ms;\n",
               nginx_conf=conf)
    d.start()
    try:
        r = d.request({"cmd": "probe", "peer": f"127.0.0.1:{missing.port}"})
        assert r["last_probe"]["result"] == "ok"
        assert r["last_probe"]["http_status"] == 404
        r = d.request({"cmd": "probe", "peer": f"127.0.0.1:{slow.port}"})
        assert r["last_probe"]["result"] == "ok"
        assert r["last_probe"]["ttfb_ms"] >= 1000
    finally:
        d.stop()
        missing.stop()
        slow.stop()


def test_probe_off_is_honoured_by_on_demand_probes(workdir):
    # a log line naming the peer asks for a probe now: with `probe off;` the
    # listener must never see a connection
    stub = Stub(OK)
    peer = f"127.0.0.1:{stub.port}"
    conf = write_nginx(workdir, [peer])
    d = Daemon(workdir, config_text=f"probe_interval 5s;\npeer {peer} {{ probe off; }}\n"
               "start_at end;\n", nginx_conf=conf)
    d.start()
    try:
        r = d.request({"cmd": "probe", "peer": peer})
        assert r["ok"] is False and "not probed" in r["error"]
        with open(os.path.join(workdir, "error.log"), "a") as f:
            for _ in range(3):
                f.write(time.strftime("%Y/%m/%d %H:%M:%S") + " [error] 1#1: *1 connect() "
                        "failed (111: Connection refused) while connecting to upstream, "
                        "client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", "
                        f"upstream: \"http://{peer}/\", host: \"127.0.0.1\"\n")
        wait_for(lambda: d.request({"cmd": "stats"})["events"].get("connect_failed", 0) >= 3,
                 what="the log lines read", timeout=15)
        # the diagnosis ran in the same loop turn as the lines; a round trip
        # after it has seen any probe it could have started
        assert d.request({"cmd": "stats"})["probes"]["sent"] == 0
        assert stub.accepted == 0
    finally:
        d.stop()
        stub.stop()
