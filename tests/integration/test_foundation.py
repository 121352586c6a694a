"""The daemon skeleton: socket protocol, upwatchctl, reload, signals, limits."""
import grp
import json
import os
import pwd
import signal
import socket
import subprocess
import time

import pytest

from conftest import UPWATCHCTL, UPWATCHD, Client, Daemon, wait_for
from nginxlab import Identity, unit_settings


def test_upwatchctl_status_json_and_human(daemon):
    daemon.start()
    r = daemon.ctl("status", "--json", check=True)
    st = json.loads(r.stdout)
    assert st["ok"] is True
    assert st["pid"] == daemon.proc.pid
    assert st["config"] == daemon.config
    r = daemon.ctl("status", check=True)
    assert f"pid {daemon.proc.pid}" in r.stdout


def test_stats_has_the_design_shape(daemon):
    daemon.start()
    st = daemon.request({"cmd": "stats"})
    assert st["ok"] is True
    for key in ("logs", "events", "probes", "alerts", "ipc", "rss_bytes"):
        assert key in st, key
    assert set(st["alerts"]) >= {"firing", "raised", "resolved"}
    assert set(st["probes"]) >= {"sent", "failed", "by_result"}
    assert st["ipc"]["clients"] == 1
    assert st["rss_bytes"] > 0
    assert daemon.ctl("stats").returncode == 0


def test_garbage_gets_an_error_line_and_the_daemon_stays_up(daemon):
    daemon.start()
    c = daemon.client()
    c.send_raw(b"garbage\n")
    assert c.line() == {"ok": False, "error": "malformed JSON"}
    assert c.request({"cmd": "frobnicate"}) == {"ok": False,
                                                "error": 'unknown command "frobnicate"'}
    c.send_raw(b"\x00\xff\xfe{{{\n")
    assert c.line()["ok"] is False
    assert c.request({"cmd": "status"})["ok"] is True
    c.close()
    assert daemon.proc.poll() is None


def test_upwatchctl_reload_and_exit_codes(daemon):
    daemon.start()
    r = daemon.ctl("reload")
    assert r.returncode == 0, r.stderr
    assert daemon.request({"cmd": "status"})["reloads"] == 1
    r = subprocess.run([UPWATCHCTL, "--socket", daemon.sock + ".absent", "status"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert daemon.sock + ".absent" in r.stderr
    r = daemon.ctl("nosuchcommand")
    assert r.returncode == 1


def test_two_hundred_concurrent_clients_are_each_answered(daemon):
    daemon.start()
    clients = [daemon.client() for _ in range(200)]
    for c in clients:
        c.send_raw(b'{"cmd":"status"}\n')
    answers = [c.line() for c in clients]
    assert all(a["ok"] is True for a in answers)
    st = clients[0].request({"cmd": "stats"})
    assert st["ipc"]["clients"] == 200
    for c in clients:
        c.close()


def test_sighup_with_broken_config_keeps_the_old_one(daemon):
    daemon.start()
    with open(daemon.config, "w") as f:
        f.write("probe_interval 1s;\nprobe_timeout 500ms;\nthis_is_not_a_directive on;\n")
    daemon.signal(signal.SIGHUP)
    st = wait_for(lambda: (s := daemon.request({"cmd": "status"}))["reload_failures"] == 1 and s,
                  what="failed reload")
    assert st["last_reload_error"] == (
        f'{daemon.config}:3: unknown directive "this_is_not_a_directive"')
    assert st["reloads"] == 0
    assert daemon.proc.poll() is None
    r = daemon.ctl("reload")
    assert r.returncode == 1
    assert "this_is_not_a_directive" in r.stderr
    with open(daemon.config, "w") as f:
        f.write("probe_interval 2s;\n")
    assert daemon.ctl("reload").returncode == 0
    st = daemon.request({"cmd": "status"})
    assert st["reloads"] == 1 and st["last_reload_error"] is None


def test_sigterm_removes_the_socket_file(daemon):
    daemon.start()
    assert os.path.exists(daemon.sock)
    daemon.signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=10) == 0
    assert not os.path.exists(daemon.sock)


def test_a_second_daemon_refuses_a_live_socket(daemon):
    daemon.start()
    r = subprocess.run([UPWATCHD, "--foreground", "--config", daemon.config, "--socket",
                        daemon.sock, "--state-dir", daemon.state], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1
    assert "another upwatchd is answering there" in r.stderr
    assert daemon.request({"cmd": "status"})["ok"] is True


def test_bad_config_at_start_names_file_and_line(workdir):
    d = Daemon(workdir, config_text="probe_interval 5s;\nprobe_timeout 9q;\n")
    r = subprocess.run([UPWATCHD, "--foreground", "--config", d.config, "--socket", d.sock],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert f"{d.config}:2: invalid duration \"9q\"" in r.stderr


def test_help_and_version_tell_the_truth():
    r = subprocess.run([UPWATCHD, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for flag in ("--config", "--nginx-conf", "--error-log", "--socket", "--state-dir",
                 "--foreground", "--check-config", "--version"):
        assert flag in r.stdout, flag
    assert subprocess.run([UPWATCHD, "--version"], capture_output=True,
                          text=True).stdout.startswith("upwatchd ")
    r = subprocess.run([UPWATCHCTL, "--help"], capture_output=True, text=True)
    for cmd in ("status", "upstreams", "alerts", "stats", "probe", "reload", "watch", "check",
                "metrics"):
        assert cmd in r.stdout, cmd
    assert subprocess.run([UPWATCHD, "--bogus"], capture_output=True).returncode == 2


def test_service_identity_is_the_units(workdir):
    """The fixture that runs upwatchd 'as the unit runs it' really does:
    the unit's user, group, supplementary groups, capabilities and no_new_privs."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    ident = Identity("service")
    unit = unit_settings()
    d = Daemon(workdir, config_text="probe off;\n", identity=ident).start()
    with open(f"/proc/{d.proc.pid}/status") as f:
        st = dict(ln.rstrip("\n").split(":\t", 1) for ln in f if ":\t" in ln)
    assert os.readlink(f"/proc/{d.proc.pid}/exe") == os.path.realpath(UPWATCHD)
    uid = pwd.getpwnam(unit["User"][0]).pw_uid
    gid = grp.getgrnam(unit["Group"][0]).gr_gid
    assert st["Uid"].split() == [str(uid)] * 4
    assert st["Gid"].split() == [str(gid)] * 4
    want_groups = {grp.getgrnam(g).gr_gid for g in unit.get("SupplementaryGroups", [])}
    assert want_groups <= {int(g) for g in st["Groups"].split()}
    caps = {"CAP_" + c.upper() for c in capabilities(int(st["CapAmb"], 16))}
    assert caps == set(unit.get("AmbientCapabilities", []))
    if not unit.get("CapabilityBoundingSet"):
        assert int(st["CapBnd"], 16) == 0
    assert st["NoNewPrivs"].strip() == "1"
    assert d.request({"cmd": "status"})["ok"] is True


def capabilities(mask):
    """Names of the capabilities in a /proc/PID/status mask, via capsh."""
    r = subprocess.run(["capsh", f"--decode={mask:x}"], capture_output=True, text=True)
    names = r.stdout.strip().split("=", 1)[-1]
    return [n.removeprefix("cap_") for n in names.split(",") if n] if mask else []
