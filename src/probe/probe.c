/* probe: the scheduler of active checks (see probe.h for the contract).
 *
 * Owns: every peer (sorted by key, with its ev_timer, state and last result),
 * the queue of peers waiting for an in-flight slot, the runs in flight, the
 * curl multi driver (probe_http) and the resolver threads (probe_dns, made
 * on first use).
 *
 * Chain of one run (keepalived's checkers are the model):
 *   peer_timer_cb -> (queue while max_inflight runs are out) -> run_start
 *     -> [host name: probe_dns -> run_dns_cb] -> [unix: probe_unix_check]
 *     -> probe_http | probe_fcgi | probe_tcp -> *_done callbacks
 *     -> run_complete (ev_feed_event: the epilog always runs from the loop,
 *        never inside a start function or a curl callback)
 *     -> run_epilog: last result, state, failure count, re-arm the timer
 *        (retry_ms while failing and fails < retries, else interval_ms,
 *        counted from when the run was due), start queued peers,
 *        probe_done_fn + the waiters of prober_probe_now.
 *
 * State: PEER_UNKNOWN until the first result, then PEER_UP after ok and
 * PEER_DOWN after any failure (no hysteresis here: the diagnoser weighs
 * evidence windows; `fails` is kept for retry pacing).
 *
 * Memory: 10,000 peers must fit in a few MB, so a peer keeps its last
 * result compactly (the fixed part, a shared or heap detail string, and a
 * full struct probe_result only when it carries TLS, DNS or unix-socket
 * facts); key and host share the peer's allocation.
 *
 * CPU: first runs fall on 10 ms slots so peers due together start in one
 * loop iteration; connect-only checks end with a RST and reuse their socket
 * (probe_tcp_abort, probe_tcp_pool).
 * At 10,000 TCP peers a second nearly all the cost is the kernel's loopback
 * handshake (tests/bench/probe.sh measures it beside a bare connect loop). */
#include "probe/probe.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "probe/probe_dns.h"
#include "probe/probe_fcgi.h"
#include "probe/probe_http.h"
#include "probe/probe_tcp.h"
#include "probe/probe_unix.h"
#include "core/util.h"

#define DEFAULT_INTERVAL_MS 5000
#define DEFAULT_TIMEOUT_MS  2000
#define DEFAULT_RETRY_MS    1000
#define PROBE_NOW_MIN_MS    1000

struct run;

struct waiter {
	struct waiter *next;
	probe_done_fn fn;
	void *userdata;
};

/* The last result without the big optional parts. */
struct last_small {
	enum probe_result_kind result;
	int64_t time_ms;
	uint32_t latency_ms;
	int err;
	bool http_checked;
	int http_status;
	uint32_t connect_ms, ttfb_ms, total_ms, header_bytes;
};

struct peer {
	char *key;
	struct prober *p;
	enum peerkey_kind kind;
	enum ngx_proto proto;
	char *host; /* address, host name, or unix path */
	unsigned port;
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} sa;
	socklen_t salen;

	bool enabled, tls_verify, tls_sni;
	uint32_t interval_ms, timeout_ms, retry_ms;
	unsigned retries;
	int expect_lo, expect_hi;
	char *health_uri, *host_header, *tls_trusted, *tls_name;

	ev_timer timer;
	int64_t due_mono; /* when the current or next run is due */
	enum peer_state state;
	unsigned fails;
	bool queued, kept;
	struct peer *qnext, *qprev;
	struct run *run;

	bool have_last;
	int64_t last_done_mono;
	struct last_small last;
	const char *detail; /* heap, or one of common_details */
	struct probe_result *full;
	char strings[]; /* key and host live here: one allocation per peer */
};

