/* report: the words of an alert and where they come from — the model
 * around a subject (its block, `server` line and *_pass), the host facts read
 * when rendering, the severity (the cause table's, lowered when nginx still
 * serves) and the evidence list (see report.h). Runs when an alert's content
 * changes and at most once per tick for count updates: never per line. */
#include "diagnose/report.h"

#include <arpa/inet.h>
#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "diagnose/advice.h"
#include "diagnose/alert.h"
#include "diagnose/impact.h"
#include "diagnose/rules.h"
#include "nginx/ngxconf.h"

#define NEARBY_MAX	      8		  /* nearby ports named */
#define NEARBY_SCAN	      256	  /* listening ports looked at to pick the nearest */
#define UNIT_SIGNAL_BEFORE_MS (60 * 1000) /* journal read from before the first error */
/* a backend logs why a worker died just after nginx saw the connection go
 * (gunicorn reaps it, then logs): the journal is read again for this long */
#define UNIT_SIGNAL_WAIT_MS 3000
/* A read is sd_journal_open and up to UNITLOG_SCAN entries. While the last
 * read was in that window it is read at each render at a new instant (once a
 * tick, however many causes render then); after it, at most once a minute
 * while the alert is rendered — before, every render of a firing alert read
 * it again (a storm: once a second per alert). */
#define UNIT_SIGNAL_REREAD_MS (60 * 1000)

/* The journal's word kept on the evidence between reads (evidence.h). */
struct evidence_unit {
	char unit[128]; /* as host_listener's and backend_info's */
	int64_t since_ms, read_ms;
	bool known;
	struct unitlog_signal sig;
};

int64_t report_hold_ms(const struct report_env *d)
{
	return (int64_t)(d->cfg ? d->cfg->alert_hold_ms : CONFIG_DEFAULT_ALERT_HOLD_MS);
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

static void find_context(struct report_env *d, const struct evidence *e, struct context *ret)
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
	size_t nnearby, nearby_more;
	char nearby_what[NEARBY_MAX][256];
	const char *nearby_whatp[NEARBY_MAX];
	bool nearby_same[NEARBY_MAX];
	const struct backend_info *software;
	const char *unit; /* the backend's system unit: the listener's, else its software's */
	struct unitlog_signal unit_sig; /* the backend's own word in its unit's journal */
	bool unit_sig_known;
	bool conns_known;
	struct diag_conns conns;
};

static unsigned port_dist(unsigned a, unsigned b)
{
	return a > b ? a - b : b - a;
}

static bool streq_null(const char *a, const char *b)
{
	return a == b || (a && b && streq(a, b));
}

/* Whether the software on another port is the one that served the peer (the
 * last identified): the same kind, configuration file and pool or section —
 * so that a suggested port is never another application's. */
static bool same_software(const struct backend_info *a, const struct backend_info *b)
{
	if (!a || !b || a->kind == BACKEND_UNKNOWN || a->kind != b->kind || !a->config_file)
		return false;
	return streq_null(a->config_file, b->config_file) && streq_null(a->section, b->section);
}

