"""Issue 12 end to end: a real nginx with stream (TCP and UDP) servers,
backup peers and the modules people run in front of apps; the built upwatchd
reading its configuration and its error log; the error lines nginx writes
(real traffic where nginx can be made to write them on loopback, appended
otherwise, in nginx's exact formats — tests/corpus/errlog/lines.tsv quotes
each one from a real log).

One nginx and one upwatchd serve the module; every scenario has its own
peers, so tests do not see each other's failures."""
import os
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import Daemon, all_alerts, find, wait_alert, wait_for
from nginxlab import NGINX, Backend, Nginx, free_port

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(NGINX),
    reason="needs root (nginx workers run as nobody) and Debian's nginx")

STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


class Lab:
    def __init__(self, d):
        self.dir = d
        self.ok = Backend("ok")                    # the backup that serves
        self.ports_ok = Backend("ok")              # errno 99's peer: alive
        self.p = {name: free_port() for name in (
            "tcp_dead", "stream", "udp_listen", "udp_peer", "udp_dead_listen", "udp_dead",
            "dead1", "dead2", "chunked", "overrun", "tls", "grpc", "mc", "scgi", "dup", "php",
            "logonly")}
        p = self.p
        # a UDP peer with something on its port, TCP and UDP: whatever
        # upwatchd sent there would be seen
        self.udp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp_sock.bind(("127.0.0.1", p["udp_peer"]))
        self.udp_sock.setblocking(False)
        self.udp_tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.udp_tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp_tcp.bind(("127.0.0.1", p["udp_peer"]))
        self.udp_tcp.listen(8)
        self.udp_tcp.setblocking(False)
        # a unix socket no configuration names, found on disk
        os.makedirs(os.path.join(d, "other"))
        self.disk_sock_path = os.path.join(d, "other", "app.sk")
        self.disk_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.disk_sock.bind(self.disk_sock_path)
        self.disk_sock.listen(8)
        self.puma = os.path.join(d, "puma", "socket")
        main = f"""load_module {STREAM_MODULE};
stream {{
    upstream tcpback {{ server 127.0.0.1:{p['tcp_dead']}; }}
    upstream udpback {{ server 127.0.0.1:{p['udp_peer']}; }}
    upstream udpdead {{ server 127.0.0.1:{p['udp_dead']}; }}
    server {{
        listen 127.0.0.1:{p['stream']};
        proxy_connect_timeout 1s;
        proxy_pass tcpback;
    }}
    server {{
        listen 127.0.0.1:{p['udp_listen']} udp;
        proxy_pass udpback;
    }}
    server {{
        listen 127.0.0.1:{p['udp_dead_listen']} udp;
        proxy_timeout 2s;
        proxy_pass udpdead;
    }}
}}
"""
        body = f"""
    upstream bk {{
        server 127.0.0.1:{p['dead1']};
        server 127.0.0.1:{p['dead2']};
        server 127.0.0.1:{self.ok.port} backup;
    }}
    upstream ports {{ server 127.0.0.1:{self.ports_ok.port}; }}
    server {{
        listen 127.0.0.1:@PORT@;
        server_name lines.test;
        location /bk {{ proxy_pass http://bk; }}
        location /ports {{ proxy_pass http://ports; }}
        location /puma {{ proxy_pass http://unix:{self.puma}; }}
        location /chunked {{ proxy_pass http://127.0.0.1:{p['chunked']}; }}
        location /overrun {{ proxy_pass http://127.0.0.1:{p['overrun']}; }}
        location /tls {{ proxy_pass https://127.0.0.1:{p['tls']}; }}
        location /grpc {{ grpc_pass grpc://127.0.0.1:{p['grpc']}; }}
        location /mc {{ set $memcached_key $uri; memcached_pass 127.0.0.1:{p['mc']}; }}
        location /scgi {{ scgi_pass 127.0.0.1:{p['scgi']}; }}
        location /dup {{ proxy_pass http://127.0.0.1:{p['dup']}; }}
        location /php {{ fastcgi_pass 127.0.0.1:{p['php']}; }}
    }}"""
        self.ngx = Nginx(d, body, main=main)
        # peers only appended lines speak of: never probed, so the log alone decides
        quiet = "".join(f"peer 127.0.0.1:{p[k]} {{ probe off; }}\n" for k in (
            "chunked", "overrun", "tls", "grpc", "mc", "scgi", "dup", "php"))
        quiet += f"peer unix:{self.puma} {{ probe off; }}\n"
        self.d = Daemon(d, config_text=("probe_interval 1s;\nprobe_timeout 500ms;\n"
                                        "probe_retry_interval 1s;\nalert_hold 2s;\n"
                                        "start_at end;\n" + quiet),
                        nginx_conf=self.ngx.conf)
        self.d.start()
        self.conn = 1000

    def append(self, text, level="error"):
        """One entry in nginx's format, appended to the log nginx writes."""
        self.conn += 1
        stamp = time.strftime("%Y/%m/%d %H:%M:%S")
        with open(self.ngx.error_log, "a") as f:
            f.write(f"{stamp} [{level}] 4242#4242: *{self.conn} {text}\n")

    def http_ctx(self, path, upstream):
        return (f', client: 127.0.0.1, server: lines.test, request: "GET {path} HTTP/1.1", '
                f'upstream: "{upstream}", host: "lines.test"')

    def stop(self):
        self.d.stop()
        self.ngx.stop()
        self.ok.stop()
        self.ports_ok.stop()
        for s in (self.udp_sock, self.udp_tcp, self.disk_sock):
            s.close()


