/* diagnose: the lifecycle rules that turn observations into alerts (see
 * diagnose.h).
 *
 * Flow:
 *   log event -> subject -> evidence -> rules_event_cause
 *             -> fires already: alert_touch + dirty (hot path: no text)
 *             -> first time: context, facts, advice -> alert_report, probe_now
 *   probe result -> local_error: ignored (never a verdict)
 *                -> failing: keep the logs' alerts | their cause | peer_failing
 *                -> passing: listener newer than the errors -> backend_restarted
 *   tick -> dirty alerts re-rendered once, blocks still all down kept,
 *           alert_tick, episodes forgotten, learned subjects expired.
 *
 * Why the hot path is only counters: tests/bench/bench_diagnose, a storm of
 * failures of 50 configured peers, went from 8.2-8.5 us/line (every line
 * rendered its alert's words and re-copied them) to 0.72-0.80 us/line. */
#include "diagnose/diagnose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/utf8.h"
#include "core/util.h"
#include "diagnose/advice.h"
#include "diagnose/alert.h"
#include "diagnose/evidence.h"
#include "diagnose/rules.h"
#include "nginx/location.h"
#include "nginx/ngxconf.h"

#define DIAG_EPISODE_MS (5 * 60 * 1000) /* log errors this recent make a peer "hit by nginx" */
#define NEARBY_MAX	8

struct diag {
	struct alert_store *alerts;
	struct diag_host host;
	const struct ngx_model *model;
	const struct config *cfg;
	struct evidence_table ev;
	struct ngx_location_cache loc;
	uint64_t kinds[EV__COUNT];
	struct evidence **dirty; /* counted since rendered: rendered at the next tick */
	size_t ndirty, dirty_cap;
};

struct diag *diag_new(struct alert_store *alerts, const struct diag_host *host)
{
	struct diag *d = xcalloc(1, sizeof(*d));
	d->alerts = alerts;
	d->host = *host;
	evidence_table_init(&d->ev);
	ngx_location_cache_init(&d->loc);
	return d;
}

void diag_free(struct diag *d)
{
	if (!d)
		return;
	evidence_table_done(&d->ev);
	ngx_location_cache_done(&d->loc);
	free(d->dirty);
	free(d);
}

void diag_set_model(struct diag *d, const struct ngx_model *m, const struct config *cfg)
{
	d->model = m;
	d->cfg = cfg;
	if (cfg)
		alert_store_set_hold(d->alerts, cfg->alert_hold_ms);
}

static int64_t hold_ms(const struct diag *d)
{
	return (int64_t)(d->cfg ? d->cfg->alert_hold_ms : 30000);
}

