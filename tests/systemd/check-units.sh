#!/bin/bash
# check-units.sh BUILD_DIR: what CI asserts about installing upwatch.
#
#  1. `meson install --destdir` puts exactly the files of expected-install.txt
#     there, nothing more, nothing less;
#  2. `systemd-analyze verify` accepts both installed units, with the man pages
#     they cite found in the DESTDIR and no warning at all;
#  3. `systemd-analyze security --offline=true` rates the installed service at
#     most 2.0 (printed, with the score of the opt-in CAP_SYS_PTRACE drop-in);
#  4. the sysusers, tmpfiles and catalog files work: systemd-sysusers,
#     systemd-tmpfiles and journalctl --update-catalog applied to a temp root.
# Needs systemd-analyze, jq and meson; exits 77 (skipped) without them.
set -euo pipefail

build=${1:?usage: check-units.sh BUILD_DIR}
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
max_exposure=2.0

for tool in meson jq systemd-analyze; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not found"
        exit 77
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# --- 1. DESTDIR install, file list asserted exactly -------------------------
if ! meson install -C "$build" --destdir "$dest" --no-rebuild >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: meson install"
    exit 1
fi

opt() {
    meson introspect --buildoptions "$build" | jq -r --arg n "$1" '.[] | select(.name == $n) | .value'
}
prefix=$(opt prefix)
absdir() { # a directory option, made absolute against the prefix as meson does
    local v
    v=$(opt "$1")
    case $v in
        /*) echo "$v" ;;
        *) echo "$prefix/$v" ;;
    esac
}
sbindir=$(absdir sbindir)
bindir=$(absdir bindir)
sysconfdir=$(absdir sysconfdir)
datadir=$(absdir datadir)
mandir=$(absdir mandir)
unitdir=$(opt systemdsystemunitdir)
[[ -n $unitdir ]] || unitdir=$prefix/lib/systemd/system
targets=$(meson introspect --targets "$build" | jq -r '.[].name')

: >"$tmp/expected"
while read -r line; do
    [[ -z $line || $line == \#* ]] && continue
    if [[ $line =~ ^\[target:([^]]+)\]\ +(.*)$ ]]; then
        if ! grep -qxF "${BASH_REMATCH[1]}" <<<"$targets"; then
            echo "note: target ${BASH_REMATCH[1]} is not built here; ${BASH_REMATCH[2]} not expected"
            continue
        fi
        line=${BASH_REMATCH[2]}
    fi
    line=${line//@prefix@/$prefix}
    line=${line//@sbindir@/$sbindir}
    line=${line//@bindir@/$bindir}
    line=${line//@sysconfdir@/$sysconfdir}
    line=${line//@datadir@/$datadir}
    line=${line//@mandir@/$mandir}
    line=${line//@unitdir@/$unitdir}
    echo "$line" >>"$tmp/expected"
done <"$here/expected-install.txt"
sort -o "$tmp/expected" "$tmp/expected"
(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort) >"$tmp/installed"
if diff -u "$tmp/expected" "$tmp/installed" >"$tmp/install.diff"; then
    echo "ok   install: $(wc -l <"$tmp/installed") files as expected"
else
    cat "$tmp/install.diff"
    fail "installed files differ from expected-install.txt (- expected, + installed)"
fi
for exe in "$sbindir/upwatchd" "$bindir/upwatchctl"; do
    if [[ -e $dest$exe && ! -x $dest$exe ]]; then
        fail "$exe is installed but not executable"
    fi
done

service=$dest$unitdir/upwatch.service
socket=$dest$unitdir/upwatch.socket
if [[ ! -f $service || ! -f $socket ]]; then
    fail "units not installed in $unitdir"
    echo "$failures check(s) failed"
    exit 1
fi
if ! grep -qxF "ExecStart=$sbindir/upwatchd" "$service"; then
    fail "upwatch.service: ExecStart is not $sbindir/upwatchd"
fi
# Resource limits the design target needs (10,000 peers; issue 15).
for key in LimitNOFILE MemoryHigh MemoryMax; do
    if ! grep -q "^$key=[0-9]" "$service"; then
        fail "upwatch.service: no $key="
    fi
done
nofile=$(sed -n 's/^LimitNOFILE=\([0-9]*\)$/\1/p' "$service")
if [[ -n $nofile && $nofile -lt 20000 ]]; then
    fail "upwatch.service: LimitNOFILE=$nofile is below 10,000 peers + clients"
fi

# --- 2. systemd-analyze verify ----------------------------------------------
# verify insists that ExecStart= exists: point it into the DESTDIR, with a
# stand-in when the daemon is not built in this tree.
if [[ ! -x $dest$sbindir/upwatchd ]]; then
    mkdir -p "$dest$sbindir"
    printf '#!/bin/sh\nexit 0\n' >"$dest$sbindir/upwatchd"
    chmod 755 "$dest$sbindir/upwatchd"
fi
units=$tmp/units
mkdir -p "$units"
sed "s|^ExecStart=$sbindir/upwatchd|ExecStart=$dest$sbindir/upwatchd|" "$service" >"$units/upwatch.service"
cp "$socket" "$units/upwatch.socket"
# Any output is a finding (verify exits 0 on unknown keys).
if MANPATH=$dest$mandir systemd-analyze verify "$units/upwatch.service" "$units/upwatch.socket" \
    >"$tmp/verify.log" 2>&1 && [[ ! -s $tmp/verify.log ]]; then
    echo "ok   systemd-analyze verify upwatch.service upwatch.socket"
else
    cat "$tmp/verify.log"
    fail "systemd-analyze verify"
fi

# --- 3. exposure score --------------------------------------------------------
exposure() { # unit file -> score, the table on stdout of the caller's choice
    systemd-analyze security --offline=true "$1" >"$2" 2>&1 || true
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$2"
}
score=$(exposure "$units/upwatch.service" "$tmp/security.log")
if [[ -z $score ]]; then
    cat "$tmp/security.log"
    fail "no exposure score from systemd-analyze security"
else
    echo "exposure score of upwatch.service: $score (limit $max_exposure)"
    if awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s > m) }'; then
        grep '✗' "$tmp/security.log" || true
        fail "upwatch.service exposure $score is above $max_exposure"
    fi
fi
mkdir -p "$units/upwatch.service.d"
cp "$dest$datadir/doc/upwatch/upwatch-listener-facts.conf" "$units/upwatch.service.d/"
score=$(exposure "$units/upwatch.service" "$tmp/security-ptrace.log")
echo "exposure score with upwatch-listener-facts.conf (CAP_SYS_PTRACE): ${score:-?}"
rm -r "$units/upwatch.service.d"
mkdir -p "$units/upwatch.service.d"
cp "$dest$datadir/doc/upwatch/upwatch-procfs.conf" "$units/upwatch.service.d/"
score=$(exposure "$units/upwatch.service" "$tmp/security-procfs.log")
echo "exposure score with upwatch-procfs.conf: ${score:-?}"
rm -r "$units/upwatch.service.d"

# --- 4. sysusers, tmpfiles, catalog in a temp root ----------------------------
root=$tmp/root
mkdir -p "$root/etc" "$root/usr/lib/systemd/catalog"
if systemd-sysusers --root="$root" "$dest$prefix/lib/sysusers.d/upwatch.conf" >"$tmp/sysusers.log" 2>&1 &&
    grep -q '^upwatch:x:[0-9]*:[0-9]*:upwatch daemon:/var/lib/upwatch:' "$root/etc/passwd" &&
    grep -q '^upwatch:x:' "$root/etc/group"; then
    echo "ok   systemd-sysusers creates user and group upwatch"
else
    cat "$tmp/sysusers.log"
    fail "systemd-sysusers did not create user upwatch"
fi
if [[ $(id -u) -eq 0 ]]; then
    uid=$(awk -F: '$1 == "upwatch" { print $3 }' "$root/etc/passwd")
    if systemd-tmpfiles --root="$root" --create "$dest$prefix/lib/tmpfiles.d/upwatch.conf" \
        >"$tmp/tmpfiles.log" 2>&1 &&
        [[ $(stat -c '%a %u' "$root/run/upwatch") == "755 $uid" ]] &&
        [[ $(stat -c '%a %u' "$root/var/lib/upwatch") == "750 $uid" ]]; then
        echo "ok   systemd-tmpfiles creates /run/upwatch and /var/lib/upwatch"
    else
        cat "$tmp/tmpfiles.log"
        fail "systemd-tmpfiles"
    fi
else
    echo "note: not root, systemd-tmpfiles check skipped"
fi
cp "$dest$prefix/lib/systemd/catalog/upwatch.catalog" "$root/usr/lib/systemd/catalog/"
if journalctl --root="$root" --update-catalog >"$tmp/catalog.log" 2>&1; then
    # One entry per cause: as many as the shipped catalog names (test_cause
    # holds the catalog to the cause table).
    want=$(grep -c '^Cause: ' "$dest$prefix/lib/systemd/catalog/upwatch.catalog")
    n=$(journalctl --root="$root" --list-catalog 2>/dev/null | grep -c ' upwatch: ' || true)
    if [[ $n -eq $want && $n -gt 0 ]]; then
        echo "ok   journal catalog: $n upwatch entries"
    else
        journalctl --root="$root" --list-catalog || true
        fail "journal catalog has $n upwatch entries, expected $want"
    fi
else
    cat "$tmp/catalog.log"
    fail "journalctl --update-catalog"
fi

if [[ $failures -ne 0 ]]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all unit checks passed"