@pytest.fixture(scope="module")
def lab():
    with tempfile.TemporaryDirectory(prefix="upwatch-lines-") as d:
        os.chmod(d, 0o755)
        lb = Lab(d)
        try:
            yield lb
        finally:
            lb.stop()


def peers(d):
    return {p["peer"]: p for p in d.request({"cmd": "upstreams"})["peers"]}


def events(d):
    return d.request({"cmd": "stats"})["events"]


def log_stats(lab):
    return next(l for l in lab.d.request({"cmd": "stats"})["logs"]
                if l["path"] == lab.ngx.error_log)


def texts(a):
    return " ".join(a.get(k) or "" for k in ("summary", "explanation", "fix"))


def probed_twice(d, key):
    """Two probe rounds of a probed peer: time for any probe of the others."""
    first = wait_for(lambda: (peers(d)[key]["last_probe"] or {}).get("time"), timeout=15,
                     what=f"a probe of {key}")
    wait_for(lambda: (peers(d)[key]["last_probe"] or {}).get("time") != first, timeout=15,
             what=f"a second probe of {key}")


# --- stream ---

def test_stream_connect_failure_is_tied_to_its_peer_and_diagnosed(lab):
    d, p = lab.d, lab.p
    peer = f"127.0.0.1:{p['tcp_dead']}"
    assert peers(d)[peer]["protocol"] == "tcp"
    before = events(d)["connect_failed"]
    # real traffic: nginx's stream module connects to the dead peer and logs
    # `upstream: "127.0.0.1:N", bytes from/to client:0/0, ...`
    c = socket.create_connection(("127.0.0.1", p["stream"]), timeout=5)
    try:
        c.recv(1)
    except OSError:
        pass
    c.close()
    wait_for(lambda: events(d)["connect_failed"] > before, what="the stream line")
    a = wait_alert(d, "backend_down", peer)
    assert a["upstream"] == "tcpback"
    assert a["config_ref"] == lab.ngx.ref(f"server 127.0.0.1:{p['tcp_dead']};")
    # the recv() variant (104) is recv_failed of the same peer, not "other"
    other, recv = events(d)["other"], events(d)["recv_failed"]
    lab.append(f"recv() failed (104: Connection reset by peer) while proxying and reading from "
               f"upstream, client: 127.0.0.1, server: 127.0.0.1:{p['stream']}, upstream: "
               f'"{peer}", bytes from/to client:5/0, bytes from/to upstream:0/5')
    wait_for(lambda: events(d)["recv_failed"] == recv + 1, what="stream recv() line")
    assert events(d)["other"] == other
    wait_alert(d, "backend_reset", peer)


# --- UDP ---

