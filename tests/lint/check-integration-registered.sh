#!/bin/bash
# Every tests/integration/test_*.py is its own meson test: fail when one has
# no line in tests/meson.build's integration_tests (it would never run in CI).
set -u
root=${1:-.}
status=0
for f in "$root"/tests/integration/test_*.py; do
	name=$(basename "$f" .py)
	if ! grep -q "^  '$name': [0-9]*,\$" "$root/tests/meson.build"; then
		echo "$f: not registered in tests/meson.build (integration_tests)"
		status=1
	fi
done
exit $status