/* Log text into a field: cut on a character boundary. */
static void copy_span(char *dst, size_t cap, struct errlog_span s)
{
	size_t n = s.p ? utf8_cut(s.p, s.len, cap - 1) : 0;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

static void mark_dirty(struct diag *d, struct evidence *e)
{
	if (e->dirty)
		return;
	e->dirty = true;
	d->dirty = grow_array(d->dirty, &d->dirty_cap, d->ndirty + 1, sizeof(*d->dirty));
	d->dirty[d->ndirty++] = e;
}

/* --- the model around a subject --- */

struct context {
	const struct ngx_peer *npeer;
	const struct ngx_upstream *up;
	const struct ngx_server *server;
	const struct ngx_pass *pass;
};

static const struct ngx_server *server_in(const struct ngx_upstream *up, const char *key)
{
	for (size_t i = 0; up && i < up->nservers; i++)
		if (up->servers[i].key && streq(up->servers[i].key, key))
			return &up->servers[i];
	return NULL;
}

static void find_context(struct diag *d, const struct evidence *e, struct context *ret)
{
	*ret = (struct context){0};
	if (!d->model || e->subject.kind == CAUSE_SUBJECT_HOST)
		return;
	if (e->subject.kind == CAUSE_SUBJECT_UPSTREAM) {
		ret->up = ngxconf_upstream(d->model, e->key);
	} else {
		ret->npeer = ngxconf_peer(d->model, e->key);
		if (ret->npeer && ret->npeer->nupstreams > 0)
			ret->up = ngxconf_upstream(d->model, ret->npeer->upstreams[0]);
		ret->server = server_in(ret->up, e->key);
	}
	ret->pass =
	    ngx_location_pass(&d->loc, d->model, ret->npeer, ret->up, e->last_server, e->last_uri);
}

/* --- host facts, read when words are rendered --- */

struct facts {
	bool probed;
	struct probe_result probe;
	struct host_listener listener;
	bool listener_known;
	unsigned nearby[NEARBY_MAX];
	size_t nnearby;
	bool conns_known;
	struct diag_conns conns;
};

static void gather_facts(struct diag *d, const struct evidence *e, enum cause c, bool fresh,
			 struct facts *f)
{
	memset(f, 0, sizeof(*f));
	if (e->subject.kind != CAUSE_SUBJECT_PEER)
		return;
	if (d->host.last_probe && d->host.last_probe(d->host.ud, e->key, &f->probe))
		f->probed = rules_probe_is_verdict(&f->probe);
	if (!e->addr_ok || e->addr.kind == PEERKEY_HOST)
		return;
	if (c == CAUSE_LOCAL_PORTS_EXHAUSTED && d->host.connections)
		f->conns_known = d->host.connections(d->host.ud, &e->addr, &f->conns) >= 0;
	if (!peerkey_is_local(&e->addr) || !d->host.listener)
		return;
	f->listener_known = d->host.listener(d->host.ud, &e->addr, fresh, &f->listener);
	if (f->listener_known && !f->listener.listening && e->addr.kind != PEERKEY_UNIX &&
	    d->host.ports_nearby) {
		int n = d->host.ports_nearby(d->host.ud, &e->addr, f->nearby, NEARBY_MAX);
		f->nnearby = n > 0 ? (size_t)n : 0;
	}
}

/* --- severity: the cause table's, lowered when nginx still serves --- */

static bool peer_fails_now(const struct diag *d, const char *key, int64_t now)
{
	const struct evidence *e = evidence_get(&d->ev, CAUSE_SUBJECT_PEER, key);
	if (!e)
		return false;
	return (e->probe_ms && e->probe != PROBE_OK) ||
	       (e->last_error_ms && now - e->last_error_ms < hold_ms(d));
}

/* Degraded rather than down: another peer of the block serves. *ret_backup:
 * the backup that serves while every primary fails (NULL otherwise). */
static bool degraded(const struct diag *d, const struct evidence *e, const struct context *ctx,
		     int64_t now, const char **ret_backup)
{
	*ret_backup = NULL;
	if (e->subject.kind != CAUSE_SUBJECT_PEER || !ctx->up || ctx->up->nservers < 2)
		return false;
	const char *backup = NULL;
	for (size_t i = 0; i < ctx->up->nservers; i++) {
		const struct ngx_server *s = &ctx->up->servers[i];
		if (!s->key || s->down || streq(s->key, e->key) || peer_fails_now(d, s->key, now))
			continue;
		if (!s->backup)
			return true; /* a primary serves: nginx retries there */
		backup = backup ? backup : s->key;
	}
	const struct ngx_server *self = server_in(ctx->up, e->key);
	if (backup && self && !self->backup)
		*ret_backup = backup;
	return backup != NULL;
}

/* --- words --- */

static void format_probe(const struct probe_result *r, char *buf, size_t len)
{
	char t[32];
	format_time_ms(r->time_ms, t);
	snprintf(buf, len, "probe %s: %s%s%s (%ums)", t, probe_result_name(r->result),
		 r->detail[0] ? ": " : "", r->detail, r->latency_ms);
}

static void format_listener(const struct evidence *e, const struct facts *f, char *buf, size_t len)
{
	const struct host_listener *l = &f->listener;
	size_t n = 0;
	buf[0] = '\0';
	if (!f->listener_known)
		return;
	if (!l->listening) {
		n += (size_t)snprintf(buf, len, "host: nothing listens on %s", e->key);
		if (f->nnearby && n < len) {
			n += (size_t)snprintf(buf + n, len - n,
					      "; on %s these ports listen:", e->addr.host);
			for (size_t i = 0; i < f->nnearby && n < len; i++)
				n += (size_t)snprintf(buf + n, len - n, " %u", f->nearby[i]);
		}
		return;
	}
	n += (size_t)snprintf(buf, len, "host: %s is served by", e->key);
	if (l->pid && n < len)
		n += (size_t)snprintf(buf + n, len - n, " %s (pid %d)", l->process, (int)l->pid);
	else if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " a process upwatch may not inspect");
	if (l->unit[0] && n < len)
		n +=
		    (size_t)snprintf(buf + n, len - n, ", unit %s%s%s%s%s", l->unit,
				     l->unit_known ? " " : "", l->unit_known ? l->active_state : "",
				     l->unit_known ? "/" : "", l->unit_known ? l->sub_state : "");
	if (l->started_ms && n < len) {
		char t[32];
		format_time_ms(l->started_ms, t);
		snprintf(buf + n, len - n, ", started %s", t);
	}
}