def test_udp_peer_is_udp_unprobed_and_never_sent_anything(lab):
    d, p = lab.d, lab.p
    peer = f"127.0.0.1:{p['udp_peer']}"
    info = peers(d)[peer]
    assert info["protocol"] == "udp"
    assert info["probed"] is False
    probed_twice(d, f"127.0.0.1:{p['dead1']}")
    assert peers(d)[peer]["last_probe"] is None
    with pytest.raises(BlockingIOError):
        lab.udp_tcp.accept()  # no TCP connect ever reached the port
    with pytest.raises(BlockingIOError):
        lab.udp_sock.recvfrom(512)  # and no datagram
    assert not [a for a in all_alerts(d) if a["peer"] == peer]


def test_udp_peer_evidence_is_its_log_lines(lab):
    """A UDP peer's evidence: nginx's lines. ICMP port unreachable comes back
    as recv() ECONNREFUSED: nothing listens there."""
    d, p = lab.d, lab.p
    peer = f"127.0.0.1:{p['udp_dead']}"
    assert peers(d)[peer]["protocol"] == "udp"
    lab.append(f"recv() failed (111: Connection refused) while proxying and reading from "
               f"upstream, udp client: 127.0.0.1, server: 127.0.0.1:{p['udp_dead_listen']}, "
               f'upstream: "{peer}", bytes from/to client:12/0, bytes from/to upstream:0/12')
    a = wait_alert(d, "backend_down", peer)
    assert a["upstream"] == "udpdead"
    assert peers(d)[peer]["last_probe"] is None  # the alert asked for no probe either


# --- peers nginx never connects to ---

UNPROBED = """user nobody nogroup;
pid {dir}/nginx-unprobed.pid;
error_log {dir}/unprobed-error.log;
events {{}}
http {{
    resolver 127.0.0.53;
    upstream pool {{
        zone pool 64k;
        server 127.0.0.1:{live};
        server 127.0.0.1:{down} down;
        server backend.internal service=http resolve;
    }}
    upstream lua_pool {{
        server 0.0.0.1;
        balancer_by_lua_block {{
            local b = require "ngx.balancer"
            b.set_current_peer("127.0.0.1", {live})
        }}
    }}
    server {{
        listen 127.0.0.1:8080;
        location / {{ proxy_pass http://pool; }}
        location /lua {{ proxy_pass http://lua_pool; }}
    }}
}}
"""


def test_down_lua_placeholder_and_srv_peers_are_never_probed_nor_alerted(workdir):
    """openresty's and nginx 1.27's syntax (Debian's nginx 1.22 knows neither
    balancer_by_lua nor service=): upwatchd reads the configuration without
    running it."""
    live, down = free_port(), free_port()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", down))
    srv.listen(8)
    srv.setblocking(False)
    conf = os.path.join(workdir, "unprobed.conf")
    with open(conf, "w") as f:
        f.write(UNPROBED.format(dir=workdir, live=live, down=down))
    d = Daemon(workdir, config_text="probe_interval 1s;\nprobe_timeout 300ms;\nalert_hold 2s;\n",
               nginx_conf=conf)
    d.start()
    try:
        ps = peers(d)
        for key in (f"127.0.0.1:{down}", "0.0.0.1:80", "srv:_http._tcp.backend.internal"):
            assert ps[key]["probed"] is False, key
        assert "localhost:80" not in ps and "backend.internal:80" not in ps
        # the live one is probed (refused: nothing listens) and alerted on
        probed_twice(d, f"127.0.0.1:{live}")
        wait_alert(d, "peer_failing", f"127.0.0.1:{live}")
        for key in (f"127.0.0.1:{down}", "0.0.0.1:80", "srv:_http._tcp.backend.internal"):
            assert peers(d)[key]["last_probe"] is None, key
            assert not [a for a in all_alerts(d) if a["peer"] == key], key
        with pytest.raises(BlockingIOError):
            srv.accept()  # the down server's port saw no connection
    finally:
        d.stop()
        srv.close()


# --- TLS protocols ---

