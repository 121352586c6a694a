"""The identity upwatch.service runs upwatchd with, as unit_identity.py reads
it from the unit file: what was decided (and why, in the unit's comments),
and that setpriv reproduces it exactly in a running process."""
import os
import pwd
import shutil
import subprocess

import pytest

import unit_identity as ui

DROPINS = os.path.join(ui.ROOT, "contrib", "systemd")
BUILD = os.environ.get("UPWATCH_BUILD", os.path.join(ui.ROOT, "build"))


def test_unit_runs_as_upwatch_with_adm_and_no_capabilities():
    ident = ui.identity()
    assert ident == {"user": "upwatch", "group": "upwatch", "groups": ["adm"],
                     "bounding": [], "ambient": [], "no_new_privs": True}
    assert ui.setpriv_argv(ident) == [
        "setpriv", "--reuid=upwatch", "--regid=upwatch", "--groups=upwatch,adm",
        "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs",
        "--"]


def test_listener_facts_dropin_adds_cap_sys_ptrace_only():
    ident = ui.identity(dropins=[os.path.join(DROPINS, "upwatch-listener-facts.conf")])
    assert ident["bounding"] == ["sys_ptrace"]
    assert ident["ambient"] == ["sys_ptrace"]
    assert ident["groups"] == ["adm"]


def test_procfs_dropin_changes_no_identity():
    assert ui.identity(dropins=[os.path.join(DROPINS, "upwatch-procfs.conf")]) == ui.identity()


def status_of(argv):
    out = subprocess.run(argv + ["cat", "/proc/self/status"], check=True,
                         capture_output=True, text=True).stdout
    return dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv")
@pytest.mark.parametrize("dropin,caps", [(None, 0), ("upwatch-listener-facts.conf", 1 << 19)])
def test_setpriv_line_gives_the_units_identity(dropin, caps):
    try:
        pw = pwd.getpwnam("upwatch")
    except KeyError:
        pytest.skip("no user upwatch (systemd-sysusers systemd/upwatch.sysusers)")
    dropins = [os.path.join(DROPINS, dropin)] if dropin else []
    st = status_of(ui.setpriv_argv(ui.identity(dropins=dropins)))
    assert st["Uid"].split() == [str(pw.pw_uid)] * 4
    assert st["Gid"].split() == [str(pw.pw_gid)] * 4
    assert sorted(st["Groups"].split(), key=int) == sorted([str(pw.pw_gid), "4"], key=int)
    for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[field], 16) == caps, field
    assert st["NoNewPrivs"].strip() == "1"
