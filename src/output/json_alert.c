/* json_alert: alerts and diagnosis counters as JSON (see json.h). */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "log/errlog_kind.h"
#include "nginx/ngxconf.h"
#include "output/json.h"
#include "core/util.h"

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

cJSON *json_alert(const struct alert *a)
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
	if (a->superseded_by[0])
		cJSON_AddStringToObject(o, "superseded_by", a->superseded_by);
	cJSON *ev = cJSON_AddArrayToObject(o, "evidence");
	for (size_t i = 0; i < a->nevidence; i++)
		cJSON_AddItemToArray(ev, cJSON_CreateString(a->evidence[i]));
	return o;
}

void json_diag_events(const struct diag *d, cJSON *obj)
{
	for (int k = 0; k < EV__COUNT; k++)
		cJSON_AddNumberToObject(obj, errlog_kind_name((enum errlog_kind)k),
					(double)diag_events_count(d, (enum errlog_kind)k));
}

cJSON *json_diag_learned(const struct diag *d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "tracked", (double)diag_learned_count(d));
	cJSON_AddNumberToObject(o, "untracked_events", (double)diag_untracked_events(d));
	return o;
}

/* Every upstream block whose every server (not `down`) has a firing
 * peer-level alert: what no_live_upstreams said while nginx logged it, kept
 * visible after that line resolves, through the peers' own alerts. */
static void add_blocks_down(cJSON *o, const struct ngx_model *m, const struct alert_store *s)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "blocks_down");
	for (size_t i = 0; m && i < m->nupstreams; i++) {
		const struct ngx_upstream *u = &m->upstreams[i];
		size_t n = 0, down = 0;
		for (size_t j = 0; j < u->nservers; j++) {
			const struct ngx_server *sv = &u->servers[j];
			if (sv->down)
				continue;
			n++;
			down += sv->key && alert_peer_firing(s, sv->key, CAUSE__COUNT);
		}
		if (u->balancer_lua || !n || down < n)
			continue;
		cJSON *b = cJSON_CreateObject();
		char ref[PATH_MAX + 16];
		cJSON_AddStringToObject(b, "upstream", u->name);
		snprintf(ref, sizeof(ref), "%s:%u", u->ref.file, u->ref.line);
		cJSON_AddStringToObject(b, "config_ref", ref);
		cJSON *peers = cJSON_AddArrayToObject(b, "peers");
		for (size_t j = 0; j < u->nservers; j++)
			if (!u->servers[j].down)
				cJSON_AddItemToArray(peers, cJSON_CreateString(u->servers[j].key));
		cJSON_AddItemToArray(arr, b);
	}
}

void json_alerts_answer(cJSON *o, const struct ngx_model *m, const struct alert_store *s, bool all,
			bool severe_first)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "alerts");
	for (int pass = 0; pass < (severe_first ? 2 : 1); pass++)
		for (const struct alert *a = alert_first(s); a; a = alert_next(s, a))
			if ((all || a->firing) &&
			    (!severe_first || (a->severity == ALERT_CRITICAL) == (pass == 0)))
				cJSON_AddItemToArray(arr, json_alert(a));
	add_blocks_down(o, m, s);
}
