/* alert: (cause, peer) alerts with hold time, flap damping and history (see alert.h). */
#include "diagnose/alert.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/strmap.h"
#include "core/util.h"

#define FLAP_HOLD_MAX_MS (10 * 60 * 1000)

struct alert_store {
	uint64_t hold_ms;
	alert_change_fn fn;
	void *userdata;
	struct strmap by_key;	   /* "cause|peer" -> newest alert of that key */
	struct alert *head, *tail; /* newest first */
	size_t nresolved;
	unsigned firing;
	uint64_t raised, resolved, seq;
};

/* An alert's subject is its peer, or its upstream block for block-level causes. */
static void make_key(char *buf, size_t len, enum cause cause, const char *subject)
{
	snprintf(buf, len, "%s|%s", cause_name(cause), subject ? subject : "");
}

struct alert_store *alert_store_new(uint64_t hold_ms, alert_change_fn fn, void *userdata)
{
	struct alert_store *s = xcalloc(1, sizeof(*s));
	s->hold_ms = hold_ms;
	s->fn = fn;
	s->userdata = userdata;
	strmap_init(&s->by_key);
	return s;
}

static void alert_free(struct alert *a)
{
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
	for (struct alert *a = s->head, *next; a; a = next) {
		next = a->next;
		alert_free(a);
	}
	strmap_done(&s->by_key);
	free(s);
}

void alert_store_set_hold(struct alert_store *s, uint64_t hold_ms)
{
	s->hold_ms = hold_ms;
}

static void unlink_alert(struct alert_store *s, struct alert *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		s->head = a->next;
	if (a->next)
		a->next->prev = a->prev;
	else
		s->tail = a->prev;
	a->prev = a->next = NULL;
}

static void push_front(struct alert_store *s, struct alert *a)
{
	a->next = s->head;
	if (s->head)
		s->head->prev = a;
	s->head = a;
	if (!s->tail)
		s->tail = a;
}

/* Drop the oldest resolved alerts beyond the history limit. */
static void trim_history(struct alert_store *s)
{
	for (struct alert *a = s->tail, *prev; a && s->nresolved > ALERT_HISTORY_MAX; a = prev) {
		prev = a->prev;
		if (a->firing)
			continue;
		char key[400];
		make_key(key, sizeof(key), a->cause, a->peer ? a->peer : a->upstream);
		if (strmap_get(&s->by_key, key) == a)
			strmap_remove(&s->by_key, key);
		unlink_alert(s, a);
		alert_free(a);
		s->nresolved--;
	}
}

static void replace(char **dst, const char *src)
{
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
	for (size_t i = 0; i < a->nevidence; i++)
		free(a->evidence[i]);
	a->nevidence = MIN(r->nevidence, (size_t)ALERT_EVIDENCE_MAX);
	for (size_t i = 0; i < a->nevidence; i++)
		a->evidence[i] = xstrdup(r->evidence[i]);
}

static void changed(struct alert_store *s, const struct alert *a)
{
	if (s->fn)
		s->fn(s->userdata, a);
}

const struct alert *alert_report(struct alert_store *s, const struct alert_report *r, int64_t now)
{
	char key[400];
	make_key(key, sizeof(key), r->cause, r->peer ? r->peer : r->upstream);
	struct alert *a = strmap_get(&s->by_key, key);
	int64_t seen = r->time_ms ? r->time_ms : now;

	if (a && a->firing) {
		bool sev_changed = a->severity != r->severity;
		a->severity = r->severity;
		a->last_seen = MAX(a->last_seen, seen);
		a->count += r->occurrences;
		set_content(a, r);
		if (sev_changed)
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
		a = xcalloc(1, sizeof(*a));
		a->cause = r->cause;
		a->peer = r->peer ? xstrdup(r->peer) : NULL;
		a->first_seen = seen;
		a->hold_ms = s->hold_ms;
		uint64_t h = 1469598103934665603ULL ^ (uint64_t)now ^ (++s->seq << 32);
		for (const char *p = key; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		snprintf(a->id, sizeof(a->id), "%016llx", (unsigned long long)h);
		push_front(s, a);
		strmap_put(&s->by_key, key, a);
	}
	a->firing = true;
	a->resolved_at = 0;
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

void alert_supersede(struct alert_store *s, enum cause cause, const char *subject, int64_t now)
{
	char key[400];
	make_key(key, sizeof(key), cause, subject);
	struct alert *a = strmap_get(&s->by_key, key);
	if (a && a->firing) {
		resolve(s, a, now);
		trim_history(s);
	}
}

void alert_tick(struct alert_store *s, int64_t now)
{
	for (struct alert *a = s->head; a; a = a->next)
		if (a->firing && now - a->last_seen >= (int64_t)a->hold_ms)
			resolve(s, a, now);
	trim_history(s);
}

const struct alert *alert_find(const struct alert_store *s, enum cause cause, const char *subject)
{
	char key[400];
	make_key(key, sizeof(key), cause, subject);
	const struct alert *a = strmap_get(&s->by_key, key);
	return a && a->firing ? a : NULL;
}

bool alert_peer_firing(const struct alert_store *s, const char *peer, int except)
{
	for (int c = 0; c < CAUSE__COUNT; c++)
		if (c != except && alert_find(s, (enum cause)c, peer))
			return true;
	return false;
}

const struct alert *alert_first(const struct alert_store *s)
{
	return s->head;
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

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char buf[32];
	if (ms <= 0) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	format_time_ms(ms, buf);
	cJSON_AddStringToObject(o, name, buf);
}

static void add_string_or_null(cJSON *o, const char *name, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

cJSON *alert_json(const struct alert *a)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", a->id);
	cJSON_AddStringToObject(o, "cause", cause_name(a->cause));
	cJSON_AddStringToObject(o, "severity", alert_severity_name(a->severity));
	cJSON_AddStringToObject(o, "state", a->firing ? "firing" : "resolved");
	add_string_or_null(o, "upstream", a->upstream);
	add_string_or_null(o, "peer", a->peer);
	add_time(o, "first_seen", a->first_seen);
	add_time(o, "last_seen", a->last_seen);
	add_time(o, "resolved_at", a->resolved_at);
	cJSON_AddNumberToObject(o, "count", (double)a->count);
	cJSON_AddNumberToObject(o, "flaps", a->flaps);
	add_string_or_null(o, "summary", a->summary);
	add_string_or_null(o, "explanation", a->explanation);
	add_string_or_null(o, "fix", a->fix);
	add_string_or_null(o, "config_ref", a->config_ref);
	cJSON *ev = cJSON_AddArrayToObject(o, "evidence");
	for (size_t i = 0; i < a->nevidence; i++)
		cJSON_AddItemToArray(ev, cJSON_CreateString(a->evidence[i]));
	return o;
}
