/* cfgwatch: notice when any configuration file that was read, or a directory
 * an include glob reads, changes; report once per burst (debounced).
 *
 * One inotify fd watching the parent directories (so that editors' rename
 * dance and new files matching a glob are seen); events for names outside the
 * watched set are ignored. IN_Q_OVERFLOW counts as a change.
 *
 * The debounce runs on a clock the caller may inject: a relevant event sets
 * "due = now + debounce" (a later one moves it), and the check after each
 * loop iteration calls back once now >= due; a timer only wakes the loop. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct cfgwatch;

typedef void (*cfgwatch_fn)(void *userdata);

/* Milliseconds on any monotonic scale. */
struct cfgwatch_clock {
	uint64_t (*now_ms)(void *userdata);
	void *userdata;
};

/* clock NULL: the loop's own clock (ev_now). */
int cfgwatch_new(struct ev_loop *loop, uint64_t debounce_ms, const struct cfgwatch_clock *clock,
		 cfgwatch_fn fn, void *userdata, struct cfgwatch **ret);
void cfgwatch_free(struct cfgwatch *w);

/* Watch exactly these files and these glob patterns (any file in a glob's
 * directory matching it). Replaces the previous set. A directory that does
 * not exist (yet) is not watched; the next reload tries again. */
int cfgwatch_set(struct cfgwatch *w, const char *const *files, size_t nfiles,
		 const char *const *globs, size_t nglobs);