struct extra {
	enum cause implied;
	const char *block_states;
	const char *window;
	unsigned occurrences;
};

/* Word (cause, subject) from what is known now and hand it to the store. */
static const struct alert *render(struct diag *d, struct evidence *e, enum cause c,
				  const struct extra *x, int64_t now)
{
	struct context ctx;
	struct facts f;
	const char *backup;
	find_context(d, e, &ctx);
	gather_facts(d, e, c, c == CAUSE_BACKEND_RESTARTED, &f);
	bool low = degraded(d, e, &ctx, now, &backup);

	struct advice adv;
	struct advice_in in = {
	    .cause = c,
	    .implied = x->implied,
	    .peer = e->subject.kind == CAUSE_SUBJECT_PEER ? e->key : NULL,
	    .addr = e->addr_ok ? &e->addr : NULL,
	    .model = d->model,
	    .up = ctx.up,
	    .server = ctx.server,
	    .pass = ctx.pass,
	    .err = e->last_err,
	    .phase = e->last_phase,
	    .detail = e->last_detail,
	    .events = c == CAUSE_BACKEND_RESTARTED ? 0 : e->by_cause[c],
	    .first_error_ms = e->first_error_ms,
	    .probe = f.probed ? &f.probe : NULL,
	    .listener = f.listener_known ? &f.listener : NULL,
	    .nearby = f.nearby,
	    .nnearby = f.nnearby,
	    .block_states = x->block_states,
	    .backup = backup,
	    .last_error_ms = e->last_logged_ms,
	    .window = x->window,
	    .conns_known = f.conns_known,
	    .time_wait = f.conns.time_wait,
	    .established = f.conns.established,
	};
	advice_write(&in, &adv);

	char lines[EVIDENCE_LINES][EVIDENCE_LINE_MAX + 4], probe_line[400], host_line[400],
	    conns_line[200];
	const char *evidence[EVIDENCE_LINES + 5];
	size_t nev = 0;
	for (unsigned i = 0; i < e->nlines; i++)
		evidence[nev++] = evidence_line(e, i, lines[i], sizeof(lines[i]));
	if (f.probed) {
		format_probe(&f.probe, probe_line, sizeof(probe_line));
		evidence[nev++] = probe_line;
	}
	format_listener(e, &f, host_line, sizeof(host_line));
	if (host_line[0])
		evidence[nev++] = host_line;
	if (f.conns_known) {
		snprintf(conns_line, sizeof(conns_line),
			 "host: %u connections to %s in TIME_WAIT, %u established",
			 f.conns.time_wait, e->key, f.conns.established);
		evidence[nev++] = conns_line;
	}
	if (x->block_states)
		evidence[nev++] = x->block_states;
	if (x->window)
		evidence[nev++] = x->window;

	struct alert_report r = {
	    .cause = c,
	    .severity = cause_severity_level(c, low),
	    .peer = in.peer,
	    .upstream =
		ctx.up ? ctx.up->name : (e->subject.kind == CAUSE_SUBJECT_UPSTREAM ? e->key : NULL),
	    .summary = adv.summary,
	    .explanation = adv.explanation,
	    .fix = adv.fix,
	    .config_ref = adv.config_ref[0] ? adv.config_ref : NULL,
	    .evidence = evidence,
	    .nevidence = nev,
	    .time_ms = now,
	    .occurrences = x->occurrences,
	};
	/* what the socket file is, is one fact: the newest observation wins */
	for (int o = 0; o < CAUSE__COUNT; o++)
		if (rules_exclusive(c, (enum cause)o))
			alert_supersede(d->alerts, (enum cause)o, e->subject.name, now);
	return alert_report(d->alerts, &r, now);
}

