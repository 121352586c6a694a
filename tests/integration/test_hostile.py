"""The daemon under hostile clients, descriptor exhaustion and odd bytes
(issue 15): it refuses clearly, never spins or stalls, keeps every output
valid (JSON UTF-8, terminal without raw controls) and says what it cannot do."""
import json
import os
import socket
import subprocess

from conftest import Client, Daemon, UPWATCHCTL, UPWATCHD, wait_for

BAD_PATH = b"/run/app/\x1b]0;PWNED\x07\x1b[2J.sock"


def error_line(path, request=b'{"cmd":"status"}\n'):
    """Connect, send, return the first line parsed (or None on EOF)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    try:
        s.sendall(request)
    except OSError:
        pass
    buf = b""
    while b"\n" not in buf:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf.split(b"\n")[0]) if b"\n" in buf else None


def test_descriptor_exhaustion_refuses_clients_and_logs_once(workdir):
    d = Daemon(workdir, config_text="probe off;\n", wrap=["prlimit", "--nofile=40:40"])
    d.start()
    held = []
    try:
        # more clients than descriptors: the later ones are refused with a line
        answers = []
        for _ in range(60):
            c = Client(d.sock)
            held.append(c)
            c.send_raw(b'{"cmd":"status"}\n')
        for c in held:
            try:
                answers.append(c.line())
            except (ConnectionError, OSError):
                answers.append(None)
        ok = [a for a in answers if a and a.get("ok")]
        refused = [a for a in answers if a and not a.get("ok")]
        assert ok and refused, answers
        assert all("out of file descriptors" in a["error"] for a in refused), refused
        assert None not in answers
    finally:
        for c in held:
            c.close()
    # served again once the clients are gone; the failure was logged rate-limited
    wait_for(lambda: d.request({"cmd": "status"}).get("ok"), what="status after exhaustion")
    out = d.output()
    assert out.count("accept: Too many open files") == 1, out
    st = d.request({"cmd": "stats"})
    assert st["ipc"]["accept_errors"] >= len(refused)  # + the retries of wait_for above
    d.stop()


def test_pipelined_reloads_are_answered_and_the_loop_keeps_serving(workdir):
    d = Daemon(workdir, config_text="probe off;\n")
    d.start()
    r = d.client()
    r.send_raw(b'{"cmd":"reload"}\n' * 300)
    assert d.request({"cmd": "status"})["ok"]  # another client is served meanwhile
    answers = [r.line() for _ in range(300)]
    assert all(a == {"ok": True} for a in answers)
    r.close()
    st = d.request({"cmd": "status"})
    # requests read before a reload started are answered by it: a handful of
    # reloads at most (the 300 lines may arrive in a few reads)
    print("reloads for 300 pipelined requests:", st["reloads"])
    assert 1 <= st["reloads"] <= 5, st["reloads"]
    d.stop()


def test_socket_activation_lets_the_socket_group_in(workdir):
    sock = os.path.join(workdir, "act.sock")
    d = Daemon(workdir, config_text="probe off;\n",
               wrap=["systemd-socket-activate", "-l", sock])
    d.sock = sock
    d.start(wait=False)
    wait_for(lambda: os.path.exists(sock), what="activation socket")
    os.chown(sock, 0, 65534)  # group nogroup, as SocketGroup= would set it
    os.chmod(sock, 0o660)
    as_member = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    as_stranger = ["setpriv", "--reuid", "65534", "--regid", "65533", "--clear-groups"]
    # root first, so the daemon runs (socket activation starts it on connect)
    wait_for(lambda: d._answers(), what="activated daemon")
    os.chmod(sock, 0o666)  # looser than it should be: the credential check still holds
    r = subprocess.run(as_member + [UPWATCHCTL, "--socket", sock, "status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(as_stranger + [UPWATCHCTL, "--socket", sock, "status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "permission denied" in r.stderr
    d.stop()


def test_odd_bytes_stay_valid_json_and_inert_on_a_terminal(workdir):
    log = os.path.join(workdir, "error.log")
    d = Daemon(workdir, config_text=f"probe off;\nerror_log {log};\nstart_at beginning;\n")
    with open(log, "wb") as f:
        f.write(b"2026/11/21 10:00:00 [crit] 7#7: *1 connect() to unix:" + BAD_PATH +
                b" failed (2: No such file or directory) while connecting to upstream, "
                b"client: 127.0.0.1, server: x, request: \"GET /caf\xe9\xff HTTP/1.1\", "
                b"upstream: \"http://unix:" + BAD_PATH + b":/\", host: \"x\"\n")
    d.start()
    wait_for(lambda: d.request({"cmd": "alerts"})["alerts"], what="an alert")
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(10)
    raw.connect(d.sock)
    raw.sendall(b'{"cmd":"alerts"}\n')
    buf = b""
    while not buf.endswith(b"\n"):
        buf += raw.recv(65536)
    raw.close()
    text = buf.decode("utf-8")  # strict: raises on invalid UTF-8
    reply = json.loads(text)
    assert any("\x1b]0;PWNED" in (a["peer"] or "") for a in reply["alerts"])
    r = subprocess.run([UPWATCHCTL, "--socket", d.sock, "alerts", "-v"], capture_output=True,
                       timeout=30)
    assert r.returncode == 0
    assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout
    assert b"\\x1b]0;PWNED\\x07\\x1b[2J.sock" in r.stdout
    out = d.output()  # the foreground log is a terminal's too
    assert "\x1b" not in out and "\x07" not in out
    d.stop()


def test_unusable_state_dir_and_log_are_problems(workdir):
    log = os.path.join(workdir, "fifo.log")
    os.mkfifo(log)
    d = Daemon(workdir, config_text=f"probe off;\nerror_log {log};\n")
    os.rmdir(d.state)
    with open(d.state, "w") as f:
        f.write("not a directory\n")
    r = subprocess.run([UPWATCHD, "--check-config", "--config", d.config,
                        "--state-dir", d.state] + d.args,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"warning: {log}: not a regular file" in r.stdout
    assert f"warning: {d.state}: cannot write the state directory: not a directory" in r.stdout
    d.start()
    st = d.request({"cmd": "status"})
    kinds = {(p["kind"], p["subject"]) for p in st["problems"]}
    # tail's own faults come first (it also pins the offsets file's failure
    # on every log); the daemon's checks add the state directory
    assert ("error_log", log) in kinds and ("state_dir", d.state) in kinds, st["problems"]
    m = d.ctl("metrics", check=True).stdout
    n_logs = sum(1 for k, _ in kinds if k == "error_log")
    assert f'upwatch_problems{{kind="error_log"}} {n_logs}' in m
    assert 'upwatch_problems{kind="state_dir"} 1' in m
    s = d.ctl("status", check=True).stdout
    assert f"problem:     {log}: " in s and "(error_log)" in s
    d.stop()


def _listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    s.setblocking(False)
    return s


def _accepted(s):
    n = 0
    while True:
        try:
            c, _ = s.accept()
        except BlockingIOError:
            return n
        c.close()
        n += 1


def _errline(port):
    return (f"2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) "
            f"while connecting to upstream, client: 127.0.0.1, server: x, request: "
            f"\"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:{port}/\", host: \"x\"\n")


def _probe_off_case(workdir, upwatch_conf, configured, learned):
    log = os.path.join(workdir, "error.log")
    conf = os.path.join(workdir, "nginx-p.conf")
    with open(conf, "w") as f:
        f.write(f"pid {workdir}/nginx.pid;\nerror_log {log};\nevents {{}}\n"
                f"http {{ upstream app {{ server 127.0.0.1:{configured}; }}\n"
                f"  server {{ location / {{ proxy_pass http://app; }} }} }}\n")
    with open(log, "w") as f:
        f.write(_errline(configured) + _errline(learned))
    d = Daemon(workdir, config_text=upwatch_conf + "start_at beginning;\n", nginx_conf=conf)
    d.start()
    wait_for(lambda: len(d.request({"cmd": "alerts"})["alerts"]) >= 2, what="both alerts")
    return d


def test_probe_off_globally_means_no_connection_even_on_demand(workdir):
    a, b = _listener(), _listener()
    pa, pb = a.getsockname()[1], b.getsockname()[1]
    d = _probe_off_case(workdir, "probe off;\n", pa, pb)
    # diagnosis asked for on-demand probes of both peers: none may start
    assert d.request({"cmd": "stats"})["probes"]["sent"] == 0
    peers = {p["peer"]: p for p in d.request({"cmd": "upstreams"})["peers"]}
    assert peers[f"127.0.0.1:{pb}"]["protocol"] == "tcp"  # learned: probed as tcp
    d.stop()
    assert _accepted(a) == 0 and _accepted(b) == 0


def test_probe_off_for_one_peer_spares_only_that_peer(workdir):
    a, b = _listener(), _listener()
    pa, pb = a.getsockname()[1], b.getsockname()[1]
    d = _probe_off_case(workdir, f"probe_interval 1s;\nprobe_timeout 500ms;\n"
                        f"peer 127.0.0.1:{pa} {{ probe off; }}\n", pa, pb)
    wait_for(lambda: d.request({"cmd": "stats"})["probes"]["sent"] >= 1, what="a probe")
    wait_for(lambda: _accepted(b) >= 1 or None, what="the learned peer probed")
    d.stop()
    assert _accepted(a) == 0


FAKE_JOURNALD = r"""
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind("/run/systemd/journal/socket")
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
time.sleep(600)  # never reads; the test kills it
"""


def test_a_journald_that_does_not_read_never_blocks_the_loop(workdir):
    """A private /run/systemd/journal (mount namespace) whose socket nobody
    reads: alerts queue up to the bound, then count as dropped, and the
    socket keeps answering."""
    if subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        import pytest
        pytest.skip("no mount namespaces here")
    log = os.path.join(workdir, "error.log")
    with open(log, "w") as f:
        for i in range(400):
            f.write(_errline(20000 + i))
    fake = os.path.join(workdir, "fake_journald.py")
    with open(fake, "w") as f:
        f.write(FAKE_JOURNALD)
    ready = os.path.join(workdir, "journald.ready")
    script = (f"mount -t tmpfs tmpfs /run/systemd/journal || exit 1; "
              f"python3 {fake} {ready} & "
              f"while [ ! -e {ready} ]; do sleep 0.01; done; exec \"$@\"")
    d = Daemon(workdir, config_text=f"probe off;\nerror_log {log};\nstart_at beginning;\n")
    # inside whatever namespace the session runs daemons in, one of our own
    # whose journal socket is the fake
    base = d.command()
    at = base.index(UPWATCHD)
    mine = base[:at] + ["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        "sh"] + base[at:]
    d.command = lambda: mine
    try:
        d.start()
        wait_for(lambda: d.request({"cmd": "status"})["alerts_firing"] >= 400,
                 what="400 alerts")
        j = d.request({"cmd": "stats"})["journal"]
        assert j["queued"] == 256
        assert j["dropped"] >= 100  # a few entries fit in the socket before it filled
        m = d.ctl("metrics", check=True).stdout
        assert "upwatch_journal_dropped_total " in m
        d.stop()
    finally:
        if os.path.exists(ready):
            pid = open(ready).read().strip()
            if pid:
                os.kill(int(pid), 9)


def test_what_the_service_user_cannot_read_is_a_warning(workdir):
    """As an unprivileged user: an unreadable error log and an include
    directory it cannot list are warnings of --check-config (not a silent
    "configuration ok" with 0 peers)."""
    secret = os.path.join(workdir, "secret")
    os.makedirs(secret)
    with open(os.path.join(secret, "app.conf"), "w") as f:
        f.write("upstream app { server 127.0.0.1:9; }\n")
    os.chmod(secret, 0o700)
    log = os.path.join(workdir, "error.log")
    with open(log, "w") as f:
        f.write("")
    os.chmod(log, 0o600)
    conf = os.path.join(workdir, "nginx-u.conf")
    with open(conf, "w") as f:
        f.write(f"error_log {log};\nevents {{}}\nhttp {{ include {secret}/*.conf; }}\n")
    state = os.path.join(workdir, "ustate")
    os.makedirs(state)
    os.chown(state, 65534, 65534)
    up = os.path.join(workdir, "u.conf")
    with open(up, "w") as f:
        f.write("probe off;\n")
    r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                        UPWATCHD, "--check-config", "--config", up, "--nginx-conf", conf,
                        "--state-dir", state], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"warning: {log}: cannot open: Permission denied" in r.stdout
    assert (f"warning: {conf}:3: include \"{secret}/*.conf\": cannot read directory "
            f"\"{secret}\" (Permission denied), its files are not read") in r.stdout
