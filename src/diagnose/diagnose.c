/* diagnose: the lifecycle rules that turn observations into alerts (see
 * diagnose.h).
 *
 * Flow:
 *   log event -> subject -> evidence -> rules_event_cause
 *             -> fires already: alert_touch + dirty (hot path: no text)
 *             -> its exclusive sibling fires and was logged within a tick:
 *                counted there + dirty (both hold; held_by_sibling)
 *             -> an old answer of a name that moved: the name's dns_stale
 *                (diagnose_stale.c)
 *             -> first time: context, facts, advice -> alert_report, probe_now
 *   probe result (diagnose_probe.c) -> local_error: ignored (never a verdict)
 *                -> failing: keep the logs' alerts | their cause | peer_failing
 *                -> passing: listener newer than the errors -> backend_restarted
 *   tick -> dirty alerts re-rendered once, blocks still all down kept,
 *           alert_tick, episodes forgotten, learned subjects expired.
 *
 * Why the hot path is only counters: tests/bench/bench_diagnose, a storm of
 * failures of 50 configured peers, went from 8.2-8.5 us/line (every line
 * rendered its alert's words and re-copied them) to 0.72-0.80 us/line. */
#include "diagnose/diagnose.h"
#include "diagnose/diagnose_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "backend/backend.h"
#include "conf/config.h"
#include "core/utf8.h"
#include "core/util.h"
#include "diagnose/alert.h"
#include "diagnose/evidence.h"
#include "diagnose/impact.h"
#include "diagnose/report.h"
#include "diagnose/rules.h"
#include "nginx/location.h"
#include "nginx/ngxconf.h"

struct diag *diag_new(struct alert_store *alerts, const struct diag_host *host)
{
	struct diag *d = xcalloc(1, sizeof(*d));
	d->env.alerts = alerts;
	d->env.host = *host;
	evidence_table_init(&d->env.ev);
	ngx_location_cache_init(&d->env.loc);
	return d;
}

void diag_free(struct diag *d)
{
	if (!d)
		return;
	evidence_table_done(&d->env.ev);
	ngx_location_cache_done(&d->env.loc);
	free(d->dirty);
	free(d->unix_paths);
	free(d->names);
	free(d);
}

void diag_set_access(struct diag *d, const struct accessstats *s)
{
	d->env.access = s;
}

/* nginx resolves this name again by itself: every `server` line naming it
 * has `resolve` (nginx >= 1.27.3, or the commercial versions) and no literal
 * *_pass names it. Such a name cannot go stale. */
static bool follows_name(const struct ngx_model *m, const struct ngx_peer *p)
{
	for (size_t i = 0; i < p->npasses; i++)
		if (m->passes[p->passes[i]].key && streq(m->passes[p->passes[i]].key, p->key))
			return false;
	size_t named = 0;
	for (size_t u = 0; u < p->nupstreams; u++) {
		const struct ngx_upstream *up = ngxconf_upstream(m, p->upstreams[u]);
		for (size_t j = 0; up && j < up->nservers; j++) {
			const struct ngx_server *sv = &up->servers[j];
			if (!sv->key || !streq(sv->key, p->key))
				continue;
			if (!sv->resolve)
				return false;
			named++;
		}
	}
	return named > 0;
}

void diag_set_model(struct diag *d, const struct ngx_model *m, const struct config *cfg)
{
	d->env.model = m;
	d->env.cfg = cfg;
	/* a new model may reuse a freed one's address: never trust the old cache */
	ngx_location_cache_done(&d->env.loc);
	ngx_location_cache_init(&d->env.loc);
	if (cfg)
		alert_store_set_hold(d->env.alerts, cfg->alert_hold_ms);
	d->nunix_paths = 0;
	d->nnames = 0;
	for (size_t i = 0; m && i < m->npeers; i++) {
		if (m->peers[i].kind == PEERKEY_HOST && m->peers[i].probed && m->peers[i].port &&
		    !follows_name(m, &m->peers[i])) {
			d->names = xreallocarray(d->names, d->nnames + 1, sizeof(*d->names));
			d->names[d->nnames++] = &m->peers[i];
		}
		if (m->peers[i].kind != PEERKEY_UNIX)
			continue;
		d->unix_paths =
		    xreallocarray(d->unix_paths, d->nunix_paths + 1, sizeof(*d->unix_paths));
		d->unix_paths[d->nunix_paths++] = m->peers[i].key;
	}
}

