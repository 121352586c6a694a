/* tailmiss: files that held a followed path's lines and that tail never
 * opened — the window of a busy machine, where a new file appears at the
 * path, is written, and is rotated again (renamed away, or copied and
 * truncated) before the follower ran.
 *
 * tail feeds it the directory events of one inotify read batch, in order;
 * the order proves which sibling holds such lines: a sibling created (a
 * copytruncate copy) after a new file appeared at the path that tail has not
 * opened yet, or the name the path's file was renamed to (matched by the
 * rename's cookie). tail then adopts each candidate it does not know as a
 * rotated source. Without those events (IN_Q_OVERFLOW) nothing is found. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define TAILMISS_MAX 8

struct tailmiss {
	bool replaced;	 /* a new file at the path since the last check */
	uint32_t cookie; /* the last rename away from the path (0: none) */
	char *names[TAILMISS_MAX];
	size_t n;
};

void tailmiss_init(struct tailmiss *m);
void tailmiss_done(struct tailmiss *m);

/* A directory event: name in the path's directory, base the path's name. */
void tailmiss_event(struct tailmiss *m, const char *base, uint32_t mask, uint32_t cookie,
		    const char *name);

/* Open candidate i (of m->n) below dir: a regular text file (not a
 * compressed rotation) that the file now at the path does not still hold
 * (path_fd < 0: nothing at the path). Returns the fd and fills *ret_st, or
 * -errno (-ENOENT: nothing to adopt). */
int tailmiss_open(const struct tailmiss *m, size_t i, const char *dir, int path_fd,
		  struct stat *ret_st);

/* After a check: forget the batch. */
void tailmiss_reset(struct tailmiss *m);
