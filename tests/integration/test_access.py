"""Access logs against a real nginx: `combined`, a custom format with the
upstream variables and an escape=json format, each written at location
level, real curl traffic mixing 200s from live backends and 502s from ports
nobody listens on, and nginx's own retries through an upstream block.
Asserts the exact counts per location and per peer the daemon reports,
the impact sentence in the backend_down alert, and the log_format advice
for the log without the upstream variables.

Then: `explain --since` telling impact over its span (older lines skipped);
stream {} sessions counted per server and peer; a served peer failing its
configured health_uri (python3's http.server) as a warning; the early
backend_slow warning before any timeout, and explain's over its --since
span; errors_unlogged behind a crit error_log (alerts, journald, explain),
from a backend's own 502/504 intercepted by proxy_intercept_errors +
error_page, and from php-fpm answering 503 itself; counts carried over upwatch and nginx reloads, with the impact in
journald's MESSAGE."""
import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import (MESSAGE_IDS, UPWATCHCTL, Daemon, check_journal, find, wait_alert,
                      wait_for)
from nginxlab import Backend, Nginx, Traffic, curls, free_port

N_OK, N_DEAD, N_POOL, N_504 = 7, 5, 6, 3

UP_FMT = ("'$remote_addr [$time_local] \"$request\" $status ua=\"$upstream_addr\" '\n"
          "        'us=\"$upstream_status\" urt=\"$upstream_response_time\" rt=$request_time'")
JS_FMT = ("'{\"t\":\"$time_iso8601\",\"host\":\"$host\",\"req\":\"$request\",\"status\":$status,'\n"
          "        '\"ua\":\"$upstream_addr\",\"us\":\"$upstream_status\","
          "\"urt\":\"$upstream_response_time\"}'")


@pytest.fixture
def lab(workdir):
    os.chmod(workdir, 0o755)
    ok_u, ok_j, ok_c = Backend("ok"), Backend("ok"), Backend("ok")
    slow = Backend("slow")  # answers after 3 s: nginx gives up at 1 s with 504
    dead = {k: free_port() for k in ("c", "u", "j", "pool")}
    w = workdir
    body = f"""
    log_format up {UP_FMT};
    log_format js escape=json {JS_FMT};
    upstream pool {{
        server 127.0.0.1:{dead['pool']} max_fails=0;
        server 127.0.0.1:{ok_u.port} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:@PORT@;
        server_name acc.test;
        location /c/ok/ {{ access_log {w}/comb.log; proxy_pass http://127.0.0.1:{ok_c.port}; }}
        location /c/dead/ {{ access_log {w}/comb.log; proxy_pass http://127.0.0.1:{dead['c']}; }}
        location /u/ok/ {{ access_log {w}/up.log up; proxy_pass http://127.0.0.1:{ok_u.port}; }}
        location /u/dead/ {{ access_log {w}/up.log up; proxy_pass http://127.0.0.1:{dead['u']}; }}
        location /u/pool/ {{ access_log {w}/up.log up; proxy_pass http://pool; }}
        location /j/ok/ {{ access_log {w}/js.log js; proxy_pass http://127.0.0.1:{ok_j.port}; }}
        location /j/dead/ {{ access_log {w}/js.log js; proxy_pass http://127.0.0.1:{dead['j']}; }}
        location /u/slow/ {{
            access_log {w}/up.log up;
            proxy_read_timeout 1s;
            proxy_pass http://127.0.0.1:{slow.port};
        }}
    }}"""
    ngx = Nginx(workdir, body)
    d = Daemon(workdir, config_text="probe off;\nstart_at end;\n", nginx_conf=ngx.conf)
    d.start()
    yield ngx, d, dict(ok_u=ok_u.port, ok_j=ok_j.port, ok_c=ok_c.port, slow=slow.port, **dead)
    d.stop()
    ngx.stop()
    for b in (ok_u, ok_j, ok_c, slow):
        b.stop()


def access(d):
    return d.request({"cmd": "stats"})["access"]


def location(acc, loc):
    found = [x for x in acc["locations"] if x["location"] == loc]
    return found[0] if found else None


def peer(acc, key):
    found = [x for x in acc["peers"] if x["peer"] == key]
    return found[0] if found else None


def counts(x):
    return {k: x[k] for k in ("requests", "502", "503", "504", "5xx", "retries")}


def want(requests, s502=0, retries=0):
    return {"requests": requests, "502": s502, "503": 0, "504": 0, "5xx": s502,
            "retries": retries}