/* Log text into a field: cut on a character boundary. */
static void copy_span(char *dst, size_t cap, struct errlog_span s)
{
	size_t n = s.p ? utf8_cut(s.p, s.len, cap - 1) : 0;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* A C string into a field: snprintf("%s") cost ~580 instructions a call
 * (callgrind, daemon real-line run: 4.1 M for 7,092 DNS lines). */
static void copy_str(char *dst, size_t cap, const char *s)
{
	copy_span(dst, cap, (struct errlog_span){.p = s, .len = (uint32_t)strlen(s)});
}

void diag_mark_dirty(struct diag *d, struct evidence *e)
{
	if (e->dirty)
		return;
	e->dirty = true;
	d->dirty = grow_array(d->dirty, &d->dirty_cap, d->ndirty + 1, sizeof(*d->dirty));
	d->dirty[d->ndirty++] = e;
}

/* --- log events --- */

/* The key a DNS event is about: the model's peer with that host name, else the name. */
static void dns_key(struct diag *d, const struct errlog_event *ev, char *buf, size_t len)
{
	char name[256];
	if (ev->has_peer) {
		copy_str(buf, len, ev->peer.key);
		return;
	}
	copy_span(name, sizeof(name), ev->name);
	const struct ngx_peer *p = d->env.model ? ngxconf_peer_by_host(d->env.model, name) : NULL;
	copy_str(buf, len, p ? p->key : name);
}

/* The stream module logs `upstream: "10.0.0.5:5432"` with no scheme (and the
 * bytes fields after it): the same peer as HTTP's, when the parser left it. */
static bool stream_subject(const struct errlog_event *ev, enum cause_subject *kind, char *name,
			   size_t len)
{
	struct peerkey k;
	if (!ev->upstream.p || ev->scheme.len)
		return false;
	const char *end = memchr(ev->upstream.p, '"', ev->upstream.len);
	size_t n = end ? (size_t)(end - ev->upstream.p) : ev->upstream.len;
	if (peerkey_parse(ev->upstream.p, n, 0, &k) < 0)
		return false;
	*kind = CAUSE_SUBJECT_PEER;
	copy_str(name, len, k.key);
	return true;
}

/* name's record, through the memo (a strmap_get of the peer key a line
 * was 134 instructions of diag_log_event's 577 a real line) */
static struct evidence *subject_record(struct diag *d, enum cause_subject kind, const char *name)
{
	return evidence_lookup(&d->env.ev, kind, name, strlen(name));
}

/* strlen of a peer key in its PEERKEY_MAX array: the first 32 bytes looked
 * at at once (every address is shorter), strlen past them. The call was 12
 * instructions of diag_log_event's 362 a real line (callgrind, daemon
 * real-line run). */
static inline size_t peer_key_len(const char key[PEERKEY_MAX])
{
#ifdef __SSE2__
	__m128i z = _mm_setzero_si128();
	unsigned lo = (unsigned)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)key), z));
	unsigned hi = (unsigned)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(key + 16)), z));
	unsigned m = lo | hi << 16;
	if (m)
		return (size_t)__builtin_ctz(m);
#endif
	return strlen(key);
}

/* The kinds whose subject is not the event's peer. */
#define EVENT_SUBJECT_OWN                                                                          \
	(1u << EV_NO_LIVE_UPSTREAMS | 1u << EV_WORKER_CONNECTIONS | 1u << EV_TOO_MANY_FILES |      \
	 1u << EV_RESOLVE_FAILED | 1u << EV_NO_RESOLVER | 1u << EV_HOST_NOT_FOUND)
_Static_assert(EV__COUNT <= 32, "EVENT_SUBJECT_OWN holds every kind");

