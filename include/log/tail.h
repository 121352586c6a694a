/* tail: follow nginx error logs with inotify, losing no line.
 *
 * Follows rename+create (reads the old file to its end until it has been
 * quiet for a grace period), copytruncate (counts lines provably lost in the
 * race), delete+recreate, symlink swaps and files that appear later. File
 * identity is device + inode + a fingerprint of the first bytes. Offsets are
 * saved in the state directory (atomically, at most once a second and at
 * stop) so a restart resumes where it stopped.
 *
 * Each complete line is passed to the callback without its '\n'; a line
 * longer than TAIL_LINE_MAX is cut there (counted as lines_cut) and the rest
 * up to the newline is skipped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct ev_loop;

#define TAIL_LINE_MAX 8192

/* lines: delivered to the callback; bytes: read (also from a copytruncate
 * copy); rotations: the path named another file (rename/delete + create,
 * symlink re-pointed); truncations: a file shrank or was rewritten in
 * place; lines_lost: lines provably lost to a truncation (the end of a line
 * we held, or bytes we saw and could not read). It is a lower bound: lines
 * written and truncated away between two reads, and not in logrotate's
 * copy, leave no trace anyone could count. */
struct tail_stats {
	uint64_t lines, bytes, rotations, truncations, lines_cut, lines_unparsed, lines_lost;
	uint64_t nul_bytes; /* NUL bytes skipped at line starts (a log extended by
			     * sparse zeros: a writer without O_APPEND after a
			     * truncate); holes are skipped without reading */
};

struct tail;

/* What the callback made of a line. */
enum tail_take {
	TAIL_TAKEN,    /* a line of the log's kind, acted on */
	TAIL_UNPARSED, /* not a line of the log's kind: counted as lines_unparsed */
	TAIL_OPEN,     /* (only when may_open) the start of an entry that goes on
			* over the next physical lines (a FastCGI stderr text):
			* not acted on; tail holds it and gives it again joined
			* with each next line that does not start an entry */
};

/* A complete line from log `path`, which was paths[index] of the last
 * tail_set_files call (so the caller can keep facts about each log in an
 * array, not look them up by path for every line). may_open is false when
 * the line or entry is given for the last time (the next entry started, it
 * reached TAIL_LINE_MAX, the file has nothing more for now, or the line was
 * cut): it must be taken as it is. The one parse of the line decides
 * whether it opens an entry (nginx writes an entry with one write(), so a
 * quiet file ends it). */
typedef enum tail_take (*tail_line_fn)(void *userdata, const char *path, size_t index,
				       const char *line, size_t len, bool may_open);

/* state_dir may be NULL (no offsets saved); the offsets file is
 * STATE_DIR/tail.state. Returns 0 and sets *ret, or -errno when no inotify
 * instance can be had (EMFILE, ENOSYS). An offsets file that cannot be
 * loaded is not an error here: every log reports it (tail_log_at) until a
 * save succeeds. Lines are delivered from the loop's callbacks and also
 * from within tail_set_files and tail_rescan; the callback must not call
 * tail_set_files or tail_free. */
int tail_new(struct ev_loop *loop, const char *state_dir, enum tail_start start, tail_line_fn fn,
	     void *userdata, struct tail **ret);
/* Saves offsets, closes everything. NULL is fine. */
void tail_free(struct tail *t);

/* Make the set of followed files exactly paths[0..n) (reload-friendly: files
 * already followed keep their position and counters). A path that does not
 * exist yet is followed from when it appears (read from its start), however
 * many of its directories are still missing. -EINVAL for an empty path
 * (nothing changed). Otherwise every path is followed, and the return is 0
 * or the -errno of the first new path that cannot be read now (EACCES, not
 * a regular file: EINVAL) or watched (ENOSPC); that log keeps the fault
 * (tail_log_at) and is retried whenever its directory changes. */
int tail_set_files(struct tail *t, const char *const *paths, size_t n);

/* One followed log, for reports. error is 0 or the errno of the log's
 * current fault (open, read, watch, or the offsets file: load or save), and
 * error_msg says what failed ("" when error is 0). The pointers are valid
 * until the next call into tail. */
struct tail_log {
	const char *path;
	const struct tail_stats *stats;
	int error;
	const char *error_msg;
};
size_t tail_count(const struct tail *t);
/* i < tail_count(t). */
void tail_log_at(const struct tail *t, size_t i, struct tail_log *ret);
/* Counters of one file, or NULL when not followed. */
const struct tail_stats *tail_stats(const struct tail *t, const char *path);

/* Write offsets now (also done by tail_free and by a 1 s timer when dirty).
 * Returns 0 or -errno; a failure is also every log's fault until a save
 * succeeds. */
int tail_save(struct tail *t);

/* How long a rotated-away file must be quiet before it is closed (default
 * 2000 ms: nginx workers write to the renamed file until they reopen). */
void tail_set_grace_ms(struct tail *t, unsigned ms);

/* Re-stat every path and read every source: what IN_Q_OVERFLOW does. */
void tail_rescan(struct tail *t);
