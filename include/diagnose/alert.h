/* alert: one alert per (cause, subject) and its lifecycle; the subject is the
 * peer, or the upstream block for block-level causes.
 *
 * Diagnosis reports what the evidence supports now (alert_report); an alert
 * fires on its first report and resolves when no report has refreshed it for
 * the hold time (alert_tick). An alert that fires again soon after resolving
 * is the same incident flapping: it keeps its id and its hold time doubles,
 * so a flapping peer does not flood. Resolved alerts stay in a bounded
 * history. Every state change (fired, resolved, severity changed) goes to
 * the change callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/list.h"
#include "diagnose/cause.h"

#define ALERT_HISTORY_MAX    256
#define ALERT_EVIDENCE_MAX   12
#define ALERT_FLAP_WINDOW_MS (10 * 60 * 1000)

/* What diagnosis says about (cause, subject) now. Strings are copied (only
 * those that changed). The subject is the peer, the upstream block or the
 * host, as cause_subject(cause) says. */
struct alert_report {
	enum cause cause;
	enum alert_severity severity;
	const char *peer;     /* peer key; NULL for block- or host-level causes */
	const char *upstream; /* block name or NULL */
	const char *summary;  /* one line */
	const char *explanation;
	const char *fix;
	const char *config_ref; /* "file:line" or NULL */
	const char *const *evidence;
	size_t nevidence;
	int64_t time_ms;      /* when the supporting evidence was seen */
	unsigned occurrences; /* events this report adds to the count (0 for probes) */
	/* the summary tells the access log's impact: a firing alert whose
	 * impact becomes known later is announced once more (journald's MESSAGE
	 * then carries it; the error line usually arrives before the access
	 * line) */
	bool impact;
};

struct alert {
	/* what alert_touch_ref reads and writes on every line, first: one cache
	 * line (alerts are allocated on one) */
	bool firing;
	int64_t last_seen;
	uint64_t count;
	char id[17];
	enum cause cause;
	enum alert_severity severity;
	char *peer, *upstream;
	int64_t first_seen, resolved_at;
	char *summary, *explanation, *fix, *config_ref;
	char *evidence[ALERT_EVIDENCE_MAX];
	size_t nevidence;
	unsigned flaps;
	char superseded_by[17]; /* resolved as part of another alert's story ("" = not) */
	bool impact_told;	/* announced with its impact (alert_report.impact) */
	uint64_t hold_ms;	/* this alert's hold time (grows while it flaps) */
	struct list link;	/* the store's list, newest first: use alert_first/alert_next */
};

struct alert_store;

typedef void (*alert_change_fn)(void *userdata, const struct alert *a);

struct alert_store *alert_store_new(uint64_t hold_ms, alert_change_fn fn, void *userdata);
void alert_store_free(struct alert_store *s);
void alert_store_set_hold(struct alert_store *s, uint64_t hold_ms);

/* Raise or refresh (cause, peer). */
const struct alert *alert_report(struct alert_store *s, const struct alert_report *r, int64_t now);
/* The hot path: one more occurrence of a firing (cause, subject) — count and
 * last_seen only, no text. False (nothing done) when it does not fire. */
bool alert_touch(struct alert_store *s, enum cause cause, const char *subject, int64_t seen,
		 unsigned occurrences);
/* Where alert_touch_ref of one (cause, subject) last landed, kept by the
 * caller (zeroed to start). Valid while no alert was freed since (the
 * store's epoch): a stale one only costs the lookup. A subject keeps one a
 * cause, not one for the last cause: a peer's lines mix causes (refused,
 * reset, timed out), and a ref of the last cause missed on 19 k of 55 k
 * real lines, each miss a lookup by subject (callgrind, daemon ingesting
 * 67 k real lines). One a cause, not an array with one epoch: the caller
 * keeps each next to what else it counts by cause (evidence.h). */
struct alert_ref {
	struct alert *a;
	uint64_t epoch;
};
/* What alert_touch_ref reads inline: the head of every store (the rest is
 * alert.c's). */
struct alert_store_head {
	uint64_t epoch; /* alerts freed so far: an alert_ref from before is stale */
};
/* (alert_touch_ref past its ref: the lookup by subject) */
bool alert_touch_ref_slow(struct alert_store *s, struct alert_ref *ref, enum cause cause,
			  const char *subject, int64_t seen, unsigned occurrences);
/* alert_touch for a caller that touches the same subject line after line:
 * no lookup by subject while the alert of ref still fires for cause. The
 * lookups were 7 % of upwatchd's CPU in a storm (perf, tests/bench/daemon.py);
 * bench_diagnose storm: callgrind 323 -> 308 M instructions. Inline: once a
 * line. */
static inline bool alert_touch_ref_hit(const struct alert_store *s, struct alert_ref *ref,
				       enum cause cause, int64_t seen, unsigned occurrences);
static inline bool alert_touch_ref(struct alert_store *s, struct alert_ref *ref, enum cause cause,
				   const char *subject, int64_t seen, unsigned occurrences)
{
	return alert_touch_ref_hit(s, ref, cause, seen, occurrences) ||
	       alert_touch_ref_slow(s, ref, cause, subject, seen, occurrences);
}
/* alert_touch_ref's part without the subject: false (nothing done) when
 * ref does not land, the caller then asks alert_touch_ref_slow. (For a
 * caller whose subject lies in a cold line: gcc loaded it ahead of the
 * test, a D1 miss on 12.5 k of 64.5 k real lines, callgrind, daemon
 * ingesting real.log.) */
static inline bool alert_touch_ref_hit(const struct alert_store *s, struct alert_ref *ref,
				       enum cause cause, int64_t seen, unsigned occurrences)
{
	struct alert *a = ref->a;
	if (!a || ref->epoch != ((const struct alert_store_head *)(const void *)s)->epoch ||
	    !a->firing || a->cause != cause)
		return false;
	if (a->last_seen < seen)
		a->last_seen = seen;
	a->count += occurrences;
	return true;
}

/* Resolve (cause, subject) now: a better diagnosis superseded it. The subject
 * is the peer key, the upstream name, or NULL for the host. */
void alert_supersede(struct alert_store *s, enum cause cause, const char *subject, int64_t now);
/* Resolve (cause, subject) as a chapter of into's story: it names into's id,
 * and leaves the history (one incident, one alert). */
void alert_absorb(struct alert_store *s, enum cause cause, const char *subject,
		  const struct alert *into, int64_t now);
/* Resolve alerts not refreshed for their hold time. */
void alert_tick(struct alert_store *s, int64_t now);

/* The firing alert for (cause, subject), or NULL. */
const struct alert *alert_find(const struct alert_store *s, enum cause cause, const char *subject);
/* Whether any alert for peer fires (other than `except`; CAUSE_NONE = none). */
bool alert_peer_firing(const struct alert_store *s, const char *peer, enum cause except);

/* Iterate newest first: for (a = alert_first(s); a; a = alert_next(s, a)) */
const struct alert *alert_first(const struct alert_store *s);
const struct alert *alert_next(const struct alert_store *s, const struct alert *a);

unsigned alert_firing_count(const struct alert_store *s);
uint64_t alert_raised_count(const struct alert_store *s);
uint64_t alert_resolved_count(const struct alert_store *s);

const char *alert_severity_name(enum alert_severity sev);
