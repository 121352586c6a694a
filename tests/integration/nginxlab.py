"""The integration tests' shared lab: one of each thing a test needs.

* the JSON socket client, free_port and the backend processes come from
  contrib/demo/lab.py (the demo runs on the same code): `Client`,
  `free_port()` (a loopback port below the ephemeral range), `Backend(kind)`;
* `Nginx`: a small real nginx on a generated config in a temp dir;
* `curls()`: concurrent curl requests;
* `Journal`: a systemd-journald of the test session's own, in a private mount
  namespace (a tmpfs over /run/systemd/journal, its files in a temp dir), so
  that nothing a test does reaches the host's journal or its socket files;
* `Identity`: how upwatchd is started — as root, or exactly as
  systemd/upwatch.service.in runs it (its User=, Group=, SupplementaryGroups=,
  capabilities and NoNewPrivileges=, read from the unit file);
* `message_ids()`: cause name -> MESSAGE_ID, from systemd/upwatch.catalog.
"""
import json
import os
import pwd
import grp
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "contrib", "demo"))
import lab as demolab  # noqa: E402
from lab import (Backend, Client, ConfigText, Sandbox, free_port, line_of,  # noqa: E402,F401
                 stop_process)

NGINX = demolab.NGINX
JOURNALD = "/lib/systemd/systemd-journald"
UNIT_FILE = os.path.join(ROOT, "systemd", "upwatch.service.in")
SYSUSERS_FILE = os.path.join(ROOT, "systemd", "upwatch.sysusers")
CATALOG = os.path.join(ROOT, "systemd", "upwatch.catalog")


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred until it returns something true; return that, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def message_ids():
    """cause -> MESSAGE_ID, as systemd/upwatch.catalog documents them."""
    with open(CATALOG) as f:
        text = f.read()
    ids = {}
    for block in re.split(r"^-- ", text, flags=re.M)[1:]:
        m = re.search(r"^Cause: (\w+)$", block, flags=re.M)
        if m:
            ids[m.group(1)] = block.split()[0]
    assert ids, f"no 'Cause:' entries in {CATALOG}"
    return ids


# --- nginx and traffic -------------------------------------------------------------------

def curls(port, path, n, timeout, wrap=()):
    """n concurrent requests to 127.0.0.1:port/path; their status codes (0: none)."""
    procs = [subprocess.Popen(list(wrap) + ["curl", "-s", "-o", "/dev/null", "-m", str(timeout),
                                            "-w", "%{http_code}",
                                            f"http://127.0.0.1:{port}{path}"],
                              stdout=subprocess.PIPE, text=True) for _ in range(n)]
    return [int(p.communicate()[0] or 0) for p in procs]


RUNNING_NGINX = []  # every Nginx not yet stopped (conftest stops a test's leftovers)


class Traffic:
    """Requests in the background, one at a time, until the `with` block ends
    (at most `limit`): `get(path)` returns a list of status codes."""

    def __init__(self, get, path, pause=0.1, limit=2000):
        self.get, self.path, self.pause, self.limit = get, path, pause, limit
        self.codes = []
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run)

    def _run(self):
        while not self.stop_ev.is_set() and len(self.codes) < self.limit:
            self.codes += self.get(self.path)
            self.stop_ev.wait(self.pause)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.t.join()