struct run {
	struct prober *p;
	struct peer *peer;
	int64_t start_mono;
	uint64_t timeout_ms;
	struct probe_result r;
	struct waiter *waiters;
	/* stages */
	struct probe_tcp tcp;
	struct run_fcgi *fcgi; /* only for FastCGI: keeps the common run small */
	struct probe_http_req *http;
	struct probe_dns_job *dns;
	ev_timer dns_timer;
	ev_timer donew; /* never started, only fed: completion from the loop */
	bool completing;
	struct probe_dns_answer *answers; /* host-name peers: every address */
	size_t next_addr;		  /* the next one to try if this fails */
	union {
		struct sockaddr sa;
		struct sockaddr_storage ss;
		struct sockaddr_un sun;
	} addr;
	socklen_t addrlen;
};

struct run_fcgi {
	struct probe_fcgi f;
	struct run *run;
};

struct prober {
	struct ev_loop *loop;
	unsigned max_inflight, inflight;
	probe_done_fn fn;
	void *userdata;
	struct probe_identity identity;

	struct peer **peers; /* sorted by key */
	size_t npeers;
	struct peer *qhead, *qtail;
	size_t nqueued;

	struct probe_http *http;
	struct probe_dns *dns;
	struct probe_tcp_pool pool;
	uint64_t rng;

	uint64_t sent, failed, by_result[PROBE__COUNT];
	struct probe_result scratch;
};

static void peer_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void run_start(struct peer *pe);

/* xorshift64*: only spreads first runs; no need for quality or secrecy. */
static uint64_t rng_next(struct prober *p)
{
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 2685821657736338717ULL;
}

/* First runs are spread over one interval at random, in SLOT_MS steps: peers
 * sharing a slot start in one loop iteration, so 10,000 peers cost 100
 * wake-ups a second instead of 10,000. Later runs are due a whole interval
 * after the previous due time (not after the actual start), so a peer keeps
 * its slot and a late loop or the queue does not stretch the interval. */
#define SLOT_MS 10
static int64_t first_offset_ms(struct prober *p, const struct peer *pe)
{
	uint64_t slots = pe->interval_ms / SLOT_MS;
	if (slots < 2)
		return (int64_t)(rng_next(p) % pe->interval_ms);
	return (int64_t)(rng_next(p) % slots * SLOT_MS);
}

/* ---- peer lookup ---- */

static int peer_cmp_key(const void *key, const void *elem)
{
	return strcmp(key, (*(struct peer *const *)elem)->key);
}

static struct peer *peer_find(const struct prober *p, const char *key)
{
	if (p->npeers == 0)
		return NULL;
	struct peer **pp = bsearch(key, p->peers, p->npeers, sizeof(*p->peers), peer_cmp_key);
	return pp ? *pp : NULL;
}

/* ---- queue of peers waiting for a slot ---- */

static void queue_remove(struct prober *p, struct peer *pe)
{
	if (!pe->queued)
		return;
	if (pe->qprev)
		pe->qprev->qnext = pe->qnext;
	else
		p->qhead = pe->qnext;
	if (pe->qnext)
		pe->qnext->qprev = pe->qprev;
	else
		p->qtail = pe->qprev;
	pe->qnext = pe->qprev = NULL;
	pe->queued = false;
	p->nqueued--;
}

static void queue_push(struct prober *p, struct peer *pe)
{
	if (pe->queued)
		return;
	pe->qprev = p->qtail;
	pe->qnext = NULL;
	if (p->qtail)
		p->qtail->qnext = pe;
	else
		p->qhead = pe;
	p->qtail = pe;
	pe->queued = true;
	p->nqueued++;
}

static void queue_kick(struct prober *p)
{
	while (p->qhead && p->inflight < p->max_inflight) {
		struct peer *pe = p->qhead;
		queue_remove(p, pe);
		run_start(pe);
	}
}

/* ---- last result storage ---- */

static bool result_is_rich(const struct probe_result *r)
{
	return r->cert_not_after || r->cert_subject[0] || r->cert_issuer[0] || r->tls_error[0] ||
	       r->dns_answers[0] || r->unix_checked;
}

/* Details most peers repeat: shared instead of one heap copy per peer. */
static const char *const common_details[] = {
    "connected",
    "connect() refused",
    "HTTP 200",
};

