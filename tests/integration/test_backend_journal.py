"""A backend's own failure signals from its unit's journal (issue 13): real
gunicorn, started as a systemd unit's processes would be — in the cgroup
/system.slice/NAME.service — with its stderr in the session's private
journald (systemd-cat), which therefore records _SYSTEMD_UNIT=NAME.service
from the cgroup exactly as it would under systemd. There is no systemd PID 1
here, so the unit is no real unit: its ExecStart=, Result= and NRestarts
cannot be shown on this machine (the unit tests cover them with a fake).

gunicorn --timeout 2 and a request of 4 s: gunicorn kills its worker (WORKER
TIMEOUT), nginx answers 502 (upstream prematurely closed connection);
upwatchd reads the unit's journal, shows the line with its time as evidence,
and says to raise --timeout above what ran and what nginx waits — and the
value applied makes the 502 stop. As root, and as the service user in group
adm with the journal's ACLs Debian's tmpfiles.d gives it."""
import itertools
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import Daemon, find, wait_alert, wait_for
from debianlab import GUNICORN, WEB_USER, missing_software
from nginxlab import Nginx, curls, free_port
from test_backend_load import SLOW_APP, appdir  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (cgroups, nginx)"),
    pytest.mark.skipif(bool(missing_software()),
                       reason="not installed: " + ", ".join(missing_software())),
]

CGROOT = "/sys/fs/cgroup/unified"  # the hierarchy journald takes units from here
TMPFILES = "/usr/lib/tmpfiles.d/systemd.conf"


def cgroup_root():
    """Where systemd would keep its units' cgroups on this host: the cgroup2
    hierarchy (hybrid: /sys/fs/cgroup/unified; unified: /sys/fs/cgroup)."""
    for root in (CGROOT, "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(root, "cgroup.controllers")):
            return root
    return None


_units = itertools.count()


@pytest.fixture
def unit_cgroup():
    """A cgroup named like a system service; removed afterwards."""
    root = cgroup_root()
    if root is None:
        pytest.skip("no cgroup2 hierarchy to make a unit's cgroup in")
    unit = f"upwatch-test-gunicorn-{os.getpid()}-{next(_units)}.service"  # its own journal
    slice_dir = os.path.join(root, "system.slice")
    made_slice = not os.path.isdir(slice_dir)
    path = os.path.join(slice_dir, unit)
    try:
        os.makedirs(path)
    except OSError as e:
        pytest.skip(f"cannot make a cgroup: {e}")
    yield unit, path
    for pid in open(os.path.join(path, "cgroup.procs")).read().split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not open(os.path.join(path, "cgroup.procs")).read().strip(),
             what="the unit's processes to die")
    os.rmdir(path)
    if made_slice:
        os.rmdir(slice_dir)


