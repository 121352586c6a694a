/* advice_words: the sentences every cause's advice shares — where the peer
 * sits in the nginx configuration (file:line) and what the log, the probe and
 * the host showed. */
#include "diagnose/advice_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* "file:line"; a diagnosis from the log alone has none, and says so in
 * words rather than printing an empty reference. */
const char *advice_ref(const struct ngx_ref *r, char *buf, size_t len)
{
	if (!r || !r->file) {
		snprintf(buf, len, "the nginx configuration (no file:line known)");
		return buf;
	}
	snprintf(buf, len, "%s:%u", r->file, r->line);
	return buf;
}

void advice_set_ref(struct writer *w, const struct ngx_ref *r)
{
	if (r && r->file && !w->ref[0])
		snprintf(w->ref, w->reflen, "%s:%u", r->file, r->line);
}

/* The directive that names the peer: its `server` line, else the *_pass. */
const struct ngx_ref *advice_peer_ref(const struct advice_in *in)
{
	if (in->server)
		return &in->server->ref;
	if (in->pass)
		return &in->pass->ref;
	return NULL;
}

void advice_where(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	if (in->up)
		strbuf_printf(
		    &w->expl, " It is a peer of upstream %s (%s).", in->up->name,
		    advice_ref(in->server ? &in->server->ref : &in->up->ref, b, sizeof(b)));
	if (in->pass)
		strbuf_printf(
		    &w->expl, " nginx reaches it through %s %s in location %s%s%s (%s).",
		    in->pass->directive, in->pass->raw,
		    in->pass->location && in->pass->location[0] ? in->pass->location : "(server)",
		    in->pass->server_name && in->pass->server_name[0] ? " of server " : "",
		    in->pass->server_name ? in->pass->server_name : "",
		    advice_ref(&in->pass->ref, b, sizeof(b)));
}

void advice_observed_log(struct writer *w, const char *what)
{
	const struct advice_in *in = w->in;
	char t[32];
	if (in->events == 0)
		return;
	format_time_ms(in->first_error_ms, t);
	strbuf_printf(&w->expl, "Observed: nginx logged %s %u time%s since %s.", what, in->events,
		      in->events == 1 ? "" : "s", t);
}

void advice_observed_probe(struct writer *w)
{
	const struct probe_result *r = w->in->probe;
	if (!r) {
		strbuf_printf(&w->expl, " Not probed yet.");
		return;
	}
	strbuf_printf(&w->expl, " The probe %s: %s%s%s (%u ms).",
		      r->result == PROBE_OK ? "succeeds now" : "fails",
		      probe_result_name(r->result), r->detail[0] ? ", " : "", r->detail,
		      r->latency_ms);
}

void advice_observed_listener(struct writer *w)
{
	const struct host_listener *l = w->in->listener;
	if (!l)
		return;
	if (!l->listening) {
		strbuf_printf(&w->expl, " Nothing listens on %s.", w->in->peer);
		if (w->in->nnearby) {
			strbuf_printf(&w->expl, " On %s these ports do:", w->in->addr->host);
			for (size_t i = 0; i < w->in->nnearby; i++) {
				const char *what = w->in->nearby_what ? w->in->nearby_what[i] : "";
				strbuf_printf(&w->expl, "%s %u%s%s%s", i ? "," : "",
					      w->in->nearby[i], what[0] ? " (" : "", what,
					      what[0] ? ")" : "");
			}
			if (w->in->nearby_more)
				strbuf_printf(&w->expl, " and %zu more", w->in->nearby_more);
			strbuf_printf(&w->expl, ".");
		}
		return;
	}
	if (l->pid)
		strbuf_printf(&w->expl, " It is served by %s (pid %d%s%s).", l->process,
			      (int)l->pid, l->unit[0] ? ", unit " : "", l->unit);
}