/* The listening ports nearest the peer's, each with what listens there. */
static void gather_nearby(struct report_env *d, const struct evidence *e, struct facts *f)
{
	unsigned *all = xcalloc(NEARBY_SCAN, sizeof(*all));
	int n = d->host.ports_nearby(d->host.ud, &e->addr, all, NEARBY_SCAN);
	size_t total = n > 0 ? (size_t)n : 0;
	/* the nearest NEARBY_MAX by distance, then ascending */
	for (size_t i = 0; i < total && i < NEARBY_MAX; i++)
		for (size_t j = i + 1; j < total; j++)
			if (port_dist(all[j], e->addr.port) < port_dist(all[i], e->addr.port)) {
				unsigned t = all[i];
				all[i] = all[j];
				all[j] = t;
			}
	f->nnearby = MIN(total, (size_t)NEARBY_MAX);
	f->nearby_more = total - f->nnearby;
	memcpy(f->nearby, all, f->nnearby * sizeof(*all));
	free(all);
	for (size_t i = 0; i < f->nnearby; i++)
		for (size_t j = i + 1; j < f->nnearby; j++)
			if (f->nearby[j] < f->nearby[i]) {
				unsigned t = f->nearby[i];
				f->nearby[i] = f->nearby[j];
				f->nearby[j] = t;
			}
	for (size_t i = 0; i < f->nnearby; i++) {
		struct peerkey k;
		struct host_listener l;
		char key[PEERKEY_MAX + 8];
		f->nearby_whatp[i] = f->nearby_what[i];
		f->nearby_what[i][0] = '\0';
		f->nearby_same[i] = false;
		snprintf(key, sizeof(key), e->addr.kind == PEERKEY_IPV6 ? "[%s]:%u" : "%s:%u",
			 e->addr.host, f->nearby[i]);
		if (peerkey_parse(key, strlen(key), 0, &k) < 0 || !d->host.listener ||
		    !d->host.listener(d->host.ud, &k, false, &l))
			continue;
		const struct backend_info *sw =
		    d->host.software ? d->host.software(d->host.ud, k.key, &l) : NULL;
		const char *name =
		    sw && sw->kind != BACKEND_UNKNOWN ? backend_kind_name(sw->kind) : l.process;
		snprintf(f->nearby_what[i], sizeof(f->nearby_what[i]), "%s%s%s", name,
			 l.unit[0] && name[0] ? ", unit " : (l.unit[0] ? "unit " : ""), l.unit);
		f->nearby_same[i] = same_software(f->software, sw);
	}
}

/* Whether the journal must be read again: never read this episode, another
 * unit, the last read within the first seconds (the first one after them
 * still looks), else a minute old. */
static bool unit_read_due(const struct evidence *e, const char *unit, int64_t since, int64_t now)
{
	const struct evidence_unit *u = e->unit;
	if (!u || u->since_ms != since || !streq(u->unit, unit))
		return true;
	if (u->read_ms - e->first_error_ms < UNIT_SIGNAL_WAIT_MS)
		return now != u->read_ms;
	return now - u->read_ms >= UNIT_SIGNAL_REREAD_MS;
}

/* What the unit's journal says from a minute before the first error on:
 * read when due, else the word kept from the last read. */
static void unit_signal(struct report_env *d, struct evidence *e, struct facts *f, int64_t now)
{
	int64_t since = e->first_error_ms - UNIT_SIGNAL_BEFORE_MS;
	if (unit_read_due(e, f->unit, since, now)) {
		struct evidence_unit *u = e->unit ? e->unit : xcalloc(1, sizeof(*u));
		snprintf(u->unit, sizeof(u->unit), "%s", f->unit);
		u->since_ms = since;
		u->read_ms = now;
		u->known = d->host.unit_signal(d->host.ud, f->unit, since, &u->sig) == 0;
		e->unit = u;
	}
	f->unit_sig_known = e->unit->known;
	if (f->unit_sig_known)
		f->unit_sig = e->unit->sig;
}

static void gather_facts(struct report_env *d, struct evidence *e, enum cause c, bool fresh,
			 int64_t now, struct facts *f)
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
	if (d->host.software)
		f->software =
		    d->host.software(d->host.ud, e->key, f->listener_known ? &f->listener : NULL);
	if (f->listener_known && !f->listener.listening && e->addr.kind != PEERKEY_UNIX &&
	    d->host.ports_nearby)
		gather_nearby(d, e, f);
	/* what the unit's journal says from a minute before the first error on;
	 * the service user may not see the listener's pid, but the software's
	 * master (found by its command line) names its unit too */
	if (f->listener_known && f->listener.unit[0] && !f->listener.unit_user)
		f->unit = f->listener.unit;
	else if (f->software && f->software->unit[0] && !f->software->unit_user)
		f->unit = f->software->unit;
	if (f->unit && e->first_error_ms && d->host.unit_signal)
		unit_signal(d, e, f, now);
}

