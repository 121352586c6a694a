"""Real Debian backends behind a real nginx, in a temp dir, loopback and unix
sockets only — the host of issue 11, set up as Debian and the upstream
projects document it:

* php-fpm 8.2 (master as root): one pool on a unix socket with Debian's pool
  defaults (user/group www-data, listen.owner/group www-data, listen.mode
  0660, pm dynamic, max_children 5);
* gunicorn (as www-data): a WSGI app on a TCP port, and one on a unix socket;
* uwsgi with its python3 plugin (as www-data): a uwsgi socket (chmod-socket
  660) used through uwsgi_pass;
* a node API (as www-data) that answers 404 on `/` and 200 on /api;
* a node backend that takes 3 s to answer, where nginx's proxy_read_timeout
  is 60 s (and upwatch's probe_timeout is 2 s);
* nginx with `user www-data;`, one location per backend;
* an upwatch.conf (probe_timeout 2s) and the config_ref (file:line) of every
  peer's *_pass or server line, computed from the generated text.

Each backend is a `Service` that can be stopped (SIGTERM, as `systemctl stop`
would), killed (SIGKILL to its whole process group, as a crash or the OOM
killer would: sockets stay behind), started and restarted, and php-fpm's pool
can be rewritten (`lab.php_pool(...)`) for the scenarios of issues 11 and 13
(wrong socket owner, pool too small). Everything stops on DebianLab.stop().
"""
import contextlib
import os
import pwd
import signal
import socket
import subprocess
import threading
import time

from nginxlab import NGINX, ROOT, ConfigText, Sandbox, curls, free_port, stop_process, wait_for

PHP_FPM = "/usr/sbin/php-fpm8.2"
GUNICORN = "/usr/bin/gunicorn"
UWSGI = "/usr/bin/uwsgi"
NODE = "/usr/bin/node"
WEB_USER = "www-data"
PARAMS = os.path.join(ROOT, "tests", "fixtures", "nginx", "debian")


def missing_software():
    """The Debian packages this lab needs that are not installed ([] if all are)."""
    need = {PHP_FPM: "php8.2-fpm", GUNICORN: "gunicorn", UWSGI: "uwsgi", NODE: "nodejs",
            NGINX: "nginx", "/usr/lib/uwsgi/plugins/python3_plugin.so": "uwsgi-plugin-python3"}
    out = [pkg for path, pkg in need.items() if not os.path.exists(path)]
    try:
        pwd.getpwnam(WEB_USER)
    except KeyError:
        out.append("the www-data user")
    return out


