/* impact: access-log figures for alerts (see impact.h). */
#include "diagnose/impact.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "diagnose/alert.h"
#include "log/accessstats.h"
#include "nginx/ngxconf.h"
#include "probe/probe_result.h"

#define SERVED_WINDOW_S 60
#define HEALTH_WORDS	" while nginx is answered through it"

static uint64_t bad(const struct accessstats_counts *c)
{
	return c->s502 + c->s503 + c->s504;
}

/* The pass (index) with the most 502/503/504 of those given. */
static size_t worst_pass(const struct accessstats *s, const size_t *passes, size_t n, time_t now)
{
	size_t best = SIZE_MAX;
	uint64_t most = 0;
	for (size_t i = 0; i < n; i++) {
		struct accessstats_counts c;
		if (accessstats_pass_recent(s, passes[i], now, &c) && bad(&c) > most) {
			most = bad(&c);
			best = passes[i];
		}
	}
	return best;
}

static size_t peer_sentence(const struct accessstats *s, const char *peer, time_t now, char *buf,
			    size_t len)
{
	struct accessstats_counts c;
	if (!accessstats_peer_recent(s, peer, now, &c) || bad(&c) == 0)
		return 0;
	uint64_t n;
	int code = accessstats_worst(&c, &n);
	int w = snprintf(buf, len,
			 "%llu request%s through peer %s answered %d %s, %.1f %% of its traffic",
			 (unsigned long long)n, n == 1 ? "" : "s", peer, code,
			 accessstats_recent_words(s), 100.0 * (double)n / (double)c.requests);
	return w < 0 ? 0 : MIN((size_t)w, len - 1);
}

size_t impact_text(const struct accessstats *access, const struct ngx_model *m, const char *peer,
		   const char *upstream, const struct ngx_pass *pass, int64_t now_ms, char *buf,
		   size_t len)
{
	if (!access || !m || len == 0)
		return 0;
	time_t now = (time_t)(now_ms / 1000);
	size_t idx = SIZE_MAX;
	if (pass && pass >= m->passes && pass < m->passes + m->npasses) {
		size_t one = (size_t)(pass - m->passes);
		idx = worst_pass(access, &one, 1, now);
	}
	const struct ngx_peer *p = peer ? ngxconf_peer(m, peer) : NULL;
	if (idx == SIZE_MAX && p)
		idx = worst_pass(access, p->passes, p->npasses, now);
	const struct ngx_upstream *up = upstream ? ngxconf_upstream(m, upstream) : NULL;
	if (idx == SIZE_MAX && !peer && up)
		idx = worst_pass(access, up->passes, up->npasses, now);
	if (idx != SIZE_MAX) {
		size_t n = accessstats_impact(access, idx, now, buf, len);
		if (n)
			return n;
	}
	return peer ? peer_sentence(access, peer, now, buf, len) : 0;
}

bool impact_served(const struct accessstats *access, const char *peer, int64_t now_ms)
{
	return access && peer &&
	       accessstats_peer_served(access, peer, SERVED_WINDOW_S, (time_t)(now_ms / 1000));
}

void impact_report_health(struct alert_store *alerts, const struct accessstats *access,
			  const struct ngx_model *m, const char *peer, const char *health_uri,
			  const struct probe_result *r, int64_t now_ms)
{
	char summary[512], expl[1024], fix[512], probe[400], served[200], ref[600] = "";
	struct accessstats_counts c = {0};
	time_t now = (time_t)(now_ms / 1000);
	accessstats_peer_window(access, peer, SERVED_WINDOW_S, now, &c);
	const struct ngx_peer *p = m ? ngxconf_peer(m, peer) : NULL;
	const struct ngx_ref *pr = p && p->nrefs ? &p->refs[0] : NULL;
	if (pr && pr->file)
		snprintf(ref, sizeof(ref), "%s:%u", pr->file, pr->line);
	snprintf(summary, sizeof(summary), "%s fails its health check GET %s (%s)" HEALTH_WORDS,
		 peer, health_uri, probe_result_name(r->result));
	snprintf(probe, sizeof(probe), "probe: GET %s: %s (%s)", health_uri,
		 probe_result_name(r->result), r->detail);
	snprintf(served, sizeof(served),
		 "access log: %llu requests through %s in the last minute, %llu answered 5xx",
		 (unsigned long long)c.requests, peer, (unsigned long long)c.s5xx);
	snprintf(expl, sizeof(expl),
		 "Observed: the configured health check GET %s on %s fails (%s); the access "
		 "log shows nginx got answers through it within the last minute (%llu "
		 "requests). Inferred: users are served, so this is no outage, but the "
		 "application reports itself unhealthy (a dependency down, a failing "
		 "readiness check) or the health check no longer matches the application.",
		 health_uri, peer, r->detail, (unsigned long long)c.requests);
	snprintf(fix, sizeof(fix),
		 "Look at what GET %s on %s reports and why; if the check is wrong, change "
		 "health_uri / expect_status for this peer in upwatch.conf.\n",
		 health_uri, peer);
	const char *ev[2] = {probe, served};
	struct alert_report rep = {
	    .cause = CAUSE_PEER_FAILING,
	    .severity = ALERT_WARNING,
	    .peer = peer,
	    .upstream = p && p->nupstreams ? p->upstreams[0] : NULL,
	    .summary = summary,
	    .explanation = expl,
	    .fix = fix,
	    .config_ref = ref[0] ? ref : NULL,
	    .evidence = ev,
	    .nevidence = 2,
	    .time_ms = now_ms,
	};
	alert_report(alerts, &rep, now_ms);
}