def test_counts_per_location_and_peer_in_three_formats(lab):
    ngx, d, ports = lab
    for fmt in ("c", "u", "j"):
        assert ngx.get(f"/{fmt}/ok/x", N_OK) == [200] * N_OK
        assert ngx.get(f"/{fmt}/dead/x", N_DEAD) == [502] * N_DEAD
    assert ngx.get("/u/pool/x", N_POOL) == [200] * N_POOL
    assert ngx.get_many("/u/slow/x", N_504) == [504] * N_504
    total = 3 * (N_OK + N_DEAD) + N_POOL + N_504

    def settled():
        acc = access(d)
        return sum(log["lines"] for log in acc["logs"]) >= total and acc

    acc = wait_for(settled, timeout=15, what="every access-log line counted")
    logs = {os.path.basename(log["path"]): log for log in acc["logs"]}
    assert logs["comb.log"]["lines"] == N_OK + N_DEAD
    assert logs["up.log"]["lines"] == N_OK + N_DEAD + N_POOL + N_504
    assert logs["js.log"]["lines"] == N_OK + N_DEAD
    for log in logs.values():
        assert log["unparsed"] == 0 and log["unmatched"] == 0, log

    for fmt in ("c", "u", "j"):
        assert counts(location(acc, f"/{fmt}/ok/")) == want(N_OK)
        assert counts(location(acc, f"/{fmt}/dead/")) == want(N_DEAD, s502=N_DEAD)
        assert counts(location(acc, f"/{fmt}/dead/")["5m"]) == want(N_DEAD, s502=N_DEAD)
    # round robin over a dead and a live peer: every other request is retried
    assert counts(location(acc, "/u/pool/")) == want(N_POOL, retries=N_POOL // 2)

    # peers: only the formats with $upstream_addr name them
    # every pool request ends at the live peer, half of them after the dead one
    assert counts(peer(acc, f"127.0.0.1:{ports['ok_u']}")) == want(N_OK + N_POOL)
    assert counts(peer(acc, f"127.0.0.1:{ports['u']}")) == want(N_DEAD, s502=N_DEAD)
    assert counts(peer(acc, f"127.0.0.1:{ports['pool']}")) == want(N_POOL // 2,
                                                                    s502=N_POOL // 2)
    assert counts(peer(acc, f"127.0.0.1:{ports['ok_j']}")) == want(N_OK)
    assert counts(peer(acc, f"127.0.0.1:{ports['j']}")) == want(N_DEAD, s502=N_DEAD)
    assert peer(acc, f"127.0.0.1:{ports['ok_c']}") is None
    # nginx gave up on the slow peer after proxy_read_timeout: 504, timed at ~1 s
    slow504 = {"requests": N_504, "502": 0, "503": 0, "504": N_504, "5xx": N_504, "retries": 0}
    assert counts(location(acc, "/u/slow/")) == slow504
    sp = peer(acc, f"127.0.0.1:{ports['slow']}")
    assert counts(sp) == slow504
    # the sketch's bins are 10 % apart: the upper bound of 1.0x s's bin
    assert 1000 <= sp["p50_ms"] <= 1200 and 1000 <= sp["p99_ms"] <= 1200, sp
    assert peer(acc, f"127.0.0.1:{ports['c']}") is None

    # the combined log lacks the upstream variables: the advice names its access_log line
    first = next(i for i, line in enumerate(ngx.text.splitlines(), 1) if "comb.log" in line)
    advice = logs["comb.log"]["advice"]
    assert f"at {ngx.conf}:{first}" in advice
    assert "log_format upstream_info '" in advice
    assert f"access_log {ngx.dir}/comb.log upstream_info;" in advice
    assert "advice" not in logs["up.log"] and "advice" not in logs["js.log"]

    # upstreams: the last minute's 5xx through each peer, and upwatchctl's column
    ups = {p["peer"]: p for p in d.request({"cmd": "upstreams"})["peers"]}
    assert ups[f"127.0.0.1:{ports['u']}"]["access"] == {
        "requests_1m": N_DEAD, "5xx_1m": N_DEAD, "served_1m": False}
    assert ups[f"127.0.0.1:{ports['ok_j']}"]["access"] == {
        "requests_1m": N_OK, "5xx_1m": 0, "served_1m": True}
    assert ups[f"127.0.0.1:{ports['c']}"]["access"] is None
    table = d.ctl("upstreams", check=True).stdout
    header = table.splitlines()[0].split()
    assert "5xx/min" in header
    row = next(line for line in table.splitlines() if line.startswith(f"127.0.0.1:{ports['u']} "))
    assert row.split()[header.index("5xx/min")] == str(N_DEAD)

    # the alert the error log raised carries the access log's impact
    key = f"127.0.0.1:{ports['u']}"
    wait_alert(d, "backend_down", key)
    ref = ngx.ref(f"127.0.0.1:{ports['u']};")
    sentence = re.compile(r"(\d+) requests? to location /u/dead/ \(" + re.escape(ref) +
                          r"\) answered 502 in the last 5 min, 100\.0 % of its traffic")

    def impact():
        a = [x for x in d.request({"cmd": "alerts"})["alerts"]
             if x["cause"] == "backend_down" and x["peer"] == key][0]
        found = [m for m in map(sentence.fullmatch, a["evidence"]) if m]
        return found and (a, found[0])

    a, m = wait_for(impact, timeout=10, what="the impact sentence in the alert")
    assert 1 <= int(m.group(1)) <= N_DEAD
    # the summary (journald's MESSAGE) carries it too
    assert a["summary"].endswith(": " + m.group(0))


@pytest.fixture
def served_lab(workdir):
    os.chmod(workdir, 0o755)
    used, unused = Backend("ok"), Backend("ok")
    w = workdir
    body = f"""
    log_format up {UP_FMT};
    server {{
        listen 127.0.0.1:@PORT@;
        server_name served.test;
        location /api/ {{ access_log {w}/up.log up; proxy_pass http://127.0.0.1:{used.port}; }}
        location /idle/ {{ access_log {w}/up.log up; proxy_pass http://127.0.0.1:{unused.port}; }}
    }}"""
    ngx = Nginx(workdir, body)
    # a probe stricter than the application: it wants 500, the backends answer 200
    conf = (f"probe_interval 1s;\nprobe_timeout 500ms;\nstart_at end;\n"
            f"peer 127.0.0.1:{used.port} {{ expect_status 500; }}\n"
            f"peer 127.0.0.1:{unused.port} {{ expect_status 500; }}\n")
    d = Daemon(workdir, config_text=conf, nginx_conf=ngx.conf)
    d.start()
    yield ngx, d, used.port, unused.port
    d.stop()
    ngx.stop()
    used.stop()
    unused.stop()


def test_peer_nginx_serves_is_not_called_failing_by_a_strict_probe(served_lab):
    ngx, d, used, unused = served_lab
    assert ngx.get("/api/x", 10) == [200] * 10
    wait_for(lambda: (peer(access(d), f"127.0.0.1:{used}") or {}).get("requests") == 10,
             what="the 200s counted")
    # the probe of the idle peer predicts, as before access logs
    wait_alert(d, "peer_failing", f"127.0.0.1:{unused}")

    def probed_since():
        ups = {p["peer"]: p for p in d.request({"cmd": "upstreams"})["peers"]}
        lp = ups[f"127.0.0.1:{used}"]["last_probe"]
        return lp and lp["result"] == "http_status" and lp
    first = wait_for(probed_since, timeout=10, what="a failing probe of the served peer")
    wait_for(lambda: probed_since() and probed_since()["time"] != first["time"], timeout=10,
             what="a second failing probe")
    firing = [a for a in d.request({"cmd": "alerts"})["alerts"]
              if a["peer"] == f"127.0.0.1:{used}" and a["state"] == "firing"]
    assert firing == []


# --- explain over --since ---------------------------------------------------------------

N_HALF = 10


def explain_json(*args):
    r = subprocess.run([UPWATCHCTL, "explain", "--json"] + list(args), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode in (0, 1, 2), r.stderr
    return json.loads(r.stdout)["alerts"]


def old_line(port, minutes_ago, i):
    """A line of the `up` format, as nginx would have written it minutes ago."""
    t = time.localtime(time.time() - minutes_ago * 60)
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", t)
    return (f'127.0.0.1 [{stamp}] "GET /m/old{i} HTTP/1.1" 502 ua="127.0.0.1:{port}" '
            f'us="502" urt="0.001" rt=0.001\n')


def test_explain_tells_impact_over_since(workdir):
    os.chmod(workdir, 0o755)
    ok = Backend("ok")
    dead = free_port()
    w = workdir
    body = f"""
    log_format up {UP_FMT};
    upstream half {{
        server 127.0.0.1:{dead} max_fails=0;
        server 127.0.0.1:{ok.port} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:@PORT@;
        location /m/ {{
            access_log {w}/up.log up;
            proxy_next_upstream off;
            proxy_pass http://half;
        }}
    }}"""
    ngx = Nginx(workdir, body)
    try:
        # an hour-old failure nginx logged before --since: never counted
        with open(os.path.join(w, "up.log"), "a") as f:
            f.writelines(old_line(dead, 60, i) for i in range(20))
        # round robin, no retry: every other request meets the dead peer
        got = ngx.get("/m/x", N_HALF)
        assert sorted(got) == [200] * (N_HALF // 2) + [502] * (N_HALF // 2)
        wait_for(lambda: sum(1 for _ in open(os.path.join(w, "up.log"))) == 20 + N_HALF,
                 what="nginx's access-log lines")
        alerts = explain_json("--nginx-conf", ngx.conf, "--since", "10m", "--no-probe")
        key = f"127.0.0.1:{dead}"
        down = [a for a in alerts if a["cause"] == "backend_down" and a["peer"] == key]
        assert len(down) == 1, alerts
        ref = ngx.ref("proxy_pass http://half;")
        sentence = (f"{N_HALF // 2} requests to location /m/ ({ref}) answered 502 in the "
                    f"last 10 min, 50.0 % of its traffic")
        assert sentence in down[0]["evidence"]
        assert down[0]["summary"].endswith(": " + sentence)
        # over two hours the old lines count too: the span is --since's
        alerts = explain_json("--nginx-conf", ngx.conf, "--since", "2h", "--no-probe")
        down = [a for a in alerts if a["cause"] == "backend_down" and a["peer"] == key]
        assert (f"{20 + N_HALF // 2} requests to location /m/ ({ref}) answered 502 in the "
                f"last 2 h, {100 * (20 + N_HALF // 2) / (20 + N_HALF):.1f} % of its traffic"
                ) in down[0]["evidence"]
    finally:
        ngx.stop()
        ok.stop()


# --- a served peer whose configured health check fails ---------------------------------

def test_served_peer_failing_its_health_uri_is_a_warning(workdir):
    """python3's http.server answers / (a directory listing, 200) and 404 for
    /healthz: nginx is served, the configured health check fails."""
    os.chmod(workdir, 0o755)
    root = os.path.join(workdir, "www")
    os.makedirs(root)
    port = free_port()
    app = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                            "--directory", root, str(port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    ngx = d = None
    try:
        wait_for(lambda: subprocess.run(["curl", "-sf", "-o", "/dev/null",
                                         f"http://127.0.0.1:{port}/"]).returncode == 0,
                 what="http.server to answer")
        w = workdir
        ngx = Nginx(workdir, f"""
    log_format up {UP_FMT};
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ access_log {w}/up.log up; proxy_pass http://127.0.0.1:{port}; }}
    }}""")
        key = f"127.0.0.1:{port}"
        conf = (f"probe_interval 1s;\nprobe_timeout 500ms;\nstart_at end;\n"
                f"peer {key} {{ health_uri /healthz; }}\n")
        d = Daemon(workdir, config_text=conf, nginx_conf=ngx.conf)
        d.start()
        with Traffic(ngx.get, "/", pause=0.2, limit=200):
            # a probe that fails before the first access line is read says
            # "nginx has not hit it yet" (true then); the next probe words it
            # anew once nginx is answered through the peer
            a = wait_for(lambda: (x := find(d, "peer_failing", key)) and
                         x["summary"].endswith(" while nginx is answered through it") and x,
                         timeout=20, interval=0.1, what="the health warning's wording")
            assert a["severity"] == "warning"
            assert a["summary"] == (f"{key} fails its health check GET /healthz (http_status) "
                                    "while nginx is answered through it")
            assert any(e.startswith("probe: GET /healthz: http_status (") for e in a["evidence"])
            assert any(re.fullmatch(rf"access log: \d+ requests through {re.escape(key)} in the "
                                    r"last minute, 0 answered 5xx", e) for e in a["evidence"])
            assert a["config_ref"] == ngx.ref(f"proxy_pass http://127.0.0.1:{port};")
            # nothing pages: the only alert about it is this warning
            firing = [x for x in d.request({"cmd": "alerts"})["alerts"]
                      if x["peer"] == key and x["state"] == "firing"]
            assert [(x["cause"], x["severity"]) for x in firing] == [("peer_failing", "warning")]
    finally:
        if d:
            d.stop()
        if ngx:
            ngx.stop()
        app.kill()
        app.wait()


# --- stream {} access logs ---------------------------------------------------------------

STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
ST_FMT = "'$remote_addr [$time_local] $protocol $status $session_time ua=\"$upstream_addr\"'"
N_SPOOL, N_SDEAD = 6, 4


@pytest.mark.skipif(not os.path.exists(STREAM_MODULE), reason="needs nginx's stream module")
def test_stream_sessions_counted_per_server_and_peer(workdir):
    os.chmod(workdir, 0o755)
    ok = Backend("ok")
    p = {k: free_port() for k in ("pool_listen", "dead_listen", "pool_dead", "dead")}
    w = workdir
    main = f"""load_module {STREAM_MODULE};
stream {{
    log_format st {ST_FMT};
    access_log {w}/stream.log st;
    upstream spool {{
        server 127.0.0.1:{p['pool_dead']} max_fails=0;
        server 127.0.0.1:{ok.port} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:{p['pool_listen']};
        proxy_connect_timeout 1s;
        proxy_pass spool;
    }}
    server {{
        listen 127.0.0.1:{p['dead_listen']};
        proxy_connect_timeout 1s;
        proxy_pass 127.0.0.1:{p['dead']};
    }}
}}
"""
    ngx = Nginx(workdir, "", main=main)
    d = Daemon(workdir, config_text="probe off;\nstart_at end;\n", nginx_conf=ngx.conf)
    d.start()
    try:
        # HTTP through the TCP proxy: the live peer answers, the dead one closes
        assert curls(p["pool_listen"], "/x", 1, 10) == [200]
        for _ in range(N_SPOOL - 1):
            assert curls(p["pool_listen"], "/x", 1, 10) == [200]
        for _ in range(N_SDEAD):
            assert curls(p["dead_listen"], "/x", 1, 10) == [0]

        def settled():
            acc = access(d)
            return sum(lg["lines"] for lg in acc["logs"]) >= N_SPOOL + N_SDEAD and acc

        acc = wait_for(settled, timeout=15, what="every session line counted")
        log = next(lg for lg in acc["logs"] if lg["path"].endswith("/stream.log"))
        assert (log["lines"], log["unparsed"], log["unmatched"]) == (N_SPOOL + N_SDEAD, 0, 0)
        assert log["upstream_vars"] is True and "advice" not in log
        locs = {x["config_ref"]: x for x in acc["locations"]}
        pool = locs[ngx.ref("proxy_pass spool;")]
        dead = locs[ngx.ref(f"proxy_pass 127.0.0.1:{p['dead']};")]
        assert pool["stream"] is True and dead["stream"] is True
        # round robin over a dead and a live peer: every other session retried
        assert counts(pool) == want(N_SPOOL, retries=N_SPOOL // 2)
        assert counts(dead) == want(N_SDEAD, s502=N_SDEAD)
        assert counts(peer(acc, f"127.0.0.1:{ok.port}")) == want(N_SPOOL)
        assert counts(peer(acc, f"127.0.0.1:{p['pool_dead']}")) == want(N_SPOOL // 2,
                                                                         s502=N_SPOOL // 2)
        assert counts(peer(acc, f"127.0.0.1:{p['dead']}")) == want(N_SDEAD, s502=N_SDEAD)
        # the error log's alert about the dead peer tells the sessions it cost
        key = f"127.0.0.1:{p['dead']}"
        ref = ngx.ref(f"proxy_pass 127.0.0.1:{p['dead']};")
        sentence = (f"{N_SDEAD} sessions to stream server (proxy_pass {key}) ({ref}) answered "
                    "502 in the last 5 min, 100.0 % of its traffic")
        wait_alert(d, "backend_down", key)
        wait_for(lambda: sentence in find(d, "backend_down", key)["evidence"], timeout=10,
                 what="the sessions' impact in the alert")
        assert d.stop() == 0, "upwatchd did not exit cleanly:\n" + d.output()[-3000:]
    finally:
        d.stop()
        ngx.stop()
        ok.stop()


# --- backend_slow before anything times out ------------------------------------------------

N_SLOW = 24  # above IMPACT_SLOW_MIN_SAMPLES (20)


def slow_line(port, minutes_ago, i):
    """A line of the `up` format: a 9 s answer, minutes ago."""
    t = time.localtime(time.time() - minutes_ago * 60)
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", t)
    return (f'127.0.0.1 [{stamp}] "GET /s/old{i} HTTP/1.1" 200 ua="127.0.0.1:{port}" '
            f'us="200" urt="9.000" rt=9.000\n')


def test_explain_backend_slow_over_its_since_span(workdir):
    """explain judges the early backend_slow over the whole --since span it
    read: 9 s answers behind a 10 s timeout an hour ago warn over 2 h, and
    not over 10 min (where only fast answers are)."""
    os.chmod(workdir, 0o755)
    ok = Backend("ok")
    w = workdir
    ngx = Nginx(workdir, f"""
    log_format up {UP_FMT};
    server {{
        listen 127.0.0.1:@PORT@;
        location /s/ {{
            access_log {w}/up.log up;
            proxy_read_timeout 10s;
            proxy_pass http://127.0.0.1:{ok.port};
        }}
    }}""")
    try:
        with open(os.path.join(w, "up.log"), "a") as f:
            f.writelines(slow_line(ok.port, 60, i) for i in range(N_SLOW))
        assert ngx.get("/s/x", 3) == [200] * 3
        wait_for(lambda: sum(1 for _ in open(os.path.join(w, "up.log"))) == N_SLOW + 3,
                 what="nginx's access-log lines")
        key = f"127.0.0.1:{ok.port}"
        alerts = explain_json("--nginx-conf", ngx.conf, "--since", "10m", "--no-probe")
        assert [a for a in alerts if a["cause"] == "backend_slow"] == [], alerts
        alerts = explain_json("--nginx-conf", ngx.conf, "--since", "2h", "--no-probe")
        slow = [a for a in alerts if a["cause"] == "backend_slow" and a["peer"] == key]
        assert len(slow) == 1, alerts
        assert slow[0]["severity"] == "warning"
        assert slow[0]["summary"] == (f"{key} is getting slow: p99 upstream response time "
                                      "9.412 s is 94 % of proxy_read_timeout 10 s")
        assert slow[0]["config_ref"] == ngx.ref("proxy_read_timeout 10s;")
        assert slow[0]["explanation"].startswith(
            f"Observed (access log, in the last 2 h): 99 % of nginx's tries to {key} were "
            "answered within 9.412 s")
    finally:
        ngx.stop()
        ok.stop()



def test_backend_slow_early_warning_before_any_timeout(workdir):
    """A backend answering in 3 s behind proxy_read_timeout 3500ms: no
    timeout, no error line, but p99 is above 80 % of the timeout."""
    os.chmod(workdir, 0o755)
    slow = Backend("slow")
    w = workdir
    ngx = Nginx(workdir, f"""
    log_format up {UP_FMT};
    server {{
        listen 127.0.0.1:@PORT@;
        location /slow/ {{
            access_log {w}/up.log up;
            proxy_read_timeout 3500ms;
            proxy_pass http://127.0.0.1:{slow.port};
        }}
    }}""")
    d = Daemon(workdir, config_text="probe off;\nstart_at end;\n", nginx_conf=ngx.conf)
    d.start()
    try:
        assert ngx.get_many("/slow/x", N_SLOW) == [200] * N_SLOW
        key = f"127.0.0.1:{slow.port}"
        a = wait_alert(d, "backend_slow", key, timeout=15)
        assert a["severity"] == "warning"
        m = re.fullmatch(re.escape(key) + r" is getting slow: p99 upstream response time "
                         r"(\d+\.\d{3}) s is (\d+) % of proxy_read_timeout 3\.5 s", a["summary"])
        assert m, a["summary"]
        assert 3.0 <= float(m.group(1)) < 3.5 and 80 < int(m.group(2)) < 100
        assert a["config_ref"] == ngx.ref("proxy_read_timeout 3500ms;")
        assert "proxy_read_timeout 7s;" in a["fix"]
        assert f"access log: p99 upstream_response_time {m.group(1)} s through {key}" \
            in a["evidence"]
        # nothing timed out: the error log holds no line about it
        assert "timed out" not in open(ngx.error_log).read()
    finally:
        d.stop()
        ngx.stop()
        slow.stop()


# --- 502s only the access log knows --------------------------------------------------------

N_UNLOGGED = 6  # above IMPACT_UNLOGGED_MIN (5)


def test_errors_unlogged_behind_a_crit_error_log_in_alerts_and_journald(workdir,
                                                                         needs_journal):
    os.chmod(workdir, 0o755)
    dead = free_port()
    w = workdir
    ngx = Nginx(workdir, f"""
    log_format up {UP_FMT};
    error_log {w}/crit.log crit;
    server {{
        listen 127.0.0.1:@PORT@;
        location /q/ {{ access_log {w}/up.log up; proxy_pass http://127.0.0.1:{dead}; }}
    }}""")
    d = Daemon(workdir, config_text="probe off;\nstart_at end;\n", nginx_conf=ngx.conf)
    d.start()
    try:
        assert ngx.get("/q/x", N_UNLOGGED) == [502] * N_UNLOGGED
        a = wait_alert(d, "errors_unlogged", None, timeout=15)
        ref = ngx.ref(f"proxy_pass http://127.0.0.1:{dead};")
        impact = (f"{N_UNLOGGED} requests to location /q/ ({ref}) answered 502 in the last "
                  "5 min, 100.0 % of its traffic")
        assert a["summary"] == impact + ", and no error-log line says why"
        assert a["severity"] == "warning"
        assert a["evidence"] == [impact]
        crit = ngx.ref("crit.log crit;")
        assert a["config_ref"] == crit
        assert f"error_log {w}/crit.log error;" in a["fix"]
        assert f"error_log {w}/crit.log is at level crit ({crit})" in a["explanation"]
        # nginx logged nothing about these 502s where the daemon could read it
        assert os.path.getsize(os.path.join(w, "crit.log")) == 0
        e = check_journal(needs_journal, a, d)
        assert e["MESSAGE"].startswith(impact)
        # explain tells the same over its --since (default 15 min)
        alerts = explain_json("--nginx-conf", ngx.conf, "--no-probe")
        un = [x for x in alerts if x["cause"] == "errors_unlogged"]
        assert len(un) == 1, alerts
        assert un[0]["summary"] == impact.replace("last 5 min", "last 15 min") + \
            ", and no error-log line says why"
    finally:
        d.stop()
        ngx.stop()


def test_errors_unlogged_when_intercepted_backend_errors_leave_no_error_line(workdir):
    """The backend (a second nginx tier) answers 502 and 504 itself; the
    front intercepts them (proxy_intercept_errors on + error_page) and serves
    its own page with the same status. No error-log line at any level: the
    access log alone has them, and errors_unlogged says so."""
    os.chmod(workdir, 0o755)
    w = workdir
    inner = free_port()
    with open(os.path.join(w, "50x.html"), "w") as f:
        f.write("intercepted\n")
    os.chmod(os.path.join(w, "50x.html"), 0o644)
    ngx = Nginx(workdir, f"""
    log_format up {UP_FMT};
    server {{
        listen 127.0.0.1:{inner};
        location /i/gw504/ {{ return 504 "inner\\n"; }}
        location / {{ return 502 "inner\\n"; }}
    }}
    server {{
        listen 127.0.0.1:@PORT@;
        access_log {w}/up.log up;
        location /i/ {{
            proxy_intercept_errors on;
            error_page 502 504 /50x.html;
            proxy_pass http://127.0.0.1:{inner};
        }}
        location = /50x.html {{ root {w}; internal; }}
    }}""")
    d = Daemon(workdir, config_text="probe off;\nstart_at end;\n", nginx_conf=ngx.conf)
    d.start()
    try:
        assert ngx.get("/i/gw502/x", N_UNLOGGED) == [502] * N_UNLOGGED
        assert ngx.get("/i/gw504/x", 2) == [504] * 2
        # the front's own page, not the backend's body
        r = subprocess.run(["curl", "-s", f"http://127.0.0.1:{ngx.port}/i/gw502/y"],
                           capture_output=True, text=True, timeout=10)
        assert r.stdout == "intercepted\n"
        n502, total = N_UNLOGGED + 1, N_UNLOGGED + 3
        ref = ngx.ref(f"proxy_pass http://127.0.0.1:{inner};")
        impact = (f"{n502} requests to location /i/ ({ref}) answered 502 in the last "
                  f"5 min, {100 * n502 / total:.1f} % of its traffic")
        summary = impact + ", and no error-log line says why"
        # raised after the first 5, refreshed at the ticks after: wait for every line
        a = wait_for(lambda: [x for x in d.request({"cmd": "alerts"})["alerts"]
                              if x["cause"] == "errors_unlogged" and x["summary"] == summary],
                     timeout=15, interval=0.1, what="errors_unlogged over every request")[0]
        assert a["severity"] == "warning"
        assert a["config_ref"] == ref
        assert "proxy_intercept_errors" in a["explanation"]
        assert "the backend answered with that status itself" in a["explanation"]
        assert a["fix"].startswith("Look at the backend's own logs for these requests")
        assert counts(peer(access(d), f"127.0.0.1:{inner}")) == {
            "requests": total, "502": n502, "503": 0, "504": 2, "5xx": total, "retries": 0}
        # nginx (error_log at info) wrote no line about any of them
        assert "upstream" not in open(ngx.error_log).read()
        assert not [x for x in d.request({"cmd": "alerts"})["alerts"]
                    if x["cause"] != "errors_unlogged"]
    finally:
        d.stop()
        ngx.stop()


# --- reloads: the counts go on -----------------------------------------------------------

def test_counts_carried_over_upwatch_and_nginx_reloads(workdir, needs_journal):
    os.chmod(workdir, 0o755)
    ok = Backend("ok")
    dead = free_port()
    w = workdir
    ngx = Nginx(workdir, f"""
    log_format up {UP_FMT};
    server {{
        listen 127.0.0.1:@PORT@;
        location /r/ok/ {{ access_log {w}/up.log up; proxy_pass http://127.0.0.1:{ok.port}; }}
        location /r/dead/ {{ access_log {w}/up.log up; proxy_pass http://127.0.0.1:{dead}; }}
    }}""")
    d = Daemon(workdir, config_text="probe off;\nstart_at end;\n", nginx_conf=ngx.conf)
    d.start()
    key = f"127.0.0.1:{dead}"

    def settled(n):
        def check():
            acc = access(d)
            return sum(lg["lines"] for lg in acc["logs"]) == n and acc
        return wait_for(check, timeout=15, what=f"{n} access-log lines counted")

    def reloads():
        return d.request({"cmd": "status"})["reloads"]

    try:
        assert ngx.get("/r/ok/x", 3) == [200] * 3
        assert ngx.get("/r/dead/x", 5) == [502] * 5
        acc = settled(8)
        assert counts(location(acc, "/r/dead/")) == want(5, s502=5)
        a = wait_alert(d, "backend_down", key)
        # the impact rides in journald's MESSAGE
        sentence = re.compile(r"\d requests? to location /r/dead/ \(" +
                              re.escape(ngx.ref(f"127.0.0.1:{dead};")) +
                              r"\) answered 502 in the last 5 min, 100\.0 % of its traffic")
        a = wait_for(lambda: [x for x in d.request({"cmd": "alerts"})["alerts"]
                              if x["cause"] == "backend_down" and x["peer"] == key and
                              sentence.search(x["summary"])], what="impact in the summary")[0]
        # the error line fired it before the access line was counted: the
        # alert is announced again, once, when its impact is known
        es = needs_journal.wait(lambda es: any(sentence.search(e.get("MESSAGE", ""))
                                               for e in es),
                                UPWATCH_ALERT_ID=a["id"], _PID=d.proc.pid)
        e = next(e for e in es if sentence.search(e["MESSAGE"]))
        assert (e["UPWATCH_CAUSE"], e["UPWATCH_PEER"], e["UPWATCH_STATE"]) == (
            "backend_down", key, "firing")
        assert e["UPWATCH_CONFIG_REF"] == a["config_ref"]
        assert e["MESSAGE_ID"] == MESSAGE_IDS["backend_down"]
        assert len([x for x in es if x.get("UPWATCH_STATE") == "firing"]) <= 2

        # upwatch's own reload: same model, same counts
        before = reloads()
        assert d.request({"cmd": "reload"})["ok"]
        wait_for(lambda: reloads() == before + 1, what="the upwatch reload")
        acc = access(d)
        assert counts(location(acc, "/r/dead/")) == want(5, s502=5)
        assert counts(location(acc, "/r/ok/")) == want(3)
        assert counts(peer(acc, key)) == want(5, s502=5)

        # an edited nginx.conf (every line one down) and nginx's reload
        old_ref = location(acc, "/r/dead/")["config_ref"]
        with open(ngx.conf) as f:
            text = f.read()
        with open(ngx.conf, "w") as f:
            f.write("# edited\n" + text)
        ngx.text = "# edited\n" + text
        before = reloads()
        ngx.reload()
        wait_for(lambda: reloads() > before, timeout=15, what="the reload on the edit")
        acc = access(d)
        dead_loc = location(acc, "/r/dead/")
        assert dead_loc["config_ref"] != old_ref
        assert dead_loc["config_ref"] == ngx.ref(f"127.0.0.1:{dead};")
        assert counts(dead_loc) == want(5, s502=5)
        assert counts(dead_loc["5m"]) == want(5, s502=5)
        assert acc["logs"][0]["lines"] == 8

        # and new lines count on top, once
        assert ngx.get("/r/dead/x", 2) == [502] * 2
        acc = settled(10)
        assert counts(location(acc, "/r/dead/")) == want(7, s502=7)
        assert counts(peer(acc, key)) == want(7, s502=7)
        assert d.stop() == 0, "upwatchd did not exit cleanly:\n" + d.output()[-3000:]
    finally:
        d.stop()
        ngx.stop()
        ok.stop()


PHP_FPM = "/usr/sbin/php-fpm8.2"


@pytest.mark.skipif(not os.path.exists(PHP_FPM), reason="needs php-fpm 8.2")
def test_errors_unlogged_when_the_backend_answers_503_itself(workdir):
    """php-fpm's script answers 503 itself: nginx passes it on and logs no
    error at any level, the access log alone has them."""
    os.chmod(workdir, 0o755)
    w = workdir
    port = free_port()
    with open(os.path.join(w, "busy.php"), "w") as f:
        f.write("<?php\nhttp_response_code(503);\necho \"busy\\n\";\n")
    os.chmod(os.path.join(w, "busy.php"), 0o644)
    with open(os.path.join(w, "php-fpm.conf"), "w") as f:
        f.write(f"[global]\npid = {w}/php-fpm.pid\nerror_log = {w}/php-fpm.log\n"
                f"daemonize = no\n[www]\nuser = nobody\ngroup = nogroup\n"
                f"listen = 127.0.0.1:{port}\npm = static\npm.max_children = 2\n")
    fpm = subprocess.Popen([PHP_FPM, "--nodaemonize", "--fpm-config", f"{w}/php-fpm.conf"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ngx = d = None
    try:
        wait_for(lambda: subprocess.run(["bash", "-c", f"echo > /dev/tcp/127.0.0.1/{port}"],
                                        capture_output=True).returncode == 0,
                 what="php-fpm to listen")
        ngx = Nginx(workdir, f"""
    log_format up {UP_FMT};
    server {{
        listen 127.0.0.1:@PORT@;
        location /php/ {{
            access_log {w}/up.log up;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME {w}/busy.php;
            fastcgi_pass 127.0.0.1:{port};
        }}
    }}""")
        d = Daemon(workdir, config_text="probe off;\nstart_at end;\n", nginx_conf=ngx.conf)
        d.start()
        assert ngx.get("/php/x", N_UNLOGGED) == [503] * N_UNLOGGED
        a = wait_alert(d, "errors_unlogged", None, timeout=15)
        ref = ngx.ref(f"fastcgi_pass 127.0.0.1:{port};")
        impact = (f"{N_UNLOGGED} requests to location /php/ ({ref}) answered 503 in the "
                  "last 5 min, 100.0 % of its traffic")
        assert a["summary"] == impact + ", and no error-log line says why"
        assert a["config_ref"] == ref
        assert "the backend answered with that status itself" in a["explanation"]
        assert a["fix"].startswith("Look at the backend's own logs for these requests")
        assert counts(peer(access(d), f"127.0.0.1:{port}")) == {
            "requests": N_UNLOGGED, "502": 0, "503": N_UNLOGGED, "504": 0, "5xx": N_UNLOGGED,
            "retries": 0}
        # the error log (level info) holds nothing about them
        assert "upstream" not in open(ngx.error_log).read()
    finally:
        if d:
            d.stop()
        if ngx:
            ngx.stop()
        fpm.terminate()
        fpm.wait(timeout=10)
