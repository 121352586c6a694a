/* ini: the key = value format php-fpm and uwsgi read, line by line with
 * line numbers: [section] headers, ';' comments (and '#' where asked),
 * values trimmed and unquoted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* One setting; return non-zero from it to stop the walk with that value. */
typedef int (*ini_fn)(void *ud, const char *section, const char *key, const char *value,
		      unsigned line);

/* Reads path (at most max bytes: a larger file is -EFBIG; only regular files,
 * opened without blocking) and calls fn for each key = value in order.
 * hash_comments: '#' also starts a comment line (uwsgi). Returns 0, what fn
 * returned, or -errno. */
int ini_read(const char *path, size_t max, bool hash_comments, ini_fn fn, void *ud);