def test_grpcs_and_suwsgi_peers_are_probed_with_tls(workdir):
    cert, key = os.path.join(workdir, "b.pem"), os.path.join(workdir, "b.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-keyout", key,
                    "-out", cert, "-subj", "/CN=lines.test"], check=True, capture_output=True)
    tls = Backend("tls", cert=cert, key=key)
    plain = Backend("ok")
    conf = os.path.join(workdir, "tlsproto.conf")
    with open(conf, "w") as f:
        f.write(f"pid {workdir}/x.pid;\nerror_log {workdir}/x.log;\nevents {{}}\nhttp {{\n"
                f"  server {{ listen 127.0.0.1:8080;\n"
                f"    location /g {{ grpc_pass grpcs://127.0.0.1:{tls.port}; }}\n"
                f"    location /u {{ uwsgi_pass suwsgi://127.0.0.1:{plain.port}; }}\n  }}\n}}\n")
    d = Daemon(workdir, config_text="probe_interval 1s;\nprobe_timeout 500ms;\n",
               nginx_conf=conf)
    d.start()
    try:
        ps = peers(d)
        assert ps[f"127.0.0.1:{tls.port}"]["protocol"] == "grpcs"
        assert ps[f"127.0.0.1:{plain.port}"]["protocol"] == "suwsgi"
        last = lambda port: peers(d)[f"127.0.0.1:{port}"]["last_probe"]
        # a TLS server completes the handshake; a plain HTTP one answers
        # garbage to a ClientHello: only a TLS probe tells them apart
        ok = wait_for(lambda: last(tls.port), timeout=15, what="grpcs probe")
        bad = wait_for(lambda: last(plain.port), timeout=15, what="suwsgi probe")
        assert ok["result"] == "ok", ok
        assert bad["result"] == "tls_error", bad
    finally:
        d.stop()
        tls.stop()
        plain.stop()


# --- backup ---

def test_backup_serving_while_primaries_are_down_is_a_warning_naming_both(lab):
    d, p = lab.d, lab.p
    assert lab.ngx.get("/bk") == [200]  # both primaries refuse, the backup answers
    dead1, backup = f"127.0.0.1:{p['dead1']}", f"127.0.0.1:{lab.ok.port}"
    a = wait_alert(d, "backend_down", dead1)
    assert a["severity"] == "warning", a
    assert "every primary of upstream bk fails" in a["summary"], a["summary"]
    assert backup in a["summary"], a["summary"]
    assert peers(d)[backup]["backup"] is True
    assert not [x for x in all_alerts(d) if x["cause"] == "no_live_upstreams"
                and x["upstream"] == "bk"]


# --- errno 99 ---

def test_errno_99_is_local_ports_exhausted_with_the_keepalive_fix(lab):
    d = lab.d
    peer = f"127.0.0.1:{lab.ports_ok.port}"
    lab.append(f"connect() to {peer} failed (99: Cannot assign requested address) while "
               "connecting to upstream" + lab.http_ctx("/ports/a", f"http://{peer}/ports/a"),
               level="crit")
    a = wait_alert(d, "local_ports_exhausted", peer)
    assert not find(d, "backend_unreachable", peer)
    fix = a["fix"]
    assert "keepalive" in fix and "proxy_http_version 1.1;" in fix, fix
    assert 'proxy_set_header Connection "";' in fix, fix
    assert lab.ngx.ref("location /ports ") in fix, fix
    assert "ip_local_port_range" in fix, fix
    assert "TIME_WAIT" in texts(a), texts(a)


# --- unix sockets logged without ':' ---

def test_unix_peer_without_colon_is_one_peer_keyed_by_the_socket_path(lab):
    d = lab.d
    sock = f"unix:{lab.puma}"
    for n in (1, 2, 3):
        lab.append(f"connect() to {sock} failed (111: Connection refused) while connecting to "
                   f"upstream" + lab.http_ctx(f"/puma/orders/{n}", f"http://{sock}/orders/{n}"))
    a = wait_for(lambda: (x := find(d, "socket_stale", sock)) and x["count"] == 3 and x,
                 what="three lines on one peer")
    assert a["config_ref"] == lab.ngx.ref("location /puma ")
    # no peer per request URI, neither in the model's list nor learned from logs
    assert [k for k in peers(d) if "puma" in k] == [sock]
    assert not [x for x in all_alerts(d) if x["peer"] and "orders" in x["peer"]]


def test_unix_peer_without_colon_not_in_config_is_keyed_by_the_socket_on_disk(lab):
    d = lab.d
    sock = f"unix:{lab.disk_sock_path}"
    for n in (1, 2):
        lab.append(f"upstream timed out (110: Connection timed out) while reading response "
                   f"header from upstream"
                   + lab.http_ctx(f"/x/{n}", f"http://{sock}/x/{n}"))
    a = wait_for(lambda: (x := find(d, "backend_slow", sock)) and x["count"] == 2 and x,
                 what="two lines on the socket found on disk")
    assert [k for k in peers(d) if "other/" in k] == [sock]
    # a log-only diagnosis: no reference, and no text pointing at one
    assert a["config_ref"] in (None, "")
    for bad in ("at .", "at  ", " at ;", "(at )"):
        assert bad not in texts(a), (bad, texts(a))


