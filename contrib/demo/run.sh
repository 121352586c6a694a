#!/bin/sh
# The upwatch live demo: a real nginx in front of misbehaving backends, upwatchd
# watching it, traffic, then the alerts (upwatchctl alerts -v). Run as root:
#   contrib/demo/run.sh BUILD_DIR
# Everything lives in a temp dir and is stopped and removed at the end.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/lab.py" demo "$1"
