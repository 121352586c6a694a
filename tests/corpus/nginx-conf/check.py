#!/usr/bin/env python3
"""Parse every corpus tree with upwatchd and compare the peers it finds.

usage: check.py UPWATCHD [NGINX] [--update]

Each directory here with an nginx.conf is one tree. `upwatchd --check-config
--nginx-conf TREE/nginx.conf` must accept it, and the peer lines of its
report ("KEY PROTOCOL [upstream NAME]") must equal TREE/expected-peers,
which was checked by hand against nginx's documented rules (see README.md).
Where an nginx binary is given and we run as root, `nginx -t` must accept a
copy of the tree too (paths under /var and /run moved into the copy so that
nothing on the host is touched), unless TREE/nginx-t-skip says why not.
Where upwatch is known to differ from nginx's rules, expected-peers still
holds what the rules give and TREE/upwatch-today what upwatch prints today,
with "# " lines saying why; the tree then passes as a known difference and
the line is reported, until upwatch gets it right.
--update rewrites expected-peers from what upwatchd prints (then review!)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def trees():
    for name in sorted(os.listdir(HERE)):
        if os.path.isfile(os.path.join(HERE, name, "nginx.conf")):
            yield name


def peers_of(upwatchd, tree, empty_conf):
    r = subprocess.run([upwatchd, "--check-config", "-c", empty_conf, "--nginx-conf",
                        os.path.join(HERE, tree, "nginx.conf")],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None, (r.stdout + r.stderr).strip()
    lines, in_peers = [], False
    for line in r.stdout.splitlines():
        if line == "peers:":
            in_peers = True
        elif in_peers and re.match(r"^  \S", line):
            lines.append(line.strip())
        elif in_peers and not line.startswith("    "):
            in_peers = False
    return lines, None


def nginx_t(nginx, tree):
    skip = os.path.join(HERE, tree, "nginx-t-skip")
    if os.path.exists(skip):
        return "skipped: " + open(skip).read().strip()
    with tempfile.TemporaryDirectory(prefix="upwatch-corpus-") as tmp:
        root = os.path.join(tmp, "conf")
        shutil.copytree(os.path.join(HERE, tree), root, symlinks=True)
        for d in ("var/log/nginx", "var/www", "var/run", "var/nginx", "run"):
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                text = open(p, encoding="utf-8", errors="surrogateescape").read()
                text = re.sub(r"/run/upwatch-corpus/[\w-]+", tmp + "/run", text)
                text = re.sub(r"(?<![\w.])/(var|run)/", tmp + r"/\1/", text)
                open(p, "w", encoding="utf-8", errors="surrogateescape").write(text)
        # Debian builds stream and mail as dynamic modules: load them as its
        # modules-enabled/ would
        main = os.path.join(root, "nginx.conf")
        text = open(main).read()
        for mod in ("stream", "mail"):
            so = f"/usr/lib/nginx/modules/ngx_{mod}_module.so"
            if re.search(r"(?m)^\s*" + mod + r"\s*\{", text) and os.path.exists(so):
                text = f"load_module {so};\n" + text
        open(main, "w").write(text)
        r = subprocess.run([nginx, "-t", "-q", "-e", "stderr", "-p", tmp + "/",
                            "-c", os.path.join(root, "nginx.conf")],
                           capture_output=True, text=True, timeout=60)
        return None if r.returncode == 0 else r.stderr.strip()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    update = "--update" in sys.argv
    upwatchd = args[0]
    nginx = args[1] if len(args) > 1 and os.access(args[1], os.X_OK) else None
    if nginx and os.geteuid() != 0:
        print("nginx -t not run: not root (nginx -t wants its temp paths)")
        nginx = None
    failed = parsed = checked = known = 0
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as empty:
        for tree in trees():
            peers, err = peers_of(upwatchd, tree, empty.name)
            if peers is None:
                print(f"FAIL {tree}: upwatchd refuses it: {err}")
                failed += 1
                continue
            parsed += 1
            exp_path = os.path.join(HERE, tree, "expected-peers")
            if update:
                with open(exp_path, "w") as f:
                    f.write("".join(p + "\n" for p in peers))
            expected = open(exp_path).read().splitlines() if os.path.exists(exp_path) else None
            today_path = os.path.join(HERE, tree, "upwatch-today")
            today = None
            if os.path.exists(today_path):
                lines = open(today_path).read().splitlines()
                why = [l[2:] for l in lines if l.startswith("# ")]
                today = [l for l in lines if not l.startswith("#")]
            note = ""
            if expected == peers and today is not None:
                note = " (known difference fixed: delete upwatch-today)"
            elif expected != peers and today == peers:
                known += 1
                note = " (KNOWN DIFFERENCE from nginx's rules: " + " ".join(why) + ")"
            elif expected != peers:
                print(f"FAIL {tree}: peers differ\n  expected: {expected}\n  found:    {peers}")
                failed += 1
                continue
            if nginx:
                e = nginx_t(nginx, tree)
                if e and not e.startswith("skipped"):
                    print(f"FAIL {tree}: nginx -t refuses it: {e}")
                    failed += 1
                    continue
                checked += 0 if e else 1
                note += f" (nginx -t {e})" if e else " (nginx -t ok)"
            print(f"ok   {tree}: {len(peers)} peers{note}")
    total = len(list(trees()))
    print(f"{parsed} of {total} trees parse; {checked} also pass nginx -t; "
          f"{known} known differences from nginx's rules; {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
