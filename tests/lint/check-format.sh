#!/bin/bash
# Every C file is as .clang-format would write it.
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
bad=0
while IFS= read -r f; do
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		echo "$f: differs from .clang-format (run clang-format -i $f)"
		bad=1
	fi
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests -name '*.[ch]')
[ $bad -eq 0 ] && echo "format: ok"
exit $bad