static void detail_release(struct peer *pe)
{
	for (size_t i = 0; i < ARRAY_SIZE(common_details); i++)
		if (pe->detail == common_details[i])
			goto out;
	free((char *)pe->detail);
out:
	pe->detail = NULL;
}

static void detail_set(struct peer *pe, const char *detail)
{
	if (pe->detail && streq(pe->detail, detail))
		return;
	detail_release(pe);
	if (!detail[0])
		return;
	for (size_t i = 0; i < ARRAY_SIZE(common_details); i++) {
		if (streq(detail, common_details[i])) {
			pe->detail = common_details[i];
			return;
		}
	}
	pe->detail = xstrdup(detail);
}

static void last_store(struct peer *pe, const struct probe_result *r)
{
	pe->have_last = true;
	pe->last_done_mono = now_mono_ms();
	if (result_is_rich(r)) {
		if (!pe->full)
			pe->full = xmalloc(sizeof(*pe->full));
		*pe->full = *r;
		detail_release(pe);
		return;
	}
	free(pe->full);
	pe->full = NULL;
	pe->last = (struct last_small){
	    .result = r->result,
	    .time_ms = r->time_ms,
	    .latency_ms = r->latency_ms,
	    .err = r->err,
	    .http_checked = r->http_checked,
	    .http_status = r->http_status,
	    .connect_ms = r->connect_ms,
	    .ttfb_ms = r->ttfb_ms,
	    .total_ms = r->total_ms,
	    .header_bytes = r->header_bytes,
	};
	detail_set(pe, r->detail);
}

static const struct probe_result *last_view(const struct peer *pe, struct probe_result *scratch)
{
	if (!pe->have_last)
		return NULL;
	if (pe->full)
		return pe->full;
	memset(scratch, 0, sizeof(*scratch));
	scratch->result = pe->last.result;
	scratch->time_ms = pe->last.time_ms;
	scratch->latency_ms = pe->last.latency_ms;
	scratch->err = pe->last.err;
	scratch->http_checked = pe->last.http_checked;
	scratch->http_status = pe->last.http_status;
	scratch->connect_ms = pe->last.connect_ms;
	scratch->ttfb_ms = pe->last.ttfb_ms;
	scratch->total_ms = pe->last.total_ms;
	scratch->header_bytes = pe->last.header_bytes;
	if (pe->detail)
		snprintf(scratch->detail, sizeof(scratch->detail), "%s", pe->detail);
	return scratch;
}

/* ---- runs ---- */

static void run_free(struct run *run)
{
	struct ev_loop *loop = run->p->loop;

	probe_tcp_close(&run->tcp);
	if (run->fcgi) {
		probe_fcgi_cancel(&run->fcgi->f);
		free(run->fcgi);
	}
	if (run->http)
		probe_http_cancel(run->p->http, run->http);
	if (run->dns)
		probe_dns_cancel(run->p->dns, run->dns);
	ev_timer_stop(loop, &run->dns_timer);
	ev_clear_pending(loop, &run->dns_timer);
	ev_clear_pending(loop, &run->donew);
	while (run->waiters) {
		struct waiter *w = run->waiters;
		run->waiters = w->next;
		free(w);
	}
	free(run->answers);
	free(run);
}

static void run_complete(struct run *run)
{
	if (run->completing)
		return;
	run->completing = true;
	ev_feed_event(run->p->loop, &run->donew, EV_CUSTOM);
}

static uint32_t next_delay_ms(const struct peer *pe, bool ok)
{
	if (!ok && pe->fails < pe->retries)
		return pe->retry_ms;
	return pe->interval_ms;
}

/* Arm the timer for the monotonic time due (ms). */
static void peer_arm_at(struct peer *pe, int64_t due)
{
	struct ev_loop *loop = pe->p->loop;

	ev_timer_stop(loop, &pe->timer);
	pe->due_mono = due;
	if (!pe->enabled)
		return;
	ev_timer_set(&pe->timer, MAX(due - now_mono_ms(), 0) / 1000.0, 0);
	ev_timer_start(loop, &pe->timer);
}