/* What the event is about; false when nothing diagnosable. *ret_name is
 * the event's own peer key where it has one (no copy per line: a memcpy
 * here was 5 % of a storm, perf on tests/bench/daemon.py), else name;
 * *ret_e its record, NULL when none yet. */
static inline __attribute__((always_inline)) bool
event_subject(struct diag *d, const struct errlog_event *ev, enum cause_subject *kind, char *name,
	      size_t len, const char **ret_name, struct evidence **ret_e)
{
	*ret_name = name;
	/* the common line first, one test of the kind (a bit mask), not the
	 * switch's tree of compares */
	if (!((EVENT_SUBJECT_OWN >> ev->kind) & 1) && ev->has_peer) {
		*kind = CAUSE_SUBJECT_PEER;
		*ret_name = ev->peer.key;
		*ret_e =
		    evidence_lookup(&d->env.ev, *kind, ev->peer.key, peer_key_len(ev->peer.key));
		/* proxy_pass http://block_name: nginx logs the block name as the peer
		 * (a peer with evidence already is known not to be one) */
		return *ret_e || ev->peer.kind != PEERKEY_HOST || !d->env.model ||
		       !ngxconf_upstream(d->env.model, ev->peer.host);
	}
	switch (ev->kind) {
	case EV_NO_LIVE_UPSTREAMS:
		*kind = CAUSE_SUBJECT_UPSTREAM;
		if (ev->has_peer)
			copy_str(name, len, ev->peer.host);
		else
			copy_span(name, len, ev->name);
		break;
	case EV_WORKER_CONNECTIONS:
	case EV_TOO_MANY_FILES:
		*kind = CAUSE_SUBJECT_HOST;
		name[0] = '\0';
		*ret_e = subject_record(d, *kind, name);
		return true;
	case EV_RESOLVE_FAILED:
	case EV_NO_RESOLVER:
	case EV_HOST_NOT_FOUND:
		*kind = CAUSE_SUBJECT_PEER;
		dns_key(d, ev, name, len);
		break;
	default: /* (no peer: the one above took those with one) */
		if (!stream_subject(ev, kind, name, len))
			return false;
		break;
	}
	if (name[0] == '\0')
		return false;
	*ret_e = subject_record(d, *kind, name);
	return true;
}

bool diag_named_by_model(const struct diag *d, enum cause_subject kind, const char *name)
{
	switch (kind) {
	case CAUSE_SUBJECT_PEER:
		return d->env.model && ngxconf_peer(d->env.model, name);
	case CAUSE_SUBJECT_UPSTREAM:
		return d->env.model && ngxconf_upstream(d->env.model, name);
	default:
		return true;
	}
}

/* A line of cause c where nginx also logged an exclusive sibling cause less
 * than DIAG_EXCLUSIVE_SETTLE_MS ago and that sibling's alert fires (say
 * socket_missing and socket_stale on one path, both kinds of line still
 * coming): both causes hold, so neither is resolved by the other. The firing
 * alert keeps the story and counts the line (the line is in the evidence
 * ring, its cause in cause[].n); only when the sibling's lines stop for the
 * window does the newest observation win (report_render). Before, each flip
 * rendered the words and published twice: 27 % of the bench's real-line
 * instructions, and a journal/subscriber storm on a real host. */
static bool held_by_sibling(struct diag *d, struct evidence *e, enum cause c, int64_t now)
{
	for (int o = 0; o < CAUSE__COUNT; o++)
		if (rules_exclusive(c, (enum cause)o) && e->cause[o].n &&
		    now - e->cause[o].last_ms < DIAG_EXCLUSIVE_SETTLE_MS &&
		    alert_touch_ref(d->env.alerts, &e->cause[o].touched, (enum cause)o,
				    e->subject.name, now, 1))
			return true;
	return false;
}

static void ask_probe(struct diag *d, const struct evidence *e)
{
	if (d->env.host.probe_now && e->addr_ok)
		d->env.host.probe_now(d->env.host.ud, e->key);
}