/* "journal of app.service 2026-...Z: [CRITICAL] WORKER TIMEOUT (pid:124)" and
 * how many such entries since the errors began, when more than one. */
static void format_unit_signal(const struct facts *f, char *buf, size_t len)
{
	char t[32], more[64] = "";
	format_time_ms(f->unit_sig.time_ms, t);
	if (f->unit_sig.count > 1)
		snprintf(more, sizeof(more), " (%u such entries)", f->unit_sig.count);
	snprintf(buf, len, "journal of %s %s: %s%s", f->unit, t, f->unit_sig.text, more);
}

/* "systemd: unit app.service Result=oom-kill, NRestarts=3, main process last
 * exited <time>" (or "as of <now>" when the bus has no exit time): only when
 * it says something went wrong. */
static void format_unit_state(const struct facts *f, int64_t now, char *buf, size_t len)
{
	const struct host_listener *l = &f->listener;
	buf[0] = '\0';
	if (!f->listener_known || !l->unit[0] || !l->unit_known ||
	    ((!l->result[0] || streq(l->result, "success")) && !l->nrestarts))
		return;
	char t[32];
	format_time_ms(l->unit_exit_ms ? l->unit_exit_ms : now, t);
	snprintf(buf, len, "systemd: unit %s Result=%s, NRestarts=%u, %s %s", l->unit,
		 l->result[0] ? l->result : "success", l->nrestarts,
		 l->unit_exit_ms ? "main process last exited" : "as of", t);
}
/* --- severity: the cause table's, lowered when nginx still serves --- */

static bool peer_fails_now(const struct report_env *d, const char *key, int64_t now)
{
	const struct evidence *e = evidence_get(&d->ev, CAUSE_SUBJECT_PEER, key);
	if (!e)
		return false;
	return (e->probe_ms && e->probe != PROBE_OK) ||
	       (e->last_error_ms && now - e->last_error_ms < report_hold_ms(d));
}

/* Degraded rather than down: another peer of the block serves. *ret_backup:
 * the backup that serves while every primary fails (NULL otherwise). */
static bool degraded(const struct report_env *d, const struct evidence *e,
		     const struct context *ctx, int64_t now, const char **ret_backup)
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

static void format_listener(const struct evidence *e, const struct facts *f, struct strbuf *b)
{
	const struct host_listener *l = &f->listener;
	if (!f->listener_known)
		return;
	if (!l->listening) {
		strbuf_printf(b, "host: nothing listens on %s", e->key);
		if (f->nnearby)
			strbuf_printf(b, "; on %s these ports listen:", e->addr.host);
		for (size_t i = 0; i < f->nnearby; i++)
			strbuf_printf(b, "%s %u%s%s%s", i ? "," : "", f->nearby[i],
				      f->nearby_what[i][0] ? " (" : "", f->nearby_what[i],
				      f->nearby_what[i][0] ? ")" : "");
		if (f->nearby_more)
			strbuf_printf(b, " and %zu more", f->nearby_more);
		return;
	}
	strbuf_printf(b, "host: %s is served by", e->key);
	if (l->pid)
		strbuf_printf(b, " %s (pid %d)", l->process, (int)l->pid);
	else
		strbuf_puts(b, " a process upwatch may not inspect");
	if (l->unit[0] && l->unit_known)
		strbuf_printf(b, ", unit %s %s/%s", l->unit, l->active_state, l->sub_state);
	else if (l->unit[0])
		strbuf_printf(b, ", unit %s", l->unit);
	if (l->started_ms) {
		char t[32];
		format_time_ms(l->started_ms, t);
		strbuf_printf(b, ", started %s", t);
	}
}