/* The next due time after a run that was due at pe->due_mono: skip whole
 * periods already missed (a stalled host) instead of running them all. */
static int64_t next_due(const struct peer *pe, uint32_t delay, int64_t now)
{
	int64_t next = pe->due_mono + delay;
	if (next <= now)
		next += ((now - next) / delay + 1) * (int64_t)delay;
	return next;
}

static void run_epilog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run *run = container_of(w, struct run, donew);
	struct prober *p = run->p;
	struct peer *pe = run->peer;
	struct probe_result *r = &run->r;
	int64_t now = now_mono_ms();
	bool ok = r->result == PROBE_OK;
	char key[PEERKEY_MAX];

	r->time_ms = now_wall_ms();
	r->latency_ms = (uint32_t)MAX(now - run->start_mono, 0);
	p->inflight--;
	p->by_result[r->result]++;
	if (r->result != PROBE_OK)
		p->failed++;

	/* A copy: a callback may free the peer. */
	snprintf(key, sizeof(key), "%s", pe->key);
	pe->run = NULL;
	last_store(pe, r);
	if (ok) {
		pe->fails = 0;
		pe->state = PEER_UP;
	} else {
		pe->fails++;
		pe->state = PEER_DOWN;
	}
	enum peer_state state = pe->state;
	peer_arm_at(pe, next_due(pe, next_delay_ms(pe, ok), now));
	queue_kick(p);

	/* Callbacks last: they may change the target set (this run is already
	 * detached from its peer) or probe again. */
	if (p->fn)
		p->fn(p->userdata, key, r, state);
	for (struct waiter *wt = run->waiters; wt; wt = wt->next)
		wt->fn(wt->userdata, key, r, state);
	run_free(run);
}

static void run_fail(struct run *run, enum probe_result_kind kind, int err, const char *detail)
{
	run->r.result = kind;
	run->r.err = err;
	snprintf(run->r.detail, sizeof(run->r.detail), "%s", detail);
	run_complete(run);
}

static int64_t run_left_ms(const struct run *run)
{
	return (int64_t)run->timeout_ms - (now_mono_ms() - run->start_mono);
}

static void run_tcp_done(struct probe_tcp *c, int err)
{
	struct run *run = container_of(c, struct run, tcp);
	struct probe_dns_answer *a = run->answers;

	/* A name with several addresses: like nginx and curl, go on to the
	 * next one while time is left; the result is the last attempt's. */
	while (err && a && run->next_addr < a->naddrs && run_left_ms(run) > 0) {
		size_t i = run->next_addr++;
		memcpy(&run->addr.ss, &a->addrs[i], a->addrlens[i]);
		run->addrlen = a->addrlens[i];
		int rc = probe_tcp_start(c, run->p->loop, &run->p->pool, &run->addr.sa,
					 run->addrlen, (uint64_t)run_left_ms(run), run_tcp_done);
		if (rc == 0)
			return;
		err = -rc;
	}
	probe_tcp_classify(err, run->addr.sa.sa_family == AF_UNIX, run->timeout_ms, &run->r);
	if (!err && a && a->naddrs > 1) {
		char ip[INET6_ADDRSTRLEN] = "";
		const void *src =
		    run->addr.sa.sa_family == AF_INET6
			? (const void *)&((struct sockaddr_in6 *)&run->addr.ss)->sin6_addr
			: (const void *)&((struct sockaddr_in *)&run->addr.ss)->sin_addr;
		inet_ntop(run->addr.sa.sa_family, src, ip, sizeof(ip));
		snprintf(run->r.detail, sizeof(run->r.detail), "connected to %s", ip);
	}
	probe_tcp_abort(c);
	run_complete(run);
}

static void run_fcgi_done(struct probe_fcgi *f)
{
	struct run *run = container_of(f, struct run_fcgi, f)->run;
	run_complete(run);
}

static void run_http_done(void *userdata)
{
	struct run *run = userdata;
	run->http = NULL;
	run_complete(run);
}