# --- the new message kinds ---

KINDS = [
    # path, upstream scheme, message, level, event kind, cause (None: no alert)
    ("chunked", "http", "upstream sent invalid chunked response while reading upstream",
     "error", "invalid_body", "invalid_response"),
    ("overrun", "http", 'upstream sent more data than specified in "Content-Length" header '
     "while reading upstream", "warn", "invalid_body", "invalid_response"),
    ("tls", "https", "upstream timed out (110: Connection timed out) while SSL handshaking to "
     "upstream", "error", "timed_out", "tls_failure"),
    ("grpc", "grpc", "upstream rejected request with error 7 while reading response header "
     "from upstream", "error", "upstream_rejected", "backend_overloaded"),
    ("mc", "memcached", "memcached sent invalid response while reading response header from "
     "upstream", "error", "invalid_header", "invalid_response"),
    ("scgi", "scgi", 'upstream sent invalid header: "\\x01\\x02..." while reading response '
     "header from upstream", "error", "invalid_header", "invalid_response"),
    ("dup", "http", 'upstream sent duplicate header line: "Content-Length: 5", previous value: '
     '"Content-Length: 4" while reading response header from upstream', "error",
     "invalid_header", "invalid_response"),
]


@pytest.mark.parametrize("name,scheme,msg,level,kind,cause", KINDS, ids=[k[0] for k in KINDS])
def test_each_new_message_kind_has_its_diagnosis(lab, name, scheme, msg, level, kind, cause):
    d = lab.d
    peer = f"127.0.0.1:{lab.p[name]}"
    before = events(d)
    lab.append(msg + lab.http_ctx(f"/{name}", f"{scheme}://{peer}/{name}"), level=level)
    wait_for(lambda: events(d)[kind] == before[kind] + 1, what=kind)
    assert events(d)["other"] == before["other"]
    a = wait_alert(d, cause, peer)
    assert a["config_ref"] == lab.ngx.ref(f"location /{name} ")


def test_multi_line_fastcgi_stderr_is_one_entry(lab):
    d = lab.d
    peer = f"127.0.0.1:{lab.p['php']}"
    before, st = events(d), log_stats(lab)
    lab.append('FastCGI sent in stderr: "PHP message: PHP Fatal error:  Uncaught Exception: '
               "boom in /var/www/index.php:3\nStack trace:\n#0 {main}\n  thrown in "
               '/var/www/index.php on line 3" while reading response header from upstream'
               + lab.http_ctx("/php", f"fastcgi://{peer}"))
    wait_for(lambda: events(d)["fastcgi_stderr"] == before["fastcgi_stderr"] + 1,
             what="one fastcgi_stderr entry")
    after = log_stats(lab)
    assert after["lines_unparsed"] == st["lines_unparsed"]
    assert events(d)["other"] == before["other"]


# --- log-only diagnoses ---

def test_a_log_only_diagnosis_never_prints_an_empty_reference(lab):
    d = lab.d
    peer = f"127.0.0.1:{lab.p['logonly']}"  # named by no configuration line
    for path, msg, cause in (
            ("/a", "connect() failed (111: Connection refused) while connecting to upstream",
             "backend_down"),
            ("/b", "upstream sent too big header while reading response header from upstream",
             "header_too_big"),
            ("/c", "upstream timed out (110: Connection timed out) while reading response "
             "header from upstream", "backend_slow"),
            ("/d", "upstream prematurely closed connection while reading response header from "
             "upstream", "backend_reset")):
        lab.append(msg + lab.http_ctx(path, f"http://{peer}{path}").replace(
            "server: lines.test", "server: elsewhere.test"))
        a = wait_alert(d, cause, peer)
        assert a["config_ref"] in (None, "")
        t = texts(a)
        for bad in ("at .", "at  ", "at ;", " at ,", "(at )"):
            assert bad not in t, (cause, bad, t)
