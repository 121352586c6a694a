/* advice_peer: the fixes for a backend process that refuses, resets,
 * times out, answers garbage or has no worker free. */
#include "diagnose/advice_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const char *module_prefix(const struct advice_in *in)
{
	if (!in->pass)
		return "proxy";
	switch (in->pass->proto) {
	case NGX_PROTO_FASTCGI:
		return "fastcgi";
	case NGX_PROTO_UWSGI:
		return "uwsgi";
	case NGX_PROTO_SCGI:
		return "scgi";
	case NGX_PROTO_GRPC:
		return "grpc";
	default:
		return "proxy";
	}
}

static const char *errno_text(int err)
{
	switch (err) {
	case 2:
		return "2: No such file or directory";
	case 11:
		return "11: Resource temporarily unavailable";
	case 13:
		return "13: Permission denied";
	case 32:
		return "32: Broken pipe";
	case 101:
		return "101: Network is unreachable";
	case 104:
		return "104: Connection reset by peer";
	case 110:
		return "110: Connection timed out";
	case 111:
		return "111: Connection refused";
	case 113:
		return "113: No route to host";
	default:
		return NULL;
	}
}

static void format_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms % 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
}

void advice_write_down(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	const struct host_listener *l = in->listener;
	strbuf_printf(&w->summary, "%s refuses connections: nothing accepts on it", in->peer);
	advice_observed_log(w, "\"connect() failed (111: Connection refused)\"");
	advice_observed_probe(w);
	advice_observed_listener(w);
	advice_unit_result(w);
	strbuf_printf(
	    &w->expl,
	    " Inferred: the backend is not running, or listens on another port or address.");
	advice_where(w);
	advice_set_ref(w, advice_peer_ref(in));
	if (l && l->unit[0] && l->unit_known && !streq(l->active_state, "active"))
		strbuf_printf(&w->fix, "systemctl restart %s   # it is %s/%s\n", l->unit,
			      l->active_state, l->sub_state);
	else
		strbuf_printf(&w->fix,
			      "Start the service that should listen on %s and check its log.\n",
			      in->peer);
	/* a port is suggested only when the listener there is the very software
	 * (kind, configuration, pool) that served this peer: another
	 * application's port would "work" and serve the wrong site */
	unsigned near = 0, best = 65536;
	for (size_t i = 0; in->addr && in->nearby_same && i < in->nnearby; i++) {
		unsigned dist = in->nearby[i] > in->addr->port ? in->nearby[i] - in->addr->port
							       : in->addr->port - in->nearby[i];
		if (in->nearby_same[i] && dist < best) {
			best = dist;
			near = in->nearby[i];
		}
	}
	if (near) {
		char target[320];
		if (in->addr->kind == PEERKEY_IPV6)
			snprintf(target, sizeof(target), "[%s]:%u", in->addr->host, near);
		else
			snprintf(target, sizeof(target), "%s:%u", in->addr->host, near);
		strbuf_printf(&w->fix,
			      "The same %s now listens on port %u; point nginx there (%s):\n",
			      backend_kind_name(in->software->kind), near,
			      advice_ref(advice_peer_ref(in), b, sizeof(b)));
		if (in->server)
			strbuf_printf(&w->fix, "    server %s;\n", target);
		else if (in->pass)
			strbuf_printf(&w->fix, "    %s %s%s%s;\n", in->pass->directive,
				      in->pass->proto == NGX_PROTO_HTTPS  ? "https://"
				      : in->pass->proto == NGX_PROTO_HTTP ? "http://"
									  : "",
				      target, in->pass->uri ? in->pass->uri : "");
	} else if (in->nnearby) {
		strbuf_printf(
		    &w->fix,
		    "Other ports listen on %s, but none is known to be this backend: do not "
		    "point nginx at one without checking what it serves.\n",
		    in->addr ? in->addr->host : "this host");
	}
	if (!near && advice_peer_ref(in))
		strbuf_printf(
		    &w->fix,
		    "If the backend is meant to listen elsewhere, correct the address at %s and "
		    "reload nginx (nginx -t first).\n",
		    advice_ref(advice_peer_ref(in), b, sizeof(b)));
}

