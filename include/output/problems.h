/* problems: what keeps upwatchd from doing its whole job without stopping
 * it — an error log it cannot read, a state directory it cannot write, an
 * include directory it cannot list, a read error on a log. Each is a warning
 * at start and reload, listed by `status` ("problems"), printed by
 * --check-config, and counted by the upwatch_problems metric.
 *
 * The daemon rebuilds the list from every source (its own checks, tail's
 * per-log faults, the configuration loaders' warnings) with
 * problems_begin / problems_add / problems_end; problems_end tells which
 * are new (to log once) and which went away. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* Where a problem comes from: a stable name, also the metric's label. */
enum problem_kind {
	PROBLEM_ERROR_LOG,    /* a log to follow cannot be opened or read */
	PROBLEM_STATE_DIR,    /* offsets (and so lines across a restart) cannot be saved */
	PROBLEM_CONFIG,	      /* a loader warning: unreadable include directory, ... */
	PROBLEM_METRICS_FILE, /* metrics_file cannot be written */
	PROBLEM__COUNT,
};

struct problem {
	enum problem_kind kind;
	char *subject; /* the path concerned */
	char *message; /* what failed, e.g. "cannot read: Permission denied" */
	bool is_new;   /* not in the previous list */
};

struct problems {
	struct problem *v;
	size_t n, cap;
	struct problem *prev; /* the last list, during a rebuild */
	size_t nprev;
};

void problems_init(struct problems *p);
void problems_done(struct problems *p);

/* Start a rebuild: the current list becomes the previous one. */
void problems_begin(struct problems *p);
/* Add a problem (strings copied); a repeat of (kind, subject) is ignored. */
void problems_add(struct problems *p, enum problem_kind kind, const char *subject, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
/* Finish: marks is_new, calls gone(ud, problem) for each that went away. */
void problems_end(struct problems *p, void (*gone)(void *ud, const struct problem *pr), void *ud);

const char *problem_kind_name(enum problem_kind k);
size_t problems_count(const struct problems *p, enum problem_kind k);

/* [{"kind", "subject", "message"}, ...] */
struct cJSON *problems_json(const struct problems *p);