class UnitGunicorn:
    """gunicorn as unit `unit` would run it: in its cgroup, as the web user,
    its stderr to the (private) journal; memcg: a memory cgroup to join too."""

    def __init__(self, journal, cgroup, appdir, port, timeout, memcg=None):
        self.journal, self.cgroup, self.appdir = journal, cgroup, appdir
        self.port, self.timeout, self.memcg = port, timeout, memcg
        self.proc = None

    def start(self):
        argv = [GUNICORN, "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
                "--timeout", str(self.timeout), "--chdir", self.appdir, "slow:application"]
        join = f"echo $$ > {self.memcg}/cgroup.procs && " if self.memcg else ""
        script = (f"echo $$ > {self.cgroup}/cgroup.procs && {join}"
                  "exec systemd-cat -t gunicorn -- "
                  f"setpriv --reuid {WEB_USER} --regid {WEB_USER} --init-groups -- "
                  + " ".join(argv))
        self.proc = subprocess.Popen(self.journal.wrap + ["sh", "-c", script], cwd=self.appdir,
                                     stdin=subprocess.DEVNULL, process_group=0)
        wait_for(lambda: self.listening() or self.proc.poll() is not None, timeout=20,
                 interval=0.05, what="gunicorn to listen")
        assert self.proc.poll() is None, "gunicorn exited at start"
        return self

    def listening(self):
        s = socket.socket()
        try:
            s.settimeout(0.5)
            s.connect(("127.0.0.1", self.port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        wait_for(lambda: not self.listening(), timeout=10, what="gunicorn's workers to die")


def debian_journal_acls(journal):
    """What Debian's tmpfiles.d gives group adm on the journal (read), applied
    by systemd-tmpfiles itself inside the private journal's namespace."""
    r = subprocess.run(journal.wrap + ["systemd-tmpfiles", "--create",
                                       "--prefix=/run/log/journal", TMPFILES],
                       capture_output=True, text=True)
    return r.returncode == 0


def test_gunicorn_worker_timeout_in_the_units_journal_raises_its_timeout(
        workdir, appdir, needs_journal, unit_cgroup, identity):
    unit, cgroup = unit_cgroup
    port = free_port()
    body = f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name journal.test;
        location /t/ {{
            proxy_read_timeout 10s;
            proxy_pass http://127.0.0.1:{port};
        }}
    }}"""
    g = UnitGunicorn(needs_journal, cgroup, appdir, port, 2).start()
    # the journal file exists once gunicorn has logged: Debian's ACLs on it
    needs_journal.wait(lambda es: len(es) > 0, _SYSTEMD_UNIT=unit)
    if identity.name == "service" and not debian_journal_acls(needs_journal):
        g.stop()
        pytest.skip("systemd-tmpfiles could not give group adm the journal")
    ngx = Nginx(workdir, body)
    d = Daemon(workdir, config_text="probe_interval 30s;\nprobe_timeout 1s;\nstart_at end;\n",
               nginx_conf=ngx.conf, identity=identity)
    try:
        d.start()
        assert curls(ngx.port, "/t/?sleep=4000", 1, timeout=15) == [502]
        # journald took the unit from gunicorn's cgroup, as under systemd
        entries = needs_journal.wait(
            lambda es: any("WORKER TIMEOUT" in e.get("MESSAGE", "") for e in es),
            _SYSTEMD_UNIT=unit)
        peer = f"127.0.0.1:{port}"
        a = wait_alert(d, "backend_reset", peer)
        want = [e for e in a["evidence"] if e.startswith(f"journal of {unit} ")]
        assert want, a["evidence"]
        m = re.match(rf"journal of {re.escape(unit)} (\S+Z): .*WORKER TIMEOUT \(pid:(\d+)\)",
                     want[0])
        assert m, want[0]
        worker = int(m.group(2))
        entry = next(e for e in entries if f"WORKER TIMEOUT (pid:{worker})" in e["MESSAGE"])
        usec = int(entry["__REALTIME_TIMESTAMP"])
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(usec // 1000000))
        assert m.group(1) == f"{stamp}.{usec // 1000 % 1000:03d}Z"  # the entry's own time
        assert "gunicorn killed the worker serving the request at its own time limit " \
               "(--timeout 2 s)" in a["explanation"], a["explanation"]
        # above the 2 s it cut and the 10 s nginx waits here, with headroom
        m = re.search(r"Raise --timeout at its command line above what these requests take "
                      r"\(they ran more than 2 s; nginx waits 10 s for them here\):\n"
                      r"    --timeout (\d+)\n", a["fix"])
        assert m, a["fix"]
        n = int(m.group(1))
        assert n > 10
        # the fix, applied: the 4 s request is answered
        g.stop()
        g = UnitGunicorn(needs_journal, cgroup, appdir, port, n).start()
        assert curls(ngx.port, "/t/?sleep=4000", 1, timeout=15) == [200]
    finally:
        d.stop()
        ngx.stop()
        g.stop()


@pytest.fixture
def memcg():
    """A memory cgroup (v1, below this process's own) limited to 100 MiB, where
    the kernel's OOM killer acts for real; removed afterwards."""
    own = next((ln.split(":", 2)[2].strip() for ln in open("/proc/self/cgroup")
                if ln.split(":", 2)[1] == "memory"), None)
    base = f"/sys/fs/cgroup/memory{own}" if own else None
    if not base or not os.path.isdir(base):
        pytest.skip("no cgroup v1 memory hierarchy here")
    path = os.path.join(base, f"upwatch-oom-{os.getpid()}")
    try:
        os.mkdir(path)
        with open(os.path.join(path, "memory.limit_in_bytes"), "w") as f:
            f.write(str(100 * 1024 * 1024))
    except OSError as e:
        pytest.skip(f"cannot make a memory cgroup: {e}")
    yield path
    for pid in open(os.path.join(path, "cgroup.procs")).read().split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not open(os.path.join(path, "cgroup.procs")).read().strip(),
             what="the memory cgroup's processes to die")
    os.rmdir(path)