/* "peers of upstream a: x down (refused); y up" for every server of a block. */
static void block_states(struct diag *d, const struct ngx_upstream *up, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "peers of upstream %s:", up->name);
	for (size_t i = 0; i < up->nservers && n < len; i++) {
		const struct ngx_server *s = &up->servers[i];
		const char *k = s->key ? s->key : s->addr;
		struct probe_result r;
		bool probed = s->key && d->host.last_probe &&
			      d->host.last_probe(d->host.ud, k, &r) && rules_probe_is_verdict(&r);
		const char *state = "unknown";
		const char *why = "";
		for (int c = 0; c < CAUSE__COUNT && s->key; c++) {
			if (cause_subject((enum cause)c) == CAUSE_SUBJECT_PEER &&
			    alert_find(d->alerts, (enum cause)c, k)) {
				state = "failing";
				why = cause_name((enum cause)c);
				break;
			}
		}
		if (!why[0] && probed) {
			state = r.result == PROBE_OK ? "up" : "down";
			why = probe_result_name(r.result);
		}
		n += (size_t)snprintf(buf + n, len - n, "%s %s %s%s%s%s", i ? ";" : "", k, state,
				      why[0] ? " (" : "", why, why[0] ? ")" : "");
		if (s->down && n < len)
			n += (size_t)snprintf(buf + n, len - n, " [marked down]");
		else if (s->backup && n < len)
			n += (size_t)snprintf(buf + n, len - n, " [backup]");
	}
}

static const struct alert *render_block(struct diag *d, struct evidence *e, unsigned occurrences,
					int64_t now)
{
	char states[1024];
	const struct ngx_upstream *up = d->model ? ngxconf_upstream(d->model, e->key) : NULL;
	if (up)
		block_states(d, up, states, sizeof(states));
	else
		snprintf(states, sizeof(states), "upstream %s is not in the nginx configuration",
			 e->key);
	struct extra x = {
	    .implied = CAUSE_NONE, .block_states = states, .occurrences = occurrences};
	return render(d, e, CAUSE_NO_LIVE_UPSTREAMS, &x, now);
}

/* --- log events --- */

/* The key a DNS event is about: the model's peer with that host name, else the name. */
static void dns_key(struct diag *d, const struct errlog_event *ev, char *buf, size_t len)
{
	char name[256];
	if (ev->has_peer) {
		snprintf(buf, len, "%s", ev->peer.key);
		return;
	}
	copy_span(name, sizeof(name), ev->name);
	for (size_t i = 0; d->model && i < d->model->npeers; i++) {
		const struct ngx_peer *p = &d->model->peers[i];
		if (p->addr.kind == PEERKEY_HOST && strcasecmp(p->addr.host, name) == 0) {
			snprintf(buf, len, "%s", p->key);
			return;
		}
	}
	snprintf(buf, len, "%s", name);
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
	snprintf(name, len, "%s", k.key);
	return true;
}