/* The first "no live upstreams" of an episode: its peers were hit by nginx. */
static void block_first(struct diag *d, struct evidence *e, const char *line, size_t len,
			int64_t now)
{
	const struct ngx_upstream *up =
	    d->env.model ? ngxconf_upstream(d->env.model, e->key) : NULL;
	for (size_t i = 0; up && i < up->nservers; i++) {
		const char *k = up->servers[i].key;
		bool created;
		struct evidence *pe =
		    k ? evidence_add(&d->env.ev, CAUSE_SUBJECT_PEER, k, true, &created) : NULL;
		if (!pe)
			continue;
		if (!pe->first_error_ms)
			pe->first_error_ms = now;
		pe->last_error_ms = pe->last_logged_ms = now;
		evidence_remember(pe, line, len);
		ask_probe(d, pe);
	}
	report_block(&d->env, e, 1, now);
}

/* A unix socket upstream logged without the ':' between socket path and
 * URI ("http://unix:/run/app/socket/orders/1"): the peer is the socket path
 * the configuration names, else the longest leading path that is a socket
 * on disk, never one peer per request URI. */
static void rekey_unix(const struct diag *d, struct errlog_event *ev)
{
	if (errlog_peer_resolve_unix(ev, d->unix_paths, d->nunix_paths) != 0 ||
	    ev->peer_split != ERRLOG_SPLIT_NONE)
		return;
	char path[PEERKEY_MAX];
	snprintf(path, sizeof(path), "%s", ev->peer.host);
	/* from the longest prefix down, at most one stat per path component */
	for (char *slash = strrchr(path, '/'); slash && slash > path; slash = strrchr(path, '/')) {
		*slash = '\0';
		struct stat st;
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			const char *known = path;
			errlog_peer_resolve_unix(ev, &known, 1);
			return;
		}
	}
}

/* Whether the listener's accept queue holds connections, or php-fpm said
 * its pool is full; fresh: read the host's tables anew. */
static bool listener_queue_full(struct diag *d, struct evidence *e, bool fresh, int64_t now)
{
	struct host_listener l;
	if (!d->env.host.listener(d->env.host.ud, &e->addr, fresh, &l) || !l.listening)
		return false;
	if (l.queue_known && l.queue) {
		e->queue_peak = MAX(e->queue_peak, l.queue);
		return true;
	}
	/* the backend's own word: php-fpm's "server reached pm.max_children
	 * setting" in the last minute (read once an episode) */
	if (!fresh || !d->env.host.software)
		return false;
	const struct backend_info *sw = d->env.host.software(d->env.host.ud, e->key, &l);
	char line[300];
	enum backend_signal sig;
	int64_t at;
	return sw && backend_log_signal(sw, NULL, line, sizeof(line), &sig, &at) == 0 &&
	       sig == BACKEND_SIGNAL_POOL_FULL && at && now - at < 60 * 1000 && at - now < 5000;
}

/* A timeout from a local backend whose accept queue holds connections: its
 * workers are all busy and requests wait to be accepted — the pool is too
 * small (backend_overloaded), not one slow request. Read afresh the first
 * time in an episode (the queue moves fast), from the cache after. */
static bool pool_full(struct diag *d, struct evidence *e, int64_t now)
{
	if (!e->addr_local || !d->env.host.listener)
		return false;
	bool fresh = !e->cause[CAUSE_BACKEND_SLOW].n && !e->cause[CAUSE_BACKEND_OVERLOADED].n;
	/* The host's tables are read at most once a second (FACTS_SNAPSHOT_MS):
	 * within one, the answer of the last look stands. Asking on every
	 * timeout line was 5.2 M of pipeline_line's 123 M instructions on the
	 * real-line bench (callgrind, 67 k lines, one timeout line in 11). */
	if (!fresh && e->pool_asked_ms && now - e->pool_asked_ms >= 0 &&
	    now - e->pool_asked_ms < DIAG_POOL_RECHECK_MS)
		return e->pool_was_full;
	e->pool_asked_ms = now;
	e->pool_was_full = listener_queue_full(d, e, fresh, now);
	return e->pool_was_full;
}

