"""contrib/completion/upwatchctl.bash, loaded into bash with bash-completion,
completes upwatchctl's options, commands and per-command flags; probe PEER
completes the peers a (stand-in) upwatchctl lists."""
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
COMPLETION = os.path.join(HERE, "..", "..", "contrib", "completion", "upwatchctl.bash")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

pytestmark = pytest.mark.skipif(not os.path.exists(BASH_COMPLETION),
                                reason="bash-completion is not installed")

SCRIPT = """
source %s
source %s
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_upwatchctl
printf '%%s\\n' "${COMPREPLY[@]}"
"""


def complete(*words, path=None):
    env = dict(os.environ)
    if path:
        env["PATH"] = path + ":" + env["PATH"]
    r = subprocess.run(["bash", "-c", SCRIPT % (BASH_COMPLETION, COMPLETION), "bash"]
                       + list(words), capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return sorted(w for w in r.stdout.splitlines() if w)


def test_commands_and_options():
    assert complete("upwatchctl", "") == sorted(
        ["explain", "status", "upstreams", "alerts", "stats", "probe", "reload", "watch", "check",
         "metrics"])
    assert complete("upwatchctl", "st") == ["stats", "status"]
    assert complete("upwatchctl", "--") == ["--help", "--json", "--socket", "--version"]
    assert complete("upwatchctl", "--json", "up") == ["upstreams"]
    assert complete("upwatchctl", "-s", "/run/x.sock", "re") == ["reload"]


def test_alerts_flags():
    assert complete("upwatchctl", "alerts", "-") == ["--all", "--json", "--verbose", "-v"]


def test_explain_flags_and_values(tmp_path):
    assert complete("upwatchctl", "explain", "-") == sorted(
        ["--nginx-conf", "--nginx-dump", "--since", "--log", "--no-probe", "--config",
         "--json"])
    assert complete("upwatchctl", "explain", "--since", "1") == ["15m", "1d", "1h"]
    (tmp_path / "error.log").write_text("")
    os.chdir(tmp_path)
    assert complete("upwatchctl", "explain", "--log", "") == ["-", "error.log"]
    # a value taken by an option is not the command word
    assert complete("upwatchctl", "explain", "--log", "error.log", "--no") == ["--no-probe"]


def test_probe_completes_peers_from_the_daemon(tmp_path):
    fake = tmp_path / "upwatchctl"
    answer = {"ok": True, "peers": [{"peer": "127.0.0.1:8080"},
                                    {"peer": "unix:/run/php/php8.2-fpm.sock"}]}
    fake.write_text("#!/bin/sh\necho \"%s\" >> %s/calls\necho '%s'\n"
                    % ("$*", tmp_path, json.dumps(answer)))
    fake.chmod(0o755)
    assert complete("upwatchctl", "-s", "/run/x.sock", "probe", "", path=str(tmp_path)) == [
        "127.0.0.1:8080", "unix:/run/php/php8.2-fpm.sock"]
    assert (tmp_path / "calls").read_text() == "--socket /run/x.sock --json upstreams\n"