bool impact_is_health(const struct alert *a)
{
	return a && a->firing && a->cause == CAUSE_PEER_FAILING && a->summary &&
	       strstr(a->summary, HEALTH_WORDS) != NULL;
}

/* The pass reaching p with the shortest read timeout. */
static const struct ngx_pass *tightest_pass(const struct ngx_model *m, const struct ngx_peer *p)
{
	const struct ngx_pass *best = NULL;
	for (size_t j = 0; j < p->npasses; j++) {
		const struct ngx_pass *c = &m->passes[p->passes[j]];
		if (!c->stream && c->t->read_ms && (!best || c->t->read_ms < best->t->read_ms))
			best = c;
	}
	return best;
}

static const char *module_prefix(const char *directive)
{
	const char *u = strchr(directive, '_');
	static char buf[32];
	snprintf(buf, sizeof(buf), "%.*s", u ? (int)(u - directive) : (int)strlen(directive),
		 directive);
	return buf;
}

static void report_slow(struct alert_store *alerts, const struct accessstats *access,
			const struct ngx_model *m, const struct ngx_peer *p,
			const struct ngx_pass *pass, uint64_t p99, int64_t now_ms)
{
	char summary[512], expl[1024], fix[512], ref[600], line[400], impact[600];
	const char *pfx = module_prefix(pass->directive);
	const struct ngx_ref *r = pass->t->read_ref.file ? &pass->t->read_ref : &pass->ref;
	snprintf(ref, sizeof(ref), "%s:%u", r->file ? r->file : "?", r->line);
	double pct = 100.0 * (double)p99 / (double)pass->t->read_ms;
	snprintf(summary, sizeof(summary),
		 "%s is getting slow: p99 upstream response time %.3f s is %.0f %% of "
		 "%s_read_timeout %.3g s",
		 p->key, (double)p99 / 1000.0, pct, pfx, (double)pass->t->read_ms / 1000.0);
	snprintf(expl, sizeof(expl),
		 "Observed (access log, %s): 99 %% of nginx's tries to %s were answered "
		 "within %.3f s; the location %s waits %.3g s (%s_read_timeout, %s) before it "
		 "gives up with 504. Nothing timed out yet. Inferred: the backend is slowing "
		 "down (load, slow queries, a worker pool near its limit) and requests will "
		 "soon fail.",
		 accessstats_recent_words(access), p->key, (double)p99 / 1000.0,
		 pass->location[0] ? pass->location : "/", (double)pass->t->read_ms / 1000.0, pfx,
		 pass->t->read_ref.file ? ref : "nginx's default");
	snprintf(fix, sizeof(fix),
		 "Find what slows the backend (its slow log, worker pool size) before requests "
		 "time out; if such responses are expected, wait longer in location %s:\n"
		 "    %s_read_timeout %llus;\n",
		 pass->location[0] ? pass->location : "/", pfx,
		 (unsigned long long)((pass->t->read_ms * 2 + 999) / 1000));
	snprintf(line, sizeof(line), "access log: p99 upstream_response_time %.3f s through %s",
		 (double)p99 / 1000.0, p->key);
	const char *ev[2] = {line, impact};
	size_t nev = 1;
	if (impact_text(access, m, p->key, NULL, pass, now_ms, impact, sizeof(impact)))
		nev = 2;
	struct alert_report rep = {
	    .cause = CAUSE_BACKEND_SLOW,
	    .severity = ALERT_WARNING,
	    .peer = p->key,
	    .upstream = p->nupstreams ? p->upstreams[0] : NULL,
	    .summary = summary,
	    .explanation = expl,
	    .fix = fix,
	    .config_ref = ref,
	    .evidence = ev,
	    .nevidence = nev,
	    .time_ms = now_ms,
	    .impact = nev == 2,
	};
	alert_report(alerts, &rep, now_ms);
}

unsigned impact_check_slow(const struct accessstats *access, const struct ngx_model *m,
			   struct alert_store *alerts, int64_t now_ms)
{
	if (!access || !m || !alerts)
		return 0;
	time_t now = (time_t)(now_ms / 1000);
	unsigned n = 0;
	const char *key;
	for (size_t it = 0; accessstats_next_peer(access, &it, &key);) {
		const struct ngx_peer *p = ngxconf_peer(m, key);
		const struct ngx_pass *pass = p ? tightest_pass(m, p) : NULL;
		struct accessstats_counts c;
		uint64_t p99;
		/* over the last 5 min, or all explain --since read */
		if (!pass || !accessstats_peer_recent(access, key, now, &c) ||
		    c.requests < IMPACT_SLOW_MIN_SAMPLES ||
		    accessstats_peer_quantile_recent_ms(access, key, 0.99, now, &p99) < 0 ||
		    p99 * 100 <= pass->t->read_ms * IMPACT_SLOW_PERCENT)
			continue;
		const struct alert *a = alert_find(alerts, CAUSE_BACKEND_SLOW, key);
		if (a && a->firing && !strstr(a->summary, "is getting slow"))
			continue; /* the error log's timeouts tell the stronger story */
		report_slow(alerts, access, m, p, pass, p99, now_ms);
		n++;
	}
	return n;
}

