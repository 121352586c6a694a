"""The nginx configuration model as the daemon exposes it: --check-config,
--nginx-dump, the `upstreams` command, and live reload on file changes."""
import json
import os
import subprocess

from conftest import UPWATCHD, Daemon, wait_for

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "nginx")
POOL = os.path.realpath(os.path.join(FIXTURES, "pool", "nginx.conf"))


def check_config(*args, stdin=None):
    return subprocess.run([UPWATCHD, "--check-config", "--config", "/dev/null"] + list(args),
                          capture_output=True, text=True, input=stdin, timeout=30)


def test_check_config_lists_peers_with_file_and_line():
    r = check_config("--nginx-conf", POOL)
    assert r.returncode == 0, r.stderr
    for peer in ("127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.2:8003", "127.0.0.3:8004"):
        assert peer in r.stdout, peer
    assert f"{POOL}:17" in r.stdout
    assert "configuration ok" in r.stdout


def test_check_config_fails_with_file_and_line(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n    upstream a { server 127.0.0.1:1; }\n")
    r = check_config("--nginx-conf", str(conf))
    assert r.returncode == 1
    assert f"{conf}:4: unexpected end of file" in r.stderr


def test_nginx_dump_on_stdin_gives_the_same_peers(tmp_path):
    (tmp_path / "logs").mkdir()
    direct = check_config("--nginx-conf", POOL)
    dump = subprocess.run(["nginx", "-T", "-c", os.path.abspath(POOL), "-p", str(tmp_path),
                           "-g", f"pid {tmp_path}/nginx.pid;"],
                          capture_output=True, text=True, timeout=30)
    assert dump.returncode == 0, dump.stderr
    r = check_config("--nginx-dump", "-", stdin=dump.stdout)
    assert r.returncode == 0, r.stderr
    peers = lambda out: sorted(l.split()[0] for l in out.splitlines()
                               if l.startswith("  ") and ":" in l.split()[0]
                               and not l.startswith("    "))
    assert peers(r.stdout) == peers(direct.stdout)


def test_upstreams_command_returns_design_peer_objects(workdir):
    d = Daemon(workdir, config_text="probe_interval 1s;\nprobe_timeout 300ms;\n",
               nginx_conf=POOL)
    d.start()
    try:
        resp = d.request({"cmd": "upstreams"})
        assert resp["ok"] is True
        peers = {p["peer"]: p for p in resp["peers"]}
        p = peers["127.0.0.1:8001"]
        assert p["protocol"] == "http"
        assert p["upstreams"] == ["pool"]
        assert all(":" in ref for ref in p["locations"])
        assert p["state"] in ("up", "down", "unknown")
        assert "last_probe" in p and "listener" in p
        # nothing listens there: the first probe says refused
        wait_for(lambda: d.request({"cmd": "upstreams"})["peers"][0]["last_probe"],
                 what="a probe result")
        lp = next(x for x in d.request({"cmd": "upstreams"})["peers"]
                  if x["peer"] == "127.0.0.1:8001")["last_probe"]
        assert lp["result"] == "refused"
        human = d.ctl("upstreams", check=True).stdout
        assert "127.0.0.1:8001" in human and "refused" in human
    finally:
        d.stop()


def test_upstreams_marks_peers_nginx_never_connects_to(workdir):
    conf = os.path.realpath(os.path.join(FIXTURES, "unprobed", "nginx.conf"))
    d = Daemon(workdir, config_text="probe_interval 1s;\nprobe_timeout 300ms;\n",
               nginx_conf=conf)
    d.start()
    try:
        peers = {p["peer"]: p for p in d.request({"cmd": "upstreams"})["peers"]}
        for key in ("127.0.0.1:8002", "srv:_http._tcp.backend.internal", "0.0.0.1:80", "0.0.0.2:80"):
            assert peers[key]["probed"] is False, key
        assert "probed" not in peers["127.0.0.1:8001"]
        assert "probed" not in peers["127.0.0.1:8004"]  # down in one block, live in another
        assert peers["127.0.0.1:8003"]["backup"] is True
        assert "backup" not in peers["127.0.0.1:8006"]  # a proxy_pass names it directly
    finally:
        d.stop()


def test_check_config_names_udp_and_tls_protocols():
    conf = os.path.realpath(os.path.join(FIXTURES, "protocols", "nginx.conf"))
    r = check_config("--nginx-conf", conf)
    assert r.returncode == 0, r.stderr
    for line in ("  127.0.0.53:53 udp upstream dns\n      not probed: udp\n",
                 "  127.0.0.1:50052 grpcs\n", "  127.0.0.1:3032 suwsgi\n",
                 "  127.0.0.1:11211 memcached\n"):
        assert line in r.stdout, line


def test_editing_an_included_file_reloads_the_model(workdir):
    conf_d = os.path.join(workdir, "conf.d")
    os.makedirs(conf_d)
    nginx_conf = os.path.join(workdir, "nginx-main.conf")
    with open(nginx_conf, "w") as f:
        f.write(f"pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\nevents {{}}\n"
                f"http {{ include {conf_d}/*.conf; }}\n")
    with open(os.path.join(conf_d, "a.conf"), "w") as f:
        f.write("upstream a { server 127.0.0.1:9101; }\n")
    d = Daemon(workdir, config_text="probe off;\n", nginx_conf=nginx_conf)
    d.start()
    try:
        assert d.request({"cmd": "status"})["peers"] == 1
        # a new file matching the include glob
        with open(os.path.join(conf_d, "b.conf"), "w") as f:
            f.write("upstream b { server 127.0.0.1:9102; server 127.0.0.1:9103; }\n")
        wait_for(lambda: d.request({"cmd": "status"})["peers"] == 3, what="reload on new file")
        # a broken edit keeps the running model and says why
        with open(os.path.join(conf_d, "b.conf"), "w") as f:
            f.write("upstream b { server 127.0.0.1:9102\n")
        st = wait_for(lambda: (s := d.request({"cmd": "status"}))["reload_failures"] >= 1 and s,
                      what="failed reload")
        assert st["peers"] == 3
        assert f"{conf_d}/b.conf:" in st["last_reload_error"]
    finally:
        d.stop()
