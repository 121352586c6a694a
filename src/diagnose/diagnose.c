/* diagnose: evidence windows and rules that turn observations into alerts.
 *
 * Flow (see diagnose.h):
 *   log event -> evidence(peer) -> classify -> alert_report -> probe_now(peer)
 *   probe result -> failing: refresh agreeing alerts | peer_failing
 *                -> passing: listener newer than the errors -> backend_restarted
 *   tick -> alert_tick; episodes without firing alerts are forgotten.
 * Evidence is bounded: a few raw lines per peer, counters, and at most
 * DIAG_PEERS_MAX peers learned from logs. */
#include "diagnose/diagnose.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/advice.h"
#include "diagnose/alert.h"
#include "conf/config.h"
#include "nginx/ngxconf.h"
#include "core/strmap.h"
#include "core/util.h"

#define DIAG_LINES	  4		  /* raw log lines kept per peer */
#define DIAG_LINE_MAX	  300		  /* ...each cut to this many bytes */
#define DIAG_PEERS_MAX	  4096		  /* peers tracked that the configuration does not name */
#define DIAG_EPISODE_MS	  (5 * 60 * 1000) /* log errors this recent make a peer "hit by nginx" */
#define DIAG_USERS_NOW_MS (60 * 1000)	  /* errors this recent mean users see them now */
#define NEARBY_MAX	  8

struct peer_ev {
	char key[PEERKEY_MAX];
	struct peerkey addr;
	bool addr_ok;
	char block[128];	   /* block-level pseudo peer: the upstream name */
	uint64_t kinds[EV__COUNT]; /* lifetime event counts, for metrics */
	uint32_t by_cause[CAUSE__COUNT];
	int64_t first_error_ms, last_error_ms;
	int last_err;
	enum errlog_phase last_phase;
	char last_detail[160];
	char last_server[128];
	char last_uri[256];
	char lines[DIAG_LINES][DIAG_LINE_MAX];
	unsigned nlines, next_line;
};

struct diag {
	struct alert_store *alerts;
	struct diag_host host;
	const struct ngx_model *model;
	const struct config *cfg;
	struct strmap peers;  /* key -> struct peer_ev */
	size_t nunconfigured; /* peers not in the model (learned, blocks, host) */
	uint64_t kinds[EV__COUNT];
	uint64_t untracked; /* events for peers beyond DIAG_PEERS_MAX */
	const char **learned;
	size_t nlearned, learned_cap;
};

struct diag *diag_new(struct alert_store *alerts, const struct diag_host *host)
{
	struct diag *d = xcalloc(1, sizeof(*d));
	d->alerts = alerts;
	d->host = *host;
	strmap_init(&d->peers);
	return d;
}

void diag_free(struct diag *d)
{
	if (!d)
		return;
	size_t it = 0;
	void *v;
	while (strmap_next(&d->peers, &it, NULL, &v))
		free(v);
	strmap_done(&d->peers);
	free(d->learned);
	free(d);
}

void diag_set_model(struct diag *d, const struct ngx_model *m, const struct config *cfg)
{
	d->model = m;
	d->cfg = cfg;
	if (cfg)
		alert_store_set_hold(d->alerts, cfg->alert_hold_ms);
}

static struct peer_ev *peer_get(struct diag *d, const char *key, bool create)
{
	struct peer_ev *pe = strmap_get(&d->peers, key);
	if (pe || !create)
		return pe;
	/* the configuration bounds its own peers; what the logs name is capped */
	bool configured = d->model && ngxconf_peer(d->model, key);
	if (!configured && d->nunconfigured >= DIAG_PEERS_MAX)
		return NULL;
	d->nunconfigured += !configured;
	pe = xcalloc(1, sizeof(*pe));
	snprintf(pe->key, sizeof(pe->key), "%s", key);
	pe->addr_ok = peerkey_parse(key, strlen(key), 0, &pe->addr) == 0;
	strmap_put(&d->peers, pe->key, pe);
	return pe;
}

static void remember_line(struct peer_ev *pe, const char *line, size_t len)
{
	char *dst = pe->lines[pe->next_line];
	size_t n = MIN(len, (size_t)DIAG_LINE_MAX - 1);
	memcpy(dst, line, n);
	dst[n] = '\0';
	/* evidence is shown to people and sent to journald: no control bytes */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
	if (len >= DIAG_LINE_MAX && n > 3)
		memcpy(dst + n - 3, "...", 3);
	pe->next_line = (pe->next_line + 1) % DIAG_LINES;
	if (pe->nlines < DIAG_LINES)
		pe->nlines++;
}