void advice_write_restarted(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct host_listener *l = in->listener;
	char t[32], s[32];
	format_time_ms(in->first_error_ms, t);
	format_time_ms(l ? l->started_ms : 0, s);
	strbuf_printf(&w->summary, "%s restarted: nginx failed requests while it was down",
		      in->peer);
	strbuf_printf(&w->expl, "Observed: nginx logged connection errors to %s from %s", in->peer,
		      t);
	if (in->err && errno_text(in->err))
		strbuf_printf(&w->expl, " (last: %s)", errno_text(in->err));
	strbuf_printf(&w->expl, "; its listener");
	if (l && l->pid)
		strbuf_printf(&w->expl, " %s (pid %d)", l->process, (int)l->pid);
	strbuf_printf(&w->expl, " started at %s, after those errors, and the probe succeeds now.",
		      s);
	if (in->window)
		strbuf_printf(&w->expl, " The outage: %s.", in->window);
	advice_unit_result(w);
	strbuf_printf(&w->expl,
		      " Inferred: the backend restarted (crash, deploy or kill) and nginx answered "
		      "502 while it was away.");
	advice_where(w);
	advice_set_ref(w, advice_peer_ref(in));
	if (l && l->unit[0])
		strbuf_printf(&w->fix,
			      "Find out why it restarted: journalctl -u %s --since '%.19s'%s\n",
			      l->unit, t, l->unit_known ? "" : "");
	else
		strbuf_printf(
		    &w->fix,
		    "Find out why it restarted: check the backend's own log around %.19s.\n", t);
	if (l && l->unit_known && l->nrestarts)
		strbuf_printf(&w->fix, "systemd restarted %s %u times so far.\n", l->unit,
			      l->nrestarts);
	strbuf_printf(&w->fix,
		      "To keep restarts away from users, give upstream %s a second peer and retry "
		      "on errors:\n    %s_next_upstream error timeout;\n",
		      in->up ? in->up->name : "the block", module_prefix(in));
}

void advice_write_unreachable(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300], to[32];
	strbuf_printf(&w->summary, "%s does not answer connection attempts", in->peer);
	if (in->phase == PHASE_CONNECTING && in->err == 110 && in->pass) {
		format_ms(in->pass->t->connect_ms, to, sizeof(to));
		advice_observed_log(
		    w, "\"upstream timed out (110: Connection timed out) while connecting\"");
		strbuf_printf(&w->expl, " nginx gave up after %s_connect_timeout %s.",
			      module_prefix(in), to);
	} else if (in->err && errno_text(in->err)) {
		char what[96];
		snprintf(what, sizeof(what), "\"connect() failed (%s)\"", errno_text(in->err));
		advice_observed_log(w, what);
	} else {
		advice_observed_log(w, "connect failures");
	}
	advice_observed_probe(w);
	strbuf_printf(
	    &w->expl,
	    " Inferred: packets to %s are dropped or cannot be routed: a firewall, a host "
	    "that is down, or a wrong address.",
	    in->peer);
	advice_where(w);
	advice_set_ref(w, advice_peer_ref(in));
	if (in->addr && in->addr->kind != PEERKEY_UNIX)
		strbuf_printf(
		    &w->fix,
		    "Check the path to the backend: ip route get %s; and the firewall on both "
		    "hosts.\n",
		    in->addr->host);
	strbuf_printf(&w->fix, "If the address is wrong, correct it at %s.\n",
		      advice_ref(advice_peer_ref(in), b, sizeof(b)));
	strbuf_printf(&w->fix, "Fail faster meanwhile:\n    %s_connect_timeout 5s;\n",
		      module_prefix(in));
}

