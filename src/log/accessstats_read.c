/* accessstats_read: what the counts say — request and 5xx windows per
 * location and peer, response-time quantiles from the histograms, whether
 * nginx served a peer lately, the impact sentence and the log_format advice. */
#include "log/accessstats.h"
#include "log/accessstats_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

const struct accessstats_log *accessstats_pass_log(const struct accessstats *s, size_t pass)
{
	if (pass >= s->m->npasses || !s->pass[pass] || !s->pass[pass]->log)
		return NULL;
	return &s->logs[s->pass[pass]->log - 1].pub;
}

static bool window(const struct entity *e, unsigned secs, time_t now,
		   struct accessstats_counts *ret)
{
	if (!e)
		return false;
	unsigned n = (secs + ACCESSSTATS_BUCKET_SECS - 1) / ACCESSSTATS_BUCKET_SECS;
	n = MIN(MAX(n, 1u), (unsigned)ACCESSSTATS_BUCKETS);
	int64_t cur = (int64_t)now / ACCESSSTATS_BUCKET_SECS;
	struct accessstats_counts c = {0};
	for (size_t i = 0; i < ACCESSSTATS_BUCKETS; i++) {
		const struct bucket *b = &e->b[i];
		if (b->slot > cur - (int64_t)n && b->slot <= cur) {
			c.requests += b->c.requests;
			c.s502 += b->c.s502;
			c.s503 += b->c.s503;
			c.s504 += b->c.s504;
			c.s5xx += b->c.s5xx;
			c.retries += b->c.retries;
		}
	}
	*ret = c;
	return true;
}

bool accessstats_pass_window(const struct accessstats *s, size_t pass, unsigned secs, time_t now,
			     struct accessstats_counts *ret)
{
	return pass < s->m->npasses && window(s->pass[pass], secs, now, ret);
}

bool accessstats_peer_window(const struct accessstats *s, const char *peer, unsigned secs,
			     time_t now, struct accessstats_counts *ret)
{
	return window(accessstats_peer_entity(s, peer), secs, now, ret);
}

bool accessstats_pass_recent(const struct accessstats *s, size_t pass, time_t now,
			     struct accessstats_counts *ret)
{
	return s->span ? accessstats_pass_total(s, pass, ret)
		       : accessstats_pass_window(s, pass, 300, now, ret);
}

bool accessstats_peer_recent(const struct accessstats *s, const char *peer, time_t now,
			     struct accessstats_counts *ret)
{
	return s->span ? accessstats_peer_total(s, peer, ret)
		       : accessstats_peer_window(s, peer, 300, now, ret);
}

bool accessstats_pass_total(const struct accessstats *s, size_t pass,
			    struct accessstats_counts *ret)
{
	if (pass >= s->m->npasses || !s->pass[pass])
		return false;
	*ret = s->pass[pass]->total;
	return true;
}

bool accessstats_peer_total(const struct accessstats *s, const char *peer,
			    struct accessstats_counts *ret)
{
	const struct entity *e = accessstats_peer_entity(s, peer);
	if (!e)
		return false;
	*ret = e->total;
	return true;
}

/* The upper bound of the bin holding the q-quantile of total samples. */
static int quantile_of(const uint64_t *bins, uint64_t total, double q, uint64_t *ret)
{
	if (total == 0)
		return -ENOENT;
	double at = q * (double)total; /* the want-th answer: ceil(at) */
	uint64_t want = (uint64_t)at, seen = 0;
	want += (double)want < at;
	for (unsigned b = 0; b < ACCESSSTATS_HIST_BINS; b++) {
		seen += bins[b];
		if (seen >= want) {
			*ret = accessstats_bin_upper_ms(b);
			return 0;
		}
	}
	*ret = accessstats_bin_upper_ms(ACCESSSTATS_HIST_BINS - 1);
	return 0;
}

int accessstats_peer_quantile_ms(const struct accessstats *s, const char *peer, double q,
				 unsigned minutes, time_t now, uint64_t *ret)
{
	const struct entity *e = accessstats_peer_entity(s, peer);
	if (!e || q <= 0 || q > 1)
		return -ENOENT;
	minutes = MIN(MAX(minutes, 1u), (unsigned)ACCESSSTATS_HIST_MINUTES);
	int64_t cur = (int64_t)now / 60;
	uint64_t bins[ACCESSSTATS_HIST_BINS] = {0}, total = 0;
	for (size_t k = 0; k < ACCESSSTATS_HIST_MINUTES; k++) {
		if (e->minute[k] <= cur - (int64_t)minutes || e->minute[k] > cur)
			continue;
		for (size_t b = 0; b < ACCESSSTATS_HIST_BINS; b++) {
			bins[b] += e->hist[k][b];
			total += e->hist[k][b];
		}
	}
	return quantile_of(bins, total, q, ret);
}