class Nginx:
    """A real nginx (master as root, workers as `user`) on a generated config;
    http_body goes inside http {}, with @PORT@ replaced by its port."""

    def __init__(self, workdir, http_body, user="nobody nogroup", worker_connections=128,
                 wrap=(), main=""):
        self.wrap = list(wrap)  # run nginx and curl through this, e.g. ip netns exec
        self.dir = workdir
        self.port = free_port()
        self.error_log = os.path.join(workdir, "error.log")
        self.conf = os.path.join(workdir, "nginx.conf")
        tmp = os.path.join(workdir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        self.text = f"""user {user};
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {self.error_log} info;
{main}events {{
    worker_connections {worker_connections};
}}
http {{
    access_log off;
    client_body_temp_path {tmp};
    proxy_temp_path {tmp};
    fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp};
    scgi_temp_path {tmp};
{http_body.replace('@PORT@', str(self.port))}
}}
"""
        with open(self.conf, "w") as f:
            f.write(self.text)
        r = subprocess.run(self.wrap + [NGINX, "-t", "-q", "-c", self.conf], capture_output=True,
                           text=True)
        assert r.returncode == 0, "nginx -t: " + r.stderr
        subprocess.run(self.wrap + [NGINX, "-c", self.conf], check=True)
        RUNNING_NGINX.append(self)
        self.pid = int(open(os.path.join(workdir, "nginx.pid")).read())

    def ref(self, needle):
        """"file:line" of the only line of the config containing needle."""
        return f"{self.conf}:{line_of(self.text, needle)}"

    def get(self, path, n=1, timeout=10):
        return [curls(self.port, path, 1, timeout, self.wrap)[0] for _ in range(n)]

    def get_many(self, path, n, timeout=10):
        return curls(self.port, path, n, timeout, self.wrap)

    def reopen_logs(self):
        os.kill(self.pid, signal.SIGUSR1)

    def reload(self):
        subprocess.run(self.wrap + [NGINX, "-c", self.conf, "-s", "reload"], check=True)

    def stop(self):
        if self in RUNNING_NGINX:
            RUNNING_NGINX.remove(self)
        subprocess.run(self.wrap + [NGINX, "-c", self.conf, "-s", "stop"], capture_output=True)
        wait_for(lambda: not os.path.exists(os.path.join(self.dir, "nginx.pid")), timeout=10,
                 interval=0.05, what="nginx to stop")


# --- journald, private to the test session ------------------------------------------------

class Journal:
    """systemd-journald in a mount namespace of its own: a tmpfs over
    /run/systemd/journal (its sockets) and a temp dir bound over
    /run/log/journal (its files; /var/log/journal, if the host has one, gets
    a tmpfs too). Programs that must log to it run through `wrap`
    (nsenter into that namespace); `entries()` reads its files from outside.
    stop() ends journald, its namespace goes with it, and the temp dir is
    removed: nothing is left on the host."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="upwatch-journal-")
        self.files = os.path.join(self.dir, "files")
        os.makedirs(self.files)
        mounts = ["mount -t tmpfs -o mode=0755 tmpfs /run/systemd/journal",
                  f"mount --bind {self.files} /run/log/journal"]
        if os.path.isdir("/var/log/journal"):
            mounts.append("mount -t tmpfs -o mode=0755 tmpfs /var/log/journal")
        for target in ("/run/systemd/journal", "/run/log/journal"):
            if not os.path.isdir(target):
                raise RuntimeError(f"{target} does not exist: no mount point for a private journal")
        script = " && ".join(mounts) + f" && exec {JOURNALD}"
        self.out = open(os.path.join(self.dir, "journald.out"), "w")
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--",
                                      "sh", "-c", script], stdout=self.out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wrap = ["nsenter", "-t", str(self.proc.pid), "-m", "--"]
        try:
            wait_for(lambda: self._answers() or self.proc.poll() is not None,
                     what="private journald socket")
            if self.proc.poll() is not None:
                raise RuntimeError("systemd-journald exited at start: " +
                                   open(self.out.name).read())
        except BaseException:
            self.stop()
            raise

    def _answers(self):
        return subprocess.run(self.wrap + ["test", "-S", "/run/systemd/journal/socket"],
                              capture_output=True).returncode == 0

    def entries(self, **match):
        args = ["journalctl", "-D", self.files, "-o", "json", "--no-pager"]
        args += [f"{k}={v}" for k, v in match.items()]
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        return [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]

    def wait(self, pred, timeout=10.0, **match):
        got = []

        def ready():
            got[:] = self.entries(**match)
            return pred(got)
        wait_for(ready, timeout=timeout, interval=0.2, what=f"journal entries {match}")
        return got

    def stop(self):
        stop_process(self.proc)
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def journal_available():
    return os.geteuid() == 0 and os.access(JOURNALD, os.X_OK) and shutil.which("unshare") \
        and shutil.which("nsenter")


# --- who upwatchd runs as ---------------------------------------------------------------

def unit_settings(path=UNIT_FILE):
    """[Service] settings of the unit file: name -> list of values, in order
    (an empty assignment resets the list, as systemd reads it)."""
    out = {}
    section = None
    with open(path) as f:
        for raw in f:
            ln = raw.strip()
            if not ln or ln[0] in "#;":
                continue
            if ln.startswith("["):
                section = ln.strip("[]")
                continue
            if section != "Service" or "=" not in ln:
                continue
            k, v = ln.split("=", 1)
            k, v = k.strip(), v.strip()
            if not v:
                out[k] = []
            else:
                out.setdefault(k, []).extend(v.split())
    return out


def _caps(names):
    """["CAP_SYS_PTRACE"] -> "-all,+sys_ptrace" for setpriv."""
    return ",".join(["-all"] + ["+" + n.lower().removeprefix("cap_") for n in names])


def _bounding(values):
    """CapabilityBoundingSet= values (possibly "~" inverted) -> setpriv's form."""
    if not values:
        return "-all"
    if values[0].startswith("~"):
        drop = [values[0][1:]] + values[1:]
        return ",".join(["+all"] + ["-" + n.lower().removeprefix("cap_") for n in drop])
    return _caps(values)


class Identity:
    """upwatchd's identity: "root", or "service" — User=, Group=,
    SupplementaryGroups=, AmbientCapabilities=, CapabilityBoundingSet= and
    NoNewPrivileges= of systemd/upwatch.service.in, applied with setpriv."""

    def __init__(self, name):
        assert name in ("root", "service"), name
        self.name = name
        self.user = self.group = None
        self.wrap = []
        if name == "service":
            self._from_unit()

    def __repr__(self):
        return self.name

    def _from_unit(self):
        u = unit_settings()
        self.user = u["User"][0]
        self.group = (u.get("Group") or [self.user])[0]
        ensure_service_user(self.user)
        pw = pwd.getpwnam(self.user)
        gid = grp.getgrnam(self.group).gr_gid
        groups = sorted({grp.getgrnam(g).gr_gid for g in u.get("SupplementaryGroups", [])} |
                        set(os.getgrouplist(self.user, gid)))
        ambient = u.get("AmbientCapabilities", [])
        self.wrap = ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(gid),
                     "--groups", ",".join(map(str, groups)),
                     "--bounding-set", _bounding(u.get("CapabilityBoundingSet", [])),
                     "--inh-caps", _caps(ambient), "--ambient-caps", _caps(ambient)]
        if ambient:  # the ambient set must survive the change of uid
            self.wrap[1:1] = ["--securebits", "+keep_caps"]
        if (u.get("NoNewPrivileges") or ["no"])[-1] in ("yes", "true", "1", "on"):
            self.wrap.append("--no-new-privs")
        self.wrap.append("--")
        self.uid, self.gid = pw.pw_uid, gid

    def own(self, *paths):
        """Let upwatchd write where it must (its socket's and state directory)."""
        if self.name == "service":
            for p in paths:
                os.chown(p, self.uid, self.gid)


def ensure_service_user(user):
    """Create the unit's user from the repository's sysusers file, as a
    package installation would (systemd-sysusers), when it does not exist."""
    try:
        pwd.getpwnam(user)
        return
    except KeyError:
        pass
    r = subprocess.run(["systemd-sysusers", SYSUSERS_FILE], capture_output=True, text=True)
    assert r.returncode == 0, "systemd-sysusers: " + r.stderr
    pwd.getpwnam(user)


IDENTITIES = ["root", "service"]
