"""The error-log follower and parser against lines a real nginx writes."""
import os
import socket
import time

import pytest

from conftest import Daemon, wait_for
from nginxlab import Backend, Nginx, free_port


@pytest.fixture
def lab(workdir):
    os.chmod(workdir, 0o755)
    hang = Backend("hang")
    reset = Backend("reset")
    close = Backend("close")
    dead, dead2 = free_port(), free_port()
    denied = os.path.join(workdir, "denied.sock")
    denied_srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    denied_srv.bind(denied)
    denied_srv.listen(8)
    os.chmod(denied, 0o600)  # root:root 0600, nginx workers are nobody
    body = f"""
    upstream pool {{
        server 127.0.0.1:{dead} max_fails=1 fail_timeout=30s;
        server 127.0.0.1:{dead2} max_fails=1 fail_timeout=30s;
    }}
    server {{
        listen 127.0.0.1:@PORT@;
        server_name logs.test;
        proxy_read_timeout 1s;
        location /refused {{ proxy_pass http://127.0.0.1:{dead}; }}
        location /timeout {{ proxy_pass http://127.0.0.1:{hang.port}; }}
        location /reset {{ proxy_pass http://127.0.0.1:{reset.port}; }}
        location /closed {{ proxy_pass http://127.0.0.1:{close.port}; }}
        location /missing {{ proxy_pass http://unix:{workdir}/missing.sock; }}
        location /denied {{ proxy_pass http://unix:{denied}; }}
        location /pool {{ proxy_pass http://pool; }}
    }}"""
    ngx = Nginx(workdir, body)
    d = Daemon(workdir, config_text="probe off;\nstart_at end;\n", nginx_conf=ngx.conf)
    d.start()
    yield ngx, d
    d.stop()
    ngx.stop()
    for b in (hang, reset, close):
        b.stop()
    denied_srv.close()


def events(d):
    return d.request({"cmd": "stats"})["events"]


@pytest.mark.parametrize("path,kind,status", [
    ("/refused", "connect_failed", 502),
    ("/timeout", "timed_out", 504),
    ("/reset", "recv_failed", 502),
    ("/closed", "premature_close", 502),
    ("/missing", "connect_failed", 502),
    ("/denied", "connect_failed", 502),
])
def test_real_nginx_lines_parse_to_their_event_kind(lab, path, kind, status):
    ngx, d = lab
    before = events(d)
    assert ngx.get(path) == [status]
    wait_for(lambda: events(d)[kind] == before[kind] + 1, what=f"{kind} for {path}")
    after = events(d)
    changed = {k for k in after if after[k] != before[k] and k != "other"}
    assert changed == {kind}
    log = d.request({"cmd": "stats"})["logs"]
    assert log[0]["path"] == ngx.error_log
    assert log[0]["lines_unparsed"] == 0


def test_no_live_upstreams_follows_the_failure_that_disabled_the_peer(lab):
    ngx, d = lab
    assert ngx.get("/pool", n=2) == [502, 502]
    # the first request tries both peers and marks them failed; the second
    # finds none alive
    wait_for(lambda: events(d)["no_live_upstreams"] == 1, what="no live upstreams")
    assert events(d)["connect_failed"] == 2


def test_restart_reads_lines_written_while_down_exactly_once(workdir):
    log = os.path.join(workdir, "app-error.log")
    line = ("2026/11/21 10:00:00 [error] 10#10: *{n} connect() failed (111: Connection refused)"
            " while connecting to upstream, client: 127.0.0.1, server: a.test, request: "
            "\"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:9/\", host: \"a.test\"\n")
    with open(log, "w") as f:
        for n in range(100):
            f.write(line.format(n=n))
    d = Daemon(workdir, config_text=f"probe off;\nerror_log {log};\nstart_at beginning;\n")
    d.start()
    stats = lambda: d.request({"cmd": "stats"})
    wait_for(lambda: stats()["events"]["connect_failed"] == 100, what="first 100 lines")
    d.stop()
    with open(log, "a") as f:
        for n in range(100, 250):
            f.write(line.format(n=n))
    # start_at beginning would re-read; saved offsets are what a restart uses
    with open(d.config, "w") as f:
        f.write(f"probe off;\nerror_log {log};\nstart_at saved;\n")
    d.start()
    wait_for(lambda: stats()["events"]["connect_failed"] == 150, what="lines written while down")
    entry = next(l for l in stats()["logs"] if l["path"] == log)
    assert entry["lines"] == 150
    assert entry["lines_lost"] == 0


