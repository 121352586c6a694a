#!/bin/sh
# Run every fuzz target for a bounded time: run.sh BUILD_DIR [SECONDS_EACH]
set -eu
build=$1
secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
status=0
results="$build/fuzz-results.txt"
: >"$results"
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue  # skip meson's fuzz_NAME.p object dirs
    name=${bin##*/fuzz_}
    work=$(mktemp -d)
    [ -d "$here/corpus/$name" ] && cp -r "$here/corpus/$name/." "$work/"
    echo "fuzz: $name for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$build/fuzz-$name-" "$work" >"$build/fuzz-$name.log" 2>&1; then
        echo "fuzz: $name FAILED (see $build/fuzz-$name.log)"
        tail -n 40 "$build/fuzz-$name.log"
        status=1
        echo "$name FAIL" >>"$results"
    else
        echo "$name OK" >>"$results"
    fi
    rm -rf "$work"
done
exit $status