/* "software: php-fpm pool www (/etc/php/8.2/fpm/pool.d/www.conf:36 listen = ...)" */
static void format_software(const struct backend_info *sw, struct strbuf *b)
{
	if (!sw || sw->kind == BACKEND_UNKNOWN)
		return;
	strbuf_printf(b, "software: %s", backend_kind_name(sw->kind));
	if (sw->section)
		strbuf_printf(b, " [%s]", sw->section);
	if (sw->bound && sw->bind.value)
		strbuf_printf(b, ", bound by %s at %s:%u", sw->bind.value,
			      sw->bind.file ? sw->bind.file : "its command line", sw->bind.line);
	else if (sw->config_file)
		strbuf_printf(b, ", configuration %s", sw->config_file);
	if (sw->proto != BACKEND_PROTO_UNKNOWN)
		strbuf_printf(b, ", speaks %s", backend_proto_name(sw->proto));
	if (sw->workers.value)
		strbuf_printf(b, ", workers %s", sw->workers.value);
	if (sw->timeout.value)
		strbuf_printf(b, ", timeout %s", sw->timeout.value);
}

/* MemAvailable in MiB from /proc/meminfo; 0 = unknown. */
static uint64_t mem_available_mb(void)
{
	char *text;
	size_t len;
	unsigned long long kb = 0;
	if (read_file("/proc/meminfo", 64 * 1024, &text, &len) < 0)
		return 0;
	const char *p = strstr(text, "MemAvailable:");
	if (!p || sscanf(p, "MemAvailable: %llu kB", &kb) != 1)
		kb = 0;
	free(text);
	return kb / 1024;
}

/* "host: nginx's workers hold connections to 127.0.0.2:8080 (1 established,
 * 2 connecting)": the addresses nginx really uses on a port, where the
 * kernel shows them (inet_diag). False when none are visible. */
static bool format_remotes(const struct report_env *d, unsigned port, char *buf, size_t len)
{
	struct sockdiag_remote r[SOCKDIAG_MAX_REMOTES];
	int n = d->host.nginx_remotes ? d->host.nginx_remotes(d->host.ud, port, r, ARRAY_SIZE(r))
				      : -ENOTSUP;
	if (n <= 0)
		return false;
	size_t used = (size_t)snprintf(buf, len, "host: nginx's workers hold connections to");
	for (int i = 0; i < n && used < len; i++) {
		char ip[INET6_ADDRSTRLEN];
		if (!inet_ntop(r[i].family, r[i].addr, ip, sizeof(ip)))
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s %s%s%s:%u (", i ? "," : "",
					 r[i].family == AF_INET6 ? "[" : "", ip,
					 r[i].family == AF_INET6 ? "]" : "", port);
		if (used < len && r[i].established)
			used += (size_t)snprintf(buf + used, len - used, "%u established%s",
						 r[i].established, r[i].syn_sent ? ", " : "");
		if (used < len && r[i].syn_sent)
			used += (size_t)snprintf(buf + used, len - used, "%u connecting",
						 r[i].syn_sent);
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, ")");
	}
	return true;
}

/* The first nameserver of /etc/resolv.conf, bracketed when IPv6 (nginx's
 * resolver syntax); "" when none. */
static void first_nameserver(char *buf, size_t len)
{
	char *text;
	size_t n;
	buf[0] = '\0';
	if (read_file("/etc/resolv.conf", 64 * 1024, &text, &n) < 0)
		return;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char ns[64];
		if (sscanf(line, " nameserver %63s", ns) == 1) {
			snprintf(buf, len, strchr(ns, ':') ? "[%s]" : "%s", ns);
			break;
		}
	}
	free(text);
}