WSGI_APP = '''\
def application(environ, start_response):
    body = b"ok from %s\\n" % environ.get("SCRIPT_NAME", "").encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

# node PORT DELAY_MS MODE: MODE "api" answers 404 except under /api, "all" 200 everywhere
NODE_APP = '''\
const http = require("http");
const port = parseInt(process.argv[2], 10);
const delay = parseInt(process.argv[3], 10);
const mode = process.argv[4];
http.createServer((req, res) => {
  setTimeout(() => {
    if (mode === "api" && !req.url.startsWith("/api")) {
      res.writeHead(404, {"Content-Type": "text/plain"});
      res.end("not found\\n");
      return;
    }
    res.writeHead(200, {"Content-Type": "application/json"});
    res.end('{"ok":true}\\n');
  }, delay);
}).listen(port, "127.0.0.1", () => console.log("ready"));
'''

PHP_SCRIPT = "<?php\nheader('Content-Type: text/plain');\necho \"ok from php-fpm\\n\";\n"


class Service:
    """One backend program: started in its own process group, so that kill()
    takes its workers too; `peer` is the key upwatchd names it by."""

    def __init__(self, lab, name, argv, peer, as_user=None, unix=None, port=None):
        self.lab, self.name, self.argv, self.peer = lab, name, argv, peer
        self.as_user = as_user
        self.unix, self.port = unix, port
        self.proc = None
        self.log = os.path.join(lab.dir, "logs", name + ".log")

    def command(self):
        if not self.as_user:
            return self.argv
        return ["setpriv", "--reuid", self.as_user, "--regid", self.as_user, "--init-groups",
                "--"] + self.argv

    def listening(self):
        s = socket.socket(socket.AF_UNIX if self.unix else socket.AF_INET)
        try:
            s.settimeout(0.5)
            s.connect(self.unix if self.unix else ("127.0.0.1", self.port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def start(self):
        if self.proc is not None:
            raise RuntimeError(f"{self.name} already runs")
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, process_group=0,
                                         cwd=self.lab.path("apps"))
        wait_for(lambda: self.listening() or self.proc.poll() is not None, timeout=20,
                 interval=0.05, what=f"{self.name} to listen")
        if self.proc.poll() is not None:
            self.proc = None
            raise RuntimeError(f"{self.name} exited at start:\n" + self.output()[-2000:])
        return self.proc.pid

    def stop(self, timeout=15):
        """A clean stop (SIGTERM to the main process): the program removes what
        it removes on shutdown (php-fpm and gunicorn their unix sockets)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self._reap()

    def kill(self):
        """SIGKILL to the whole process group, as a crash would: a unix socket
        file stays behind (stale)."""
        if self.proc is None:
            return
        self._reap()
        # the main process is reaped; its workers, killed with it, may still
        # hold the listening socket for a moment (a connection then is reset,
        # not refused): the crash is over when nothing accepts any more
        wait_for(lambda: not self.listening(), timeout=10, interval=0.02,
                 what=f"{self.name}'s workers to die")

    def _reap(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def output(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class DebianLab(Sandbox):
    """The lab: `with DebianLab() as lab:`; lab.services[name] for each backend,
    lab.location[name] its path under nginx, lab.config_ref[name] its
    *_pass (or upstream server) line."""

    NAMES = ("php", "gunicorn_tcp", "gunicorn_unix", "uwsgi", "node_api", "slow")

    PREFIX = "upwatch-debian-"

    def __init__(self):
        super().__init__()
        self.services = {}
        self.nginx = None

    # --- building ---

    def _build(self):
        os.chmod(self.dir, 0o755)
        web = pwd.getpwnam(WEB_USER)
        for d in ("logs", "apps", "www", "temp", "run", "run/php"):
            os.makedirs(self.path(d), mode=0o755, exist_ok=True)
        # like /run/gunicorn, /run/uwsgi: the service user's runtime directories
        for d in ("run/gunicorn", "run/uwsgi"):
            os.makedirs(self.path(d), mode=0o755)
            os.chown(self.path(d), web.pw_uid, web.pw_gid)
        self._write("apps/wsgi.py", WSGI_APP)
        self._write("apps/api.js", NODE_APP)
        self._write("www/index.php", PHP_SCRIPT)
        self.port = free_port()
        self.ports = {n: free_port() for n in ("gunicorn_tcp", "node_api", "slow")}
        self.sockets = {"php": self.path("run", "php", "php8.2-fpm.sock"),
                        "gunicorn_unix": self.path("run", "gunicorn", "app.sock"),
                        "uwsgi": self.path("run", "uwsgi", "app.sock")}
        self.php_pool()
        self._services()
        self._write_nginx_conf()
        for s in self.services.values():
            s.start()
        self._start_nginx()

    def _write(self, rel, text):
        with open(self.path(rel), "w") as f:
            f.write(text)
        os.chmod(self.path(rel), 0o644)

    def php_pool(self, **override):
        """Write php-fpm's configuration: Debian's www pool, with `override`
        (e.g. {"listen.owner": "root", "pm.max_children": "1"}). Takes effect
        at the next start of the php service. Returns the pool file."""
        pool = {"user": WEB_USER, "group": WEB_USER, "listen": self.sockets["php"],
                "listen.owner": WEB_USER, "listen.group": WEB_USER, "listen.mode": "0660",
                "pm": "dynamic", "pm.max_children": "5", "pm.start_servers": "2",
                "pm.min_spare_servers": "1", "pm.max_spare_servers": "3"}
        # listen_owner= reads as listen.owner; a dotted key is taken as written
        pool.update({k if "." in k else k.replace("_", "."): v for k, v in override.items()})
        self._write("php-fpm.conf",
                    "[global]\n"
                    f"pid = {self.path('run', 'php', 'php-fpm.pid')}\n"
                    f"error_log = {self.path('logs', 'php-fpm.error.log')}\n"
                    "daemonize = no\n"
                    f"include = {self.path('pool.d')}/*.conf\n")
        os.makedirs(self.path("pool.d"), mode=0o755, exist_ok=True)
        self._write("pool.d/www.conf",
                    "[www]\n" + "".join(f"{k} = {v}\n" for k, v in pool.items()))
        return self.path("pool.d", "www.conf")

    def _services(self):
        p = self.ports
        sv = [
            Service(self, "php", [PHP_FPM, "--nodaemonize", "--fpm-config",
                                  self.path("php-fpm.conf")],
                    "unix:" + self.sockets["php"], unix=self.sockets["php"]),
            Service(self, "gunicorn_tcp", [GUNICORN, "--bind", f"127.0.0.1:{p['gunicorn_tcp']}",
                                           "--workers", "2", "wsgi:application"],
                    f"127.0.0.1:{p['gunicorn_tcp']}", as_user=WEB_USER, port=p["gunicorn_tcp"]),
            Service(self, "gunicorn_unix", [GUNICORN, "--bind",
                                            "unix:" + self.sockets["gunicorn_unix"],
                                            "--umask", "007", "--workers", "2",
                                            "wsgi:application"],
                    "unix:" + self.sockets["gunicorn_unix"], as_user=WEB_USER,
                    unix=self.sockets["gunicorn_unix"]),
            Service(self, "uwsgi", [UWSGI, "--plugin", "python3", "--master", "--processes", "2",
                                    "--socket", self.sockets["uwsgi"], "--chmod-socket=660",
                                    "--wsgi-file", self.path("apps", "wsgi.py"), "--need-app",
                                    "--die-on-term", "--disable-logging"],
                    "unix:" + self.sockets["uwsgi"], as_user=WEB_USER, unix=self.sockets["uwsgi"]),
            Service(self, "node_api", [NODE, self.path("apps", "api.js"), str(p["node_api"]), "0",
                                       "api"],
                    f"127.0.0.1:{p['node_api']}", as_user=WEB_USER, port=p["node_api"]),
            Service(self, "slow", [NODE, self.path("apps", "api.js"), str(p["slow"]), "3000",
                                   "all"],
                    f"127.0.0.1:{p['slow']}", as_user=WEB_USER, port=p["slow"]),
        ]
        self.services = {s.name: s for s in sv}

    def _write_nginx_conf(self):
        c = ConfigText()
        p = self.ports
        c.add(f"user {WEB_USER} {WEB_USER};\n"
              "worker_processes 1;\n"
              "daemon off;\n"
              f"pid {self.path('run', 'nginx.pid')};\n"
              f"error_log {self.error_log} info;\n"
              "events {\n    worker_connections 256;\n}\n"
              "http {\n"
              "    access_log off;\n"
              f"    client_body_temp_path {self.path('temp', 'body')};\n"
              f"    proxy_temp_path {self.path('temp', 'proxy')};\n"
              f"    fastcgi_temp_path {self.path('temp', 'fastcgi')};\n"
              f"    uwsgi_temp_path {self.path('temp', 'uwsgi')};\n"
              f"    scgi_temp_path {self.path('temp', 'scgi')};\n"
              "    upstream gunicorn_tcp {")
        c.add(f"        server 127.0.0.1:{p['gunicorn_tcp']};", mark="gunicorn_tcp")
        c.add("    }\n    upstream node_api {")
        c.add(f"        server 127.0.0.1:{p['node_api']};", mark="node_api")
        c.add("    }\n"
              "    server {\n"
              f"        listen 127.0.0.1:{self.port};\n"
              "        server_name debian.test;\n"
              "        location = / {\n            return 200 \"debian lab\\n\";\n        }\n"
              "        location /php/ {\n"
              f"            include {PARAMS}/fastcgi_params;\n"
              f"            fastcgi_param SCRIPT_FILENAME {self.path('www', 'index.php')};")
        c.add(f"            fastcgi_pass unix:{self.sockets['php']};", mark="php")
        c.add("        }\n        location /gunicorn-tcp/ {")
        c.add("            proxy_pass http://gunicorn_tcp;", mark="gunicorn_tcp.pass")
        c.add("        }\n        location /gunicorn-unix/ {")
        c.add(f"            proxy_pass http://unix:{self.sockets['gunicorn_unix']}:;",
              mark="gunicorn_unix")
        c.add("        }\n        location /uwsgi/ {\n"
              f"            include {PARAMS}/uwsgi_params;")
        c.add(f"            uwsgi_pass unix:{self.sockets['uwsgi']};", mark="uwsgi")
        c.add("        }\n        location /api/ {")
        c.add("            proxy_pass http://node_api;", mark="node_api.pass")
        c.add("        }\n        location /slow/ {")
        c.add("            proxy_read_timeout 60s;", mark="slow.timeout")
        c.add(f"            proxy_pass http://127.0.0.1:{p['slow']};", mark="slow")
        c.add("        }\n    }\n}")
        self.nginx_conf_text = c.text()
        with open(self.nginx_conf, "w") as f:
            f.write(self.nginx_conf_text)
        self.marks = {k: f"{self.nginx_conf}:{v}" for k, v in c.marks.items()}
        self.location = {"php": "/php/", "gunicorn_tcp": "/gunicorn-tcp/",
                         "gunicorn_unix": "/gunicorn-unix/", "uwsgi": "/uwsgi/",
                         "node_api": "/api/", "slow": "/slow/"}
        # where upwatchd points for a peer: its `server` line in an upstream
        # block, else the *_pass that names it
        self.config_ref = {n: self.marks[n] for n in self.NAMES}

    @property
    def nginx_conf(self):
        return self.path("nginx.conf")

    @property
    def error_log(self):
        return self.path("logs", "error.log")

    def upwatch_conf_text(self):
        return (f"nginx_conf {self.nginx_conf};\n"
                "probe_interval 3s;\n"
                "probe_timeout 2s;\n"
                "alert_hold 5s;\n"
                "start_at end;\n")

    def _start_nginx(self):
        r = subprocess.run([NGINX, "-t", "-q", "-c", self.nginx_conf, "-p", self.dir,
                            "-e", self.error_log], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("nginx -t failed:\n" + r.stderr)
        with open(self.path("logs", "nginx.stderr"), "w") as out:
            self.nginx = subprocess.Popen([NGINX, "-c", self.nginx_conf, "-p", self.dir,
                                           "-e", self.error_log], stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: self.nginx.poll() is not None or self.get("/") == [200], timeout=10,
                 interval=0.05, what="nginx to answer")
        if self.nginx.poll() is not None:
            raise RuntimeError("nginx exited at start")

    # --- traffic ---

    def get(self, path, n=1, timeout=10):
        return [curls(self.port, path, 1, timeout)[0] for _ in range(n)]

    def get_many(self, path, n, timeout=10):
        return curls(self.port, path, n, timeout)

    def traffic(self, names, seconds, pause=0.2, limit=1000):
        """Requests to each backend's location, one at a time per backend, for
        `seconds` (at most `limit` each); {name: [status codes]}."""
        codes = {n: [] for n in names}
        deadline = time.monotonic() + seconds

        def run(n):
            while time.monotonic() < deadline and len(codes[n]) < limit:
                codes[n] += curls(self.port, self.location[n], 1, timeout=10)
                time.sleep(pause)
        ts = [threading.Thread(target=run, args=(n,)) for n in names]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return codes

    # --- stopping ---

    def stop(self):
        stop_process(self.nginx)
        self.nginx = None
        for s in self.services.values():
            s.kill()
        super().stop()
