"""A small real nginx for integration tests: a generated config in a temp dir,
loopback ports only, and a few misbehaving backends."""
import os
import signal
import socket
import struct
import subprocess
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Backend(threading.Thread):
    """A TCP or unix server that misbehaves in one way: 'hang' (accept, never
    answer), 'reset' (read the request, then RST), 'close' (read, then FIN),
    'ok' (a valid 200)."""

    def __init__(self, mode, port=None, path=None):
        super().__init__(daemon=True)
        self.mode = mode
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", port or 0))
        self.sock.listen(64)
        self.port = None if path else self.sock.getsockname()[1]
        self.stopping = False
        self.held = []
        self.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            c.settimeout(2)
            try:
                if self.mode == "hang":
                    self.held.append(c)
                    continue
                c.recv(65536)
                if self.mode == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif self.mode == "ok":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                c.close()
            except OSError:
                c.close()

    def stop(self):
        self.stopping = True
        self.join(timeout=2)
        for c in self.held:
            c.close()
        self.sock.close()


class Nginx:
    def __init__(self, workdir, http_body, user="nobody nogroup", worker_connections=128,
                 wrap=()):
        self.wrap = list(wrap)  # run nginx and curl through this, e.g. ip netns exec
        self.dir = workdir
        self.port = free_port()
        self.error_log = os.path.join(workdir, "error.log")
        self.conf = os.path.join(workdir, "nginx.conf")
        tmp = os.path.join(workdir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""user {user};
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {self.error_log} info;
events {{
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
""")
        subprocess.run(self.wrap + ["nginx", "-t", "-q", "-c", self.conf], check=True)
        subprocess.run(self.wrap + ["nginx", "-c", self.conf], check=True)
        self.pid = int(open(os.path.join(workdir, "nginx.pid")).read())

    def get(self, path, n=1, timeout=10):
        codes = []
        for _ in range(n):
            r = subprocess.run(self.wrap + ["curl", "-s", "-o", "/dev/null", "-m", str(timeout), "-w",
                                "%{http_code}", f"http://127.0.0.1:{self.port}{path}"],
                               capture_output=True, text=True)
            codes.append(int(r.stdout or 0))
        return codes

    def reopen_logs(self):
        os.kill(self.pid, signal.SIGUSR1)

    def stop(self):
        subprocess.run(self.wrap + ["nginx", "-c", self.conf, "-s", "stop"], capture_output=True)
        for _ in range(100):
            if not os.path.exists(os.path.join(self.dir, "nginx.pid")):
                break
            time.sleep(0.05)
