#!/usr/bin/env python3
"""Copy the nginx.conf of chosen nginx-tests scripts into corpus trees.

usage: import-nginx-tests.py NGINX_TESTS_CHECKOUT COMMIT NAME.t...

Each script's `write_file_expand('nginx.conf', <<'EOF')` heredoc becomes
nginx-tests-NAME/nginx.conf with the harness placeholders filled the way
the harness fills them: %%TEST_GLOBALS*%% (daemon off and the like) become
nothing, %%PORT_N%% / %%PORT_N_UDP%% become N, %%TESTDIR%% becomes
/run/upwatch-corpus/NAME (unix socket paths stay unix sockets). The
files and their SOURCES.md lines are written; edits beyond the
placeholders are made by hand and noted in SOURCES.md."""
import os
import re
import sys

src, commit, names = sys.argv[1], sys.argv[2], sys.argv[3:]
here = os.path.dirname(os.path.abspath(__file__))
for name in names:
    text = open(os.path.join(src, name), encoding="utf-8").read()
    m = re.search(r"write_file_expand\('nginx\.conf', <<'EOF'\);\n(.*?)\nEOF\n", text, re.S)
    if not m:
        sys.exit(f"{name}: no nginx.conf heredoc")
    base = name[:-2]
    conf = m.group(1)
    conf = re.sub(r"%%TEST_GLOBALS\w*%%", "", conf)
    conf = re.sub(r"%%PORT_(\d+)(_UDP)?%%", r"\1", conf)
    conf = conf.replace("%%TESTDIR%%", "/run/upwatch-corpus/" + base)
    tree = os.path.join(here, "nginx-tests-" + base)
    os.makedirs(tree, exist_ok=True)
    with open(os.path.join(tree, "nginx.conf"), "w") as f:
        f.write(conf + "\n")
    print(f"| nginx-tests-{base} | github.com/nginx/nginx-tests | {name} | {commit} | BSD-2-Clause | placeholders filled |")
