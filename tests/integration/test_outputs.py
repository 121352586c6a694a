"""Outputs besides the socket: the metrics file and `upwatchctl metrics`
(checked with promtool), and the Nagios check."""
import os
import subprocess

from conftest import Daemon, wait_for
from nginxlab import free_port


def promtool_check(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_metrics_file_and_command_pass_promtool(workdir):
    dead = free_port()
    conf = os.path.join(workdir, "nginx-m.conf")
    with open(conf, "w") as f:
        f.write(f"pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\nevents {{}}\n"
                f"http {{ upstream \"we\\\"ird\" {{ server 127.0.0.1:{dead}; }}\n"
                f"  server {{ location / {{ proxy_pass http://we\\\"ird; }} }} }}\n")
    metrics = os.path.join(workdir, "upwatch.prom")
    d = Daemon(workdir, config_text=f"probe_interval 1s;\nprobe_timeout 500ms;\n"
               f"metrics_file {metrics};\nmetrics_interval 1s;\n", nginx_conf=conf)
    d.start()
    try:
        wait_for(lambda: os.path.exists(metrics) and
                 f'upwatch_peer_up{{peer="127.0.0.1:{dead}"' in open(metrics).read(),
                 what="metrics file with the peer")
        text = open(metrics).read()
        promtool_check(text)
        assert f'upwatch_peer_up{{peer="127.0.0.1:{dead}",protocol="http"}} 0' in text
        assert 'upwatch_alerts_firing{cause="peer_failing"} 1' in text
        r = d.ctl("metrics", check=True)
        promtool_check(r.stdout)
        # the check plugin sees the predictive warning
        r = d.ctl("check")
        assert r.returncode == 1, r.stdout
        assert r.stdout.startswith("UPWATCH WARNING - 0 critical, 1 warning:")
    finally:
        d.stop()


def test_check_is_unknown_when_the_daemon_is_unreachable(workdir):
    from conftest import UPWATCHCTL
    r = subprocess.run([UPWATCHCTL, "--socket", os.path.join(workdir, "none.sock"), "check"],
                       capture_output=True, text=True)
    assert r.returncode == 3
    assert r.stdout.startswith("UPWATCH UNKNOWN - cannot reach upwatchd at ")