def test_nginx_rename_and_usr1_rotation_loses_nothing(lab):
    ngx, d = lab
    st = lambda: d.request({"cmd": "stats"})
    assert ngx.get("/refused", n=5) == [502] * 5
    wait_for(lambda: st()["events"]["connect_failed"] == 5, what="first lines")
    os.rename(ngx.error_log, ngx.error_log + ".1")
    assert ngx.get("/refused", n=3) == [502] * 3   # still written to the renamed file
    ngx.reopen_logs()
    wait_for(lambda: os.path.exists(ngx.error_log), what="nginx reopened its log")
    assert ngx.get("/refused", n=4) == [502] * 4
    wait_for(lambda: st()["events"]["connect_failed"] == 12, what="all 12 lines", timeout=15)
    log = st()["logs"][0]
    assert log["rotations"] >= 1
    assert log["lines_lost"] == 0


def test_log_that_cannot_be_followed_is_reported_and_recovers(workdir):
    """A directory where an error log should be (as root nothing is unreadable):
    the log's fault shows in stats, status and metrics; once a file is there,
    it is followed and the fault clears."""
    log = os.path.join(workdir, "broken-error.log")
    os.mkdir(log)
    d = Daemon(workdir, config_text=f"probe off;\nerror_log {log};\nstart_at beginning;\n")
    d.start()
    try:
        entry = next(l for l in d.request({"cmd": "stats"})["logs"] if l["path"] == log)
        assert entry["error"]["errno"] == 22
        assert log in entry["error"]["message"]
        assert d.request({"cmd": "status"})["logs_failing"] == 1
        metrics = d.ctl("metrics").stdout
        assert f'upwatch_log_error{{path="{log}"}} 22' in metrics
        os.rmdir(log)
        with open(log, "w") as f:
            f.write("2026/11/21 10:00:00 [error] 10#10: *1 connect() failed (111: Connection "
                    "refused) while connecting to upstream, client: 127.0.0.1, server: a.test, "
                    "request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:9/\", "
                    "host: \"a.test\"\n")
        wait_for(lambda: d.request({"cmd": "stats"})["events"]["connect_failed"] == 1,
                 what="the file that appeared")
        entry = next(l for l in d.request({"cmd": "stats"})["logs"] if l["path"] == log)
        assert entry["error"] is None
        assert d.request({"cmd": "status"})["logs_failing"] == 0
    finally:
        d.stop()
def test_probe_off_is_honoured_for_peers_named_by_log_lines(workdir):
    """A log line naming a peer asks for a probe of it; `probe off;` wins, also
    once the peer is in the target set."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.setblocking(False)
    port = srv.getsockname()[1]
    peer = f"127.0.0.1:{port}"
    log = os.path.join(workdir, "app-error.log")
    open(log, "w").close()
    d = Daemon(workdir, config_text=f"probe off;\nerror_log {log};\nstart_at end;\n")
    d.start()
    head = "2026/11/21 10:00:00 [error] 10#10: *1 "
    tail = (", client: 127.0.0.1, server: a.test, request: \"GET / HTTP/1.1\", upstream: "
            f"\"http://{peer}/\", host: \"a.test\"\n")
    causes = lambda: {a["cause"] for a in d.request({"cmd": "alerts"})["alerts"]
                      if a["peer"] == peer}
    try:
        with open(log, "a") as f:
            f.write(head + "upstream timed out (110: Connection timed out) while reading "
                    "response header from upstream" + tail)
        wait_for(lambda: "backend_slow" in causes(), what="backend_slow")
        time.sleep(1.5)  # a tick: the learned peer joins the (disabled) targets
        with open(log, "a") as f:
            f.write(head + "connect() failed (111: Connection refused) while connecting to "
                    "upstream" + tail)
        # a probe would find the listener and turn backend_down into a restart
        wait_for(lambda: causes() & {"backend_down", "backend_restarted"}, what="backend_down")
        time.sleep(2.5)  # absence of a connection: a bounded wait is the only witness
        assert d.request({"cmd": "stats"})["probes"]["sent"] == 0
        with pytest.raises(BlockingIOError):
            srv.accept()
        assert causes() == {"backend_slow", "backend_down"}
    finally:
        d.stop()
        srv.close()