void advice_write_slow(struct writer *w)
{
	const struct advice_in *in = w->in;
	const char *pfx = module_prefix(in);
	bool sending = in->phase == PHASE_SENDING_REQUEST;
	const char *dir = sending ? "send" : "read";
	uint64_t limit = in->pass ? (sending ? in->pass->t->send_ms : in->pass->t->read_ms) : 60000;
	const struct ngx_ref *lref =
	    in->pass ? (sending ? &in->pass->t->send_ref : &in->pass->t->read_ref) : NULL;
	char lim[32], b[300], b2[300];
	format_ms(limit, lim, sizeof(lim));

	strbuf_printf(&w->summary, "%s is too slow: no %s within %s_%s_timeout %s", in->peer,
		      sending ? "progress sending the request" : "response header", pfx, dir, lim);
	advice_observed_log(w, sending ? "\"upstream timed out ... while sending request\""
				       : "\"upstream timed out\" (110: Connection timed out)");
	strbuf_printf(&w->expl, " The effective %s_%s_timeout is %s (%s).", pfx, dir, lim,
		      lref && lref->file ? advice_ref(lref, b, sizeof(b)) : "nginx's default");
	const struct probe_result *r = in->probe;
	if (r && r->ttfb_ms)
		strbuf_printf(&w->expl, " The probe measured %u ms to the first byte.", r->ttfb_ms);
	else
		advice_observed_probe(w);
	strbuf_printf(&w->expl,
		      " Inferred: the application takes longer than nginx waits (slow queries, a "
		      "blocked or exhausted worker pool).");
	advice_where(w);
	advice_set_ref(w, lref && lref->file ? lref
					     : (in->pass ? &in->pass->ref : advice_peer_ref(in)));

	/* the new timeout: measured time with headroom, at least twice the old one */
	uint64_t want = limit * 2;
	if (r && r->ttfb_ms && (uint64_t)r->ttfb_ms * 3 / 2 > want)
		want = (uint64_t)r->ttfb_ms * 3 / 2;
	want = (want + 999) / 1000;
	strbuf_printf(&w->fix,
		      "If such responses are expected, wait longer in location %s (%s):\n"
		      "    %s_%s_timeout %llus;\n",
		      in->pass && in->pass->location && in->pass->location[0] ? in->pass->location
									      : "/",
		      advice_ref(in->pass ? &in->pass->ref : NULL, b2, sizeof(b2)), pfx, dir,
		      (unsigned long long)want);
	if (!(r && r->ttfb_ms))
		strbuf_printf(
		    &w->fix,
		    "(%llus is twice nginx's limit, not a measurement: nothing measured how long "
		    "these responses take. Time one first and choose above it:\n"
		    "    curl -o /dev/null -s -w '%%{time_starttransfer}\\n' URL)\n",
		    (unsigned long long)want);
	const struct backend_info *sw = in->software;
	const char *tname = sw ? advice_sw_timeout_name(sw) : NULL;
	unsigned own = sw ? advice_sw_seconds(sw->timeout.value) : 0;
	if (tname && own && own < want) {
		char at[400], v[32];
		snprintf(v, sizeof(v), "%llu", (unsigned long long)want + 5);
		strbuf_printf(
		    &w->fix,
		    "%s kills requests itself after %s = %s (%s): raise it above nginx's, or it "
		    "cuts them first:\n",
		    backend_kind_name(sw->kind), tname, sw->timeout.value,
		    advice_sw_where(sw, &sw->timeout, at, sizeof(at)));
		advice_sw_setting_line(&w->fix, sw, tname, v);
	}
	strbuf_printf(&w->fix,
		      "Otherwise find what blocks the backend (slow log, worker pool size).\n");
}

/* What the peer speaks: its software's configuration where upwatch read it,
 * else what it answered when sniffed (probe_sniff). TLS is the sniff's only. */
enum heard_proto { HEARD_NONE, HEARD_HTTP, HEARD_FASTCGI, HEARD_UWSGI, HEARD_TLS };

static enum heard_proto peer_speaks(const struct advice_in *in, bool *ret_sniffed)
{
	const struct backend_info *sw = in->software;
	*ret_sniffed = false;
	if (sw && sw->bound) {
		switch (sw->proto) {
		case BACKEND_PROTO_HTTP:
			return HEARD_HTTP;
		case BACKEND_PROTO_FASTCGI:
			return HEARD_FASTCGI;
		case BACKEND_PROTO_UWSGI:
			return HEARD_UWSGI;
		default:
			break;
		}
	}
	*ret_sniffed = true;
	switch (in->probe ? in->probe->speaks : PROBE_SPEAKS_UNKNOWN) {
	case PROBE_SPEAKS_FASTCGI:
		return HEARD_FASTCGI;
	case PROBE_SPEAKS_UWSGI:
		return HEARD_UWSGI;
	case PROBE_SPEAKS_TLS:
		return HEARD_TLS;
	default:
		return HEARD_NONE;
	}
}

/* nginx speaks one protocol and the peer another — as the software's
 * configuration says, or as the peer answered upwatch's sniff: the "reset"
 * is the backend refusing nginx's bytes. */
