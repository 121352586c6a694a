#!/bin/sh
# Time upwatch's nginx configuration model against `nginx -t` on the same
# generated tree (10,000 server blocks, 10,000 upstream blocks, 1,000
# included files):  tests/bench/ngxconf.sh BUILD_DIR [RUNS]
# Not part of the test suite: it prints figures, it asserts nothing.
set -eu
build=$1
runs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/tests/bench/bench_ngxconf"
[ -x "$bench" ] || { echo "build $bench first (ninja -C $build)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$here/gen_ngxconf.sh" "$work" 1000 10
echo "tree: $(ls "$work/conf.d" | wc -l) files, $(cat "$work"/conf.d/*.conf | wc -l) lines"

"$bench" "$work/nginx.conf" "$runs"

if [ -x /usr/sbin/nginx ]; then
	best=
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(date +%s%N)
		/usr/sbin/nginx -q -t -p "$work/" -c "$work/nginx.conf" 2>"$work/nginx-t.err" || {
			cat "$work/nginx-t.err" >&2; exit 1; }
		t1=$(date +%s%N)
		ms=$(( (t1 - t0) / 1000000 ))
		if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
		i=$((i + 1))
	done
	echo "nginx -t:      best of $runs ${best} ms (whole process: parse, merge, hashes)"
else
	echo "nginx -t:      /usr/sbin/nginx not installed"
fi
