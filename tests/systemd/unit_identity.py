#!/usr/bin/env python3
"""The identity upwatch.service gives upwatchd, read from the unit file, and
the setpriv(1) command line that reproduces it for tests.

    python3 tests/systemd/unit_identity.py [--json] [--dropin FILE]... [UNIT]

UNIT defaults to systemd/upwatch.service.in; each --dropin (e.g.
contrib/systemd/upwatch-listener-facts.conf) is applied on top, as systemd
applies drop-ins. Without --json it prints the setpriv prefix to put before
the upwatchd command, e.g.

    setpriv --reuid=upwatch --regid=upwatch --groups=upwatch,adm --inh-caps=-all \
        --ambient-caps=-all --bounding-set=-all --no-new-privs --

From Python: identity(unit, dropins) -> dict, setpriv_argv(ident) -> list.
Only what setpriv can reproduce is read (user, group, supplementary groups,
capabilities, no_new_privs); the unit's sandboxing (ProtectSystem=,
PrivateTmp=, the system call filter) needs systemd-run to reproduce.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
UNIT = os.path.join(ROOT, "systemd", "upwatch.service.in")


def _service_lines(path):
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            if section == "Service" and "=" in line:
                key, value = line.split("=", 1)
                yield key.strip(), value.strip()


def _caps(value, current):
    """A capability list setting: empty resets, ~ inverts (not used here)."""
    if value == "":
        return []
    if value.startswith("~"):
        raise ValueError("inverted capability lists are not supported: " + value)
    return sorted(set(current) | {c.lower().removeprefix("cap_") for c in value.split()})


def identity(unit=UNIT, dropins=()):
    ident = {"user": "root", "group": None, "groups": [], "bounding": None,
             "ambient": [], "no_new_privs": False}
    for path in (unit, *dropins):
        for key, value in _service_lines(path):
            if key == "User":
                ident["user"] = value
            elif key == "Group":
                ident["group"] = value
            elif key == "SupplementaryGroups":
                # A list setting: values add up, an empty one resets.
                ident["groups"] = [] if value == "" else ident["groups"] + value.split()
            elif key == "CapabilityBoundingSet":
                ident["bounding"] = _caps(value, [] if value == "" else ident["bounding"] or [])
            elif key == "AmbientCapabilities":
                ident["ambient"] = _caps(value, ident["ambient"])
            elif key == "NoNewPrivileges":
                ident["no_new_privs"] = value.lower() in ("yes", "true", "1", "on")
    if ident["group"] is None:
        ident["group"] = ident["user"]
    return ident


def setpriv_argv(ident):
    def capset(caps):
        return ",".join(["-all"] + ["+" + c for c in caps])
    bounding = ident["bounding"]
    argv = ["setpriv", "--reuid=" + ident["user"], "--regid=" + ident["group"]]
    # systemd gives the user's initgroups() list (its primary group and the
    # /etc/group memberships of upwatch: none) plus SupplementaryGroups=.
    argv.append("--groups=" + ",".join([ident["group"]] + ident["groups"]))
    argv += ["--inh-caps=" + capset(ident["ambient"]),
             "--ambient-caps=" + capset(ident["ambient"]),
             "--bounding-set=" + capset(bounding if bounding is not None else ident["ambient"])]
    if ident["no_new_privs"]:
        argv.append("--no-new-privs")
    return argv + ["--"]


def main(argv):
    as_json = False
    dropins = []
    unit = UNIT
    it = iter(argv)
    for a in it:
        if a == "--json":
            as_json = True
        elif a == "--dropin":
            dropins.append(next(it))
        else:
            unit = a
    ident = identity(unit, dropins)
    if as_json:
        ident["setpriv"] = setpriv_argv(ident)
        print(json.dumps(ident, indent=2))
    else:
        print(" ".join(setpriv_argv(ident)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
