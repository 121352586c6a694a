"""`upwatchctl explain`: the daemon's pipeline run once, in-process, with no
daemon — against the demo lab (real nginx, real failing backends, real curl
traffic), a quiet healthy nginx, pasted text on stdin, a 2 GB log, and a
terminal 80 columns wide. One test feeds the same log and backends to
upwatchd and to explain and compares the alerts field by field."""
import json
import os
import pty
import select
import struct
import subprocess
import termios
import fcntl
import time

import pytest

from conftest import UPWATCHCTL, Daemon, wait_alert
import nginxlab
from nginxlab import NGINX, Backend, demolab as labmod

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(NGINX),
    reason="needs root (nginx workers run as nobody) and Debian's nginx")

# scenario -> requests; each gets a 502/504 (garbage: an HTTP/0.9 answer)
TRAFFIC = {"down": 3, "slow": 2, "reset": 3, "garbage": 3, "huge": 3, "sock_missing": 3,
           "sock_perm": 3, "sock_stale": 3, "dns": 3, "tls": 3}
COMPARED = ("cause", "peer", "upstream", "config_ref", "severity", "fix")


def explain(*args, stdin=None, timeout=60):
    t0 = time.monotonic()
    r = subprocess.run([UPWATCHCTL, "explain"] + list(args), input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    r.took = time.monotonic() - t0
    return r


def explain_json(*args, **kw):
    r = explain(*args, "--json", **kw)
    assert r.returncode in (0, 1, 2), r.stderr
    return r, json.loads(r.stdout)["alerts"]


def by_key(alerts):
    return {(a["cause"], a["peer"]): a for a in alerts}


def pick(a):
    return {k: a[k] for k in COMPARED}


@pytest.fixture(scope="module")
def lab():
    with labmod.Lab() as lb:
        yield lb


@pytest.fixture(scope="module")
def broken(lab):
    """The lab with upwatchd following it, after one burst of failing traffic."""
    d = Daemon(lab.dir, config_text=lab.upwatch_conf_text())
    d.start()
    for name, n in TRAFFIC.items():
        lab.traffic(lab.scenarios[name].path, n, concurrency=n)
    yield d
    d.stop()


def test_explain_names_every_cause_of_the_broken_lab(lab, broken):
    r, alerts = explain_json("-c", lab.upwatch_conf)
    print(f"explain on the broken lab: {r.took:.2f} s")
    assert r.returncode == 2, r.stderr
    got = by_key(alerts)
    for name in TRAFFIC:
        s = lab.scenarios[name]
        a = got.get((s.cause, s.peer))
        assert a, (name, sorted(got))
        assert {k: a[k] for k in s.expected()} == s.expected(), name
        assert a["state"] == "firing"
        assert a["severity"] == ("warning" if s.cause == "backend_slow" else "critical")
    # most severe first
    sev = [a["severity"] for a in alerts]
    assert sev == sorted(sev, key=lambda x: x != "critical")
    # the human form: alerts -v's blocks, then check's verdict line
    h = explain("-c", lab.upwatch_conf)
    assert h.returncode == 2
    assert h.stdout.startswith("SEVERITY STATE")
    assert "    fix:\n" in h.stdout and "    evidence:\n" in h.stdout
    assert h.stdout.rstrip("\n").split("\n")[-1].startswith("UPWATCH CRITICAL - ")


def test_daemon_and_explain_agree_field_by_field(lab, broken):
    want = {}
    for name in TRAFFIC:
        s = lab.scenarios[name]
        want[name] = wait_alert(broken, s.cause, s.peer)
    _, alerts = explain_json("-c", lab.upwatch_conf)
    got = by_key(alerts)
    for name, d in want.items():
        e = got[(d["cause"], d["peer"])]
        assert pick(e) == pick(d), name


def test_alerts_still_names_a_block_with_every_peer_down(lab, broken):
    """`alerts` without --all names a block whose every peer is down through
    the peers' own alerts (blocks_down), whatever no_live_upstreams says
    (diagnosis keeps that one firing while every peer still fails)."""
    s = lab.scenarios["pool"]
    lab.kill_backend("pool")
    assert lab.traffic(s.path, 4) == [502] * 4
    wait_alert(broken, "no_live_upstreams", None, upstream="pool_app")
    for peer in s.peers:
        wait_alert(broken, "backend_down", peer)
    blocks = broken.request({"cmd": "alerts"})["blocks_down"]
    assert {"upstream": "pool_app", "config_ref": s.config_ref, "peers": s.peers} in blocks
    line = f"upstream pool_app ({s.config_ref}): every peer is down: {' '.join(s.peers)}\n"
    assert line in broken.ctl("alerts", check=True).stdout
    h = explain("-c", lab.upwatch_conf)
    assert line in h.stdout


def test_no_probe_reads_the_log_and_connects_nowhere(lab, broken):
    r, alerts = explain_json("-c", lab.upwatch_conf, "--no-probe")
    assert r.returncode == 2, r.stderr
    got = by_key(alerts)
    for name in ("down", "reset", "sock_missing", "sock_stale", "dns"):
        s = lab.scenarios[name]
        assert (s.cause, s.peer) in got, (name, sorted(got))
    # no probe ran: nothing predicts a failure nginx has not met yet, and
    # no explanation quotes a probe
    assert not [a for a in alerts if a["cause"] == "peer_failing"]
    assert not any("Probe:" in a["explanation"] for a in alerts)


def test_pasted_wrapped_lines_on_stdin(lab, broken):
    s = lab.scenarios["down"]
    port = s.peer.split(":")[1]
    with open(lab.error_log) as f:
        lines = [l.rstrip("\n") for l in f if f"127.0.0.1:{port}/" in l]
    assert lines
    # a terminal copy: a prompt, journalctl's prefix, lines wrapped at 80
    text = "root@web:~# journalctl -u nginx --since -15m\n"
    for l in lines:
        l = "Nov 29 20:00:01 web nginx[4242]: " + l
        text += "\n".join(l[i:i + 80] for i in range(0, len(l), 80)) + "\n"
    r, alerts = explain_json("-c", lab.upwatch_conf, "--no-probe", "--log", "-", stdin=text)
    assert r.returncode == 2, r.stderr
    a = by_key(alerts)[("backend_down", s.peer)]
    assert (a["upstream"], a["config_ref"]) == (s.upstream, s.config_ref)
    assert a["count"] == len(lines)
    # the evidence is the unwrapped line, prefix and prompt gone
    assert any(ev.startswith(l[:110]) for ev in a["evidence"] for l in lines), a["evidence"]


def test_progress_on_stderr_only_when_reading_takes_over_a_second(lab, broken):
    """A reader slower than a second (here a pipe fed for 2.5 s) gets a
    progress line on stderr, ended by a newline; a quick read prints none."""
    with open(lab.error_log, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    assert lines
    p = subprocess.Popen([UPWATCHCTL, "explain", "-c", lab.upwatch_conf, "--no-probe", "--json",
                          "--log", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    sent = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.5:  # bounded: stops by itself
        p.stdin.write(lines[sent % len(lines)])
        p.stdin.flush()
        sent += 1
        time.sleep(0.05)
    out, err = p.communicate(timeout=60)  # closes stdin
    err = err.decode()
    assert p.returncode == 2, err
    assert json.loads(out)["alerts"]
    progress = [s for s in err.split("\r") if s.startswith("upwatchctl: reading standard input:")]
    assert progress, err
    assert " MB, " in progress[-1] and " lines" in progress[-1], progress
    assert err.endswith("\n"), repr(err)
    # the same lines at once: no progress line
    r = explain("-c", lab.upwatch_conf, "--no-probe", "--json", "--log", "-",
                stdin=b"".join(lines[:sent]).decode())
    assert r.returncode == 2, r.stderr
    assert "reading standard input" not in r.stderr, r.stderr


def test_large_log_is_entered_by_its_timestamps(lab, broken, tmp_path):
    """2 GB: a 1.9 GiB hole, 100 MiB of entries two hours old naming a peer
    that must not show up, then the lab's real failures of the last minutes."""
    big = tmp_path / "error.log"
    old = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(time.time() - 7200))
    stale = (f"{old} [error] 9#9: *1 connect() failed (111: Connection refused) while "
             "connecting to upstream, client: 127.0.0.1, server: lab.test, request: "
             "\"GET /old/ HTTP/1.1\", upstream: \"http://127.0.0.1:9/old/\", "
             "host: \"lab.test\"\n")
    block = (stale * (1048576 // len(stale) + 1)).encode()
    with open(big, "wb") as f:
        f.truncate(1900 << 20)
        f.seek(1900 << 20)
        f.write(b"\n")
        for _ in range(100):
            f.write(block)
        with open(lab.error_log, "rb") as src:
            f.write(src.read())
    size = os.path.getsize(big)
    assert size >= 2_000_000_000
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M", UPWATCHCTL, "explain", "-c",
                        lab.upwatch_conf, "--no-probe", "--json", "--log", str(big)],
                       capture_output=True, text=True, timeout=120)
    took_s, rss_kb = r.stderr.strip().split("\n")[-1].split()
    print(f"explain on a {size / 1e9:.2f} GB log: {took_s} s, peak RSS {rss_kb} KiB")
    assert r.returncode == 2, r.stderr
    alerts = json.loads(r.stdout)["alerts"]
    s = lab.scenarios["down"]
    assert ("backend_down", s.peer) in by_key(alerts)
    # the two-hour-old entries were never read
    assert not [a for a in alerts if a["peer"] == "127.0.0.1:9"]
    assert int(rss_kb) < 64 * 1024


def test_quiet_healthy_nginx_is_ok(tmp_path):
    b = Backend("ok")
    ngx = nginxlab.Nginx(str(tmp_path), f"""
    upstream app {{ server 127.0.0.1:{b.port}; }}
    server {{ listen 127.0.0.1:@PORT@; location / {{ proxy_pass http://app; }} }}
""")
    try:
        assert ngx.get("/", 3) == [200] * 3
        conf = tmp_path / "upwatch.conf"
        conf.write_text(f"nginx_conf {ngx.conf};\n")
        r = explain("-c", str(conf))
        print(f"explain on a quiet healthy nginx: {r.took:.2f} s")
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("no alerts\nUPWATCH OK - no firing alerts")
        r, alerts = explain_json("-c", str(conf))
        assert (r.returncode, alerts) == (0, [])
    finally:
        ngx.stop()
        b.stop()


def run_in_pty(argv, cols=80, rows=50, timeout=60):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 1)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode().replace("\r\n", "\n")


def test_long_socket_paths_keep_the_table_in_line_at_80_columns(tmp_path):
    # as long as nginx takes (sun_path: 108 bytes)
    run = tmp_path / "run"
    run.mkdir()
    sock = str(run / ("application-" + "y" * (100 - len(str(run)) - 19) + ".sock"))
    assert len(sock) < 100
    ngx = nginxlab.Nginx(str(tmp_path), f"""
    upstream app {{ server unix:{sock}; }}
    server {{ listen 127.0.0.1:@PORT@; location / {{ proxy_pass http://app; }} }}
""")
    try:
        assert ngx.get("/", 2) == [502, 502]
        conf = tmp_path / "upwatch.conf"
        conf.write_text(f"nginx_conf {ngx.conf};\n")
        code, out = run_in_pty([UPWATCHCTL, "explain", "-c", str(conf)])
        assert code == 2, out
        lines = out.split("\n")
        head = lines[0]
        rows = [l for l in lines[1:] if l.startswith(("critical", "warning"))]
        assert rows, out
        for row in rows:
            # the columns after PEER start where their titles do
            since = head.index("SINCE")
            assert row[since - 1] == " " and row[since].isdigit(), row
            peer = row[head.index("PEER"):head.index("SINCE")].rstrip()
            assert peer.startswith("unix:/") and peer.endswith(".sock") and "..." in peer, row
        # the full path stays in the JSON
        _, alerts = explain_json("-c", str(conf))
        assert {a["peer"] for a in alerts} == {"unix:" + sock}
    finally:
        ngx.stop()