static bool wrong_protocol(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct backend_info *sw = in->software;
	bool sniffed;
	enum heard_proto heard = peer_speaks(in, &sniffed);
	if (!in->pass || heard == HEARD_NONE)
		return false;
	enum ngx_proto want;
	const char *directive, *name;
	switch (heard) {
	case HEARD_FASTCGI:
		want = NGX_PROTO_FASTCGI;
		directive = "fastcgi_pass";
		name = "FastCGI";
		break;
	case HEARD_UWSGI:
		want = NGX_PROTO_UWSGI;
		directive = "uwsgi_pass";
		name = "uwsgi";
		break;
	case HEARD_TLS:
		want = NGX_PROTO_HTTPS;
		directive = "https://";
		name = "TLS";
		break;
	default:
		want = NGX_PROTO_HTTP;
		directive = "proxy_pass";
		name = "HTTP";
		break;
	}
	if (in->pass->proto == want ||
	    (want == NGX_PROTO_HTTP && in->pass->proto == NGX_PROTO_HTTPS) ||
	    (want == NGX_PROTO_HTTPS && in->pass->proto != NGX_PROTO_HTTP))
		return false;
	char b[300], at[400] = "";
	if (sniffed) {
		advice_observed_probe(w);
		strbuf_printf(
		    &w->expl,
		    " Inferred: this port speaks %s (it answered upwatch's %s request; no "
		    "configuration upwatch can read says so) and nginx sends it %s with "
		    "%s: the backend drops what it cannot parse.",
		    name, name, module_prefix(in), in->pass->directive);
	} else {
		advice_sw_observed(w);
		strbuf_printf(
		    &w->expl,
		    " Inferred: this port speaks %s (%s at %s) and nginx sends it %s with "
		    "%s: the backend drops what it cannot parse.",
		    backend_proto_name(sw->proto), sw->bind.value ? sw->bind.value : "its socket",
		    advice_sw_where(sw, &sw->bind, at, sizeof(at)), module_prefix(in),
		    in->pass->directive);
	}
	advice_where(w);
	advice_set_ref(w, &in->pass->ref);
	strbuf_printf(&w->fix, "This port speaks %s: use %s at %s:\n",
		      sniffed ? name : backend_proto_name(sw->proto), directive,
		      advice_ref(&in->pass->ref, b, sizeof(b)));
	if (want == NGX_PROTO_UWSGI)
		strbuf_printf(&w->fix, "    include uwsgi_params;\n    uwsgi_pass %s;\n", in->peer);
	else if (want == NGX_PROTO_FASTCGI)
		strbuf_printf(&w->fix, "    include fastcgi_params;\n    fastcgi_pass %s;\n",
			      in->peer);
	else if (want == NGX_PROTO_HTTPS)
		strbuf_printf(&w->fix, "    proxy_pass https://%s;\n", in->peer);
	else
		strbuf_printf(&w->fix, "    proxy_pass http://%s;\n", in->peer);
	if (!sniffed && sw->kind == BACKEND_UWSGI && want == NGX_PROTO_UWSGI)
		strbuf_printf(&w->fix,
			      "(or make uwsgi speak HTTP there: http-socket instead of socket at "
			      "%s)\n",
			      at);
	return true;
}

void advice_write_reset(struct writer *w)
{
	const struct advice_in *in = w->in;
	strbuf_printf(&w->summary, "%s closes or resets connections in the middle of a request",
		      in->peer);
	if (in->err && errno_text(in->err)) {
		char what[96];
		snprintf(what, sizeof(what), "\"recv() failed (%s)\"", errno_text(in->err));
		advice_observed_log(w, what);
	} else {
		advice_observed_log(w, "\"upstream prematurely closed connection\"");
	}
	advice_observed_probe(w);
	const struct backend_info *sw = in->software;
	if (wrong_protocol(w))
		return;
	if (advice_sw_killed(w)) {
		advice_set_ref(w, advice_peer_ref(in)); /* when no setting's line is */
		return;
	}
	advice_sw_observed(w);
	advice_unit_result(w);
	strbuf_printf(
	    &w->expl,
	    " Inferred: the backend process handling the request died or was killed "
	    "(crash, OOM, a request time limit), or it closed a keepalive connection nginx "
	    "was reusing.");
	advice_where(w);
	advice_set_ref(w, advice_peer_ref(in));
	strbuf_printf(&w->fix,
		      "Look in the backend's log for crashes or killed workers at those times.\n");
	const char *tname = sw ? advice_sw_timeout_name(sw) : NULL;
	if (tname && sw->timeout.value) {
		char at[400];
		strbuf_printf(&w->fix,
			      "%s kills a request after %s = %s (%s): if the killed requests are "
			      "expected to take longer, raise it there.\n",
			      backend_kind_name(sw->kind), tname, sw->timeout.value,
			      advice_sw_where(sw, &sw->timeout, at, sizeof(at)));
	} else if (tname && sw->kind == BACKEND_GUNICORN) {
		strbuf_printf(
		    &w->fix, "gunicorn kills a worker silent for --timeout (30 s by default): look "
			     "for WORKER TIMEOUT in its log.\n");
	}
	strbuf_printf(
	    &w->fix,
	    "If the backend closes idle keepalive connections first, keep nginx's shorter "
	    "(in upstream %s):\n    keepalive_timeout 30s;\n",
	    in->up ? in->up->name : "the block");
}