/* A subject first named by a log line: its record (NULL beyond the cap,
 * counted in untracked), the host told of a learned peer. */
static __attribute__((noinline)) struct evidence *
subject_new(struct diag *d, enum cause_subject kind, const char *name)
{
	bool configured = diag_named_by_model(d, kind, name), created;
	struct evidence *e = evidence_add(&d->env.ev, kind, name, configured, &created);
	if (e && created && !configured && kind == CAUSE_SUBJECT_PEER && e->addr_ok &&
	    d->env.host.learned)
		d->env.host.learned(d->env.host.ud, e->key, true);
	return e;
}

/* Whether something listens on the (local) peer: only connect timeouts ask. */
static __attribute__((noinline)) bool listener_up(struct diag *d, struct evidence *e)
{
	struct host_listener l;
	return d->env.host.listener && d->env.host.listener(d->env.host.ud, &e->addr, false, &l) &&
	       l.listening;
}

/* alert_touch_ref past its ref: e's name (in a cold line) read only here */
static __attribute__((noinline)) bool touch_by_subject(struct diag *d, struct evidence *e,
						       enum cause c, int64_t now)
{
	return alert_touch_ref_slow(d->env.alerts, &e->cause[c].touched, c, e->subject.name, now,
				    1);
}

/* A line of cause c whose alert does not fire (yet): the words now. ip: the
 * learned address whose line moved to e (dns_stale), else NULL. */
static __attribute__((noinline)) void event_opens(struct diag *d, struct evidence *e,
						  struct evidence *ip, enum cause c,
						  const char *line, size_t len, int64_t now)
{
	if (c == CAUSE_NO_LIVE_UPSTREAMS) {
		block_first(d, e, line, len, now);
		return;
	}
	/* nginx has now hit the peer: the prediction became a diagnosis */
	if (e->subject.kind == CAUSE_SUBJECT_PEER)
		alert_supersede(d->env.alerts, CAUSE_PEER_FAILING, e->key, now);
	struct report_extra x = {.implied = CAUSE_NONE, .occurrences = 1};
	const struct alert *a = report_render(&d->env, e, c, &x, now);
	if (e->unit_recheck)
		diag_mark_dirty(d, e);
	if (ip && a)
		diag_stale_absorb(d, ip, a, now);
	ask_probe(d, e);
}

/* diag_log_event once the peer is keyed. The rare paths (a new subject, a
 * listener to ask, an alert to open) are calls: the common line keeps its
 * registers (callgrind, daemon real-line run). */
