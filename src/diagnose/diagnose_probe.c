/* diagnose_probe: what a probe result does to a subject's alerts — never a
 * verdict from a local error; a failing probe keeps the logs' alerts, names
 * their cause or predicts (peer_failing); a passing one after a new listener
 * tells a restart. */
#include "diagnose/diagnose_internal.h"

#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "core/util.h"
#include "diagnose/alert.h"
#include "diagnose/evidence.h"
#include "diagnose/impact.h"
#include "diagnose/report.h"
#include "diagnose/rules.h"
#include "nginx/ngxconf.h"

/* "backend_reset 10:00:01 to 10:00:02 (3 events); backend_down ..." */
static unsigned outage_window(const struct evidence *e, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "outage:");
	unsigned total = 0;
	for (int c = 0; c < CAUSE__COUNT && n < len; c++) {
		if (!rules_restart_chapter((enum cause)c) || !e->cause[c].n)
			continue;
		char a[32], b[32];
		format_time_ms(e->cause_first_ms[c], a);
		format_time_ms(e->cause[c].last_ms, b);
		n += (size_t)snprintf(buf + n, len - n, "%s %s %s to %s (%u event%s)",
				      total ? ";" : "", cause_name((enum cause)c), a, b,
				      e->cause[c].n, e->cause[c].n == 1 ? "" : "s");
		total += e->cause[c].n;
	}
	return total;
}

/* The listener seen now started after the errors began. Three signs, none
 * needing another user's /proc: another socket (or none) was seen on the
 * peer since the errors began (host_listener_new_since); nginx found nothing
 * listening (refused, stale or missing) before this listener was first seen;
 * or, where /proc shows it, the process started since. */
static bool listener_new(const struct evidence *e, const struct host_listener *l)
{
	int64_t since = e->first_error_ms - 1000;
	if (host_listener_new_since(l, since))
		return true;
	for (int c = 0; c < CAUSE__COUNT; c++)
		if (rules_absence_chapter((enum cause)c) && e->cause[c].n && l->since_ms &&
		    l->since_ms > e->cause_first_ms[c])
			return true;
	return l->started_ms && l->started_ms >= since;
}

static void probe_passed(struct diag *d, struct evidence *e, int64_t now)
{
	alert_supersede(d->env.alerts, CAUSE_PEER_FAILING, e->key, now);
	if (!e->first_error_ms)
		return;
	bool chapters = false;
	for (int c = 0; c < CAUSE__COUNT && !chapters; c++)
		chapters = rules_restart_chapter((enum cause)c) &&
			   alert_find(d->env.alerts, (enum cause)c, e->key);
	if (!chapters)
		return;
	/* errors, then a listener that is new since them: it restarted */
	struct host_listener l;
	if (!e->addr_ok || !peerkey_is_local(&e->addr) || !d->env.host.listener ||
	    !d->env.host.listener(d->env.host.ud, &e->addr, true, &l) || !l.listening ||
	    !listener_new(e, &l))
		return;
	char window[600];
	struct report_extra x = {.implied = CAUSE_NONE, .window = window};
	x.occurrences = outage_window(e, window, sizeof(window));
	const struct alert *a = report_render(&d->env, e, CAUSE_BACKEND_RESTARTED, &x, now);
	/* one crash, one story: the reset and refused alerts are its chapters */
	for (int c = 0; c < CAUSE__COUNT; c++)
		if (rules_restart_chapter((enum cause)c))
			alert_absorb(d->env.alerts, (enum cause)c, e->key, a, now);
}

/* The health_uri upwatch.conf sets for peer key (its own, else its upstream
 * block's); NULL when none is configured. */
static const char *configured_health_uri(const struct diag *d, const char *key)
{
	if (!d->env.cfg)
		return NULL;
	const struct config_override *o = config_peer(d->env.cfg, key);
	if (o && o->health_uri)
		return o->health_uri;
	const struct ngx_peer *p = d->env.model ? ngxconf_peer(d->env.model, key) : NULL;
	for (size_t u = 0; p && u < p->nupstreams; u++) {
		o = config_upstream(d->env.cfg, p->upstreams[u]);
		if (o && o->health_uri)
			return o->health_uri;
	}
	return NULL;
}