void advice_write_invalid(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	strbuf_printf(&w->summary, "%s answers with something that is not valid HTTP", in->peer);
	advice_observed_log(w, "invalid responses");
	if (in->detail && in->detail[0])
		strbuf_printf(&w->expl, " Last: %s.", in->detail);
	advice_observed_probe(w);
	if (wrong_protocol(w))
		return;
	strbuf_printf(&w->expl,
		      " Inferred: another protocol listens on that port (a wrong port, or a "
		      "FastCGI/uwsgi/TLS server behind proxy_pass http://), or the application "
		      "writes broken headers.");
	advice_where(w);
	advice_set_ref(w, in->pass ? &in->pass->ref : advice_peer_ref(in));
	strbuf_printf(&w->fix, "Check what answers: curl -sv http://%s/ \n",
		      in->peer ? in->peer : "");
	strbuf_printf(&w->fix,
		      "If it is php-fpm or uwsgi, use fastcgi_pass or uwsgi_pass at %s; if it "
		      "speaks TLS, use https://; otherwise correct the port.\n",
		      advice_ref(in->pass ? &in->pass->ref : advice_peer_ref(in), b, sizeof(b)));
}

void advice_write_too_big(struct writer *w)
{
	const struct advice_in *in = w->in;
	const char *pfx = module_prefix(in);
	uint64_t have = in->pass ? in->pass->t->buffer_size : 4096;
	char b[300];
	strbuf_printf(&w->summary, "%s sends response headers larger than %s_buffer_size (%lluk)",
		      in->peer, pfx, (unsigned long long)(have / 1024));
	advice_observed_log(w, "\"upstream sent too big header\"");
	const struct probe_result *r = in->probe;
	if (r && r->header_bytes)
		strbuf_printf(&w->expl, " The probe received %u bytes of headers.",
			      r->header_bytes);
	strbuf_printf(&w->expl, " The effective %s_buffer_size is %llu bytes (%s).", pfx,
		      (unsigned long long)have,
		      in->pass && in->pass->t->buffer_size_ref.file
			  ? advice_ref(&in->pass->t->buffer_size_ref, b, sizeof(b))
			  : "default");
	strbuf_printf(
	    &w->expl,
	    " Inferred: big Set-Cookie or token headers do not fit nginx's header buffer.");
	advice_where(w);
	advice_set_ref(w, in->pass && in->pass->t->buffer_size_ref.file
			      ? &in->pass->t->buffer_size_ref
			      : (in->pass ? &in->pass->ref : NULL));
	uint64_t need = MAX(have * 2, (uint64_t)(r ? r->header_bytes : 0) + 1024);
	uint64_t k = 4;
	while (k * 1024 < need)
		k *= 2;
	strbuf_printf(
	    &w->fix, "In location %s:\n    %s_buffer_size %lluk;\n    %s_buffers 8 %lluk;\n",
	    in->pass && in->pass->location && in->pass->location[0] ? in->pass->location : "/", pfx,
	    (unsigned long long)k, pfx, (unsigned long long)k);
	if (streq(pfx, "proxy"))
		strbuf_printf(&w->fix, "    proxy_busy_buffers_size %lluk;\n",
			      (unsigned long long)k * 2);
}

/* A pool size that would have absorbed what was seen: the workers there are
 * plus the requests that waited — in the accept queue, or failed at once in
 * a burst: those nginx timed out on were the queued ones; those refused with
 * EAGAIN (11) found no room in the queue and come on top — at least double,
 * bounded by the memory available (an estimated 64 MiB a worker). */
static unsigned pool_size(const struct advice_in *in, unsigned have)
{
	unsigned queue = in->listener && in->listener->queue_known ? in->listener->queue : 0;
	queue = MAX(queue, in->queue_peak);
	unsigned waiting = in->err == 11 ? queue + in->burst_peak : MAX(queue, in->burst_peak);
	unsigned want = MAX(have + waiting, have * 2);
	if (in->mem_available_mb) {
		uint64_t cap = have + in->mem_available_mb / 64;
		if (want > cap)
			want = (unsigned)MAX(cap, (uint64_t)have + 1);
	}
	return want;
}

