/* logseek: where in an nginx error or access log the entries from a given
 * time on begin, found by bisecting the file on its timestamps — so
 * `explain --since 15m` reads the last quarter hour of a multi-gigabyte log
 * without reading it from the top. */
#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The offset of the first line (at a line start) whose entry time is >= since,
 * assuming times grow through the file (nginx appends); lines that are not
 * entries are skipped while probing. Reads O(log size) small blocks with
 * pread. Returns 0 (offset == file size when every entry is older), or
 * -errno. */
int logseek_since(int fd, time_t since, off_t *ret_offset);

/* A line's entry time: 0 and *ret, or < 0 when the line is no entry. */
typedef int (*logseek_time_fn)(void *ud, const char *line, size_t len, time_t *ret);

/* logseek_since with the entry times read by fn (an access log's format:
 * $time_local / $time_iso8601). */
int logseek_since_by(int fd, time_t since, logseek_time_fn fn, void *ud, off_t *ret_offset);
