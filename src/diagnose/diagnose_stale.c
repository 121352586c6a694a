/* diagnose_stale: dns_stale from the diagnosis side — whose old answer a
 * failing learned address is, moving its story to that name, and judging it
 * again when a fresh answer comes (the comparison itself: dnsstale.c). */
#include "diagnose/diagnose_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "diagnose/alert.h"
#include "diagnose/dnsstale.h"
#include "diagnose/evidence.h"
#include "nginx/location.h"
#include "nginx/ngxconf.h"

#define DIAG_STALE_NAMES      16   /* host-name peers on one port weighed at most */
#define DIAG_STALE_RECHECK_MS 1000 /* a learned address is judged again at most this often */

/* What says the address nginx used does not answer: on an old answer of a
 * name, the name moved (dns_stale). */
bool diag_stale_able(enum cause c)
{
	return c == CAUSE_BACKEND_DOWN || c == CAUSE_BACKEND_UNREACHABLE;
}

/* The *_pass nginx picked for the logged request: of the logging server (or
 * a server without a name), the best matching location; NULL when the line
 * names neither. */
static const struct ngx_pass *request_pass(const struct ngx_model *m, const char *server,
					   const char *uri)
{
	const struct ngx_pass *best = NULL;
	size_t best_score = 0;
	if (!server[0] || !uri[0])
		return NULL;
	for (size_t i = 0; i < m->npasses; i++) {
		const struct ngx_pass *p = &m->passes[i];
		if (p->stream || (p->server_name && !streq(p->server_name, server)))
			continue;
		size_t score = ngx_location_match(p->location, uri);
		if (score > best_score) {
			best = p;
			best_score = score;
		}
	}
	return best;
}

static bool pass_reaches(const struct ngx_pass *pass, const struct ngx_peer *p)
{
	if (pass->key)
		return streq(pass->key, p->key);
	for (size_t i = 0; pass->upstream && i < p->nupstreams; i++)
		if (strcasecmp(pass->upstream, p->upstreams[i]) == 0)
			return true;
	return false;
}

/* The host-name peer whose old answer the learned address e is, judged
 * against what the names resolve to now (their last probes, which resolve
 * them); NULL when none. A name not resolved yet is asked for. The verdict
 * is kept DIAG_STALE_RECHECK_MS: a storm of lines costs one judgement. */
struct evidence *diag_stale_owner(struct diag *d, struct evidence *e, int64_t now)
{
	if (!d->nnames || !e->addr_ok || e->configured ||
	    (e->addr.kind != PEERKEY_IPV4 && e->addr.kind != PEERKEY_IPV6))
		return NULL;
	if (e->stale_ms && now - e->stale_ms < DIAG_STALE_RECHECK_MS && now >= e->stale_ms)
		return e->stale_of ? evidence_get(&d->env.ev, CAUSE_SUBJECT_PEER, e->stale_of)
				   : NULL;
	e->stale_ms = now;
	free(e->stale_of);
	e->stale_of = NULL;

	struct dnsstale_name names[DIAG_STALE_NAMES];
	const struct ngx_peer *peers[DIAG_STALE_NAMES];
	char answers[DIAG_STALE_NAMES][sizeof(((struct probe_result *)0)->dns_answers)];
	evidence_fields(e);
	const struct ngx_pass *pass = request_pass(d->env.model, e->last_server, e->last_uri);
	size_t n = 0;
	struct probe_result *r = NULL; /* 2 KB: not on the stack of every line */
	for (size_t i = 0; i < d->nnames && n < DIAG_STALE_NAMES; i++) {
		const struct ngx_peer *p = d->names[i];
		if (p->port != e->addr.port)
			continue;
		if (!r)
			r = xmalloc(sizeof(*r));
		answers[n][0] = '\0';
		if (d->env.host.last_probe && d->env.host.last_probe(d->env.host.ud, p->key, r))
			snprintf(answers[n], sizeof(answers[n]), "%s", r->dns_answers);
		peers[n] = p;
		names[n] = (struct dnsstale_name){
		    .host = p->host,
		    .port = p->port,
		    .answers = answers[n],
		    .location = pass && pass_reaches(pass, p),
		};
		n++;
	}
	free(r);
	size_t idx = 0;
	switch (dnsstale_judge(&e->addr, names, n, &idx)) {
	case DNSSTALE_OLD:
		break;
	case DNSSTALE_UNKNOWN:
		/* resolve the names now; their results judge again */
		e->stale_ms = 0;
		for (size_t i = 0; i < n; i++)
			if (!answers[i][0] && d->env.host.probe_now)
				d->env.host.probe_now(d->env.host.ud, peers[i]->key);
		return NULL;
	default:
		return NULL;
	}
	bool created;
	struct evidence *owner =
	    evidence_add(&d->env.ev, CAUSE_SUBJECT_PEER, peers[idx]->key, true, &created);
	if (!owner)
		return NULL;
	e->stale_of = xstrdup(owner->key);
	free(owner->stale_of);
	owner->stale_of = xstrdup(e->key);
	return owner;
}