/* What the event is about; false when nothing diagnosable. */
static bool event_subject(struct diag *d, const struct errlog_event *ev, enum cause_subject *kind,
			  char *name, size_t len)
{
	switch (ev->kind) {
	case EV_NO_LIVE_UPSTREAMS:
		*kind = CAUSE_SUBJECT_UPSTREAM;
		if (ev->has_peer)
			snprintf(name, len, "%s", ev->peer.host);
		else
			copy_span(name, len, ev->name);
		return name[0] != '\0';
	case EV_WORKER_CONNECTIONS:
	case EV_TOO_MANY_FILES:
		*kind = CAUSE_SUBJECT_HOST;
		name[0] = '\0';
		return true;
	case EV_RESOLVE_FAILED:
	case EV_NO_RESOLVER:
	case EV_HOST_NOT_FOUND:
		*kind = CAUSE_SUBJECT_PEER;
		dns_key(d, ev, name, len);
		return name[0] != '\0';
	default:
		if (!ev->has_peer)
			return stream_subject(ev, kind, name, len);
		/* proxy_pass http://block_name: nginx logs the block name as the peer */
		if (ev->peer.kind == PEERKEY_HOST && d->model &&
		    ngxconf_upstream(d->model, ev->peer.host))
			return false;
		*kind = CAUSE_SUBJECT_PEER;
		size_t n = strnlen(ev->peer.key, len - 1);
		memcpy(name, ev->peer.key, n); /* per line: no printf */
		name[n] = '\0';
		return true;
	}
}

static bool named_by_model(const struct diag *d, enum cause_subject kind, const char *name)
{
	switch (kind) {
	case CAUSE_SUBJECT_PEER:
		return d->model && ngxconf_peer(d->model, name);
	case CAUSE_SUBJECT_UPSTREAM:
		return d->model && ngxconf_upstream(d->model, name);
	default:
		return true;
	}
}

static void ask_probe(struct diag *d, const struct evidence *e)
{
	if (d->host.probe_now && e->addr_ok)
		d->host.probe_now(d->host.ud, e->key);
}

/* The first "no live upstreams" of an episode: its peers were hit by nginx. */
static void block_first(struct diag *d, struct evidence *e, const char *line, size_t len,
			int64_t now)
{
	const struct ngx_upstream *up = d->model ? ngxconf_upstream(d->model, e->key) : NULL;
	for (size_t i = 0; up && i < up->nservers; i++) {
		const char *k = up->servers[i].key;
		bool created;
		struct evidence *pe =
		    k ? evidence_add(&d->ev, CAUSE_SUBJECT_PEER, k, true, &created) : NULL;
		if (!pe)
			continue;
		if (!pe->first_error_ms)
			pe->first_error_ms = now;
		pe->last_error_ms = pe->last_logged_ms = now;
		evidence_remember(pe, line, len);
		ask_probe(d, pe);
	}
	render_block(d, e, 1, now);
}