/* Word (cause, subject) from what is known now and hand it to the store. */
const struct alert *report_render(struct report_env *d, struct evidence *e, enum cause c,
				  const struct report_extra *x, int64_t now)
{
	struct context ctx;
	struct facts f;
	const char *backup;
	evidence_fields(e);
	find_context(d, e, &ctx);
	gather_facts(d, e, c, c == CAUSE_BACKEND_RESTARTED, now, &f);
	e->unit_recheck = f.unit && !f.unit_sig_known && e->first_error_ms &&
			  now - e->first_error_ms < UNIT_SIGNAL_WAIT_MS;
	bool low = degraded(d, e, &ctx, now, &backup);

	struct advice adv;
	char nameserver[80] = "";
	if (c == CAUSE_DNS_FAILURE || c == CAUSE_DNS_STALE)
		first_nameserver(nameserver, sizeof(nameserver));
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
	    .events = c == CAUSE_BACKEND_RESTARTED ? 0 : e->cause[c].n,
	    .first_error_ms = e->first_error_ms,
	    .probe = f.probed ? &f.probe : NULL,
	    .listener = f.listener_known ? &f.listener : NULL,
	    .nearby = f.nearby,
	    .nnearby = f.nnearby,
	    .nearby_more = f.nearby_more,
	    .nearby_what = f.nearby_whatp,
	    .nearby_same = f.nearby_same,
	    .software = f.software,
	    .unit_signal = f.unit_sig_known ? &f.unit_sig : NULL,
	    .queue_peak = e->queue_peak,
	    .burst_peak = e->burst_peak,
	    .host_not_found = e->kinds[EV_HOST_NOT_FOUND] > 0,
	    .no_resolver = e->kinds[EV_NO_RESOLVER] > 0,
	    .nameserver = nameserver,
	    .stale_addr = c == CAUSE_DNS_STALE ? e->stale_of : NULL,
	    .mem_available_mb = c == CAUSE_BACKEND_OVERLOADED ? mem_available_mb() : 0,
	    .block_states = x->block_states,
	    .backup = backup,
	    .last_error_ms = e->last_logged_ms,
	    .window = x->window,
	    .conns_known = f.conns_known,
	    .time_wait = f.conns.time_wait,
	    .established = f.conns.established,
	};
	advice_write(&in, &adv);

	char lines[EVIDENCE_LINES][EVIDENCE_LINE_MAX + 4], probe_line[400], conns_line[200];
	struct strbuf host_line = STRBUF_INIT, sw_line = STRBUF_INIT;
	/* room at once: a strbuf that grows formats its text twice */
	strbuf_reserve(&host_line, 256);
	strbuf_reserve(&sw_line, 256);
	strbuf_reset(&host_line);
	strbuf_reset(&sw_line);
	const char *evidence[EVIDENCE_LINES + 14]; /* the log lines and one of each fact */
	size_t nev = 0;
	for (unsigned i = 0; i < e->nlines; i++)
		evidence[nev++] = evidence_line(e, i, lines[i], sizeof(lines[i]));
	if (f.probed) {
		format_probe(&f.probe, probe_line, sizeof(probe_line));
		evidence[nev++] = probe_line;
	}
	format_listener(e, &f, &host_line);
	if (host_line.len)
		evidence[nev++] = host_line.p;
	format_software(f.software, &sw_line);
	if (sw_line.len)
		evidence[nev++] = sw_line.p;
	char sig_line[400], sig_text[300];
	enum backend_signal sig;
	int64_t sig_ms;
	if (f.software && cause_subject(c) == CAUSE_SUBJECT_PEER &&
	    backend_log_signal(f.software, NULL, sig_text, sizeof(sig_text), &sig, &sig_ms) == 0) {
		snprintf(sig_line, sizeof(sig_line), "%s log: %s",
			 backend_kind_name(f.software->kind), sig_text);
		evidence[nev++] = sig_line;
	}
	char unit_sig_line[UNITLOG_TEXT_MAX + 256], unit_state_line[256];
	if (f.unit_sig_known) {
		format_unit_signal(&f, unit_sig_line, sizeof(unit_sig_line));
		evidence[nev++] = unit_sig_line;
	}
	format_unit_state(&f, now, unit_state_line, sizeof(unit_state_line));
	if (unit_state_line[0])
		evidence[nev++] = unit_state_line;
	if (f.conns_known) {
		snprintf(conns_line, sizeof(conns_line),
			 "host: %u connections to %s in TIME_WAIT, %u established",
			 f.conns.time_wait, e->key, f.conns.established);
		evidence[nev++] = conns_line;
	}
	char dns_line[600];
	if (c == CAUSE_DNS_STALE && e->stale_of && e->addr_ok) {
		snprintf(dns_line, sizeof(dns_line),
			 "dns: nginx connects to %s (its error log); %s resolves now to %s",
			 e->stale_of, e->addr.host,
			 f.probed && f.probe.dns_answers[0] ? f.probe.dns_answers : "(not known)");
		evidence[nev++] = dns_line;
	}
	char remotes_line[400];
	if (c == CAUSE_DNS_STALE && e->addr_ok &&
	    format_remotes(d, e->addr.port, remotes_line, sizeof(remotes_line)))
		evidence[nev++] = remotes_line;
	if (x->block_states)
		evidence[nev++] = x->block_states;
	if (x->window)
		evidence[nev++] = x->window;
	char impact[600];
	if (impact_text(d->access, d->model, in.peer,
			e->subject.kind == CAUSE_SUBJECT_UPSTREAM ? e->key : NULL, ctx.pass, now,
			impact, sizeof(impact)))
		evidence[nev++] = impact;
	/* the impact travels with the summary: journald's MESSAGE, upwatchctl */
	struct strbuf summary = STRBUF_INIT;
	if (nev && evidence[nev - 1] == impact)
		strbuf_printf(&summary, "%s: %s", adv.summary, impact);

	struct alert_report r = {
	    .cause = c,
	    .severity = cause_severity_level(c, low),
	    .peer = in.peer,
	    .upstream =
		ctx.up ? ctx.up->name : (e->subject.kind == CAUSE_SUBJECT_UPSTREAM ? e->key : NULL),
	    .summary = summary.len ? summary.p : adv.summary,
	    .explanation = adv.explanation,
	    .fix = adv.fix,
	    .config_ref = adv.config_ref[0] ? adv.config_ref : NULL,
	    .evidence = evidence,
	    .nevidence = nev,
	    .time_ms = now,
	    .occurrences = x->occurrences,
	    .impact = summary.len > 0,
	};
	/* what the socket file is, is one fact: the newest observation wins */
	for (int o = 0; o < CAUSE__COUNT; o++)
		if (rules_exclusive(c, (enum cause)o))
			alert_supersede(d->alerts, (enum cause)o, e->subject.name, now);
	const struct alert *a = alert_report(d->alerts, &r, now);
	advice_done(&adv);
	strbuf_done(&host_line);
	strbuf_done(&sw_line);
	strbuf_done(&summary);
	return a;
}

