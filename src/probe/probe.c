/* probe: the scheduler of active checks (see probe.h for the contract).
 *
 * Owns: every peer (sorted by key, with its ev_timer, state, waiters and
 * last result: probe_last.c), the queue of peers waiting for an in-flight slot, and what
 * the runs share (struct probe_run_ctx: the curl driver, the resolver
 * threads, the socket pool). One run's stage chain is probe_run.c.
 *
 * Chain (keepalived's checkers are the model):
 *   peer_timer_cb | prober_probe_now -> admit (start when a slot is free,
 *     else queue; a peer queued or running is never queued twice)
 *     -> probe_run_start ... -> run_done:
 *     last result, state, failure count, re-arm the timer (retry_ms while
 *     failing and fails < retries, else interval_ms, counted from when the
 *     run was due), start queued peers, probe_done_fn + the peer's waiters.
 *
 * State: PEER_UNKNOWN until the first result, then PEER_UP after ok and
 * PEER_DOWN after any failure (no hysteresis here: the diagnoser weighs
 * evidence windows; `fails` is kept for retry pacing). PROBE_LOCAL_ERROR
 * (upwatch's own failure) changes neither.
 *
 * Bounds: the queue holds each peer at most once (so at most the number of
 * peers), a peer at most PROBE_WAITERS_MAX on-demand waiters.
 *
 * CPU: first runs fall on 10 ms slots so peers due together start in one
 * loop iteration; connect-only checks end with a RST and reuse their socket
 * (probe_tcp_abort, probe_tcp_pool). */
#include "probe/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/list.h"
#include "conf/config.h"
#include "core/util.h"
#include "probe/probe_dns.h"
#include "probe/probe_http.h"
#include "probe/probe_last.h"
#include "probe/probe_opts.h"
#include "probe/probe_run.h"
#include "probe/probe_unix.h"

#define PROBE_NOW_MIN_MS   1000
#define PROBE_SNIFF_TTL_MS (10 * 60 * 1000) /* a sniffed answer is asked again after this */

struct waiter {
	struct list link;
	probe_done_fn fn;
	void *userdata;
};

struct peer {
	char *key;
	char *host; /* address, host name, or unix path */
	struct prober *p;
	enum peerkey_kind kind;
	unsigned port;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;			      /* an IP peer's address, parsed once: inet_pton per run cost
					 4 % of run_start (callgrind, bench_probe 1,000 peers) */
	struct probe_opts *opts;      /* shared with the peers of equal options */
	char *host_header, *tls_name; /* when the protocol uses them, else NULL */

	ev_timer timer;
	int64_t due_mono; /* when the current or next run is due */
	enum peer_state state;
	unsigned fails;
	bool queued, kept;
	struct list qlink; /* in prober.queue while queued */
	struct probe_run *run;
	/* what a sniff heard (probe_sniff), and when: not asked again for
	 * PROBE_SNIFF_TTL_MS, or until the peer passes a probe */
	enum probe_speaks heard;
	int64_t sniffed_mono; /* 0 = not lately */
	struct list waiters;  /* prober_probe_now callers, for the next result */
	unsigned nwaiters;

	int64_t last_done_mono;
	struct probe_last last;
	char strings[]; /* key and host live here */
};

struct prober {
	struct ev_loop *loop;
	unsigned max_inflight, inflight;
	probe_done_fn fn;
	void *userdata;
	struct probe_identity identity;
	struct probe_clock clock;
	struct probe_run_ctx ctx;
	struct probe_opts_set opts; /* the peers' options, shared */

	struct peer **peers; /* sorted by key */
	size_t npeers;
	struct list queue; /* peers waiting for a slot, oldest first */
	size_t nqueued;
	uint64_t rng;

	uint64_t sent, failed, by_result[PROBE__COUNT];
};

static void run_start(struct peer *pe);

static int64_t default_mono_ms(void *userdata)
{
	return now_mono_ms();
}

static int64_t default_wall_ms(void *userdata)
{
	return now_wall_ms();
}

static int64_t mono(const struct prober *p)
{
	return p->clock.mono_ms(p->clock.userdata);
}

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
	uint64_t slots = pe->opts->interval_ms / SLOT_MS;
	if (slots < 2)
		return (int64_t)(rng_next(p) % pe->opts->interval_ms);
	return (int64_t)(rng_next(p) % slots * SLOT_MS);
}

