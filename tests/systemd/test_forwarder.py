"""contrib/forward-alertmanager.sh against a local HTTP receiver on 127.0.0.1
that records what it is sent, and against a real Alertmanager when Debian's
prometheus-alertmanager is installed (skipped otherwise).

The forwarder reads alert lines from stdin when given "-", so these tests feed
it the lines `upwatchctl --json watch` prints, without a daemon.

Run: /usr/bin/python3 -m pytest tests/systemd/test_forwarder.py
"""

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FORWARDER = os.path.join(HERE, "..", "..", "contrib", "forward-alertmanager.sh")

FIRING = {
    "id": "7f3a9c",
    "cause": "backend_down",
    "severity": "critical",
    "state": "firing",
    "upstream": "backend",
    "peer": "127.0.0.1:8080",
    "first_seen": "2026-11-21T11:15:52.123Z",
    "last_seen": "2026-11-21T11:16:02.456Z",
    "count": 3,
    "summary": "connect() to 127.0.0.1:8080 refused: nothing listens there",
    "explanation": "nginx could not connect to 127.0.0.1:8080 (errno 111).",
    "fix": "systemctl start app.service",
    "config_ref": "/etc/nginx/sites-enabled/app:12",
    "evidence": ["connect() failed (111: Connection refused)"],
}
RESOLVED = dict(FIRING, state="resolved", last_seen="2026-11-21T11:20:00.000Z")

EXPECTED_LABELS = {
    "alertname": "backend_down",
    "peer": "127.0.0.1:8080",
    "upstream": "backend",
    "severity": "critical",
    "instance": "test-host",
    "job": "upwatch",
}
EXPECTED_ANNOTATIONS = {
    "summary": FIRING["summary"],
    "fix": FIRING["fix"],
    "explanation": FIRING["explanation"],
    "config_ref": FIRING["config_ref"],
    "alert_id": "7f3a9c",
}