static void copy_span(char *dst, size_t cap, struct errlog_span s)
{
	size_t n = s.p ? MIN((size_t)s.len, cap - 1) : 0;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* --- classification --- */

static int classify_event(const struct errlog_event *ev, bool is_unix, bool listener_up)
{
	switch (ev->kind) {
	case EV_CONNECT_FAILED:
		switch (ev->err) {
		case 2:
			return CAUSE_SOCKET_MISSING;
		case 13:
			return is_unix ? CAUSE_SOCKET_PERMISSION : CAUSE_BACKEND_UNREACHABLE;
		case 111:
			return is_unix ? CAUSE_SOCKET_STALE : CAUSE_BACKEND_DOWN;
		case 11:
			return CAUSE_BACKEND_OVERLOADED;
		case 110:
			return listener_up ? CAUSE_BACKEND_OVERLOADED : CAUSE_BACKEND_UNREACHABLE;
		case 99:
		case 101:
		case 113:
			return CAUSE_BACKEND_UNREACHABLE;
		default:
			return CAUSE_BACKEND_DOWN;
		}
	case EV_TIMED_OUT:
		switch (ev->phase) {
		case PHASE_CONNECTING:
			/* a local listener that does not complete the handshake has a
			 * full accept queue; otherwise SYNs go unanswered */
			return listener_up ? CAUSE_BACKEND_OVERLOADED : CAUSE_BACKEND_UNREACHABLE;
		case PHASE_SSL_HANDSHAKE:
			return CAUSE_TLS_FAILURE;
		default:
			return CAUSE_BACKEND_SLOW;
		}
	case EV_RECV_FAILED:
	case EV_SEND_FAILED:
		if (ev->detail.p && memmem(ev->detail.p, ev->detail.len, "SSL", 3))
			return CAUSE_TLS_FAILURE;
		return CAUSE_BACKEND_RESET;
	case EV_PREMATURE_CLOSE:
		return CAUSE_BACKEND_RESET;
	case EV_INVALID_HEADER:
	case EV_NO_VALID_HEADER:
	case EV_INVALID_BODY:
		return CAUSE_INVALID_RESPONSE;
	case EV_TOO_BIG_HEADER:
		return CAUSE_HEADER_TOO_BIG;
	case EV_SSL_HANDSHAKE_FAILED:
	case EV_SSL_VERIFY_FAILED:
	case EV_SSL_NAME_MISMATCH:
		return CAUSE_TLS_FAILURE;
	case EV_RESOLVE_FAILED:
	case EV_NO_RESOLVER:
	case EV_HOST_NOT_FOUND:
		return CAUSE_DNS_FAILURE;
	case EV_NO_LIVE_UPSTREAMS:
		return CAUSE_NO_LIVE_UPSTREAMS;
	case EV_WORKER_CONNECTIONS:
	case EV_TOO_MANY_FILES:
		return CAUSE_WORKER_CONNECTIONS_EXHAUSTED;
	default:
		return -1;
	}
}

/* The cause a failing probe points at, or -1 when it names none. */
static int classify_probe(const struct probe_result *r, bool is_unix)
{
	switch (r->result) {
	case PROBE_REFUSED:
		return is_unix ? CAUSE_SOCKET_STALE : CAUSE_BACKEND_DOWN;
	case PROBE_TIMEOUT:
		/* connected but no answer in time: slow; no handshake: unreachable */
		return r->connect_ms > 0 ? CAUSE_BACKEND_SLOW : CAUSE_BACKEND_UNREACHABLE;
	case PROBE_UNREACHABLE:
		return CAUSE_BACKEND_UNREACHABLE;
	case PROBE_RESET:
		return CAUSE_BACKEND_RESET;
	case PROBE_INVALID_HTTP:
		return CAUSE_INVALID_RESPONSE;
	case PROBE_TLS_ERROR:
		return CAUSE_TLS_FAILURE;
	case PROBE_DNS_ERROR:
		return CAUSE_DNS_FAILURE;
	case PROBE_MISSING:
	case PROBE_NOT_SOCKET:
		return CAUSE_SOCKET_MISSING;
	case PROBE_PERMISSION:
		return CAUSE_SOCKET_PERMISSION;
	case PROBE_STALE:
		return CAUSE_SOCKET_STALE;
	case PROBE_OVERLOADED:
		return CAUSE_BACKEND_OVERLOADED;
	default:
		return -1;
	}
}

/* Whether a failing probe still supports an alert raised from the logs. */
static bool probe_agrees(enum cause c, const struct probe_result *r, bool is_unix)
{
	int pc = classify_probe(r, is_unix);
	if (pc == (int)c)
		return true;
	/* a connect timeout under load and an overloaded listener are one story */
	return (c == CAUSE_BACKEND_OVERLOADED && pc == CAUSE_BACKEND_UNREACHABLE) ||
	       (c == CAUSE_BACKEND_SLOW && r->result == PROBE_TIMEOUT);
}

static bool probe_failing(const struct probe_result *r)
{
	return r && r->time_ms > 0 && r->result != PROBE_OK;
}

/* --- the model around a peer --- */

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

/* How well a location matches a request URI: the prefix length, 0 = no. */
static size_t location_match(const char *loc, const char *uri)
{
	if (!loc || !uri || !*uri)
		return 0;
	if (startswith(loc, "= ")) {
		return streq(loc + 2, uri) ? strlen(uri) + 1000 : 0;
	}
	if (startswith(loc, "^~ "))
		loc += 3;
	if (loc[0] != '/')
		return 0; /* regex or named location: unknown without a regex engine */
	size_t n = strlen(loc);
	return strncmp(loc, uri, n) == 0 ? n + 1 : 0;
}

static void find_context(struct diag *d, const char *key, const char *block,
			 const char *server_name, const char *uri, struct context *ret)
{
	*ret = (struct context){0};
	if (!d->model)
		return;
	if (key)
		ret->npeer = ngxconf_peer(d->model, key);
	if (block)
		ret->up = ngxconf_upstream(d->model, block);
	else if (ret->npeer && ret->npeer->nupstreams > 0)
		ret->up = ngxconf_upstream(d->model, ret->npeer->upstreams[0]);
	if (key)
		ret->server = server_in(ret->up, key);

	/* the *_pass that logged: same server_name, longest matching location.
	 * A peer lists the passes that reach it (in model order); only a block
	 * without a peer (no_live_upstreams) needs to look at them all. */
	size_t best = 0;
	bool best_server = false;
	bool all = !ret->npeer && ret->up;
	size_t n = ret->npeer ? ret->npeer->npasses : all ? d->model->npasses : 0;
	for (size_t j = 0; j < n; j++) {
		const struct ngx_pass *p = &d->model->passes[all ? j : ret->npeer->passes[j]];
		bool reaches = (ret->up && p->upstream && streq(p->upstream, ret->up->name)) ||
			       (key && p->key && streq(p->key, key));
		if (!reaches)
			continue;
		bool same_server =
		    server_name && p->server_name && streq(p->server_name, server_name);
		size_t score = location_match(p->location, uri);
		if (!ret->pass || (same_server && !best_server) ||
		    (same_server == best_server && score > best)) {
			ret->pass = p;
			best = score;
			best_server = same_server;
		}
	}
	if (ret->pass || ret->npeer || ret->up)
		return;

	/* A peer the model does not name (a host name from a variable, a DNS
	 * failure) comes from a *_pass with variables: the one in the logging
	 * server whose location matches the request. */
	best = 0;
	for (size_t i = 0; i < d->model->npasses; i++) {
		const struct ngx_pass *p = &d->model->passes[i];
		if (!p->dynamic || p->key || p->upstream)
			continue;
		if (server_name && p->server_name && !streq(p->server_name, server_name))
			continue;
		size_t score = location_match(p->location, uri);
		if (score > best) {
			ret->pass = p;
			best = score;
		}
	}
}

static enum alert_severity severity(struct diag *d, const struct peer_ev *pe, enum cause c,
				    const struct context *ctx, int64_t now)
{
	if (c == CAUSE_PEER_FAILING || c == CAUSE_BACKEND_RESTARTED)
		return ALERT_WARNING;
	if (c == CAUSE_NO_LIVE_UPSTREAMS || c == CAUSE_WORKER_CONNECTIONS_EXHAUSTED)
		return ALERT_CRITICAL;
	/* a block with other peers: nginx retries elsewhere unless all fail */
	if (ctx->up && ctx->up->nservers > 1) {
		for (size_t i = 0; i < ctx->up->nservers; i++) {
			const char *k = ctx->up->servers[i].key;
			if (!k || streq(k, pe->key) || ctx->up->servers[i].down)
				continue;
			const struct probe_result *r = d->host.last_probe(d->host.ud, k);
			if (!alert_peer_firing(d->alerts, k, -1) && !probe_failing(r))
				return ALERT_WARNING;
		}
		return ALERT_CRITICAL;
	}
	return pe->last_error_ms && now - pe->last_error_ms < DIAG_USERS_NOW_MS ? ALERT_CRITICAL
										: ALERT_WARNING;
}

/* --- reporting --- */

static void format_probe(const struct probe_result *r, char *buf, size_t len)
{
	char t[32];
	format_time_ms(r->time_ms, t);
	snprintf(buf, len, "probe %s: %s%s%s (%ums)", t, probe_result_name(r->result),
		 r->detail[0] ? ": " : "", r->detail, r->latency_ms);
}

static void format_listener(const struct peer_ev *pe, const struct host_listener *l, bool known,
			    const unsigned *nearby, size_t nnearby, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	if (!known)
		return;
	if (!l->listening) {
		n += (size_t)snprintf(buf, len, "host: nothing listens on %s", pe->key);
		if (nnearby && n < len) {
			n += (size_t)snprintf(buf + n, len - n,
					      "; on %s these ports listen:", pe->addr.host);
			for (size_t i = 0; i < nnearby && n < len; i++)
				n += (size_t)snprintf(buf + n, len - n, " %u", nearby[i]);
		}
		return;
	}
	n += (size_t)snprintf(buf, len, "host: %s is served by", pe->key);
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

struct facts {
	const struct probe_result *probe; /* points at probe_copy or is NULL */
	struct probe_result probe_copy;	  /* last_probe() results do not stay valid */
	struct host_listener listener;
	bool listener_known;
	unsigned nearby[NEARBY_MAX];
	size_t nnearby;
};

static void gather_facts(struct diag *d, const struct peer_ev *pe, bool fresh, struct facts *f)
{
	const struct probe_result *r = d->host.last_probe(d->host.ud, pe->key);
	memset(f, 0, sizeof(*f));
	if (r && r->time_ms) {
		f->probe_copy = *r;
		f->probe = &f->probe_copy;
	}
	if (!pe->addr_ok || pe->addr.kind == PEERKEY_HOST || !peerkey_is_local(&pe->addr))
		return;
	f->listener_known = d->host.listener(d->host.ud, &pe->addr, fresh, &f->listener);
	if (f->listener_known && !f->listener.listening && pe->addr.kind != PEERKEY_UNIX) {
		int n = d->host.ports_nearby(d->host.ud, &pe->addr, f->nearby, NEARBY_MAX);
		f->nnearby = n > 0 ? (size_t)n : 0;
	}
}

static void report(struct diag *d, struct peer_ev *pe, enum cause c, int implied,
		   const struct context *ctx, const struct facts *f, const char *block_states,
		   unsigned occurrences, int64_t now)
{
	struct advice adv;
	struct advice_in in = {
	    .cause = c,
	    .implied = (enum cause)implied,
	    .peer = pe->block[0] || streq(pe->key, "host:") ? NULL : pe->key,
	    .addr = pe->addr_ok ? &pe->addr : NULL,
	    .model = d->model,
	    .up = ctx->up,
	    .server = ctx->server,
	    .pass = ctx->pass,
	    .err = pe->last_err,
	    .phase = pe->last_phase,
	    .detail = pe->last_detail,
	    .events = pe->by_cause[c],
	    .first_error_ms = pe->first_error_ms,
	    .probe = f->probe,
	    .listener = f->listener_known ? &f->listener : NULL,
	    .nearby = f->nearby,
	    .nnearby = f->nnearby,
	    .block_states = block_states,
	};
	advice_write(&in, &adv);

	char probe_line[400], host_line[400];
	const char *evidence[DIAG_LINES + 3];
	size_t nev = 0;
	for (unsigned i = 0; i < pe->nlines; i++) {
		unsigned idx = (pe->next_line + DIAG_LINES - pe->nlines + i) % DIAG_LINES;
		evidence[nev++] = pe->lines[idx];
	}
	if (f->probe) {
		format_probe(f->probe, probe_line, sizeof(probe_line));
		evidence[nev++] = probe_line;
	}
	format_listener(pe, &f->listener, f->listener_known, f->nearby, f->nnearby, host_line,
			sizeof(host_line));
	if (host_line[0])
		evidence[nev++] = host_line;
	if (block_states)
		evidence[nev++] = block_states;

	struct alert_report r = {
	    .cause = c,
	    .severity = severity(d, pe, c, ctx, now),
	    .peer = in.peer,
	    .upstream = ctx->up ? ctx->up->name : (pe->block[0] ? pe->block : NULL),
	    .summary = adv.summary,
	    .explanation = adv.explanation,
	    .fix = adv.fix,
	    .config_ref = adv.config_ref[0] ? adv.config_ref : NULL,
	    .evidence = evidence,
	    .nevidence = nev,
	    .time_ms = now,
	    .occurrences = occurrences,
	};
	alert_report(d->alerts, &r, now);
}

/* "a: down (refused); b: up" for every server of a block. */
static void block_states(struct diag *d, const struct ngx_upstream *up, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "peers of upstream %s:", up->name);
	for (size_t i = 0; i < up->nservers && n < len; i++) {
		const struct ngx_server *s = &up->servers[i];
		const char *k = s->key ? s->key : s->addr;
		const struct probe_result *r = s->key ? d->host.last_probe(d->host.ud, k) : NULL;
		const char *state = "unknown";
		const char *why = "";
		for (int c = 0; c < CAUSE__COUNT && s->key; c++) {
			if (c != CAUSE_NO_LIVE_UPSTREAMS &&
			    alert_find(d->alerts, (enum cause)c, k)) {
				state = "failing";
				why = cause_name((enum cause)c);
				break;
			}
		}
		if (!why[0] && r && r->time_ms) {
			state = r->result == PROBE_OK ? "up" : "down";
			why = probe_result_name(r->result);
		}
		n += (size_t)snprintf(buf + n, len - n, "%s %s %s%s%s%s", i ? ";" : "", k, state,
				      why[0] ? " (" : "", why, why[0] ? ")" : "");
		if (s->down && n < len)
			n += (size_t)snprintf(buf + n, len - n, " [marked down]");
		else if (s->backup && n < len)
			n += (size_t)snprintf(buf + n, len - n, " [backup]");
	}
}

/* The key a DNS event is about: the model's peer with that host name, else the name. */
static void dns_key(struct diag *d, const struct errlog_event *ev, char *buf, size_t len)
{
	char name[256];
	if (ev->has_peer) {
		snprintf(buf, len, "%s", ev->peer.key);
		return;
	}
	copy_span(name, sizeof(name), ev->name);
	const struct ngx_peer *p = d->model ? ngxconf_peer_by_host(d->model, name) : NULL;
	snprintf(buf, len, "%s", p ? p->key : name);
}

static void learn(struct diag *d, const struct peer_ev *pe)
{
	if (d->model && ngxconf_peer(d->model, pe->key))
		return;
	for (size_t i = 0; i < d->nlearned; i++)
		if (d->learned[i] == pe->key)
			return;
	d->learned = grow_array(d->learned, &d->learned_cap, d->nlearned + 1, sizeof(char *));
	d->learned[d->nlearned++] = pe->key;
}

void diag_log_event(struct diag *d, const struct errlog_event *ev, const char *line, size_t len,
		    int64_t now)
{
	char key[PEERKEY_MAX], block[128] = "";
	struct context ctx;
	struct facts f;

	d->kinds[ev->kind]++;
	if (ev->kind == EV_OTHER)
		return;

	/* the subject: a block, the host, or one peer */
	if (ev->kind == EV_NO_LIVE_UPSTREAMS) {
		copy_span(block, sizeof(block),
			  ev->has_peer
			      ? (struct errlog_span){ev->peer.host, (uint32_t)strlen(ev->peer.host)}
			      : ev->name);
		if (!block[0])
			return;
		snprintf(key, sizeof(key), "upstream:%s", block);
	} else if (ev->kind == EV_WORKER_CONNECTIONS || ev->kind == EV_TOO_MANY_FILES) {
		snprintf(key, sizeof(key), "host:");
	} else if (ev->kind == EV_RESOLVE_FAILED || ev->kind == EV_NO_RESOLVER ||
		   ev->kind == EV_HOST_NOT_FOUND) {
		dns_key(d, ev, key, sizeof(key));
		if (!key[0])
			return;
	} else if (ev->has_peer) {
		/* proxy_pass http://block_name: nginx logs the block name as the peer */
		if (ev->peer.kind == PEERKEY_HOST && d->model &&
		    ngxconf_upstream(d->model, ev->peer.host))
			return;
		snprintf(key, sizeof(key), "%s", ev->peer.key);
	} else {
		return;
	}

	struct peer_ev *pe = peer_get(d, key, true);
	if (!pe) {
		d->untracked++;
		return;
	}
	if (block[0])
		snprintf(pe->block, sizeof(pe->block), "%s", block);
	pe->kinds[ev->kind]++;
	remember_line(pe, line, len);
	if (ev->kind == EV_PEER_DISABLED || ev->kind == EV_FASTCGI_STDERR)
		return; /* evidence for other causes, not a cause of its own */

	char server_name[128], uri[256];
	copy_span(server_name, sizeof(server_name), ev->server);
	copy_span(uri, sizeof(uri), ev->uri);
	find_context(d, block[0] ? NULL : key, block[0] ? block : NULL, server_name, uri, &ctx);
	gather_facts(d, pe, false, &f);

	bool is_unix = pe->addr_ok && pe->addr.kind == PEERKEY_UNIX;
	int c = classify_event(ev, is_unix, f.listener_known && f.listener.listening);
	if (c < 0)
		return;

	if (!pe->first_error_ms)
		pe->first_error_ms = now;
	pe->last_error_ms = now;
	pe->by_cause[c]++;
	pe->last_err = ev->err;
	pe->last_phase = ev->phase;
	copy_span(pe->last_detail, sizeof(pe->last_detail), ev->detail);
	snprintf(pe->last_server, sizeof(pe->last_server), "%s", server_name);
	snprintf(pe->last_uri, sizeof(pe->last_uri), "%s", uri);

	if (c == CAUSE_NO_LIVE_UPSTREAMS) {
		char states[1024];
		if (ctx.up) {
			block_states(d, ctx.up, states, sizeof(states));
			/* its peers were hit by nginx: a failing probe names their cause */
			for (size_t i = 0; i < ctx.up->nservers; i++) {
				const char *k = ctx.up->servers[i].key;
				struct peer_ev *sp = k ? peer_get(d, k, true) : NULL;
				if (!sp)
					continue;
				if (!sp->first_error_ms)
					sp->first_error_ms = now;
				sp->last_error_ms = now;
				remember_line(sp, line, len);
				d->host.probe_now(d->host.ud, k);
			}
		} else {
			snprintf(states, sizeof(states),
				 "upstream %s is not in the nginx configuration", block);
		}
		report(d, pe, CAUSE_NO_LIVE_UPSTREAMS, -1, &ctx, &f, states, 1, now);
		return;
	}

	/* nginx has now hit the peer: the prediction became a diagnosis */
	if (!pe->block[0] && strcmp(key, "host:") != 0) {
		alert_supersede(d->alerts, CAUSE_PEER_FAILING, key, now);
		if (!ctx.npeer)
			learn(d, pe);
	}
	report(d, pe, (enum cause)c, -1, &ctx, &f, NULL, 1, now);
	if (pe->addr_ok)
		d->host.probe_now(d->host.ud, key);
}

void diag_probe_result(struct diag *d, const char *key, const struct probe_result *result,
		       int64_t now)
{
	struct peer_ev *pe = peer_get(d, key, false);
	/* the prober's result buffer may be reused by the lookups below */
	const struct probe_result copy = *result, *r = &copy;
	struct context ctx;
	struct facts f;

	if (r->result == PROBE_OK) {
		if (!pe || !pe->first_error_ms)
			return;
		alert_supersede(d->alerts, CAUSE_PEER_FAILING, key, now);
		/* errors, then a listener that started after them: it restarted */
		bool after_errors = alert_find(d->alerts, CAUSE_BACKEND_DOWN, key) ||
				    alert_find(d->alerts, CAUSE_BACKEND_RESET, key) ||
				    alert_find(d->alerts, CAUSE_SOCKET_STALE, key) ||
				    alert_find(d->alerts, CAUSE_SOCKET_MISSING, key);
		if (!after_errors)
			return;
		gather_facts(d, pe, true, &f);
		if (!f.listener_known || !f.listener.listening || !f.listener.started_ms ||
		    f.listener.started_ms < pe->first_error_ms - 1000)
			return;
		find_context(d, key, NULL, pe->last_server, pe->last_uri, &ctx);
		report(d, pe, CAUSE_BACKEND_RESTARTED, -1, &ctx, &f, NULL, 0, now);
		alert_supersede(d->alerts, CAUSE_BACKEND_DOWN, key, now);
		alert_supersede(d->alerts, CAUSE_BACKEND_RESET, key, now);
		alert_supersede(d->alerts, CAUSE_SOCKET_STALE, key, now);
		alert_supersede(d->alerts, CAUSE_SOCKET_MISSING, key, now);
		return;
	}

	if (!pe)
		pe = peer_get(d, key, true);
	if (!pe)
		return;
	bool is_unix = pe->addr_ok && pe->addr.kind == PEERKEY_UNIX;
	bool hit = pe->last_error_ms && now - pe->last_error_ms < DIAG_EPISODE_MS;
	int pc = classify_probe(r, is_unix);

	find_context(d, key, NULL, pe->last_server, pe->last_uri, &ctx);
	gather_facts(d, pe, false, &f);
	if (hit) {
		/* alerts from the logs stay while the probe still agrees */
		bool refreshed = false;
		for (int c = 0; c < CAUSE__COUNT; c++) {
			if (c == CAUSE_PEER_FAILING || !alert_find(d->alerts, (enum cause)c, key))
				continue;
			if (probe_agrees((enum cause)c, r, is_unix)) {
				report(d, pe, (enum cause)c, -1, &ctx, &f, NULL, 0, now);
				refreshed = true;
			}
		}
		if (!refreshed && pc >= 0) {
			if (pc == CAUSE_BACKEND_OVERLOADED && f.listener_known &&
			    !f.listener.listening)
				pc = CAUSE_BACKEND_DOWN;
			report(d, pe, (enum cause)pc, -1, &ctx, &f, NULL, 0, now);
		}
		return;
	}
	report(d, pe, CAUSE_PEER_FAILING, pc, &ctx, &f, NULL, 0, now);
}

void diag_tick(struct diag *d, int64_t now)
{
	alert_tick(d->alerts, now);
	/* forget episodes that have no alert left */
	size_t it = 0;
	struct peer_ev *pe;
	while (strmap_next(&d->peers, &it, NULL, (void **)&pe)) {
		if (!pe->first_error_ms || alert_peer_firing(d->alerts, pe->key, -1))
			continue;
		if (pe->block[0] && alert_find(d->alerts, CAUSE_NO_LIVE_UPSTREAMS, pe->block))
			continue;
		if (now - pe->last_error_ms < (int64_t)(d->cfg ? d->cfg->alert_hold_ms : 30000))
			continue;
		pe->first_error_ms = pe->last_error_ms = 0;
		memset(pe->by_cause, 0, sizeof(pe->by_cause));
	}
}

void diag_events_json(const struct diag *d, cJSON *obj)
{
	for (int k = 0; k < EV__COUNT; k++)
		cJSON_AddNumberToObject(obj, errlog_kind_name((enum errlog_kind)k),
					(double)d->kinds[k]);
}

uint64_t diag_events_count(const struct diag *d, enum errlog_kind kind)
{
	return d->kinds[kind];
}

size_t diag_learned_peers(const struct diag *d, const char ***ret_keys)
{
	*ret_keys = d->learned;
	return d->nlearned;
}

void diag_foreach_peer(const struct diag *d,
		       void (*fn)(void *ud, const char *key, const uint64_t kinds[EV__COUNT]),
		       void *ud)
{
	size_t it = 0;
	struct peer_ev *pe;
	while (strmap_next(&d->peers, &it, NULL, (void **)&pe))
		if (!pe->block[0] && pe->addr_ok)
			fn(ud, pe->key, pe->kinds);
}