static inline __attribute__((always_inline)) void
log_event(struct diag *d, const struct errlog_event *ev, const char *line, size_t len, int64_t now)
{
	char buf[PEERKEY_MAX];
	const char *name;
	enum cause_subject kind;

	d->kinds[ev->kind]++;
	struct evidence *e;
	if (ev->kind == EV_OTHER || !event_subject(d, ev, &kind, buf, sizeof(buf), &name, &e))
		return;
	if (!e && !(e = subject_new(d, kind, name)))
		return; /* beyond the cap: counted in untracked */
	e->kinds[ev->kind]++;
	e->last_event_ms = now;
	size_t kept = evidence_remember(e, line, len);

	/* (peer_disabled and fastcgi_stderr lines have none: evidence for other
	 * causes, not a cause of their own). A listener turns a connect
	 * timeout from unreachable into overloaded: asked only then */
	enum cause c = rules_event_cause(ev, e->addr_unix, false);
	if (c == CAUSE_NONE)
		return;
	if (c == CAUSE_BACKEND_UNREACHABLE && rules_event_needs_listener(ev) && e->addr_local &&
	    listener_up(d, e))
		c = rules_event_cause(ev, e->addr_unix, true);
	if (c == CAUSE_BACKEND_SLOW && pool_full(d, e, now))
		c = CAUSE_BACKEND_OVERLOADED;

	e->last_err = ev->err;
	e->last_phase = ev->phase;
	evidence_set_fields(e, line, kept, ev);
	/* an old answer of a name that moved: the name's dns_stale (only with
	 * probed host-name peers: asked here first, diagnosis went from 535 to
	 * 494 instructions a storm line, callgrind on tests/bench/daemon.py's
	 * storm of 100 k lines) */
	struct evidence *ip = NULL, *owner;
	if (d->nnames && diag_stale_able(c) && (owner = diag_stale_owner(d, e, now))) {
		ip = e;
		e = diag_stale_move(ip, owner, line, len);
		c = CAUSE_DNS_STALE;
		if (!ip->first_error_ms)
			ip->first_error_ms = now;
		ip->last_error_ms = ip->last_logged_ms = now;
	}

	if (!e->first_error_ms)
		e->first_error_ms = now;
	e->last_error_ms = e->last_logged_ms = now;
	if (!e->cause[c].n++)
		e->cause_first_ms[c] = now;
	e->cause[c].last_ms = now;
	unsigned burst = e->burst_n + 1;
	if (now - e->burst_start_ms >= EVIDENCE_BURST_MS) {
		e->burst_start_ms = now;
		burst = 1;
	}
	e->burst_n = burst;
	if (burst > e->burst_peak)
		e->burst_peak = burst;

	/* the hot path: it fires already (or an exclusive sibling that still
	 * holds tells it); the words wait for the tick */
	if (alert_touch_ref_hit(d->env.alerts, &e->cause[c].touched, c, now, 1) ||
	    touch_by_subject(d, e, c, now) || held_by_sibling(d, e, c, now)) {
		if (!e->dirty)
			diag_mark_dirty(d, e);
		return;
	}
	event_opens(d, e, ip, c, line, len, now);
}

/* A unix peer logged without the ':' after its socket path: keyed anew. */
static __attribute__((noinline)) void log_event_rekeyed(struct diag *d,
							const struct errlog_event *ev,
							const char *line, size_t len, int64_t now)
{
	struct errlog_event rekeyed = *ev;
	rekey_unix(d, &rekeyed);
	log_event(d, &rekeyed, line, len, now);
}

void diag_log_event(struct diag *d, const struct errlog_event *ev, const char *line, size_t len,
		    int64_t now)
{
	/* (peer_split first: only a unix peer's is not EXACT, 0, as parsed) */
	if (ev->peer_split != ERRLOG_SPLIT_EXACT && ev->has_peer && ev->peer.kind == PEERKEY_UNIX)
		log_event_rekeyed(d, ev, line, len, now);
	else
		log_event(d, ev, line, len, now);
}

/* --- the tick --- */

/* no_live_upstreams holds while every peer nginx may use is down. */
static bool block_all_down(const struct diag *d, const char *block, int64_t now)
{
	const struct ngx_upstream *up = d->env.model ? ngxconf_upstream(d->env.model, block) : NULL;
	if (!up)
		return false;
	size_t usable = 0;
	for (size_t i = 0; i < up->nservers; i++) {
		const struct ngx_server *s = &up->servers[i];
		if (!s->key || s->down)
			continue;
		usable++;
		const struct evidence *e = evidence_get(&d->env.ev, CAUSE_SUBJECT_PEER, s->key);
		if (!e || !e->probe_ms || e->probe == PROBE_OK)
			return false;
		(void)now;
	}
	return usable > 0;
}

static bool subject_firing(const struct diag *d, const struct evidence *e)
{
	for (int c = 0; c < CAUSE__COUNT; c++)
		if (cause_subject((enum cause)c) == e->subject.kind &&
		    alert_find(d->env.alerts, (enum cause)c, e->subject.name))
			return true;
	return false;
}

static void rerender(struct diag *d, struct evidence *e, int64_t now)
{
	for (int c = 0; c < CAUSE__COUNT; c++) {
		if (cause_subject((enum cause)c) != e->subject.kind ||
		    !alert_find(d->env.alerts, (enum cause)c, e->subject.name))
			continue;
		if (c == CAUSE_NO_LIVE_UPSTREAMS) {
			report_block(&d->env, e, 0, now);
		} else if (c != CAUSE_PEER_FAILING && c != CAUSE_BACKEND_RESTARTED) {
			struct report_extra x = {.implied = CAUSE_NONE};
			report_render(&d->env, e, (enum cause)c, &x, now);
		}
	}
}