int accessstats_peer_quantile_recent_ms(const struct accessstats *s, const char *peer, double q,
					time_t now, uint64_t *ret)
{
	if (!s->span)
		return accessstats_peer_quantile_ms(s, peer, q, ACCESSSTATS_HIST_MINUTES, now, ret);
	const struct entity *e = accessstats_peer_entity(s, peer);
	if (!e || q <= 0 || q > 1)
		return -ENOENT;
	uint64_t total = 0;
	for (size_t b = 0; b < ACCESSSTATS_HIST_BINS; b++)
		total += e->hist_total[b];
	return quantile_of(e->hist_total, total, q, ret);
}

bool accessstats_peer_served(const struct accessstats *s, const char *peer, unsigned secs,
			     time_t now)
{
	const struct entity *e = accessstats_peer_entity(s, peer);
	return e && e->last_served > 0 && e->last_served + (int64_t)secs >= (int64_t)now;
}

int accessstats_worst(const struct accessstats_counts *c, uint64_t *ret_n)
{
	uint64_t n = c->s502;
	int code = 502;
	if (c->s504 > n) {
		n = c->s504;
		code = 504;
	}
	if (c->s503 > n) {
		n = c->s503;
		code = 503;
	}
	*ret_n = n;
	return code;
}

size_t accessstats_impact(const struct accessstats *s, size_t pass, time_t now, char *buf,
			  size_t len)
{
	struct accessstats_counts c;
	if (len == 0 || !accessstats_pass_recent(s, pass, now, &c) || c.requests == 0)
		return 0;
	uint64_t n;
	int code = accessstats_worst(&c, &n);
	if (n == 0)
		return 0;
	const struct ngx_pass *p = &s->m->passes[pass];
	char where[512];
	if (p->stream)
		snprintf(where, sizeof(where), "stream server (proxy_pass %s)", p->raw);
	else if (p->location && p->location[0])
		snprintf(where, sizeof(where), "location %s", p->location);
	else
		snprintf(where, sizeof(where), "server %s",
			 p->server_name ? p->server_name : "(no server_name)");
	int w = snprintf(buf, len, "%llu %s%s to %s (%s:%u) answered %d %s, %.1f %% of its traffic",
			 (unsigned long long)n, p->stream ? "session" : "request",
			 n == 1 ? "" : "s", where, p->ref.file ? p->ref.file : "?", p->ref.line,
			 code, s->span_words, 100.0 * (double)n / (double)c.requests);
	return w < 0 ? 0 : MIN((size_t)w, len - 1);
}

size_t accessstats_format_advice(const struct accessstats_log *l, char *buf, size_t len)
{
	if (len == 0 || l->upstream_vars)
		return 0;
	const struct ngx_access_log *a = l->first;
	char at[600];
	if (a->ref.file)
		snprintf(at, sizeof(at), "at %s:%u", a->ref.file, a->ref.line);
	else
		snprintf(at, sizeof(at), "in http {} (nginx's default access log)");
	int w;
	if (a->stream) {
		w = snprintf(
		    buf, len,
		    "%s has no $upstream_addr: to see which peer each session went to, add "
		    "in stream {}:\n"
		    "    log_format upstream_info '$remote_addr [$time_local] $protocol "
		    "$status $bytes_sent $bytes_received $session_time "
		    "ua=\"$upstream_addr\" uct=\"$upstream_connect_time\"';\n"
		    "and change the access_log %s to:\n"
		    "    access_log %s upstream_info;",
		    l->path, at, l->path);
		return w < 0 ? 0 : MIN((size_t)w, len - 1);
	}
	w = snprintf(
	    buf, len,
	    "%s has no $upstream_addr/$upstream_status: to see which peer answered each request, "
	    "add in http {}:\n"
	    "    log_format upstream_info '$remote_addr - $remote_user [$time_local] \"$request\" "
	    "$status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" "
	    "ua=\"$upstream_addr\" us=\"$upstream_status\" urt=\"$upstream_response_time\" "
	    "rt=$request_time';\n"
	    "and change the access_log %s to:\n"
	    "    access_log %s upstream_info;",
	    l->path, at, l->path);
	return w < 0 ? 0 : MIN((size_t)w, len - 1);
}
