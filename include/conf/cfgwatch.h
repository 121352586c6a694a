/* cfgwatch: notice when any configuration file that was read, or a directory
 * an include glob reads, changes; report once per burst (debounced).
 *
 * One inotify fd watching the parent directories (so that editors' rename
 * dance and new files matching a glob are seen); events for names outside the
 * watched set are ignored. IN_Q_OVERFLOW counts as a change. */
#pragma once

#include <stddef.h>

struct ev_loop;
struct cfgwatch;

typedef void (*cfgwatch_fn)(void *userdata);

struct cfgwatch *cfgwatch_new(struct ev_loop *loop, double debounce_s, cfgwatch_fn fn,
			      void *userdata);
void cfgwatch_free(struct cfgwatch *w);

/* Watch exactly these files and these glob patterns (any file in a glob's
 * directory matching it). Replaces the previous set. */
int cfgwatch_set(struct cfgwatch *w, const char *const *files, size_t nfiles,
		 const char *const *globs, size_t nglobs);
