/* logseek: where in an nginx error log the entries from a given time on
 * begin, found by bisecting the file on its timestamps — so `explain
 * --since 15m` reads the last quarter hour of a multi-gigabyte log without
 * reading it from the top. */
#pragma once

#include <sys/types.h>
#include <time.h>

/* The offset of the first line (at a line start) whose entry time is >= since,
 * assuming times grow through the file (nginx appends); lines that are not
 * entries are skipped while probing. Reads O(log size) small blocks with
 * pread. Returns 0 (offset == file size when every entry is older), or
 * -errno. */
int logseek_since(int fd, time_t since, off_t *ret_offset);
