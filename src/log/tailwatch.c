/* tailwatch: inotify watches and the directories a path needs watched
 * (see tailwatch.h). */
#include "log/tailwatch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

#define DIR_MASK                                                                                   \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |     \
	 IN_ONLYDIR)

int tailwatch_init(struct tailwatch *w)
{
	*w = (struct tailwatch){.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)};
	return w->ifd < 0 ? -errno : 0;
}

void tailwatch_done(struct tailwatch *w)
{
	if (w->ifd >= 0)
		close(w->ifd);
	free(w->v);
	*w = (struct tailwatch){.ifd = -1};
}

int tailwatch_add(struct tailwatch *w, const char *path, uint32_t mask)
{
	int wd = inotify_add_watch(w->ifd, path, mask);
	if (wd < 0)
		return -errno;
	for (size_t i = 0; i < w->n; i++) {
		if (w->v[i].wd == wd) {
			w->v[i].refs++;
			return wd;
		}
	}
	w->v = grow_array(w->v, &w->cap, w->n + 1, sizeof(*w->v));
	w->v[w->n++] = (struct twatch){.wd = wd, .refs = 1};
	return wd;
}

void tailwatch_del(struct tailwatch *w, int wd)
{
	if (wd < 0)
		return;
	for (size_t i = 0; i < w->n; i++) {
		if (w->v[i].wd != wd)
			continue;
		if (--w->v[i].refs == 0) {
			inotify_rm_watch(w->ifd, wd);
			w->v[i] = w->v[--w->n];
		}
		return;
	}
}

bool tailwatch_forget(struct tailwatch *w, int wd)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->v[i].wd == wd) {
			w->v[i] = w->v[--w->n];
			return true;
		}
	}
	return false; /* we removed it ourselves */
}

/* The nearest existing directory above path: its parent when that exists,
 * so a file or a whole directory tree that appears later is noticed without
 * polling. */
static void nearest_dir(const char *path, char *out, size_t size)
{
	struct stat st;
	size_t n = strnlen(path, size);

	if (n == size) { /* longer than a path can be: nothing to watch above it */
		snprintf(out, size, ".");
		return;
	}
	memcpy(out, path, n + 1);
	for (;;) {
		char *slash = strrchr(out, '/');
		if (!slash) {
			snprintf(out, size, ".");
			return;
		}
		if (slash == out) {
			out[1] = '\0';
			return;
		}
		*slash = '\0';
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return;
	}
}

/* The parent of a directory ("" for the root). */
static void parent_dir(const char *dir, char *out, size_t size)
{
	const char *slash = strrchr(dir, '/');
	if (streq(dir, "/"))
		out[0] = '\0';
	else if (!slash)
		snprintf(out, size, "%s", streq(dir, ".") ? ".." : ".");
	else {
		size_t n = slash == dir ? 1 : (size_t)(slash - dir);
		n = n < size ? n : size - 1;
		memmove(out, dir, n); /* gcc -O3 cannot prove two rows of want[] apart */
		out[n] = '\0';
	}
}

/* The nearest existing directory of the path and its parent, and the same
 * for a symlink's target (only the first link of a chain is followed), so
 * re-pointing the link and rotating the target are both seen. The parent is
 * watched because a directory's own IN_DELETE_SELF comes only when its last
 * user is gone, and a deleted log we still drain keeps its directories in
 * use. */
static void dirs_wanted(const char *path, char *want[TAILWATCH_DIRS])
{
	char dir[PATH_MAX], parent[PATH_MAX];
	struct stat st;

	for (int i = 0; i < TAILWATCH_DIRS; i++)
		want[i] = NULL;
	nearest_dir(path, dir, sizeof(dir));
	parent_dir(dir, parent, sizeof(parent));
	want[0] = xstrdup(dir);
	want[1] = xstrdup(parent);
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		char *target = xmalloc(PATH_MAX), *joined = xmalloc(PATH_MAX * 2);
		ssize_t n = readlink(path, target, PATH_MAX - 1);
		if (n > 0) {
			target[n] = '\0';
			const char *slash = strrchr(path, '/');
			if (target[0] == '/' || !slash)
				snprintf(joined, PATH_MAX * 2, "%s", target);
			else
				snprintf(joined, PATH_MAX * 2, "%.*s/%s", (int)(slash - path), path,
					 target);
			nearest_dir(joined, dir, sizeof(dir));
			parent_dir(dir, parent, sizeof(parent));
			want[2] = xstrdup(dir);
			want[3] = xstrdup(parent);
		}
		free(target);
		free(joined);
	}
	for (int i = 0; i < TAILWATCH_DIRS; i++) {
		bool seen = want[i] && !want[i][0];
		for (int k = 0; k < i && want[i] && !seen; k++)
			seen = want[k] && streq(want[i], want[k]);
		if (seen) {
			free(want[i]);
			want[i] = NULL;
		}
	}
}

static bool dirs_same(char *const a[TAILWATCH_DIRS], char *const b[TAILWATCH_DIRS])
{
	for (int i = 0; i < TAILWATCH_DIRS; i++)
		if (!streq(a[i] ? a[i] : "", b[i] ? b[i] : ""))
			return false;
	return true;
}

static void dirs_free(char *d[TAILWATCH_DIRS])
{
	for (int i = 0; i < TAILWATCH_DIRS; i++) {
		free(d[i]);
		d[i] = NULL;
	}
}

/* A directory can appear or vanish between looking and adding the watch, so
 * look again after adding: once the answer is the same, every later change
 * is reported by a watch. The names are short strings, not PATH_MAX rows:
 * 32 KB of frame were all touched (gcc's stack clash probes) and stayed
 * resident in an idle daemon's stack. */
int tailwatch_dirs(struct tailwatch *w, const char *path, int dwd[TAILWATCH_DIRS])
{
	char *want[TAILWATCH_DIRS], *again[TAILWATCH_DIRS];
	int wd[TAILWATCH_DIRS], err = 0;

	dirs_wanted(path, want);
	for (int tries = 0; tries < 8; tries++) {
		err = 0;
		for (int i = 0; i < TAILWATCH_DIRS; i++) {
			wd[i] = want[i] ? tailwatch_add(w, want[i], DIR_MASK) : -1;
			if (want[i] && wd[i] < 0 && !err)
				err = wd[i];
		}
		dirs_wanted(path, again);
		bool same = dirs_same(want, again);
		dirs_free(want);
		memcpy(want, again, sizeof(want));
		if ((!err && same) || tries == 7)
			break; /* after 8 tries keep what we have; the next event retries */
		for (int i = 0; i < TAILWATCH_DIRS; i++)
			tailwatch_del(w, wd[i]);
	}
	dirs_free(want);
	for (int i = 0; i < TAILWATCH_DIRS; i++) {
		tailwatch_del(w, dwd[i]);
		dwd[i] = wd[i] < 0 ? -1 : wd[i];
	}
	return err;
}