static bool peer_probing(const struct peer *pe)
{
	return pe->opts->enabled && pe->opts->probed;
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

/* ---- admission: the one way a run starts ---- */

static void queue_remove(struct prober *p, struct peer *pe)
{
	if (!pe->queued)
		return;
	list_remove(&pe->qlink);
	pe->queued = false;
	p->nqueued--;
}

static void queue_push(struct prober *p, struct peer *pe)
{
	list_append(&p->queue, &pe->qlink);
	pe->queued = true;
	p->nqueued++;
}

/* Every probe, timer or on demand, comes through here: a run starts only
 * while fewer than max_inflight are out; otherwise the peer waits in the
 * queue, once however often it is asked for. */
static void admit(struct prober *p, struct peer *pe)
{
	if (pe->run || pe->queued || !peer_probing(pe))
		return;
	if (p->inflight < p->max_inflight)
		run_start(pe);
	else
		queue_push(p, pe);
}

static void queue_kick(struct prober *p)
{
	while (!list_empty(&p->queue) && p->inflight < p->max_inflight) {
		struct peer *pe = list_entry(p->queue.next, struct peer, qlink);
		queue_remove(p, pe);
		run_start(pe);
	}
}

/* ---- runs ---- */

static uint64_t next_delay_ms(const struct peer *pe, bool ok)
{
	if (!ok && pe->fails < pe->opts->retries)
		return pe->opts->retry_ms;
	return pe->opts->interval_ms;
}

/* Arm the timer for the monotonic time due (ms). */
static void peer_arm_at(struct peer *pe, int64_t due)
{
	struct ev_loop *loop = pe->p->loop;

	ev_timer_stop(loop, &pe->timer);
	pe->due_mono = due;
	if (!peer_probing(pe))
		return;
	ev_timer_set(&pe->timer, MAX(due - mono(pe->p), 0) / 1000.0, 0);
	ev_timer_start(loop, &pe->timer);
}

/* The next due time after a run that was due at pe->due_mono: skip whole
 * periods already missed (a stalled host) instead of running them all. */
static int64_t next_due(const struct peer *pe, uint64_t delay, int64_t now)
{
	int64_t next = pe->due_mono + (int64_t)delay;
	if (next <= now)
		next += ((now - next) / (int64_t)delay + 1) * (int64_t)delay;
	return next;
}

static void waiters_free(struct list *head)
{
	list_for_each_safe(w, head, struct waiter, link)
	{
		list_remove(&w->link);
		free(w);
	}
}

static void last_store(struct peer *pe, const struct probe_result *r)
{
	probe_last_store(&pe->last, r);
	pe->last_done_mono = mono(pe->p);
}

static void run_done(struct probe_run *run, struct probe_result *r, void *userdata)
{
	struct peer *pe = userdata;
	struct prober *p = pe->p;
	bool local = r->result == PROBE_LOCAL_ERROR;
	bool ok = r->result == PROBE_OK;
	char key[PEERKEY_MAX];

	p->inflight--;
	p->by_result[r->result]++;
	if (!ok && !local)
		p->failed++;

	/* A copy: a callback may free the peer. */
	snprintf(key, sizeof(key), "%s", pe->key);
	pe->run = NULL;
	if (probe_run_sniffed(run)) {
		pe->heard = r->speaks;
		pe->sniffed_mono = mono(p);
	} else if (ok) {
		pe->sniffed_mono = 0; /* it speaks HTTP now: a new failure is sniffed anew */
	}
	last_store(pe, r);
	if (ok) {
		pe->fails = 0;
		pe->state = PEER_UP;
	} else if (!local) {
		pe->fails++;
		pe->state = PEER_DOWN;
	}
	enum peer_state state = pe->state;
	/* The waiters move out: a callback may free the peer or add new ones. */
	struct list waiters;
	list_init(&waiters);
	if (!list_empty(&pe->waiters)) {
		list_insert(&pe->waiters, &waiters);
		list_remove(&pe->waiters);
	}
	pe->nwaiters = 0;
	peer_arm_at(pe, next_due(pe, next_delay_ms(pe, ok || local), mono(p)));
	queue_kick(p);

	/* Callbacks last: they may change the target set (this run is already
	 * detached from its peer) or probe again. */
	if (p->fn)
		p->fn(p->userdata, key, r, state);
	list_for_each(w, &waiters, struct waiter, link) w->fn(w->userdata, key, r, state);
	waiters_free(&waiters);
	probe_run_free(run);
}

/* A probe_target view of a peer (strings borrowed; the run copies them). */
static void peer_target(const struct peer *pe, struct probe_target *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", pe->key);
	t->addr.kind = pe->kind;
	snprintf(t->addr.key, sizeof(t->addr.key), "%s", pe->key);
	snprintf(t->addr.host, sizeof(t->addr.host), "%s", pe->host);
	t->addr.port = pe->port;
	probe_opts_target(pe->opts, t);
	t->host_header = pe->host_header;
	t->tls_name = pe->tls_name;
}

/* An IP peer's address: made per run, not kept whole (32 bytes a peer), as
 * a peer is mostly waiting. */
static socklen_t peer_sockaddr(const struct peer *pe, struct sockaddr_storage *ret)
{
	if (pe->kind == PEERKEY_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ret;
		*sin = (struct sockaddr_in){.sin_family = AF_INET,
					    .sin_port = htons((uint16_t)pe->port),
					    .sin_addr = pe->ip.v4};
		return sizeof(*sin);
	}
	if (pe->kind == PEERKEY_IPV6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;
		*sin6 = (struct sockaddr_in6){.sin6_family = AF_INET6,
					      .sin6_port = htons((uint16_t)pe->port),
					      .sin6_addr = pe->ip.v6};
		return sizeof(*sin6);
	}
	return 0;
}

static void run_start(struct peer *pe)
{
	struct prober *p = pe->p;
	struct probe_target t;
	struct sockaddr_storage ss;
	socklen_t salen = peer_sockaddr(pe, &ss);

	peer_target(pe, &t);
	if (pe->kind == PEERKEY_UNIX)
		probe_identity_groups(&p->identity); /* first needed here */
	ev_timer_stop(p->loop, &pe->timer);
	if (probe_run_start(&p->ctx, &t, (struct sockaddr *)&ss, salen, run_done, pe, &pe->run) <
	    0) {
		/* Out of memory: try again at the next due time. */
		pe->run = NULL;
		p->by_result[PROBE_LOCAL_ERROR]++;
		peer_arm_at(pe, next_due(pe, pe->opts->interval_ms, mono(p)));
		return;
	}
	if (pe->sniffed_mono && mono(p) - pe->sniffed_mono < PROBE_SNIFF_TTL_MS)
		probe_run_set_heard(pe->run, pe->heard);
	p->inflight++;
	p->sent++;
}

static void peer_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *pe = container_of(w, struct peer, timer);
	admit(pe->p, pe);
}

