/* unitlog: a backend's own failure signals in its systemd unit's journal —
 * gunicorn's "WORKER TIMEOUT (pid:N)", a worker ended by SIGKILL, uwsgi's
 * HARAKIRI, the OOM killer as systemd reports it.
 *
 * Read on demand (when an alert's words are written, never per log line),
 * synchronously, bounded: at most UNITLOG_SCAN entries from the newest back
 * to `since`. The daemon runs in group adm/systemd-journal (see the unit), so
 * the system journal is readable; a journal it cannot read is "nothing found",
 * not an error of the caller's.
 *
 *     struct unitlog_signal s;
 *     if (unitlog_read("app.service", NULL, now - 10 * 60 * 1000, &s) == 0)
 *             ... s.kind, s.time_ms, s.text ...
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define UNITLOG_SCAN	 2000 /* journal entries looked at, newest first */
#define UNITLOG_TEXT_MAX 300  /* of the message kept */

enum unitlog_kind {
	UNITLOG_NONE,
	UNITLOG_WORKER_KILLED,	/* a worker ended by SIGKILL (OOM killer or an operator) */
	UNITLOG_WORKER_TIMEOUT, /* the software killed a worker at its own time limit */
	UNITLOG_OOM_KILL,	/* the kernel's OOM killer, as systemd or the kernel says */
};

struct unitlog_signal {
	/* an OOM kill over anything, else the newest timeout or SIGKILL (a
	 * SIGKILL of a worker just timed out is that timeout) */
	enum unitlog_kind kind;
	unsigned pid;		     /* the worker the newest such message names; 0 none */
	int64_t time_ms;	     /* that entry's time (epoch ms) */
	unsigned count;		     /* entries of that kind since since_ms */
	char text[UNITLOG_TEXT_MAX]; /* the newest such message, control bytes blanked */
};

const char *unitlog_kind_name(enum unitlog_kind k);

/* What one journal MESSAGE says (len bytes, need not be terminated); the
 * worker pid it names into *ret_pid (0 when none). */
enum unitlog_kind unitlog_classify(const char *msg, size_t len, unsigned *ret_pid);

/* An entry source, newest first: fills msg/len (valid until the next call)
 * and ms; returns 0, -ENOENT when there are no more, or -errno. */
typedef int (*unitlog_prev_fn)(void *ud, const char **msg, size_t *len, int64_t *ms);

/* Walks at most UNITLOG_SCAN entries from prev back to since_ms. Returns 0
 * (ret filled), -ENOENT when no entry is a signal, or the source's -errno. */
int unitlog_scan(unitlog_prev_fn prev, void *ud, int64_t since_ms, struct unitlog_signal *ret);

/* The journal entries of unit (its processes': _SYSTEMD_UNIT=, and systemd's
 * own about it: UNIT= from PID 1) in the journal files under dir (NULL: the
 * local system journal), scanned as unitlog_scan does. -EINVAL for a name
 * that is not a unit. */
int unitlog_read(const char *unit, const char *dir, int64_t since_ms, struct unitlog_signal *ret);
