/* cfgwatch: inotify on configuration directories, debounced (see cfgwatch.h).
 *
 * inotify readable -> match the event's name against the watched files and
 * globs -> due = now + debounce, wake-up timer armed -> after each loop
 * iteration (ev_check) -> now >= due -> callback. */
#include "conf/cfgwatch.h"

#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/util.h"

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |        \
	 IN_DELETE_SELF | IN_MOVE_SELF)

struct dir_watch {
	int wd;
	char *dir;
};

struct cfgwatch {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	ev_timer wake;	/* only wakes the loop at due; the check decides */
	ev_check check; /* after each loop iteration: is a change due? */
	struct cfgwatch_clock clock;
	uint64_t debounce_ms, due_ms;
	bool pending;
	cfgwatch_fn fn;
	void *userdata;
	struct dir_watch *dirs;
	size_t ndirs, dirs_cap;
	char **paths; /* full paths of files and glob patterns */
	size_t npaths, paths_cap;
};

static void clear(struct cfgwatch *w)
{
	for (size_t i = 0; i < w->ndirs; i++) {
		inotify_rm_watch(w->fd, w->dirs[i].wd);
		free(w->dirs[i].dir);
	}
	w->ndirs = 0;
	for (size_t i = 0; i < w->npaths; i++)
		free(w->paths[i]);
	w->npaths = 0;
}

static const struct dir_watch *dir_by_wd(const struct cfgwatch *w, int wd)
{
	for (size_t i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

static bool relevant(const struct cfgwatch *w, const char *dir, const char *name)
{
	char full[PATH_MAX];
	if (!name || !*name)
		return true; /* the directory itself moved or vanished */
	snprintf(full, sizeof(full), "%s/%s", dir, name);
	for (size_t i = 0; i < w->npaths; i++)
		if (streq(w->paths[i], full) || fnmatch(w->paths[i], full, FNM_PATHNAME) == 0)
			return true;
	return false;
}

/* Wake the loop in ms (+1: ev_now after the wake-up must reach due). */
static void arm(struct cfgwatch *w, uint64_t ms)
{
	ev_timer_stop(w->loop, &w->wake);
	ev_timer_set(&w->wake, (double)(ms + 1) / 1000.0, 0.);
	ev_timer_start(w->loop, &w->wake);
}

static void on_inotify(struct ev_loop *loop, ev_io *io, int revents)
{
	struct cfgwatch *w = container_of(io, struct cfgwatch, io);
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	(void)revents;

	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			p += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				hit = true;
				continue;
			}
			const struct dir_watch *d = dir_by_wd(w, e->wd);
			if (d && relevant(w, d->dir, e->len ? e->name : NULL))
				hit = true;
		}
	}
	if (hit) {
		w->pending = true;
		w->due_ms = w->clock.now_ms(w->clock.userdata) + w->debounce_ms;
		arm(w, w->debounce_ms);
	}
}

static void on_wake(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents; /* on_check runs after this iteration */
}

static void on_check(struct ev_loop *loop, ev_check *c, int revents)
{
	struct cfgwatch *w = container_of(c, struct cfgwatch, check);
	(void)loop;
	(void)revents;
	if (!w->pending)
		return;
	uint64_t now = w->clock.now_ms(w->clock.userdata);
	if (now < w->due_ms) {
		/* woken early (rounding, or a later event moved due): sleep again */
		if (!ev_is_active(&w->wake))
			arm(w, w->due_ms - now);
		return;
	}
	w->pending = false;
	ev_timer_stop(w->loop, &w->wake);
	w->fn(w->userdata);
}

static uint64_t loop_now_ms(void *userdata)
{
	return (uint64_t)(ev_now((struct ev_loop *)userdata) * 1000.0);
}

int cfgwatch_new(struct ev_loop *loop, uint64_t debounce_ms, const struct cfgwatch_clock *clock,
		 cfgwatch_fn fn, void *userdata, struct cfgwatch **ret)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct cfgwatch *w = xcalloc(1, sizeof(*w));
	w->loop = loop;
	w->fd = fd;
	w->fn = fn;
	w->userdata = userdata;
	w->debounce_ms = debounce_ms;
	w->clock =
	    clock ? *clock : (struct cfgwatch_clock){.now_ms = loop_now_ms, .userdata = loop};
	ev_io_init(&w->io, on_inotify, fd, EV_READ);
	ev_io_start(loop, &w->io);
	ev_init(&w->wake, on_wake);
	ev_check_init(&w->check, on_check);
	ev_check_start(loop, &w->check);
	ev_unref(loop); /* the check alone does not keep the loop running */
	*ret = w;
	return 0;
}

void cfgwatch_free(struct cfgwatch *w)
{
	if (!w)
		return;
	clear(w);
	ev_io_stop(w->loop, &w->io);
	ev_timer_stop(w->loop, &w->wake);
	ev_ref(w->loop);
	ev_check_stop(w->loop, &w->check);
	close(w->fd);
	free(w->dirs);
	free(w->paths);
	free(w);
}

static void add_path(struct cfgwatch *w, const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';

	w->paths = grow_array(w->paths, &w->paths_cap, w->npaths + 1, sizeof(char *));
	w->paths[w->npaths++] = xstrdup(path);

	int wd = inotify_add_watch(w->fd, dir, WATCH_MASK | IN_ONLYDIR);
	if (wd < 0 || dir_by_wd(w, wd))
		return; /* a missing directory: the next reload watches it again */
	w->dirs = grow_array(w->dirs, &w->dirs_cap, w->ndirs + 1, sizeof(*w->dirs));
	w->dirs[w->ndirs++] = (struct dir_watch){.wd = wd, .dir = xstrdup(dir)};
}

int cfgwatch_set(struct cfgwatch *w, const char *const *files, size_t nfiles,
		 const char *const *globs, size_t nglobs)
{
	clear(w);
	for (size_t i = 0; i < nfiles; i++)
		add_path(w, files[i]);
	for (size_t i = 0; i < nglobs; i++)
		add_path(w, globs[i]);
	return 0;
}