/* ---- the target set ---- */

static void peer_set_options(struct peer *pe, const struct probe_target *t)
{
	struct probe_opts *old = pe->opts;
	pe->opts = probe_opts_get(&pe->p->opts, t);
	probe_opts_put(&pe->p->opts, old); /* after the get: equal options stay */
	free(pe->host_header);
	free(pe->tls_name);
	bool host = probe_opts_uses_host(t->proto), tls = probe_opts_uses_tls(t->proto);
	pe->host_header =
	    host && t->host_header && t->host_header[0] ? xstrdup(t->host_header) : NULL;
	pe->tls_name = tls && t->tls_name && t->tls_name[0] ? xstrdup(t->tls_name) : NULL;
}

static struct peer *peer_new(struct prober *p, const struct probe_target *t, const char *key)
{
	size_t klen = strlen(key), hlen = strlen(t->addr.host);
	struct peer *pe = xcalloc(1, sizeof(*pe) + klen + hlen + 2);

	pe->key = memcpy(pe->strings, key, klen + 1);
	pe->host = memcpy(pe->strings + klen + 1, t->addr.host, hlen + 1);
	pe->kind = t->addr.kind;
	pe->p = p;
	pe->port = t->addr.port;
	if (pe->kind == PEERKEY_IPV4)
		inet_pton(AF_INET, pe->host, &pe->ip.v4);
	else if (pe->kind == PEERKEY_IPV6)
		inet_pton(AF_INET6, pe->host, &pe->ip.v6);
	ev_init(&pe->timer, peer_timer_cb);
	list_init(&pe->qlink);
	list_init(&pe->waiters);
	peer_set_options(pe, t);
	return pe;
}

/* Stop everything the peer has going; waiters are dropped unanswered. */
static void peer_stop(struct prober *p, struct peer *pe)
{
	ev_timer_stop(p->loop, &pe->timer);
	queue_remove(p, pe);
	if (pe->run) {
		/* nobody wants the answer any more */
		p->inflight--;
		probe_run_free(pe->run);
		pe->run = NULL;
	}
	waiters_free(&pe->waiters);
	pe->nwaiters = 0;
}