/* A probe_target view of a peer, for the stage functions that take one. */
static void peer_target(const struct peer *pe, struct probe_target *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", pe->key);
	t->addr.kind = pe->kind;
	snprintf(t->addr.key, sizeof(t->addr.key), "%s", pe->key);
	snprintf(t->addr.host, sizeof(t->addr.host), "%s", pe->host);
	t->addr.port = pe->port;
	t->proto = pe->proto;
	t->enabled = pe->enabled;
	t->interval_ms = pe->interval_ms;
	t->timeout_ms = pe->timeout_ms;
	t->retry_ms = pe->retry_ms;
	t->retries = pe->retries;
	t->health_uri = pe->health_uri;
	t->host_header = pe->host_header;
	t->expect_lo = pe->expect_lo;
	t->expect_hi = pe->expect_hi;
	t->tls_verify = pe->tls_verify;
	t->tls_sni = pe->tls_sni;
	t->tls_trusted = pe->tls_trusted;
	t->tls_name = pe->tls_name;
}

/* The protocol stage, once there is an address (run->addr). */
static void run_proto(struct run *run)
{
	struct peer *pe = run->peer;
	struct prober *p = run->p;
	uint64_t left = run->timeout_ms;
	int64_t spent = now_mono_ms() - run->start_mono;
	bool is_unix = run->addr.sa.sa_family == AF_UNIX;
	int r;

	left = spent > 0 && (uint64_t)spent < left ? left - (uint64_t)spent : spent > 0 ? 1 : left;

	switch (pe->proto) {
	case NGX_PROTO_HTTP:
	case NGX_PROTO_HTTPS: {
		struct probe_target t;
		peer_target(pe, &t);
		run->http = probe_http_start(p->http, &t,
					     pe->kind == PEERKEY_HOST ? run->r.dns_answers : NULL,
					     left, &run->r, run_http_done, run);
		if (!run->http)
			run_complete(run);
		return;
	}
	case NGX_PROTO_FASTCGI:
		run->fcgi = xmalloc(sizeof(*run->fcgi));
		probe_fcgi_init(&run->fcgi->f);
		run->fcgi->run = run;
		r = probe_fcgi_start(&run->fcgi->f, p->loop, &run->addr.sa, run->addrlen, left,
				     &run->r, run_fcgi_done);
		break;
	default:
		if (is_unix) {
			/* probe_unix_check has connected already: that is the check. */
			run_complete(run);
			return;
		}
		r = probe_tcp_start(&run->tcp, p->loop, &p->pool, &run->addr.sa, run->addrlen, left,
				    run_tcp_done);
		if (r < 0)
			run_tcp_done(&run->tcp, -r); /* may go on to the next address */
		return;
	}
	if (r < 0) {
		probe_tcp_classify(-r, is_unix, left, &run->r);
		run_complete(run);
	}
}

static void run_dns_cb(void *userdata, const struct probe_dns_answer *a)
{
	struct run *run = userdata;

	run->dns = NULL;
	ev_timer_stop(run->p->loop, &run->dns_timer);
	if (a->err) {
		char buf[200];
		snprintf(buf, sizeof(buf), "cannot resolve %s: %s", run->peer->host,
			 a->err == EAI_SYSTEM ? strerror(a->sys_errno) : gai_strerror(a->err));
		run_fail(run, PROBE_DNS_ERROR, a->err == EAI_SYSTEM ? a->sys_errno : 0, buf);
		return;
	}
	probe_dns_format(a, run->r.dns_answers, sizeof(run->r.dns_answers));
	run->answers = xmalloc(sizeof(*run->answers));
	*run->answers = *a;
	memcpy(&run->addr.ss, &a->addrs[0], a->addrlens[0]);
	run->addrlen = a->addrlens[0];
	run->next_addr = 1;
	run_proto(run);
}

static void run_dns_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run *run = container_of(w, struct run, dns_timer);
	char buf[200];

	probe_dns_cancel(run->p->dns, run->dns);
	run->dns = NULL;
	snprintf(buf, sizeof(buf), "cannot resolve %s: no answer within %llu ms", run->peer->host,
		 (unsigned long long)run->timeout_ms);
	run_fail(run, PROBE_DNS_ERROR, ETIMEDOUT, buf);
}

