#!/bin/bash
# The pipeline's stages depend one way: a file in src/DIR or include/DIR may
# include headers only from its own folder or from folders of a lower rank.
# log, probe and host share a rank and never include one another; ctl sits
# above daemon so `upwatchctl explain` can run daemon/pipeline.h in-process.
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
declare -A rank=([core]=0 [conf]=1 [nginx]=2 [log]=3 [probe]=3 [host]=3 [backend]=4
	[diagnose]=5 [output]=6 [daemon]=7 [ctl]=8)
bad=0
cd "$root" || exit 2
while IFS= read -r file; do
	dir=${file#*/}
	dir=${dir%%/*}
	if [ -z "${rank[$dir]+x}" ]; then
		echo "$file: folder '$dir' has no rank in tests/lint/check-layering.sh"
		bad=1
		continue
	fi
	while IFS=: read -r line inc; do
		to=${inc%%/*}
		if [ "$to" = "$inc" ]; then
			echo "$file:$line: include \"$inc\" names no stage folder"
			bad=1
		elif [ -z "${rank[$to]+x}" ]; then
			echo "$file:$line: include \"$inc\": unknown folder '$to'"
			bad=1
		elif [ "$to" != "$dir" ] && [ "${rank[$to]}" -ge "${rank[$dir]}" ]; then
			echo "$file:$line: $dir/ may not include $inc (layer order: core < conf < nginx < log, probe, host < backend < diagnose < output < daemon < ctl)"
			bad=1
		fi
	done < <(grep -noE '^#include "[^"]+"' "$file" | sed -E 's/^([0-9]+):#include "([^"]+)"/\1:\2/' |
		grep -v ':build-config.h$')
done < <(find src include -name '*.[ch]' | sort)
[ $bad -eq 0 ] && echo "layering: ok"
exit $bad