void diag_tick(struct diag *d, int64_t now)
{
	struct evidence *e;
	size_t it;

	/* a block whose peers all still fail keeps its no_live_upstreams */
	it = 0;
	while (strmap_next(&d->env.ev.subjects[CAUSE_SUBJECT_UPSTREAM], &it, NULL, (void **)&e))
		if (alert_find(d->env.alerts, CAUSE_NO_LIVE_UPSTREAMS, e->key) &&
		    block_all_down(d, e->key, now))
			alert_touch(d->env.alerts, CAUSE_NO_LIVE_UPSTREAMS, e->key, now, 0);

	/* counts changed: the words follow, once per tick; a subject whose
	 * unit's journal may still be getting its why waits for the next one */
	size_t n = d->ndirty;
	for (size_t i = 0; i < n; i++) {
		d->dirty[i]->dirty = false;
		rerender(d, d->dirty[i], now);
		if (d->dirty[i]->unit_recheck)
			diag_mark_dirty(d, d->dirty[i]);
	}
	if (d->ndirty > n)
		memmove(d->dirty, d->dirty + n, (d->ndirty - n) * sizeof(*d->dirty));
	d->ndirty -= n;

	impact_check_slow(d->env.access, d->env.model, d->env.alerts, now);
	impact_check_unlogged(d->env.access, d->env.model, d->env.alerts, now);
	alert_tick(d->env.alerts, now);

	/* forget episodes with no alert left; expire quiet learned subjects */
	struct evidence *expired[64];
	size_t nexpired = 0;
	for (int k = 0; k < 3; k++) {
		it = 0;
		while (strmap_next(&d->env.ev.subjects[k], &it, NULL, (void **)&e)) {
			/* (one waiting in the dirty list for the next tick stays) */
			if (!e->configured && !e->dirty &&
			    now - e->last_event_ms >= EVIDENCE_QUIET_MS) {
				if (nexpired < ARRAY_SIZE(expired))
					expired[nexpired++] = e;
				continue;
			}
			if (!e->first_error_ms ||
			    now - e->last_error_ms < report_hold_ms(&d->env) ||
			    subject_firing(d, e))
				continue;
			evidence_reset_episode(e);
		}
	}
	for (size_t i = 0; i < nexpired; i++) {
		e = expired[i];
		for (int c = 0; c < CAUSE__COUNT; c++)
			if (cause_subject((enum cause)c) == e->subject.kind)
				alert_supersede(d->env.alerts, (enum cause)c, e->subject.name, now);
		if (e->subject.kind == CAUSE_SUBJECT_PEER && e->addr_ok && d->env.host.learned)
			d->env.host.learned(d->env.host.ud, e->key, false);
		evidence_remove(&d->env.ev, e);
	}
}

uint64_t diag_events_count(const struct diag *d, enum errlog_kind kind)
{
	return d->kinds[kind];
}

size_t diag_learned_peers(const struct diag *d, const char ***ret_keys)
{
	*ret_keys = d->env.ev.learned;
	return d->env.ev.nlearned_peers;
}

size_t diag_learned_count(const struct diag *d)
{
	return d->env.ev.nlearned;
}

uint64_t diag_untracked_events(const struct diag *d)
{
	return d->env.ev.untracked;
}

void diag_foreach_peer(const struct diag *d,
		       void (*fn)(void *ud, const char *key, const uint64_t kinds[EV__COUNT]),
		       void *ud)
{
	size_t it = 0;
	struct evidence *e;
	while (strmap_next(&d->env.ev.subjects[CAUSE_SUBJECT_PEER], &it, NULL, (void **)&e))
		if (e->addr_ok)
			fn(ud, e->key, e->kinds);
}