def oom_kills(memcg):
    for ln in open(os.path.join(memcg, "memory.oom_control")):
        if ln.startswith("oom_kill "):
            return int(ln.split()[1])
    return 0


def test_a_worker_the_oom_killer_ends_is_told_from_the_units_journal(
        workdir, appdir, needs_journal, unit_cgroup, memcg, identity):
    unit, cgroup = unit_cgroup
    port = free_port()
    body = f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name journal.test;
        location /t/ {{ proxy_pass http://127.0.0.1:{port}; }}
    }}"""
    g = UnitGunicorn(needs_journal, cgroup, appdir, port, 30, memcg=memcg).start()
    needs_journal.wait(lambda es: len(es) > 0, _SYSTEMD_UNIT=unit)
    if identity.name == "service" and not debian_journal_acls(needs_journal):
        g.stop()
        pytest.skip("systemd-tmpfiles could not give group adm the journal")
    ngx = Nginx(workdir, body)
    d = Daemon(workdir, config_text="probe_interval 30s;\nprobe_timeout 1s;\nstart_at end;\n",
               nginx_conf=ngx.conf, identity=identity)
    try:
        d.start()
        # a master that started just before the errors reads as a restart:
        # this one has run a while, as a unit's would
        time.sleep(2.0)
        assert curls(ngx.port, "/t/?alloc=20", 1, timeout=15) == [200]
        # 200 MiB in a unit limited to 100: the kernel kills the worker
        assert curls(ngx.port, "/t/?alloc=200", 1, timeout=15) == [502]
        assert oom_kills(memcg) >= 1  # the OOM killer's doing, for real
        entries = needs_journal.wait(
            lambda es: any("terminated due to signal 9" in e.get("MESSAGE", "") for e in es),
            _SYSTEMD_UNIT=unit)
        peer = f"127.0.0.1:{port}"
        # gunicorn logs the kill just after nginx saw the connection close:
        # the words follow at a tick
        a = wait_for(lambda: next((x for x in [find(d, "backend_reset", peer)] if x and any(
            e.startswith(f"journal of {unit} ") for e in x["evidence"])), None),
            timeout=10, what="the unit's journal in the alert")
        want = [e for e in a["evidence"] if e.startswith(f"journal of {unit} ")]
        assert want and "was terminated due to signal 9" in want[0], a["evidence"]
        m = re.search(r"Worker with pid (\d+) was terminated", want[0])
        assert any(f"Worker with pid {m.group(1)} was terminated due to signal 9" in e["MESSAGE"]
                   for e in entries)
        assert "a worker was killed with SIGKILL while it served requests" in a["explanation"]
        assert "journalctl -k --grep 'Out of memory'" in a["fix"], a["fix"]
        assert "run fewer at its command line (now 1)" in a["fix"], a["fix"]
        assert f"systemctl set-property {unit} MemoryMax=" in a["fix"], a["fix"]
        # the fix, applied: more memory for the unit, and the request passes
        with open(os.path.join(memcg, "memory.limit_in_bytes"), "w") as f:
            f.write(str(1024 * 1024 * 1024))
        wait_for(lambda: g.listening(), what="gunicorn's new worker")
        assert curls(ngx.port, "/t/?alloc=200", 1, timeout=15) == [200]
    finally:
        d.stop()
        ngx.stop()
        g.stop()
