/* impact: access-log figures for alerts (see impact.h). */
#include "diagnose/impact.h"

#include <stdio.h>
#include <strings.h>

#include "core/util.h"
#include "log/accessstats.h"
#include "nginx/ngxconf.h"

#define IMPACT_WINDOW_S 300
#define SERVED_WINDOW_S 60

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
		if (accessstats_pass_window(s, passes[i], IMPACT_WINDOW_S, now, &c) &&
		    bad(&c) > most) {
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
	if (!accessstats_peer_window(s, peer, IMPACT_WINDOW_S, now, &c) || bad(&c) == 0)
		return 0;
	uint64_t n = c.s502;
	int code = 502;
	if (c.s504 > n) {
		n = c.s504;
		code = 504;
	}
	if (c.s503 > n) {
		n = c.s503;
		code = 503;
	}
	int w = snprintf(buf, len,
			 "%llu request%s through peer %s answered %d in the last 5 min, %.1f %% "
			 "of its traffic",
			 (unsigned long long)n, n == 1 ? "" : "s", peer, code,
			 100.0 * (double)n / (double)c.requests);
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