#define BLOCK_STATES_MAX 32 /* servers named one by one; the rest are counted */

/* "peers of upstream a: x down (refused); y up" for the servers of a block. */
static void block_states(struct report_env *d, const struct ngx_upstream *up, struct strbuf *b)
{
	strbuf_printf(b, "peers of upstream %s:", up->name);
	for (size_t i = 0; i < up->nservers; i++) {
		if (i == BLOCK_STATES_MAX) {
			strbuf_printf(b, "; and %zu more", up->nservers - i);
			break;
		}
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
		strbuf_printf(b, "%s %s %s", i ? ";" : "", k, state);
		if (why[0])
			strbuf_printf(b, " (%s)", why);
		if (s->down)
			strbuf_puts(b, " [marked down]");
		else if (s->backup)
			strbuf_puts(b, " [backup]");
	}
}

const struct alert *report_block(struct report_env *d, struct evidence *e, unsigned occurrences,
				 int64_t now)
{
	struct strbuf states = STRBUF_INIT;
	const struct ngx_upstream *up = d->model ? ngxconf_upstream(d->model, e->key) : NULL;
	if (up)
		block_states(d, up, &states);
	else
		strbuf_printf(&states, "upstream %s is not in the nginx configuration", e->key);
	struct report_extra x = {
	    .implied = CAUSE_NONE, .block_states = states.p, .occurrences = occurrences};
	const struct alert *a = report_render(d, e, CAUSE_NO_LIVE_UPSTREAMS, &x, now);
	strbuf_done(&states);
	return a;
}