void diag_log_event(struct diag *d, const struct errlog_event *ev, const char *line, size_t len,
		    int64_t now)
{
	char name[PEERKEY_MAX];
	enum cause_subject kind;

	d->kinds[ev->kind]++;
	if (ev->kind == EV_OTHER || !event_subject(d, ev, &kind, name, sizeof(name)))
		return;

	struct evidence *e = evidence_get(&d->ev, kind, name);
	if (!e) {
		bool configured = named_by_model(d, kind, name), created;
		e = evidence_add(&d->ev, kind, name, configured, &created);
		if (!e)
			return; /* beyond the cap: counted in untracked */
		if (created && !configured && kind == CAUSE_SUBJECT_PEER && e->addr_ok &&
		    d->host.learned)
			d->host.learned(d->host.ud, e->key, true);
	}
	e->kinds[ev->kind]++;
	e->last_event_ms = now;
	evidence_remember(e, line, len);
	if (ev->kind == EV_PEER_DISABLED || ev->kind == EV_FASTCGI_STDERR)
		return; /* evidence for other causes, not a cause of its own */

	bool is_unix = e->addr_ok && e->addr.kind == PEERKEY_UNIX;
	bool listener_up = false;
	struct host_listener l;
	if (rules_event_needs_listener(ev) && e->addr_ok && peerkey_is_local(&e->addr) &&
	    d->host.listener && d->host.listener(d->host.ud, &e->addr, false, &l))
		listener_up = l.listening;
	enum cause c = rules_event_cause(ev, is_unix, listener_up);
	if (c == CAUSE_NONE)
		return;

	if (!e->first_error_ms)
		e->first_error_ms = now;
	e->last_error_ms = e->last_logged_ms = now;
	if (!e->by_cause[c]++)
		e->cause_first_ms[c] = now;
	e->cause_last_ms[c] = now;
	e->last_err = ev->err;
	e->last_phase = ev->phase;
	copy_span(e->last_detail, sizeof(e->last_detail), ev->detail);
	copy_span(e->last_server, sizeof(e->last_server), ev->server);
	copy_span(e->last_uri, sizeof(e->last_uri), ev->uri);

	/* the hot path: it fires already; the words wait for the tick */
	if (alert_touch(d->alerts, c, e->subject.name, now, 1)) {
		mark_dirty(d, e);
		return;
	}

	if (c == CAUSE_NO_LIVE_UPSTREAMS) {
		block_first(d, e, line, len, now);
		return;
	}
	/* nginx has now hit the peer: the prediction became a diagnosis */
	if (kind == CAUSE_SUBJECT_PEER)
		alert_supersede(d->alerts, CAUSE_PEER_FAILING, e->key, now);
	struct extra x = {.implied = CAUSE_NONE, .occurrences = 1};
	render(d, e, c, &x, now);
	ask_probe(d, e);
}

/* --- probe results --- */

/* "backend_reset 10:00:01 to 10:00:02 (3 events); backend_down ..." */
static unsigned outage_window(const struct evidence *e, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "outage:");
	unsigned total = 0;
	for (int c = 0; c < CAUSE__COUNT && n < len; c++) {
		if (!rules_restart_chapter((enum cause)c) || !e->by_cause[c])
			continue;
		char a[32], b[32];
		format_time_ms(e->cause_first_ms[c], a);
		format_time_ms(e->cause_last_ms[c], b);
		n += (size_t)snprintf(buf + n, len - n, "%s %s %s to %s (%u event%s)",
				      total ? ";" : "", cause_name((enum cause)c), a, b,
				      e->by_cause[c], e->by_cause[c] == 1 ? "" : "s");
		total += e->by_cause[c];
	}
	return total;
}

static void probe_passed(struct diag *d, struct evidence *e, int64_t now)
{
	alert_supersede(d->alerts, CAUSE_PEER_FAILING, e->key, now);
	if (!e->first_error_ms)
		return;
	bool chapters = false;
	for (int c = 0; c < CAUSE__COUNT && !chapters; c++)
		chapters = rules_restart_chapter((enum cause)c) &&
			   alert_find(d->alerts, (enum cause)c, e->key);
	if (!chapters)
		return;
	/* errors, then a listener that started after them: it restarted */
	struct host_listener l;
	if (!e->addr_ok || !peerkey_is_local(&e->addr) || !d->host.listener ||
	    !d->host.listener(d->host.ud, &e->addr, true, &l) || !l.listening || !l.started_ms ||
	    l.started_ms < e->first_error_ms - 1000)
		return;
	char window[600];
	struct extra x = {.implied = CAUSE_NONE, .window = window};
	x.occurrences = outage_window(e, window, sizeof(window));
	const struct alert *a = render(d, e, CAUSE_BACKEND_RESTARTED, &x, now);
	/* one crash, one story: the reset and refused alerts are its chapters */
	for (int c = 0; c < CAUSE__COUNT; c++)
		if (rules_restart_chapter((enum cause)c))
			alert_absorb(d->alerts, (enum cause)c, e->key, a, now);
}