static void peer_free(struct prober *p, struct peer *pe)
{
	peer_stop(p, pe);
	probe_opts_put(&p->opts, pe->opts);
	free(pe->host_header);
	free(pe->tls_name);
	probe_last_done(&pe->last);
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
		if (!target_valid(&targets[i]) || !target_key(&targets[i])[0] ||
		    (unsigned)targets[i].proto > PROBE_PROTO_TLS) {
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
			bool was_probing = peer_probing(pe);
			peer_set_options(pe, t);
			pe->kept = true;
			if (!peer_probing(pe))
				peer_stop(p, pe);
			else if (!was_probing)
				peer_arm_at(pe, mono(p) + first_offset_ms(p, pe));
		} else {
			pe = peer_new(p, t, key);
			pe->kept = true;
			if (peer_probing(pe))
				peer_arm_at(pe, mono(p) + first_offset_ms(p, pe));
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

int prober_new(struct ev_loop *loop, unsigned max_inflight, probe_done_fn fn, void *userdata,
	       struct prober **ret)
{
	struct prober *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;

	p->loop = loop;
	list_init(&p->queue);
	p->max_inflight = max_inflight ? max_inflight : 1;
	p->fn = fn;
	p->userdata = userdata;
	prober_set_clock(p, NULL);
	p->ctx.loop = loop;
	p->ctx.identity = &p->identity;
	probe_tcp_pool_init(&p->ctx.pool);
	probe_opts_set_init(&p->opts);
	p->rng = (uint64_t)now_mono_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^
		 (uint64_t)(uintptr_t)p;
	if (!p->rng)
		p->rng = 1;
	/* Until told otherwise, judge unix sockets for our own identity. */
	p->identity.uid = geteuid();
	p->identity.gid = getegid();
	*ret = p;
	return 0;
}

void prober_free(struct prober *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->npeers; i++)
		peer_free(p, p->peers[i]);
	free(p->peers);
	probe_opts_set_done(&p->opts);
	probe_http_free(p->ctx.http);
	free(p->ctx.curl);
	free(p->ctx.curl_error);
	probe_dns_free(p->ctx.dns);
	probe_tcp_pool_done(&p->ctx.pool);
	free(p);
}

void prober_set_clock(struct prober *p, const struct probe_clock *clock)
{
	if (clock)
		p->clock = *clock;
	else
		p->clock = (struct probe_clock){default_mono_ms, default_wall_ms, NULL};
	p->ctx.mono_ms = p->clock.mono_ms;
	p->ctx.wall_ms = p->clock.wall_ms;
	p->ctx.clock_userdata = p->clock.userdata;
}

void prober_set_curl_library(struct prober *p, const char *soname)
{
	p->ctx.curl_soname = soname;
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
	if (!peer_probing(pe))
		return -EPERM;
	if (!pe->run && !pe->queued && pe->last.have &&
	    mono(p) - pe->last_done_mono < PROBE_NOW_MIN_MS) {
		if (once) {
			struct probe_result *r = xmalloc(sizeof(*r));
			probe_last_get(&pe->last, r);
			once(userdata, pe->key, r, pe->state);
			free(r);
		}
		return 1;
	}
	if (once && pe->nwaiters >= PROBE_WAITERS_MAX)
		return -EBUSY;
	if (!pe->run && !pe->queued) {
		pe->due_mono = mono(p); /* the next periodic run counts from now */
		admit(p, pe);
	}
	if (once) {
		struct waiter *w = xcalloc(1, sizeof(*w));
		w->fn = once;
		w->userdata = userdata;
		list_append(&pe->waiters, &w->link);
		pe->nwaiters++;
	}
	return 0;
}

int prober_last(const struct prober *p, const char *key, struct probe_result *ret)
{
	struct peer *pe = peer_find(p, key);

	if (!pe)
		return -ENOENT;
	return probe_last_get(&pe->last, ret);
}

enum peer_state prober_state(const struct prober *p, const char *key)
{
	struct peer *pe = peer_find(p, key);
	return pe ? pe->state : PEER_UNKNOWN;
}

int prober_next_due(const struct prober *p, const char *key, int64_t *ret_mono_ms)
{
	struct peer *pe = peer_find(p, key);

	if (!pe)
		return -ENOENT;
	if (pe->run || !ev_is_active(&pe->timer))
		return -ENODATA;
	*ret_mono_ms = pe->due_mono;
	return 0;
}

void prober_stats(const struct prober *p, struct prober_stats *ret)
{
	struct prober_stats st = {
	    .sent = p->sent,
	    .failed = p->failed,
	    .in_flight = p->inflight,
	    .queued = p->nqueued,
	    .peers = p->npeers,
	};
	memcpy(st.by_result, p->by_result, sizeof(st.by_result));
	*ret = st;
}
