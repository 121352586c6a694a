/* alert: (cause, peer) alerts with hold time, flap damping and history (see alert.h). */
#include "diagnose/alert.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/list.h"
#include "core/strmap.h"
#include "core/util.h"

#define FLAP_HOLD_MAX_MS (10 * 60 * 1000)

struct alert_store {
	struct alert_store_head head; /* first: alert_touch_ref reads it inline */
	uint64_t hold_ms;
	alert_change_fn fn;
	void *userdata;
	struct strmap by_subject[CAUSE__COUNT]; /* per cause: subject -> newest alert */
	struct list alerts;			/* newest first */
	size_t nresolved;
	unsigned firing;
	uint64_t raised, resolved, seq;
};
_Static_assert(offsetof(struct alert_store, head) == 0, "alert_touch_ref reads the head");

/* An alert's subject: its peer, its upstream block, or "" for the host. One
 * map per cause, so the subject itself is the key: nothing is formatted. */
static const char *subject_of(const struct alert *a)
{
	const char *subj = a->peer ? a->peer : a->upstream;
	return cause_subject(a->cause) == CAUSE_SUBJECT_HOST || !subj ? "" : subj;
}

static struct strmap *map(const struct alert_store *s, enum cause cause)
{
	return (struct strmap *)&s->by_subject[cause];
}

struct alert_store *alert_store_new(uint64_t hold_ms, alert_change_fn fn, void *userdata)
{
	struct alert_store *s = xcalloc(1, sizeof(*s));
	s->hold_ms = hold_ms;
	s->fn = fn;
	s->userdata = userdata;
	for (int c = 0; c < CAUSE__COUNT; c++)
		strmap_init(&s->by_subject[c]);
	list_init(&s->alerts);
	return s;
}

static void alert_free(struct alert_store *s, struct alert *a)
{
	s->head.epoch++;
	free(a->peer);
	free(a->upstream);
	free(a->summary);
	free(a->explanation);
	free(a->fix);
	free(a->config_ref);
	for (size_t i = 0; i < a->nevidence; i++)
		free(a->evidence[i]);
	free(a);
}

void alert_store_free(struct alert_store *s)
{
	if (!s)
		return;
	list_for_each_safe(a, &s->alerts, struct alert, link)
	{
		alert_free(s, a);
	}
	for (int c = 0; c < CAUSE__COUNT; c++)
		strmap_done(&s->by_subject[c]);
	free(s);
}

void alert_store_set_hold(struct alert_store *s, uint64_t hold_ms)
{
	s->hold_ms = hold_ms;
}

static void unlink_alert(struct alert_store *s, struct alert *a)
{
	(void)s;
	list_remove(&a->link);
}

static void push_front(struct alert_store *s, struct alert *a)
{
	list_insert(&s->alerts, &a->link);
}

/* Drop the oldest resolved alerts beyond the history limit. */
static void trim_history(struct alert_store *s)
{
	for (struct list *l = s->alerts.prev, *prev;
	     l != &s->alerts && s->nresolved > ALERT_HISTORY_MAX; l = prev) {
		struct alert *a = list_entry(l, struct alert, link);
		prev = l->prev;
		if (a->firing)
			continue;
		if (strmap_get(map(s, a->cause), subject_of(a)) == a)
			strmap_remove(map(s, a->cause), subject_of(a));
		unlink_alert(s, a);
		alert_free(s, a);
		s->nresolved--;
	}
}

