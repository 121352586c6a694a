/* json_access: the access-log statistics as the `stats` command shows them
 * (see output/json.h). */
#include <cjson/cJSON.h>
#include <stdio.h>

#include "log/accessstats.h"
#include "nginx/ngxconf.h"
#include "output/json.h"

static void add_counts(cJSON *o, const struct accessstats_counts *c)
{
	cJSON_AddNumberToObject(o, "requests", (double)c->requests);
	cJSON_AddNumberToObject(o, "502", (double)c->s502);
	cJSON_AddNumberToObject(o, "503", (double)c->s503);
	cJSON_AddNumberToObject(o, "504", (double)c->s504);
	cJSON_AddNumberToObject(o, "5xx", (double)c->s5xx);
	cJSON_AddNumberToObject(o, "retries", (double)c->retries);
}

static void add_windows(cJSON *o, const struct accessstats_counts *total,
			const struct accessstats_counts *m1, const struct accessstats_counts *m5)
{
	add_counts(o, total);
	add_counts(cJSON_AddObjectToObject(o, "1m"), m1);
	add_counts(cJSON_AddObjectToObject(o, "5m"), m5);
}

cJSON *json_access_stats(const struct accessstats *s, const struct ngx_model *m, long now)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *logs = cJSON_AddArrayToObject(o, "logs");
	for (size_t i = 0; s && i < accessstats_nlogs(s); i++) {
		const struct accessstats_log *l = accessstats_log_at(s, i);
		cJSON *lo = cJSON_CreateObject();
		cJSON_AddStringToObject(lo, "path", l->path);
		cJSON_AddBoolToObject(lo, "upstream_vars", l->upstream_vars);
		cJSON_AddNumberToObject(lo, "lines", (double)l->lines);
		cJSON_AddNumberToObject(lo, "unparsed", (double)l->unparsed);
		cJSON_AddNumberToObject(lo, "unmatched", (double)l->unmatched);
		char advice[2048];
		if (accessstats_format_advice(l, advice, sizeof(advice)))
			cJSON_AddStringToObject(lo, "advice", advice);
		cJSON_AddItemToArray(logs, lo);
	}
	cJSON *locs = cJSON_AddArrayToObject(o, "locations");
	for (size_t i = 0; s && m && i < m->npasses; i++) {
		struct accessstats_counts t, m1, m5;
		if (!accessstats_pass_total(s, i, &t))
			continue;
		accessstats_pass_window(s, i, 60, now, &m1);
		accessstats_pass_window(s, i, 300, now, &m5);
		const struct ngx_pass *p = &m->passes[i];
		cJSON *lo = cJSON_CreateObject();
		cJSON_AddStringToObject(lo, "location", p->location ? p->location : "");
		if (p->stream)
			cJSON_AddTrueToObject(lo,
					      "stream"); /* a stream server: counts are sessions */
		if (p->server_name)
			cJSON_AddStringToObject(lo, "server_name", p->server_name);
		else
			cJSON_AddNullToObject(lo, "server_name");
		char ref[600];
		snprintf(ref, sizeof(ref), "%s:%u", p->ref.file ? p->ref.file : "?", p->ref.line);
		cJSON_AddStringToObject(lo, "config_ref", ref);
		add_windows(lo, &t, &m1, &m5);
		cJSON_AddItemToArray(locs, lo);
	}
	cJSON *peers = cJSON_AddArrayToObject(o, "peers");
	const char *key;
	for (size_t it = 0; s && accessstats_next_peer(s, &it, &key);) {
		struct accessstats_counts t, m1, m5;
		accessstats_peer_total(s, key, &t);
		accessstats_peer_window(s, key, 60, now, &m1);
		accessstats_peer_window(s, key, 300, now, &m5);
		cJSON *po = cJSON_CreateObject();
		cJSON_AddStringToObject(po, "peer", key);
		add_windows(po, &t, &m1, &m5);
		uint64_t ms;
		if (accessstats_peer_quantile_ms(s, key, 0.5, 5, now, &ms) == 0)
			cJSON_AddNumberToObject(po, "p50_ms", (double)ms);
		if (accessstats_peer_quantile_ms(s, key, 0.99, 5, now, &ms) == 0)
			cJSON_AddNumberToObject(po, "p99_ms", (double)ms);
		cJSON_AddItemToArray(peers, po);
	}
	return o;
}

cJSON *json_access_peer(const struct accessstats *s, const char *key, long now)
{
	struct accessstats_counts m1;
	if (!s || !accessstats_peer_window(s, key, 60, now, &m1))
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "requests_1m", (double)m1.requests);
	cJSON_AddNumberToObject(o, "5xx_1m", (double)m1.s5xx);
	cJSON_AddBoolToObject(o, "served_1m", accessstats_peer_served(s, key, 60, now));
	return o;
}
