"""Probes as the daemon runs them: on demand, listener facts, never blocking."""
import json
import os
import socket
import time

from conftest import Daemon, wait_for
from nginxlab import Backend, free_port


def write_nginx(workdir, servers):
    conf = os.path.join(workdir, "nginx-probes.conf")
    with open(conf, "w") as f:
        f.write(f"pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\nevents {{}}\n"
                "http {\n  upstream pool {\n")
        for s in servers:
            f.write(f"    server {s};\n")
        f.write("  }\n  server { listen 127.0.0.1:1; location / { proxy_pass http://pool; } }\n}\n")
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
    conf = write_nginx(workdir, [f"127.0.0.1:{s.getsockname()[1]}" for s in socks])
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