static void run_start(struct peer *pe)
{
	struct prober *p = pe->p;
	struct run *run = xcalloc(1, sizeof(*run));

	run->p = p;
	run->peer = pe;
	run->start_mono = now_mono_ms();
	run->timeout_ms = pe->timeout_ms;
	probe_tcp_init(&run->tcp);
	ev_timer_init(&run->dns_timer, run_dns_timeout_cb, run->timeout_ms / 1000.0, 0);
	ev_init(&run->donew, run_epilog);
	pe->run = run;
	ev_timer_stop(p->loop, &pe->timer);
	p->inflight++;
	p->sent++;

	switch (pe->kind) {
	case PEERKEY_HOST:
		if (!p->dns)
			p->dns = probe_dns_new(p->loop);
		run->dns = probe_dns_resolve(p->dns, pe->host, pe->port, run_dns_cb, run);
		ev_timer_start(p->loop, &run->dns_timer);
		return;
	case PEERKEY_UNIX: {
		struct probe_target t;
		peer_target(pe, &t);
		probe_unix_check(&t, &p->identity, &run->r);
		if (run->r.result != PROBE_OK) {
			run_complete(run);
			return;
		}
		run->addr.sun.sun_family = AF_UNIX;
		snprintf(run->addr.sun.sun_path, sizeof(run->addr.sun.sun_path), "%s", pe->host);
		run->addrlen = sizeof(run->addr.sun);
		break;
	}
	default:
		memcpy(&run->addr.ss, &pe->sa, pe->salen);
		run->addrlen = pe->salen;
		break;
	}
	run_proto(run);
}

static void peer_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *pe = container_of(w, struct peer, timer);
	struct prober *p = pe->p;

	if (pe->run)
		return; /* an on-demand run is out; its epilog re-arms */
	if (p->inflight < p->max_inflight)
		run_start(pe);
	else
		queue_push(p, pe);
}

/* ---- the target set ---- */

static char *dup_or_null(const char *s)
{
	return s && s[0] ? xstrdup(s) : NULL;
}

static void peer_set_options(struct peer *pe, const struct probe_target *t)
{
	pe->proto = t->proto;
	pe->enabled = t->enabled;
	pe->interval_ms =
	    (uint32_t)(t->interval_ms ? MIN(t->interval_ms, UINT32_MAX / 2) : DEFAULT_INTERVAL_MS);
	pe->timeout_ms =
	    (uint32_t)(t->timeout_ms ? MIN(t->timeout_ms, UINT32_MAX / 2) : DEFAULT_TIMEOUT_MS);
	pe->retry_ms =
	    (uint32_t)(t->retry_ms ? MIN(t->retry_ms, UINT32_MAX / 2) : DEFAULT_RETRY_MS);
	pe->retries = t->retries;
	pe->expect_lo = t->expect_lo;
	pe->expect_hi = t->expect_hi;
	pe->tls_verify = t->tls_verify;
	pe->tls_sni = t->tls_sni;
	free(pe->health_uri);
	free(pe->host_header);
	free(pe->tls_trusted);
	free(pe->tls_name);
	pe->health_uri = dup_or_null(t->health_uri);
	pe->host_header = dup_or_null(t->host_header);
	pe->tls_trusted = dup_or_null(t->tls_trusted);
	pe->tls_name = dup_or_null(t->tls_name);
}

static struct peer *peer_new(struct prober *p, const struct probe_target *t, const char *key)
{
	struct peer *pe;

