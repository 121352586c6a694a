#!/bin/bash
# upwatch quick start on Debian 12, as root:
#   contrib/quickstart.sh demo   install packages, build, run the live demo
#   contrib/quickstart.sh test   install packages, build, run the whole test suite
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

# Everything the build, the demo and the tests use, from Debian 12.
packages=(
    gcc meson ninja-build pkg-config
    libev-dev libcurl4-openssl-dev libcjson-dev libsystemd-dev
    nginx php-fpm curl openssl iproute2 procps
    libnginx-mod-stream libnginx-mod-mail
    gunicorn uwsgi uwsgi-plugin-python3 nodejs
    python3 python3-pytest libcap2-bin
    clang-14 libclang-rt-14-dev
    systemd systemd-journal-remote scdoc jq bash-completion prometheus prometheus-alertmanager
)

install_packages() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "quickstart: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # Debian starts nginx and php-fpm on install where it can; the tests run their own.
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

build() {
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@"
    fi
    ninja -C "$dir"
}

run_tests() {
    local status=0
    build build-ci -Dwerror=true
    for suite in lint unit system integration; do
        meson test -C build-ci --print-errorlogs --suite $suite || status=1
        cp build-ci/meson-logs/testlog.json "build-ci/meson-logs/testlog-$suite.json"
    done

    echo "== release build: -O3 sees more, and -Werror holds there too (the benchmarks use it)"
    build build-release --buildtype=release -Dwerror=true || status=1

    echo "== unit tests under AddressSanitizer + UBSan"
    build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --print-errorlogs --suite unit || status=1
    cp build-asan/meson-logs/testlog.json build-asan/meson-logs/testlog-unit.json

    echo "== fuzz targets (bounded)"
    CC=clang-14 build build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
    tests/fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-30}" || status=1
    [ $status -eq 0 ] || echo "quickstart: TESTS FAILED"

    summarize build-ci/meson-logs/testlog-*.json build-asan/meson-logs/testlog-unit.json \
        build-fuzz/fuzz-results.txt
    return $status
}

# One closing line over every test run: "tests: N passed, N failed", from
# meson's JSON test logs and the fuzz runner's "NAME OK|FAIL" lines.
summarize() {
    python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1  # a stage that did not run
        continue
    for line in lines:
        if path.endswith(".json"):
            result = json.loads(line).get("result")
        else:
            result = line.split()[-1]
        if result == "SKIP":
            skipped += 1
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
}

case "${1:-}" in
demo)
    install_packages
    build build
    exec contrib/demo/run.sh build
    ;;
test)
    install_packages
    run_tests
    ;;
*)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
