"""Protocol sniffing (issue 13): a real uwsgi --socket (binary uwsgi
protocol), a real php-fpm (FastCGI) and a TLS server (python's ssl) behind
`proxy_pass http://`, the backends'
configurations in a directory upwatchd cannot read (it runs as the unit's
service user), so no software configuration says what they speak. The
probe's sniff hears it; the fix names the pass to use at the proxy_pass
line, and the fix, applied, stops the 502s."""
import os
import signal
import subprocess

import pytest

from conftest import Daemon, find, firing_for, wait_for
from debianlab import PARAMS, PHP_FPM, UWSGI, missing_software
from nginxlab import Backend, Identity, Nginx, free_port

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the service identity)"),
    pytest.mark.skipif(bool(missing_software()), reason=f"missing {missing_software()}"),
]

APP = '''\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok from uwsgi\\n"]
'''


def listening(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class Backends:
    """uwsgi and php-fpm as root masters with nobody workers, configured from
    files under a 0700 directory."""

    def __init__(self, workdir):
        self.secret = os.path.join(workdir, "secret")
        www = os.path.join(workdir, "www")
        os.makedirs(self.secret, mode=0o700)
        os.makedirs(www)
        os.chmod(self.secret, 0o700)
        with open(os.path.join(www, "app.py"), "w") as f:
            f.write(APP)
        with open(os.path.join(www, "index.php"), "w") as f:
            f.write("<?php echo 'ok from php';\n")
        self.uwsgi_port, self.php_port = free_port(), free_port()
        ini = os.path.join(self.secret, "uwsgi.ini")
        with open(ini, "w") as f:
            f.write(f"[uwsgi]\nplugin = python3\nsocket = 127.0.0.1:{self.uwsgi_port}\n"
                    f"wsgi-file = {www}/app.py\nmaster = true\nprocesses = 1\n"
                    "uid = nobody\ngid = nogroup\n")
        fpm = os.path.join(self.secret, "php-fpm.conf")
        with open(fpm, "w") as f:
            f.write(f"[global]\npid = {self.secret}/fpm.pid\nerror_log = {self.secret}/fpm.log\n"
                    f"daemonize = no\n[sniff]\nuser = nobody\ngroup = nogroup\n"
                    f"listen = 127.0.0.1:{self.php_port}\npm = static\npm.max_children = 1\n")
        self.www = www
        cert, key = os.path.join(self.secret, "tls.pem"), os.path.join(self.secret, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", key, "-out", cert, "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        self.tls = Backend("tls", cert=cert, key=key)
        log = open(os.path.join(workdir, "backends.log"), "w")
        self.procs = [
            subprocess.Popen([UWSGI, "--ini", ini], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, process_group=0),
            subprocess.Popen([PHP_FPM, "-n", "-y", fpm, "-F"], stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0),
        ]
        wait_for(lambda: listening(self.uwsgi_port) and listening(self.php_port), timeout=20,
                 what="uwsgi and php-fpm to listen")

    def stop(self):
        self.tls.stop()
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def body(b, fixed=False):
    if fixed:
        u = f"include {PARAMS}/uwsgi_params; uwsgi_pass 127.0.0.1:{b.uwsgi_port};"
        p = (f"include {PARAMS}/fastcgi_params; "
             f"fastcgi_param SCRIPT_FILENAME {b.www}/index.php; "
             f"fastcgi_pass 127.0.0.1:{b.php_port};")
        t = f"proxy_pass https://127.0.0.1:{b.tls.port};"
    else:
        u = f"proxy_pass http://127.0.0.1:{b.uwsgi_port};"
        p = f"proxy_pass http://127.0.0.1:{b.php_port};"
        t = f"proxy_pass http://127.0.0.1:{b.tls.port};"
    return f"""    server {{
        listen 127.0.0.1:@PORT@;
        server_name sniff.test;
        location /u {{
            {u}
        }}
        location /p {{
            {p}
        }}
        location /t {{
            {t}
        }}
    }}
"""


def fix_of(d, peer):
    # main's name for a wrong protocol: the backend drops nginx's bytes, a
    # backend_reset whose fix says what the port speaks
    a = find(d, "backend_reset", peer, state="firing")
    return a if a and "This port speaks" in a["fix"] else None


def test_unreadable_uwsgi_and_php_fpm_are_sniffed_and_the_fix_works(workdir):
    b = Backends(workdir)
    nginx = None
    d = None
    try:
        nginx = Nginx(workdir, body(b))
        ident = Identity("service")
        d = Daemon(workdir, nginx_conf=nginx.conf, identity=ident,
                   config_text="probe_interval 2s;\nprobe_timeout 1s;\n")
        d.start()
        # upwatchd cannot read the configurations that would say it
        assert subprocess.run(ident.wrap + ["cat", os.path.join(b.secret, "uwsgi.ini")],
                              capture_output=True).returncode != 0
        assert nginx.get("/u", 2) == [502, 502]
        assert nginx.get("/p", 2) == [502, 502]
        assert nginx.get("/t", 2) == [502, 502]
        uw, php = f"127.0.0.1:{b.uwsgi_port}", f"127.0.0.1:{b.php_port}"
        a = wait_for(lambda: fix_of(d, uw), timeout=20, what="uwsgi heard")
        ref = nginx.ref(f"proxy_pass http://127.0.0.1:{b.uwsgi_port};")
        assert a["config_ref"] == ref
        assert f"This port speaks uwsgi: use uwsgi_pass at {ref}:" in a["fix"], a["fix"]
        assert f"    uwsgi_pass {uw};" in a["fix"]
        assert "request_terminate_timeout" not in a["fix"]  # no crash template
        assert any("the port speaks uwsgi" in e for e in a["evidence"]), a["evidence"]
        a = wait_for(lambda: fix_of(d, php), timeout=20, what="php-fpm heard")
        ref = nginx.ref(f"proxy_pass http://127.0.0.1:{b.php_port};")
        assert a["config_ref"] == ref
        assert f"This port speaks FastCGI: use fastcgi_pass at {ref}:" in a["fix"], a["fix"]
        assert f"    fastcgi_pass {php};" in a["fix"]
        tls = f"127.0.0.1:{b.tls.port}"
        a = wait_for(lambda: fix_of(d, tls), timeout=20, what="TLS heard")
        ref = nginx.ref(f"proxy_pass http://127.0.0.1:{b.tls.port};")
        assert a["config_ref"] == ref
        assert f"This port speaks TLS: use https:// at {ref}:" in a["fix"], a["fix"]
        assert f"    proxy_pass https://{tls};" in a["fix"]
        for peer in (uw, php, tls):
            assert [x["cause"] for x in firing_for(d, peer)] == ["backend_reset"]
        peers = {p["peer"]: p for p in d.request({"cmd": "upstreams"})["peers"]}
        assert peers[uw]["last_probe"].get("speaks") == "uwsgi"
        assert peers[php]["last_probe"].get("speaks") == "fastcgi"
        assert peers[tls]["last_probe"].get("speaks") == "tls"

        # the fix, applied: the 502s stop
        port = str(nginx.port)
        fixed = nginx.text.replace(body(b).replace("@PORT@", port),
                                   body(b, fixed=True).replace("@PORT@", port))
        assert fixed != nginx.text
        with open(nginx.conf, "w") as f:
            f.write(fixed)
        nginx.reload()
        wait_for(lambda: nginx.get("/u", 3) == [200] * 3, what="uwsgi_pass to answer")
        wait_for(lambda: nginx.get("/p", 3) == [200] * 3, what="fastcgi_pass to answer")
        wait_for(lambda: nginx.get("/t", 3) == [200] * 3, what="https:// to answer")
    finally:
        if d:
            d.stop()
        if nginx:
            nginx.stop()
        b.stop()