/* Whether a firing alert tells why pass fails. */
static bool explained(const struct ngx_model *m, const struct alert_store *alerts,
		      const struct ngx_pass *pass)
{
	if (pass->key && alert_peer_firing(alerts, pass->key, CAUSE_ERRORS_UNLOGGED))
		return true;
	const struct ngx_upstream *up = pass->upstream ? ngxconf_upstream(m, pass->upstream) : NULL;
	if (!up)
		return false;
	if (alert_find(alerts, CAUSE_NO_LIVE_UPSTREAMS, up->name))
		return true;
	for (size_t i = 0; i < up->nservers; i++)
		if (up->servers[i].key &&
		    alert_peer_firing(alerts, up->servers[i].key, CAUSE_ERRORS_UNLOGGED))
			return true;
	return false;
}

static bool hides_errors(const char *level)
{
	return level && (streq(level, "crit") || streq(level, "alert") || streq(level, "emerg"));
}

unsigned impact_check_unlogged(const struct accessstats *access, const struct ngx_model *m,
			       struct alert_store *alerts, int64_t now_ms)
{
	if (!access || !m || !alerts)
		return 0;
	time_t now = (time_t)(now_ms / 1000);
	size_t worst = SIZE_MAX;
	uint64_t most = 0;
	bool any = false;
	for (size_t i = 0; i < m->npasses; i++) {
		struct accessstats_counts c;
		if (!accessstats_pass_recent(access, i, now, &c) || bad(&c) < IMPACT_UNLOGGED_MIN)
			continue;
		any = true;
		if (bad(&c) > most && !explained(m, alerts, &m->passes[i])) {
			most = bad(&c);
			worst = i;
		}
	}
	if (worst == SIZE_MAX) {
		if (any && alert_find(alerts, CAUSE_ERRORS_UNLOGGED, NULL))
			alert_supersede(alerts, CAUSE_ERRORS_UNLOGGED, NULL, now_ms);
		return 0;
	}
	const struct ngx_pass *pass = &m->passes[worst];
	const struct ngx_error_log *quiet = NULL;
	for (size_t i = 0; i < m->nerror_logs && !quiet; i++)
		if (hides_errors(m->error_logs[i].level))
			quiet = &m->error_logs[i];
	char impact[600], summary[1024], expl[4096], fix[4096], ref[600];
	accessstats_impact(access, worst, now, impact, sizeof(impact));
	snprintf(summary, sizeof(summary), "%s, and no error-log line says why", impact);
	const struct ngx_ref *r = quiet && quiet->ref.file ? &quiet->ref : &pass->ref;
	snprintf(ref, sizeof(ref), "%s:%u", r->file ? r->file : "?", r->line);
	if (quiet) {
		snprintf(expl, sizeof(expl),
			 "Observed (access log): %s. The error log holds no line about them: "
			 "error_log %s is at level %s (%s), which drops the \"connect() failed\", "
			 "\"upstream timed out\" and \"upstream prematurely closed\" lines "
			 "(level error) that tell why.",
			 impact, quiet->path, quiet->level, ref);
		snprintf(fix, sizeof(fix),
			 "Lower the error_log level so that the next failure says why (%s):\n"
			 "    error_log %s error;\n",
			 ref, quiet->path);
	} else {
		snprintf(
		    expl, sizeof(expl),
		    "Observed (access log): %s. The error log holds no line about them although "
		    "its level lets errors through: the backend answered with that status "
		    "itself (an application error, or proxy_intercept_errors turning its "
		    "answer into nginx's error page), which nginx does not log as an error.",
		    impact);
		snprintf(
		    fix, sizeof(fix),
		    "Look at the backend's own logs for these requests; to see nginx's view "
		    "of each failure, keep error_log at level error or lower (warn, notice).\n");
	}
	/* which peer failed is the access log's to say, when its format can */
	const struct accessstats_log *lg = accessstats_pass_log(access, worst);
	char advice[2048];
	if (lg && accessstats_format_advice(lg, advice, sizeof(advice))) {
		size_t n = strlen(fix);
		snprintf(fix + n, sizeof(fix) - n, "%s\n", advice);
	}
	const char *ev[1] = {impact};
	struct alert_report rep = {
	    .cause = CAUSE_ERRORS_UNLOGGED,
	    .severity = ALERT_WARNING,
	    .upstream = pass->upstream,
	    .summary = summary,
	    .explanation = expl,
	    .fix = fix,
	    .config_ref = ref,
	    .evidence = ev,
	    .nevidence = 1,
	    .time_ms = now_ms,
	    .impact = true,
	};
	alert_report(alerts, &rep, now_ms);
	return 1;
}