void diag_probe_result(struct diag *d, const char *key, const struct probe_result *result,
		       int64_t now)
{
	/* upwatch's own failure (no descriptor, no memory) says nothing of the peer */
	if (!rules_probe_is_verdict(result))
		return;
	diag_stale_recheck(d, key, result, now);
	struct evidence *e = evidence_get(&d->env.ev, CAUSE_SUBJECT_PEER, key);
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
		e = evidence_add(&d->env.ev, CAUSE_SUBJECT_PEER, key,
				 diag_named_by_model(d, CAUSE_SUBJECT_PEER, key), &created);
		if (!e)
			return;
		e->last_event_ms = now;
	}
	bool changed = e->probe != result->result || !e->probe_ms;
	e->probe = result->result;
	e->probe_ms = now;
	/* an old answer of a name that moved: that it fails is the name's
	 * dns_stale story (told from nginx's lines), no verdict of its own */
	if (e->stale_of && !e->configured)
		return;
	bool is_unix = e->addr_ok && e->addr.kind == PEERKEY_UNIX;
	enum cause pc = rules_probe_cause(result, is_unix);

	/* the logs' alerts stay while the peer still fails: a weaker or other
	 * observation never resolves a cause that still holds */
	bool kept = false;
	for (int c = 0; c < CAUSE__COUNT; c++) {
		if (c == CAUSE_PEER_FAILING || cause_subject((enum cause)c) != CAUSE_SUBJECT_PEER ||
		    !alert_find(d->env.alerts, (enum cause)c, key))
			continue;
		if (pc != CAUSE_NONE && rules_exclusive((enum cause)c, pc))
			continue; /* the socket file changed: replaced below */
		alert_touch(d->env.alerts, (enum cause)c, key, now, 0);
		kept = true;
	}
	struct report_extra x = {.implied = CAUSE_NONE};
	bool exclusive_changed = false;
	for (int c = 0; c < CAUSE__COUNT && pc != CAUSE_NONE; c++)
		exclusive_changed |= rules_exclusive((enum cause)c, pc) &&
				     alert_find(d->env.alerts, (enum cause)c, key);
	if (exclusive_changed) {
		report_render(&d->env, e, pc, &x, now);
		return;
	}
	if (kept) {
		if (changed)
			diag_mark_dirty(d, e); /* a fresh probe result: new words at the tick */
		return;
	}
	bool hit = e->last_error_ms && now - e->last_error_ms < DIAG_EPISODE_MS;
	if (hit && pc != CAUSE_NONE) {
		if (pc == CAUSE_BACKEND_OVERLOADED) {
			struct host_listener l;
			if (e->addr_ok && peerkey_is_local(&e->addr) && d->env.host.listener &&
			    d->env.host.listener(d->env.host.ud, &e->addr, false, &l) &&
			    !l.listening)
				pc = CAUSE_BACKEND_DOWN;
		}
		report_render(&d->env, e, pc, &x, now);
		return;
	}
	/* nginx itself is being answered through it: a probe alone is no verdict,
	 * but a health check the user configured still warns */
	if (impact_served(d->env.access, key, now)) {
		const char *uri = configured_health_uri(d, key);
		if (!uri)
			alert_supersede(d->env.alerts, CAUSE_PEER_FAILING, key, now);
		else /* (re)worded each time: a prediction may have fired before */
			impact_report_health(d->env.alerts, d->env.access, d->env.model, key, uri,
					     result, now);
		return;
	}
	/* the same prediction again: only its time moves (a health warning from
	 * while nginx was answered through it is worded anew) */
	const struct alert *pf = alert_find(d->env.alerts, CAUSE_PEER_FAILING, key);
	if (!changed && !impact_is_health(pf) &&
	    alert_touch(d->env.alerts, CAUSE_PEER_FAILING, key, now, 0))
		return;
	x.implied = pc;
	report_render(&d->env, e, CAUSE_PEER_FAILING, &x, now);
}
