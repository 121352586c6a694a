/* metrics: Prometheus text exposition of peers, events, alerts and counters. */
#include "output/metrics.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "log/accessstats.h"
#include "output/ipc.h"
#include "output/problems.h"
#include "output/json.h"
#include "nginx/ngxconf.h"
#include "probe/probe.h"
#include "log/tail.h"
#include "core/escape.h"
#include "core/util.h"

struct text {
	char *p;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->p = grow_array(t->p, &t->cap, t->len + (size_t)(n > 0 ? n : 0) + 4096, 1);
	}
}

/* Label values per the exposition format (escape_prom_label): \\, \" and \n
 * escaped, invalid UTF-8 made valid, so one odd unix path cannot make
 * promtool or node_exporter reject the whole file. */
static void put_label(struct text *t, const char *name, const char *value)
{
	char *v = escape_prom_label(value ? value : "");
	put(t, "%s=\"%s\"", name, v);
	free(v);
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void peer_sample(struct text *t, const char *metric, const char *key, const char *proto,
			double v)
{
	put(t, "%s{", metric);
	put_label(t, "peer", key);
	if (proto) {
		put(t, ",");
		put_label(t, "protocol", proto);
	}
	put(t, "} %.17g\n", v);
}

static void peers(struct text *t, const struct metrics_sources *s)
{
	size_t n = s->model ? s->model->npeers : 0;
	family(t, "upwatch_peer_up", "gauge",
	       "1 when the last probe of the peer succeeded, 0 when it failed.");
	for (size_t i = 0; i < n + s->nextra_peers; i++) {
		const char *key = i < n ? s->model->peers[i].key : s->extra_peers[i - n];
		const char *proto =
		    i < n ? ngxconf_proto_name(s->model->peers[i].proto) : s->extra_proto;
		enum peer_state st = prober_state(s->prober, key);
		if (st != PEER_UNKNOWN)
			peer_sample(t, "upwatch_peer_up", key, proto, st == PEER_UP);
	}
	family(t, "upwatch_peer_probe_latency_seconds", "gauge",
	       "Duration of the last probe of the peer.");
	for (size_t i = 0; i < n + s->nextra_peers; i++) {
		const char *key = i < n ? s->model->peers[i].key : s->extra_peers[i - n];
		struct probe_result r;
		if (prober_last(s->prober, key, &r) == 0 && r.time_ms)
			peer_sample(t, "upwatch_peer_probe_latency_seconds", key, NULL,
				    r.latency_ms / 1000.0);
	}
}

static void peer_events(void *ud, const char *key, const uint64_t kinds[EV__COUNT])
{
	struct text *t = ud;
	for (int k = 0; k < EV__COUNT; k++) {
		if (!kinds[k])
			continue;
		put(t, "upwatch_peer_log_events_total{");
		put_label(t, "peer", key);
		put(t, ",");
		put_label(t, "kind", errlog_kind_name((enum errlog_kind)k));
		put(t, "} %llu\n", (unsigned long long)kinds[k]);
	}
}

static void events(struct text *t, const struct metrics_sources *s)
{
	family(t, "upwatch_log_events_total", "counter", "nginx error-log events by kind.");
	for (int k = 0; k < EV__COUNT; k++) {
		put(t, "upwatch_log_events_total{");
		put_label(t, "kind", errlog_kind_name((enum errlog_kind)k));
		put(t, "} %llu\n",
		    (unsigned long long)diag_events_count(s->diag, (enum errlog_kind)k));
	}
	family(t, "upwatch_peer_log_events_total", "counter",
	       "nginx error-log events by peer and kind.");
	diag_foreach_peer(s->diag, peer_events, t);
	family(t, "upwatch_learned_peers", "gauge",
	       "Peers learned from the logs that the nginx configuration does not name.");
	put(t, "upwatch_learned_peers %zu\n", diag_learned_count(s->diag));
	family(t, "upwatch_log_events_untracked_total", "counter",
	       "Events of learned peers beyond the cap of tracked peers.");
	put(t, "upwatch_log_events_untracked_total %llu\n",
	    (unsigned long long)diag_untracked_events(s->diag));
}

static void alerts(struct text *t, const struct metrics_sources *s)
{
	unsigned firing[CAUSE__COUNT] = {0};
	for (const struct alert *a = alert_first(s->alerts); a; a = alert_next(s->alerts, a))
		if (a->firing)
			firing[a->cause]++;
	family(t, "upwatch_alerts_firing", "gauge", "Firing alerts by cause.");
	for (int c = 0; c < CAUSE__COUNT; c++) {
		put(t, "upwatch_alerts_firing{");
		put_label(t, "cause", cause_name((enum cause)c));
		put(t, "} %u\n", firing[c]);
	}
	family(t, "upwatch_alerts_raised_total", "counter", "Alerts raised.");
	put(t, "upwatch_alerts_raised_total %llu\n",
	    (unsigned long long)alert_raised_count(s->alerts));
	family(t, "upwatch_alerts_resolved_total", "counter", "Alerts resolved.");
	put(t, "upwatch_alerts_resolved_total %llu\n",
	    (unsigned long long)alert_resolved_count(s->alerts));
}

static double json_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void counters(struct text *t, const struct metrics_sources *s)
{
	static const struct {
		const char *field, *metric, *help;
	} log_fields[] = {
	    {"lines", "upwatch_log_lines_total", "Lines read from the error log."},
	    {"bytes", "upwatch_log_bytes_total", "Bytes read from the error log."},
	    {"rotations", "upwatch_log_rotations_total", "Rotations of the error log followed."},
	    {"truncations", "upwatch_log_truncations_total", "Truncations of the error log seen."},
	    {"lines_cut", "upwatch_log_lines_cut_total", "Over-long lines cut."},
	    {"lines_unparsed", "upwatch_log_lines_unparsed_total",
	     "Lines that are not nginx error-log entries."},
	    {"lines_lost", "upwatch_log_lines_lost_total",
	     "Lines provably lost in a copytruncate race."},
	    {"nul_bytes", "upwatch_log_nul_bytes_total",
	     "NUL bytes skipped at line starts (sparse zeros)."},
	};
	cJSON *logs = cJSON_CreateArray();
	if (s->tail)
		json_log_stats(s->tail, logs);
	for (size_t f = 0; f < ARRAY_SIZE(log_fields); f++) {
		family(t, log_fields[f].metric, "counter", log_fields[f].help);
		const cJSON *l;
		cJSON_ArrayForEach(l, logs)
		{
			const cJSON *path = cJSON_GetObjectItemCaseSensitive(l, "path");
			put(t, "%s{", log_fields[f].metric);
			put_label(t, "path", cJSON_IsString(path) ? path->valuestring : "");
			put(t, "} %.17g\n", json_num(l, log_fields[f].field));
		}
	}
	/* the log's current fault: its errno, 0 when it is followed fine */
	family(t, "upwatch_log_error", "gauge",
	       "errno of the error log's current fault (cannot read, watch or save offsets).");
	const cJSON *l;
	cJSON_ArrayForEach(l, logs)
	{
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(l, "path");
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(l, "error");
		put(t, "upwatch_log_error{");
		put_label(t, "path", cJSON_IsString(path) ? path->valuestring : "");
		put(t, "} %.17g\n", cJSON_IsObject(err) ? json_num(err, "errno") : 0.0);
	}
	cJSON_Delete(logs);

	cJSON *probes = cJSON_CreateObject();
	json_prober_stats(s->prober, probes);
	family(t, "upwatch_probes_sent_total", "counter", "Probes sent.");
	put(t, "upwatch_probes_sent_total %.17g\n", json_num(probes, "sent"));
	family(t, "upwatch_probes_failed_total", "counter", "Probes that failed.");
	put(t, "upwatch_probes_failed_total %.17g\n", json_num(probes, "failed"));
	cJSON_Delete(probes);

	struct ipc_stats is = {0};
	if (s->ipc)
		ipc_get_stats(s->ipc, &is);
	family(t, "upwatch_ipc_clients", "gauge", "Clients connected to the JSON socket.");
	put(t, "upwatch_ipc_clients %u\n", is.clients);
	family(t, "upwatch_ipc_dropped_total", "counter",
	       "Clients cut off for not reading or idling.");
	put(t, "upwatch_ipc_dropped_total %llu\n", (unsigned long long)is.dropped);
	family(t, "upwatch_ipc_refused_total", "counter",
	       "Clients turned away: credentials or the client cap.");
	put(t, "upwatch_ipc_refused_total %llu\n", (unsigned long long)is.refused);
	family(t, "upwatch_ipc_accept_errors_total", "counter",
	       "Clients that could not be accepted for lack of descriptors or memory.");
	put(t, "upwatch_ipc_accept_errors_total %llu\n", (unsigned long long)is.accept_errors);
	family(t, "upwatch_journal_dropped_total", "counter",
	       "Alerts and log entries journald did not take.");
	put(t, "upwatch_journal_dropped_total %llu\n", (unsigned long long)s->journal_dropped);
	family(t, "upwatch_problems", "gauge",
	       "Problems keeping upwatchd from its whole job (see `upwatchctl status`).");
	for (int k = 0; k < PROBLEM__COUNT; k++) {
		put(t, "upwatch_problems{");
		put_label(t, "kind", problem_kind_name((enum problem_kind)k));
		put(t, "} %zu\n",
		    s->problems ? problems_count(s->problems, (enum problem_kind)k) : 0);
	}
	family(t, "upwatch_reloads_total", "counter", "Successful configuration reloads.");
	put(t, "upwatch_reloads_total %u\n", s->reloads);
	family(t, "upwatch_reload_failures_total", "counter",
	       "Reloads refused for a bad configuration.");
	put(t, "upwatch_reload_failures_total %u\n", s->reload_failures);
	family(t, "upwatch_resident_memory_bytes", "gauge", "upwatchd's resident memory.");
	put(t, "upwatch_resident_memory_bytes %ld\n", s->rss_bytes);
}

static void location_labels(struct text *t, const struct ngx_pass *p)
{
	char ref[600];
	snprintf(ref, sizeof(ref), "%s:%u", p->ref.file ? p->ref.file : "?", p->ref.line);
	put_label(t, "server", p->server_name ? p->server_name : "");
	put(t, ",");
	put_label(t, "location", p->location ? p->location : "");
	put(t, ",");
	put_label(t, "config_ref", ref);
}

static void code_samples(struct text *t, const char *metric, const struct accessstats_counts *c,
			 void (*labels)(struct text *, const void *), const void *ud)
{
	const struct {
		const char *code;
		uint64_t v;
	} codes[] = {{"502", c->s502}, {"503", c->s503}, {"504", c->s504}, {"5xx", c->s5xx}};
	for (size_t k = 0; k < ARRAY_SIZE(codes); k++) {
		put(t, "%s{", metric);
		labels(t, ud);
		put(t, ",code=\"%s\"} %llu\n", codes[k].code, (unsigned long long)codes[k].v);
	}
}

static void pass_labels(struct text *t, const void *ud)
{
	location_labels(t, ud);
}

static void peer_labels(struct text *t, const void *ud)
{
	put_label(t, "peer", ud);
}

/* What the access logs counted, per location (*_pass) and per peer. */
static void access_counts(struct text *t, const struct metrics_sources *s)
{
	const struct ngx_model *m = s->model;
	if (!s->access || !m)
		return;
	struct accessstats_counts c;
	family(t, "upwatch_location_requests_total", "counter",
	       "Requests the access logs show for the location.");
	for (size_t i = 0; i < m->npasses; i++)
		if (accessstats_pass_total(s->access, i, &c)) {
			put(t, "upwatch_location_requests_total{");
			location_labels(t, &m->passes[i]);
			put(t, "} %llu\n", (unsigned long long)c.requests);
		}
	family(t, "upwatch_location_errors_total", "counter",
	       "Requests of the location answered 502, 503, 504 or any 5xx.");
	for (size_t i = 0; i < m->npasses; i++)
		if (accessstats_pass_total(s->access, i, &c))
			code_samples(t, "upwatch_location_errors_total", &c, pass_labels,
				     &m->passes[i]);
	family(t, "upwatch_location_retries_total", "counter",
	       "nginx's retries to another peer for the location's requests.");
	for (size_t i = 0; i < m->npasses; i++)
		if (accessstats_pass_total(s->access, i, &c)) {
			put(t, "upwatch_location_retries_total{");
			location_labels(t, &m->passes[i]);
			put(t, "} %llu\n", (unsigned long long)c.retries);
		}
	const char *key;
	family(t, "upwatch_peer_requests_total", "counter",
	       "Tries nginx made to the peer, from the access logs.");
	for (size_t it = 0; accessstats_next_peer(s->access, &it, &key);)
		if (accessstats_peer_total(s->access, key, &c)) {
			put(t, "upwatch_peer_requests_total{");
			put_label(t, "peer", key);
			put(t, "} %llu\n", (unsigned long long)c.requests);
		}
	family(t, "upwatch_peer_errors_total", "counter",
	       "Tries to the peer answered 502, 503, 504 or any 5xx.");
	for (size_t it = 0; accessstats_next_peer(s->access, &it, &key);)
		if (accessstats_peer_total(s->access, key, &c))
			code_samples(t, "upwatch_peer_errors_total", &c, peer_labels, key);
	family(t, "upwatch_peer_response_seconds", "gauge",
	       "Upstream response time quantiles over the last 5 minutes.");
	static const double qs[] = {0.5, 0.9, 0.99};
	for (size_t it = 0; accessstats_next_peer(s->access, &it, &key);)
		for (size_t k = 0; k < ARRAY_SIZE(qs); k++) {
			uint64_t ms;
			if (accessstats_peer_quantile_ms(s->access, key, qs[k], 5, s->now, &ms) < 0)
				continue;
			put(t, "upwatch_peer_response_seconds{");
			put_label(t, "peer", key);
			put(t, ",quantile=\"%g\"} %.3f\n", qs[k], (double)ms / 1000.0);
		}
}

char *metrics_render(const struct metrics_sources *s)
{
	struct text t = {0};
	t.p = grow_array(NULL, &t.cap, 16384, 1);
	peers(&t, s);
	events(&t, s);
	alerts(&t, s);
	counters(&t, s);
	access_counts(&t, s);
	return t.p;
}