void diag_probe_result(struct diag *d, const char *key, const struct probe_result *result,
		       int64_t now)
{
	/* upwatch's own failure (no descriptor, no memory) says nothing of the peer */
	if (!rules_probe_is_verdict(result))
		return;
	struct evidence *e = evidence_get(&d->ev, CAUSE_SUBJECT_PEER, key);
	if (result->result == PROBE_OK) {
		if (e) {
			e->probe = PROBE_OK;
			e->probe_ms = now;
			probe_passed(d, e, now);
		}
		return;
	}
	if (!e) {
		bool created;
		e = evidence_add(&d->ev, CAUSE_SUBJECT_PEER, key,
				 named_by_model(d, CAUSE_SUBJECT_PEER, key), &created);
		if (!e)
			return;
		e->last_event_ms = now;
	}
	bool changed = e->probe != result->result || !e->probe_ms;
	e->probe = result->result;
	e->probe_ms = now;
	bool is_unix = e->addr_ok && e->addr.kind == PEERKEY_UNIX;
	enum cause pc = rules_probe_cause(result, is_unix);

	/* the logs' alerts stay while the peer still fails: a weaker or other
	 * observation never resolves a cause that still holds */
	bool kept = false;
	for (int c = 0; c < CAUSE__COUNT; c++) {
		if (c == CAUSE_PEER_FAILING || cause_subject((enum cause)c) != CAUSE_SUBJECT_PEER ||
		    !alert_find(d->alerts, (enum cause)c, key))
			continue;
		if (pc != CAUSE_NONE && rules_exclusive((enum cause)c, pc))
			continue; /* the socket file changed: replaced below */
		alert_touch(d->alerts, (enum cause)c, key, now, 0);
		kept = true;
	}
	struct extra x = {.implied = CAUSE_NONE};
	bool exclusive_changed = false;
	for (int c = 0; c < CAUSE__COUNT && pc != CAUSE_NONE; c++)
		exclusive_changed |=
		    rules_exclusive((enum cause)c, pc) && alert_find(d->alerts, (enum cause)c, key);
	if (exclusive_changed) {
		render(d, e, pc, &x, now);
		return;
	}
	if (kept) {
		if (changed)
			mark_dirty(d, e); /* a fresh probe result: new words at the tick */
		return;
	}
	bool hit = e->last_error_ms && now - e->last_error_ms < DIAG_EPISODE_MS;
	if (hit && pc != CAUSE_NONE) {
		if (pc == CAUSE_BACKEND_OVERLOADED) {
			struct host_listener l;
			if (e->addr_ok && peerkey_is_local(&e->addr) && d->host.listener &&
			    d->host.listener(d->host.ud, &e->addr, false, &l) && !l.listening)
				pc = CAUSE_BACKEND_DOWN;
		}
		render(d, e, pc, &x, now);
		return;
	}
	x.implied = pc;
	render(d, e, CAUSE_PEER_FAILING, &x, now);
}

/* --- the tick --- */

/* no_live_upstreams holds while every peer nginx may use is down. */
static bool block_all_down(const struct diag *d, const char *block, int64_t now)
{
	const struct ngx_upstream *up = d->model ? ngxconf_upstream(d->model, block) : NULL;
	if (!up)
		return false;
	size_t usable = 0;
	for (size_t i = 0; i < up->nservers; i++) {
		const struct ngx_server *s = &up->servers[i];
		if (!s->key || s->down)
			continue;
		usable++;
		const struct evidence *e = evidence_get(&d->ev, CAUSE_SUBJECT_PEER, s->key);
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
		    alert_find(d->alerts, (enum cause)c, e->subject.name))
			return true;
	return false;
}