	size_t klen = strlen(key), hlen = strlen(t->addr.host);
	pe = xcalloc(1, sizeof(*pe) + klen + hlen + 2);
	pe->key = memcpy(pe->strings, key, klen + 1);
	pe->host = memcpy(pe->strings + klen + 1, t->addr.host, hlen + 1);
	pe->kind = t->addr.kind;
	pe->p = p;
	pe->port = t->addr.port;
	if (pe->kind == PEERKEY_IPV4) {
		pe->sa.sin.sin_family = AF_INET;
		pe->sa.sin.sin_port = htons((uint16_t)pe->port);
		inet_pton(AF_INET, pe->host, &pe->sa.sin.sin_addr);
		pe->salen = sizeof(pe->sa.sin);
	} else if (pe->kind == PEERKEY_IPV6) {
		pe->sa.sin6.sin6_family = AF_INET6;
		pe->sa.sin6.sin6_port = htons((uint16_t)pe->port);
		inet_pton(AF_INET6, pe->host, &pe->sa.sin6.sin6_addr);
		pe->salen = sizeof(pe->sa.sin6);
	}
	ev_init(&pe->timer, peer_timer_cb);
	peer_set_options(pe, t);
	return pe;
}

static void peer_free(struct prober *p, struct peer *pe)
{
	ev_timer_stop(p->loop, &pe->timer);
	queue_remove(p, pe);
	if (pe->run) {
		/* Dropped from the set mid-probe: nobody wants the answer. */
		p->inflight--;
		run_free(pe->run);
	}
	detail_release(pe);
	free(pe->health_uri);
	free(pe->host_header);
	free(pe->tls_trusted);
	free(pe->tls_name);
	free(pe->full);
	free(pe);
}

static bool target_valid(const struct probe_target *t)
{
	switch (t->addr.kind) {
	case PEERKEY_IPV4: {
		struct in_addr a;
		return t->addr.port > 0 && t->addr.port < 65536 &&
		       inet_pton(AF_INET, t->addr.host, &a) == 1;
	}
	case PEERKEY_IPV6: {
		struct in6_addr a;
		return t->addr.port > 0 && t->addr.port < 65536 &&
		       inet_pton(AF_INET6, t->addr.host, &a) == 1;
	}
	case PEERKEY_HOST:
		return t->addr.port > 0 && t->addr.port < 65536 && t->addr.host[0];
	case PEERKEY_UNIX:
		return t->addr.host[0] == '/' &&
		       strlen(t->addr.host) < sizeof(((struct sockaddr_un *)0)->sun_path);
	}
	return false;
}

static const char *target_key(const struct probe_target *t)
{
	return t->key[0] ? t->key : t->addr.key;
}

static int cmp_target_ptr(const void *a, const void *b)
{
	const struct probe_target *ta = *(const struct probe_target *const *)a;
	const struct probe_target *tb = *(const struct probe_target *const *)b;
	return strcmp(target_key(ta), target_key(tb));
}

int prober_set_targets(struct prober *p, const struct probe_target *targets, size_t n)
{
	const struct probe_target **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	size_t ns = 0, invalid = 0;

	/* One unusable target must not stop the probing of all the others. */
	for (size_t i = 0; i < n; i++) {
		if (!target_valid(&targets[i]) || !target_key(&targets[i])[0]) {
			invalid++;
			continue;
		}
		sorted[ns++] = &targets[i];
	}
	qsort(sorted, ns, sizeof(*sorted), cmp_target_ptr);

	struct peer **peers = xcalloc(ns ? ns : 1, sizeof(*peers));
	size_t np = 0;
	for (size_t i = 0; i < ns; i++) {
		const struct probe_target *t = sorted[i];
		const char *key = target_key(t);
		if (np > 0 && streq(peers[np - 1]->key, key))
			continue; /* a duplicate key: the first one wins */
		struct peer *pe = peer_find(p, key);
		if (pe && pe->kind == t->addr.kind && streq(pe->host, t->addr.host) &&
		    pe->port == t->addr.port) {
			bool was_enabled = pe->enabled;
			peer_set_options(pe, t);
			pe->kept = true;
			if (!pe->enabled) {
				ev_timer_stop(p->loop, &pe->timer);
				queue_remove(p, pe);
			} else if (!was_enabled && !pe->run) {
				peer_arm_at(pe, now_mono_ms() + first_offset_ms(p, pe));
			}
		} else {
			pe = peer_new(p, t, key);
			pe->kept = true;
			if (pe->enabled)
				peer_arm_at(pe, now_mono_ms() + first_offset_ms(p, pe));
		}
		peers[np++] = pe;
	}
	free(sorted);

	for (size_t i = 0; i < p->npeers; i++) {
		if (!p->peers[i]->kept)
			peer_free(p, p->peers[i]);
	}
	for (size_t i = 0; i < np; i++)
		peers[i]->kept = false;
	free(p->peers);
	p->peers = peers;
	p->npeers = np;
	queue_kick(p);
	return invalid ? -EINVAL : 0;
}