/* The learned address's own down/unreachable alerts are chapters of the
 * name's dns_stale story. */
void diag_stale_absorb(struct diag *d, const struct evidence *ip, const struct alert *a,
		       int64_t now)
{
	for (int c = 0; c < CAUSE__COUNT; c++)
		if (diag_stale_able((enum cause)c) || c == CAUSE_PEER_FAILING)
			alert_absorb(d->env.alerts, (enum cause)c, ip->key, a, now);
}

/* Move an event on an old address to the name: dns_stale, with the line and
 * the request's details as its evidence. */
struct evidence *diag_stale_move(struct evidence *ip, struct evidence *owner, const char *line,
				 size_t len)
{
	if (line)
		evidence_remember(owner, line, len);
	evidence_fields(ip);
	owner->fields_at = 0; /* its details are ip's, copied here */
	owner->last_event_ms = ip->last_event_ms;
	owner->last_err = ip->last_err;
	owner->last_phase = ip->last_phase;
	memcpy(owner->last_detail, ip->last_detail, sizeof(owner->last_detail));
	memcpy(owner->last_server, ip->last_server, sizeof(owner->last_server));
	memcpy(owner->last_uri, ip->last_uri, sizeof(owner->last_uri));
	return owner;
}

/* A name's fresh answer: learned addresses on its port whose down or
 * unreachable alerts still fire and that are no longer among the name's
 * answers are its old ones — one dns_stale story absorbs their alerts. */
void diag_stale_recheck(struct diag *d, const char *key, const struct probe_result *r, int64_t now)
{
	const struct ngx_peer *p;
	if (!d->nnames || !r->dns_answers[0] || !d->env.model ||
	    !(p = ngxconf_peer(d->env.model, key)) || p->kind != PEERKEY_HOST)
		return;
	for (size_t i = 0; i < d->env.ev.nlearned_peers; i++) {
		struct evidence *ip =
		    evidence_get(&d->env.ev, CAUSE_SUBJECT_PEER, d->env.ev.learned[i]);
		if (!ip || !ip->addr_ok || ip->addr.port != p->port)
			continue;
		enum cause fired = CAUSE_NONE;
		for (int c = 0; c < CAUSE__COUNT; c++)
			if (diag_stale_able((enum cause)c) &&
			    alert_find(d->env.alerts, (enum cause)c, ip->key))
				fired = (enum cause)c;
		if (fired == CAUSE_NONE)
			continue;
		ip->stale_ms = 0; /* judge afresh with this answer */
		struct evidence *owner = diag_stale_owner(d, ip, now);
		if (!owner || strcasecmp(owner->key, key) != 0)
			continue;
		char buf[EVIDENCE_LINE_MAX + 4];
		for (unsigned l = 0; l < ip->nlines; l++) {
			const char *text = evidence_line(ip, l, buf, sizeof(buf));
			evidence_remember(owner, text, strlen(text));
		}
		diag_stale_move(ip, owner, NULL, 0);
		if (!owner->first_error_ms)
			owner->first_error_ms = ip->first_error_ms;
		owner->last_error_ms = owner->last_logged_ms = ip->last_error_ms;
		if (!owner->cause[CAUSE_DNS_STALE].n)
			owner->cause_first_ms[CAUSE_DNS_STALE] = ip->cause_first_ms[fired];
		owner->cause[CAUSE_DNS_STALE].n += ip->cause[fired].n;
		owner->cause[CAUSE_DNS_STALE].last_ms = ip->cause[fired].last_ms;
		struct report_extra x = {.implied = CAUSE_NONE, .occurrences = ip->cause[fired].n};
		const struct alert *a = report_render(&d->env, owner, CAUSE_DNS_STALE, &x, now);
		if (a)
			diag_stale_absorb(d, ip, a, now);
	}
}