static void rerender(struct diag *d, struct evidence *e, int64_t now)
{
	for (int c = 0; c < CAUSE__COUNT; c++) {
		if (cause_subject((enum cause)c) != e->subject.kind ||
		    !alert_find(d->alerts, (enum cause)c, e->subject.name))
			continue;
		if (c == CAUSE_NO_LIVE_UPSTREAMS) {
			render_block(d, e, 0, now);
		} else if (c != CAUSE_PEER_FAILING && c != CAUSE_BACKEND_RESTARTED) {
			struct extra x = {.implied = CAUSE_NONE};
			render(d, e, (enum cause)c, &x, now);
		}
	}
}

void diag_tick(struct diag *d, int64_t now)
{
	struct evidence *e;
	size_t it;

	/* a block whose peers all still fail keeps its no_live_upstreams */
	it = 0;
	while (strmap_next(&d->ev.subjects[CAUSE_SUBJECT_UPSTREAM], &it, NULL, (void **)&e))
		if (alert_find(d->alerts, CAUSE_NO_LIVE_UPSTREAMS, e->key) &&
		    block_all_down(d, e->key, now))
			alert_touch(d->alerts, CAUSE_NO_LIVE_UPSTREAMS, e->key, now, 0);

	/* counts changed: the words follow, once per tick */
	for (size_t i = 0; i < d->ndirty; i++) {
		d->dirty[i]->dirty = false;
		rerender(d, d->dirty[i], now);
	}
	d->ndirty = 0;

	alert_tick(d->alerts, now);

	/* forget episodes with no alert left; expire quiet learned subjects */
	struct evidence *expired[64];
	size_t nexpired = 0;
	for (int k = 0; k < 3; k++) {
		it = 0;
		while (strmap_next(&d->ev.subjects[k], &it, NULL, (void **)&e)) {
			if (!e->configured && now - e->last_event_ms >= EVIDENCE_QUIET_MS) {
				if (nexpired < ARRAY_SIZE(expired))
					expired[nexpired++] = e;
				continue;
			}
			if (!e->first_error_ms || now - e->last_error_ms < hold_ms(d) ||
			    subject_firing(d, e))
				continue;
			evidence_reset_episode(e);
		}
	}
	for (size_t i = 0; i < nexpired; i++) {
		e = expired[i];
		for (int c = 0; c < CAUSE__COUNT; c++)
			if (cause_subject((enum cause)c) == e->subject.kind)
				alert_supersede(d->alerts, (enum cause)c, e->subject.name, now);
		if (e->subject.kind == CAUSE_SUBJECT_PEER && e->addr_ok && d->host.learned)
			d->host.learned(d->host.ud, e->key, false);
		evidence_remove(&d->ev, e);
	}
}

uint64_t diag_events_count(const struct diag *d, enum errlog_kind kind)
{
	return d->kinds[kind];
}

size_t diag_learned_peers(const struct diag *d, const char ***ret_keys)
{
	*ret_keys = d->ev.learned;
	return d->ev.nlearned_peers;
}

size_t diag_learned_count(const struct diag *d)
{
	return d->ev.nlearned;
}

uint64_t diag_untracked_events(const struct diag *d)
{
	return d->ev.untracked;
}

void diag_foreach_peer(const struct diag *d,
		       void (*fn)(void *ud, const char *key, const uint64_t kinds[EV__COUNT]),
		       void *ud)
{
	size_t it = 0;
	struct evidence *e;
	while (strmap_next(&d->ev.subjects[CAUSE_SUBJECT_PEER], &it, NULL, (void **)&e))
		if (e->addr_ok)
			fn(ud, e->key, e->kinds);
}