/* Copies only what changed: a refresh with the same words costs compares. */
static void replace(char **dst, const char *src)
{
	if (src && *dst && streq(*dst, src))
		return;
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

static void set_content(struct alert *a, const struct alert_report *r)
{
	replace(&a->upstream, r->upstream);
	replace(&a->summary, r->summary);
	replace(&a->explanation, r->explanation);
	replace(&a->fix, r->fix);
	replace(&a->config_ref, r->config_ref);
	size_t n = MIN(r->nevidence, (size_t)ALERT_EVIDENCE_MAX);
	for (size_t i = n; i < a->nevidence; i++) {
		free(a->evidence[i]);
		a->evidence[i] = NULL;
	}
	for (size_t i = 0; i < n; i++)
		replace(&a->evidence[i], r->evidence[i]);
	a->nevidence = n;
}

static void changed(struct alert_store *s, const struct alert *a)
{
	if (s->fn)
		s->fn(s->userdata, a);
}

const struct alert *alert_report(struct alert_store *s, const struct alert_report *r, int64_t now)
{
	const char *key = cause_subject(r->cause) == CAUSE_SUBJECT_HOST
			      ? ""
			      : (r->peer ? r->peer : (r->upstream ? r->upstream : ""));
	struct alert *a = strmap_get(map(s, r->cause), key);
	int64_t seen = r->time_ms ? r->time_ms : now;

	if (a && a->firing) {
		bool sev_changed = a->severity != r->severity;
		a->severity = r->severity;
		a->last_seen = MAX(a->last_seen, seen);
		a->count += r->occurrences;
		set_content(a, r);
		bool impact_new = r->impact && !a->impact_told;
		a->impact_told |= r->impact;
		if (sev_changed || impact_new)
			changed(s, a);
		return a;
	}

	if (a && now - a->resolved_at < ALERT_FLAP_WINDOW_MS) {
		/* the same incident again: keep the id, hold longer */
		a->flaps++;
		uint64_t base = MAX(a->hold_ms, s->hold_ms);
		a->hold_ms = MIN(MAX(base * 2, (uint64_t)1000), (uint64_t)FLAP_HOLD_MAX_MS);
		s->nresolved--;
		unlink_alert(s, a);
		push_front(s, a);
	} else {
		a = xcalloc_lines(sizeof(*a));
		a->cause = r->cause;
		a->peer = r->peer ? xstrdup(r->peer) : NULL;
		a->first_seen = seen;
		a->hold_ms = s->hold_ms;
		/* the one hash over cause and subject, salted with time and a sequence */
		unsigned char cause = (unsigned char)r->cause;
		uint64_t h = HASH_FNV1A64_INIT ^ (uint64_t)now ^ (++s->seq << 32);
		h = hash_fnv1a64_update(h, &cause, 1);
		h = hash_fnv1a64_update(h, key, strlen(key));
		/* "%016llx" without snprintf (~950 instructions an opening) */
		for (int i = 15; i >= 0; i--, h >>= 4)
			a->id[i] = "0123456789abcdef"[h & 15];
		a->id[16] = '\0';
		push_front(s, a);
		strmap_put(map(s, r->cause), key, a);
	}
	a->firing = true;
	a->resolved_at = 0;
	a->superseded_by[0] = '\0';
	a->impact_told = r->impact;
	a->severity = r->severity;
	a->last_seen = seen;
	a->count += r->occurrences ? r->occurrences : (a->count == 0);
	set_content(a, r);
	s->firing++;
	s->raised++;
	changed(s, a);
	return a;
}

static void resolve(struct alert_store *s, struct alert *a, int64_t now)
{
	a->firing = false;
	a->resolved_at = now;
	s->firing--;
	s->resolved++;
	s->nresolved++;
	changed(s, a);
}

static struct alert *firing(const struct alert_store *s, enum cause cause, const char *subject)
{
	if ((unsigned)cause >= CAUSE__COUNT)
		return NULL;
	struct alert *a = strmap_get(map(s, cause), subject ? subject : "");
	return a && a->firing ? a : NULL;
}

bool alert_touch(struct alert_store *s, enum cause cause, const char *subject, int64_t seen,
		 unsigned occurrences)
{
	struct alert *a = firing(s, cause, subject);
	if (!a)
		return false;
	a->last_seen = MAX(a->last_seen, seen);
	a->count += occurrences;
	return true;
}

bool alert_touch_ref_slow(struct alert_store *s, struct alert_ref *ref, enum cause cause,
			  const char *subject, int64_t seen, unsigned occurrences)
{
	if ((unsigned)cause >= CAUSE__COUNT)
		return false;
	/* (an alert freed since may have been ref's: it is looked up anew) */
	ref->epoch = s->head.epoch;
	struct alert *a = ref->a = firing(s, cause, subject);
	if (!a)
		return false;
	a->last_seen = MAX(a->last_seen, seen);
	a->count += occurrences;
	return true;
}

void alert_supersede(struct alert_store *s, enum cause cause, const char *subject, int64_t now)
{
	struct alert *a = firing(s, cause, subject);
	if (a) {
		resolve(s, a, now);
		trim_history(s);
	}
}

void alert_absorb(struct alert_store *s, enum cause cause, const char *subject,
		  const struct alert *into, int64_t now)
{
	struct alert *a = firing(s, cause, subject);
	if (!a || a == into)
		return;
	snprintf(a->superseded_by, sizeof(a->superseded_by), "%s", into->id);
	resolve(s, a, now);
	/* a chapter of into's story, not an incident of its own: out of the history */
	strmap_remove(map(s, a->cause), subject_of(a));
	unlink_alert(s, a);
	alert_free(s, a);
	s->nresolved--;
}

void alert_tick(struct alert_store *s, int64_t now)
{
	list_for_each(a, &s->alerts, struct alert, link)
	{
		if (a->firing && now - a->last_seen >= (int64_t)a->hold_ms)
			resolve(s, a, now);
	}
	trim_history(s);
}

const struct alert *alert_find(const struct alert_store *s, enum cause cause, const char *subject)
{
	return firing(s, cause, subject);
}

bool alert_peer_firing(const struct alert_store *s, const char *peer, enum cause except)
{
	for (int c = 0; c < CAUSE__COUNT; c++)
		if (c != (int)except && cause_subject((enum cause)c) == CAUSE_SUBJECT_PEER &&
		    firing(s, (enum cause)c, peer))
			return true;
	return false;
}

const struct alert *alert_first(const struct alert_store *s)
{
	return list_empty(&s->alerts) ? NULL : list_entry(s->alerts.next, struct alert, link);
}

const struct alert *alert_next(const struct alert_store *s, const struct alert *a)
{
	return a->link.next == &s->alerts ? NULL : list_entry(a->link.next, struct alert, link);
}

unsigned alert_firing_count(const struct alert_store *s)
{
	return s->firing;
}

uint64_t alert_raised_count(const struct alert_store *s)
{
	return s->raised;
}

uint64_t alert_resolved_count(const struct alert_store *s)
{
	return s->resolved;
}

const char *alert_severity_name(enum alert_severity sev)
{
	return sev == ALERT_CRITICAL ? "critical" : "warning";
}