/* ---- public ---- */

struct prober *prober_new(struct ev_loop *loop, unsigned max_inflight, probe_done_fn fn,
			  void *userdata)
{
	struct prober *p = xcalloc(1, sizeof(*p));

	p->loop = loop;
	p->max_inflight = max_inflight ? max_inflight : 1;
	p->fn = fn;
	p->userdata = userdata;
	p->http = probe_http_new(loop);
	probe_tcp_pool_init(&p->pool);
	p->rng = (uint64_t)now_mono_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^
		 (uint64_t)(uintptr_t)p;
	if (!p->rng)
		p->rng = 1;
	/* Until told otherwise, judge unix sockets for our own identity. */
	p->identity.uid = geteuid();
	p->identity.gid = getegid();
	return p;
}

void prober_free(struct prober *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->npeers; i++)
		peer_free(p, p->peers[i]);
	free(p->peers);
	probe_http_free(p->http);
	probe_dns_free(p->dns);
	probe_tcp_pool_done(&p->pool);
	free(p);
}

void prober_set_identity(struct prober *p, const struct probe_identity *id)
{
	p->identity = *id;
	if (p->identity.ngroups > ARRAY_SIZE(p->identity.groups))
		p->identity.ngroups = ARRAY_SIZE(p->identity.groups);
}

int prober_probe_now(struct prober *p, const char *key, probe_done_fn once, void *userdata)
{
	struct peer *pe = peer_find(p, key);

	if (!pe)
		return -ENOENT;
	if (!pe->run && pe->have_last && now_mono_ms() - pe->last_done_mono < PROBE_NOW_MIN_MS) {
		if (once)
			once(userdata, pe->key, last_view(pe, &p->scratch), pe->state);
		return 1;
	}
	if (!pe->run) {
		queue_remove(p, pe);
		pe->due_mono = now_mono_ms(); /* the next periodic run counts from now */
		run_start(pe);
	}
	if (once && pe->run) {
		struct waiter *w = xcalloc(1, sizeof(*w));
		w->fn = once;
		w->userdata = userdata;
		w->next = pe->run->waiters;
		pe->run->waiters = w;
	}
	return 0;
}

const struct probe_result *prober_last(const struct prober *p, const char *key)
{
	struct peer *pe = peer_find(p, key);

	if (!pe)
		return NULL;
	/* The scratch is a cache of the expansion, not state. */
	return last_view(pe, (struct probe_result *)&p->scratch);
}

enum peer_state prober_state(const struct prober *p, const char *key)
{
	struct peer *pe = peer_find(p, key);
	return pe ? pe->state : PEER_UNKNOWN;
}

void prober_stats_json(const struct prober *p, struct cJSON *obj)
{
	cJSON_AddNumberToObject(obj, "sent", (double)p->sent);
	cJSON_AddNumberToObject(obj, "failed", (double)p->failed);
	cJSON *by = cJSON_AddObjectToObject(obj, "by_result");
	for (int i = 0; i < PROBE__COUNT; i++)
		cJSON_AddNumberToObject(by, probe_result_name((enum probe_result_kind)i),
					(double)p->by_result[i]);
	cJSON_AddNumberToObject(obj, "in_flight", p->inflight);
	cJSON_AddNumberToObject(obj, "queued", (double)p->nqueued);
	cJSON_AddNumberToObject(obj, "peers", (double)p->npeers);
}