class Receiver:
    """A tiny Alertmanager stand-in: records every request; answers with the
    queued status codes first, 200 after."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(
                    (self.path, self.headers.get("Content-Type"), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self):
        return [json.loads(body) for _, _, body in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def forward(url, lines, instance="test-host"):
    return subprocess.run(
        ["bash", FORWARDER, "-u", url, "-i", instance, "-"],
        input="".join(line + "\n" for line in lines),
        capture_output=True, text=True, timeout=60)


def test_firing_then_resolved_posts_two_alert_lists(receiver):
    p = forward(receiver.url, [json.dumps({"event": "raised", "alert": FIRING}),
                               json.dumps({"event": "resolved", "alert": RESOLVED})])
    assert p.returncode == 0, p.stderr
    assert [path for path, _, _ in receiver.requests] == ["/api/v2/alerts"] * 2
    assert [ctype for _, ctype, _ in receiver.requests] == ["application/json"] * 2
    assert receiver.bodies() == [
        [{"labels": EXPECTED_LABELS, "annotations": EXPECTED_ANNOTATIONS,
          "startsAt": "2026-11-21T11:15:52.123Z"}],
        [{"labels": EXPECTED_LABELS, "annotations": EXPECTED_ANNOTATIONS,
          "startsAt": "2026-11-21T11:15:52.123Z",
          "endsAt": "2026-11-21T11:20:00.000Z"}],
    ]


def test_bare_alert_lines_are_forwarded_too(receiver):
    p = forward(receiver.url, [json.dumps(FIRING)])
    assert p.returncode == 0, p.stderr
    assert receiver.bodies() == [
        [{"labels": EXPECTED_LABELS, "annotations": EXPECTED_ANNOTATIONS,
          "startsAt": "2026-11-21T11:15:52.123Z"}]]


def test_lines_that_are_not_alerts_are_skipped(receiver):
    p = forward(receiver.url, [
        '{"ok": true, "subscribed": true}',
        "not json at all",
        '{"ok": false, "error": "unknown command"}',
        "[1, 2, 3]",
        "",
        json.dumps({"event": "raised", "alert": FIRING}),
    ])
    assert p.returncode == 0, p.stderr
    assert len(receiver.requests) == 1
    assert receiver.bodies()[0][0]["labels"]["alertname"] == "backend_down"


def test_no_upstream_and_epoch_times(receiver):
    alert = dict(FIRING, cause="worker_connections_exhausted", severity="critical",
                 upstream=None, peer=None, state="resolved",
                 first_seen=1795000000123, last_seen=1795000060000)
    p = forward(receiver.url, [json.dumps({"alert": alert})])
    assert p.returncode == 0, p.stderr
    body = receiver.bodies()
    assert body == [[{
        "labels": {"alertname": "worker_connections_exhausted", "severity": "critical",
                   "instance": "test-host", "job": "upwatch"},
        "annotations": EXPECTED_ANNOTATIONS,
        "startsAt": "2026-11-18T11:06:40Z",
        "endsAt": "2026-11-18T11:07:40Z",
    }]]


def test_a_failed_post_is_retried(receiver):
    receiver.statuses = [500]
    p = forward(receiver.url, [json.dumps({"alert": FIRING})])
    assert p.returncode == 0, p.stderr
    assert len(receiver.requests) == 2
    assert receiver.bodies()[0] == receiver.bodies()[1]


def test_an_unreachable_alertmanager_drops_the_alert_and_goes_on():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    p = forward("http://127.0.0.1:%d" % port, [json.dumps({"alert": FIRING})])
    assert p.returncode == 0
    assert "alert dropped" in p.stderr
    assert time.monotonic() - t0 < 30


# --- a real Alertmanager, when installed ---------------------------------------

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


@pytest.fixture
def alertmanager(tmp_path):
    if not ALERTMANAGER:
        pytest.skip("prometheus-alertmanager is not installed")
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n")
    port = free_port()
    proc = subprocess.Popen(
        [ALERTMANAGER, "--config.file=%s" % cfg, "--storage.path=%s" % tmp_path,
         "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("alertmanager did not become ready")
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_real_alertmanager_accepts_firing_and_resolved(alertmanager):
    now = int(time.time() * 1000)
    firing = dict(FIRING, first_seen=now - 5000, last_seen=now)
    p = forward(alertmanager, [json.dumps({"alert": firing})])
    assert p.returncode == 0, p.stderr

    alerts = get_json(alertmanager + "/api/v2/alerts")
    assert len(alerts) == 1
    assert alerts[0]["labels"] == EXPECTED_LABELS
    assert alerts[0]["annotations"] == EXPECTED_ANNOTATIONS
    assert alerts[0]["status"]["state"] == "active"

    resolved = dict(firing, state="resolved", last_seen=now + 1000)
    time.sleep(1.5)  # endsAt must be in the past for Alertmanager to call it resolved
    p = forward(alertmanager, [json.dumps({"alert": resolved})])
    assert p.returncode == 0, p.stderr
    assert get_json(alertmanager + "/api/v2/alerts") == []


# --- daemon mode, with a stand-in upwatchctl ------------------------------------

FAKE_UPWATCHCTL = """#!/bin/bash
# Stand-in for upwatchctl: "alerts" lists one firing and one resolved alert,
# "watch" prints one event and exits as if upwatchd had gone away.
echo "$*" >> "$(dirname "$0")/calls"
case "$*" in
    *"--json alerts") echo '%s' ;;
    *"--json watch") echo '%s' ;;
    *) exit 2 ;;
esac
"""


def test_daemon_mode_sends_firing_alerts_then_changes_and_resends(receiver, tmp_path):
    listing = json.dumps({"ok": True, "alerts": [FIRING, RESOLVED]})
    event = json.dumps({"event": "resolved", "alert": RESOLVED})
    fake = tmp_path / "upwatchctl"
    fake.write_text(FAKE_UPWATCHCTL % (listing, event))
    fake.chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (tmp_path, os.environ["PATH"]))
    proc = subprocess.Popen(
        ["bash", FORWARDER, "-u", receiver.url, "-i", "test-host", "-r", "1",
         "-s", "/run/test.sock"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while len(receiver.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=10)
    firing = [{"labels": EXPECTED_LABELS, "annotations": EXPECTED_ANNOTATIONS,
               "startsAt": "2026-11-21T11:15:52.123Z"}]
    resolved = [dict(firing[0], endsAt="2026-11-21T11:20:00.000Z")]
    bodies = receiver.bodies()
    # the firing alerts at connect, then the change from watch, then a re-send
    assert bodies[:3] == [firing, resolved, firing]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[:2] == ["--socket /run/test.sock --json alerts",
                         "--socket /run/test.sock --json watch"]
