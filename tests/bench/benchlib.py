"""What the upwatchd benchmarks share: issue 16's storm (every line a
failure of one of NPEERS configured peers), the nginx configuration that
names those peers, and a `stats` request on the daemon's socket."""
import json
import os
import socket

NPEERS = 50
BIG = 10000  # upstreams of the big configuration

STORM_LINE = ('2026/11/21 10:00:{s:02d} [error] 7#7: *{i} connect() failed (111: Connection '
              'refused) while connecting to upstream, client: 127.0.0.1, server: bench.test, '
              'request: "GET /u{p}/x HTTP/1.1", upstream: "http://127.0.0.1:{port}/u{p}/x", '
              'host: "bench.test"\n')


def write_storm(path, nlines):
    """nlines storm lines: line i names peer i % NPEERS."""
    with open(path, "w") as f:
        f.writelines(STORM_LINE.format(s=i // 20000 % 60, i=i, p=i % NPEERS,
                                       port=20000 + i % NPEERS)
                     for i in range(nlines))


def peers50():
    """[(upstream name, peer)] of the storm's peers."""
    return [(f"u{i}", f"127.0.0.1:{20000 + i}") for i in range(NPEERS)]


def peers_big():
    """The storm's peers and BIG more upstreams, each its own server block:
    the configuration whose size must not change the cost of a line."""
    return peers50() + [(f"big{n}", f"127.{n // 250 % 250 + 1}.{n % 250 + 1}.1:8080")
                        for n in range(BIG)]


def nginx_conf(d, log, upstreams):
    """nginx.conf in d: an upstream block per (name, peer); one server with a
    location per block for the first NPEERS, a server each for the rest."""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(f"pid {d}/nginx.pid;\nerror_log {log};\nevents {{}}\nhttp {{\n")
        for name, peer in upstreams:
            f.write(f"  upstream {name} {{ server {peer}; }}\n")
        f.write("  server {\n    server_name bench.test;\n")
        for name, _ in upstreams[:NPEERS]:
            f.write(f"    location /{name}/ {{ proxy_pass http://{name}; }}\n")
        f.write("  }\n")
        for i, (name, _) in enumerate(upstreams[NPEERS:]):
            f.write(f"  server {{ server_name s{i}.bench.test; "
                    f"location / {{ proxy_pass http://{name}; }} }}\n")
        f.write("}\n")
    return path


def stats(sock, timeout=10):
    """The daemon's answer to {"cmd":"stats"} on its socket."""
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(timeout)
    try:
        c.connect(sock)
        c.sendall(b'{"cmd":"stats"}\n')
        buf = b""
        while b"\n" not in buf:
            r = c.recv(65536)
            if not r:
                break
            buf += r
    finally:
        c.close()
    return json.loads(buf.split(b"\n", 1)[0])