/* Refused with EAGAIN: the listen queue had no room either. Room for what
 * came at once (queued and refused), twice over, never less than double. */
static void queue_room(struct writer *w, const struct backend_info *sw)
{
	const struct advice_in *in = w->in;
	const struct host_listener *l = in->listener;
	unsigned have = l && l->queue_known && l->backlog ? l->backlog : 0;
	unsigned set;
	if (!have && sw->backlog.value && parse_uint(sw->backlog.value, 1u << 20, &set) == 0)
		have = set;
	if (!have || sw->kind != BACKEND_UWSGI)
		return; /* php-fpm's listen.backlog and gunicorn's --backlog default high */
	unsigned queue = MAX(in->queue_peak, l && l->queue_known ? l->queue : 0);
	unsigned want = MAX(2 * (queue + in->burst_peak), 2 * have);
	char at[400], v[32];
	snprintf(v, sizeof(v), "%u", want);
	strbuf_printf(&w->fix,
		      "and room in its listen queue at %s (now %u; the kernel caps it "
		      "at sysctl net.core.somaxconn):\n",
		      advice_sw_where(sw, &sw->backlog, at, sizeof(at)), have);
	advice_sw_setting_line(&w->fix, sw, "listen", v);
}

void advice_write_overloaded(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct host_listener *l = in->listener;
	strbuf_printf(&w->summary,
		      "%s is overloaded: every worker is busy and requests wait in its queue",
		      in->peer);
	if (in->err == 11)
		advice_observed_log(w,
				    "\"connect() failed (11: Resource temporarily unavailable)\"");
	else if (in->phase == PHASE_CONNECTING || in->phase == PHASE_NONE)
		advice_observed_log(w, "connect timeouts");
	else
		advice_observed_log(
		    w, "\"upstream timed out\" while the backend had connections waiting");
	if (l && l->queue_known && l->listening)
		strbuf_printf(&w->expl, " Its accept queue holds %u connection%s (limit %u).",
			      l->queue, l->queue == 1 ? "" : "s", l->backlog);
	if (in->queue_peak)
		strbuf_printf(&w->expl,
			      " Up to %u connection%s waited to be accepted while nginx timed out.",
			      in->queue_peak, in->queue_peak == 1 ? "" : "s");
	if (in->burst_peak > 1)
		strbuf_printf(&w->expl, " Up to %u requests to it failed within one second.",
			      in->burst_peak);
	advice_observed_probe(w);
	advice_observed_listener(w);
	advice_sw_observed(w);
	strbuf_printf(&w->expl,
		      " Inferred: the backend's workers are all busy, so new requests wait until "
		      "nginx gives up; a longer nginx timeout only makes them wait longer.");
	advice_where(w);
	const struct backend_info *sw = in->software;
	const char *name = sw ? advice_sw_workers_name(sw) : NULL;
	if (name) {
		char at[400], v[32];
		unsigned have = advice_sw_workers(sw);
		snprintf(v, sizeof(v), "%u", pool_size(in, have));
		strbuf_printf(&w->fix, "Give the backend more workers at %s (now %u%s):\n",
			      advice_sw_where(sw, &sw->workers, at, sizeof(at)), have,
			      sw->workers.value ? "" : ", the default");
		advice_sw_setting_line(&w->fix, sw, name, v);
		if (in->err == 11)
			queue_room(w, sw);
		strbuf_printf(&w->fix, "%s.\n", advice_sw_reload(sw));
		if (sw->kind == BACKEND_PHPFPM && sw->pm.value && streq(sw->pm.value, "ondemand"))
			strbuf_printf(&w->fix, "(pm = ondemand at %s:%u starts them as needed.)\n",
				      sw->pm.file ? sw->pm.file : "?", sw->pm.line);
		if (sw->workers.file)
			snprintf(w->ref, w->reflen, "%s:%u", sw->workers.file, sw->workers.line);
	} else {
		strbuf_printf(&w->fix,
			      "Give the backend more workers (php-fpm pm.max_children, gunicorn "
			      "--workers, uwsgi processes) and a longer queue (listen.backlog / "
			      "--backlog, sysctl net.core.somaxconn).\n");
	}
	advice_set_ref(w, advice_peer_ref(in));
	strbuf_printf(&w->fix,
		      "Limit what nginx sends it (in upstream %s):\n    server %s max_conns=%u;\n",
		      in->up ? in->up->name : "the block", in->peer ? in->peer : "ADDR",
		      sw ? advice_sw_workers(sw) * 2 : 100);
}
