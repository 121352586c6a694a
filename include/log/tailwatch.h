/* tailwatch: tail's inotify instance — watches shared and reference counted
 * (the kernel gives one wd per inode), and the directories to watch so that
 * a followed path is noticed whenever it changes.
 *
 * Owned by struct tail; knows nothing of files or the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAILWATCH_DIRS 4 /* directories watched per path */

struct twatch {
	int wd;
	unsigned refs;
};

struct tailwatch {
	int ifd;
	struct twatch *v;
	size_t n, cap;
};

/* inotify_init1(IN_NONBLOCK | IN_CLOEXEC). Returns 0 or -errno. */
int tailwatch_init(struct tailwatch *w);
void tailwatch_done(struct tailwatch *w);

/* Add (or take another reference on) a watch. Returns the wd or -errno. */
int tailwatch_add(struct tailwatch *w, const char *path, uint32_t mask);
/* Drop a reference; the watch goes with the last one. wd < 0 is ignored. */
void tailwatch_del(struct tailwatch *w, int wd);
/* IN_IGNORED: the kernel dropped wd. Returns whether it was still ours (the
 * caller then forgets every use of it). */
bool tailwatch_forget(struct tailwatch *w, int wd);

/* Watch the directories that tell when path changes, replacing the watches
 * in dwd (-1: none). Returns 0, or -errno of the first watch that could not
 * be added (ENOSPC: the user's watch limit); what could be added is kept. */
int tailwatch_dirs(struct tailwatch *w, const char *path, int dwd[TAILWATCH_DIRS]);
