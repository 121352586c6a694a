/* advice: summary, explanation and fix for each cause (see advice.h).
 *
 * Explanations read "Observed: ... Inferred: ...": the first part quotes the
 * log and the probe, the second says what upwatch concludes. Fixes name the
 * directive, its value computed from what was measured, and where it goes. */
#include "diagnose/advice.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/strbuf.h"
#include "core/util.h"

static void add(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Words grow as needed (the one string builder): what goes in is bounded
 * already (peer keys, details and paths are cut when they are read), so
 * nothing is cut here. */
static void add(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

struct writer {
	const struct advice_in *in;
	struct strbuf summary, expl, fix;
	char *ref;
	size_t reflen;
};

/* "file:line"; a diagnosis from the log alone has none, and says so in
 * words rather than printing an empty reference. */
static const char *ref(const struct ngx_ref *r, char *buf, size_t len)
{
	if (!r || !r->file) {
		snprintf(buf, len, "the nginx configuration (no file:line known)");
		return buf;
	}
	snprintf(buf, len, "%s:%u", r->file, r->line);
	return buf;
}

static void set_ref(struct writer *w, const struct ngx_ref *r)
{
	if (r && r->file && !w->ref[0])
		snprintf(w->ref, w->reflen, "%s:%u", r->file, r->line);
}

/* The directive that names the peer: its `server` line, else the *_pass. */
static const struct ngx_ref *peer_ref(const struct advice_in *in)
{
	if (in->server)
		return &in->server->ref;
	if (in->pass)
		return &in->pass->ref;
	return NULL;
}

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

static void where(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	if (in->up)
		add(&w->expl, " It is a peer of upstream %s (%s).", in->up->name,
		    ref(in->server ? &in->server->ref : &in->up->ref, b, sizeof(b)));
	if (in->pass)
		add(&w->expl, " nginx reaches it through %s %s in location %s%s%s (%s).",
		    in->pass->directive, in->pass->raw,
		    in->pass->location && in->pass->location[0] ? in->pass->location : "(server)",
		    in->pass->server_name && in->pass->server_name[0] ? " of server " : "",
		    in->pass->server_name ? in->pass->server_name : "",
		    ref(&in->pass->ref, b, sizeof(b)));
}

static void observed_log(struct writer *w, const char *what)
{
	const struct advice_in *in = w->in;
	char t[32];
	if (in->events == 0)
		return;
	format_time_ms(in->first_error_ms, t);
	add(&w->expl, "Observed: nginx logged %s %u time%s since %s.", what, in->events,
	    in->events == 1 ? "" : "s", t);
}

static void observed_probe(struct writer *w)
{
	const struct probe_result *r = w->in->probe;
	if (!r) {
		add(&w->expl, " Not probed yet.");
		return;
	}
	add(&w->expl, " The probe %s: %s%s%s (%u ms).",
	    r->result == PROBE_OK ? "succeeds now" : "fails", probe_result_name(r->result),
	    r->detail[0] ? ", " : "", r->detail, r->latency_ms);
}

static void observed_listener(struct writer *w)
{
	const struct host_listener *l = w->in->listener;
	if (!l)
		return;
	if (!l->listening) {
		add(&w->expl, " Nothing listens on %s.", w->in->peer);
		if (w->in->nnearby) {
			add(&w->expl, " On %s these ports do:", w->in->addr->host);
			for (size_t i = 0; i < w->in->nnearby; i++) {
				const char *what = w->in->nearby_what ? w->in->nearby_what[i] : "";
				add(&w->expl, "%s %u%s%s%s", i ? "," : "", w->in->nearby[i],
				    what[0] ? " (" : "", what, what[0] ? ")" : "");
			}
			if (w->in->nearby_more)
				add(&w->expl, " and %zu more", w->in->nearby_more);
			add(&w->expl, ".");
		}
		return;
	}
	if (l->pid)
		add(&w->expl, " It is served by %s (pid %d%s%s).", l->process, (int)l->pid,
		    l->unit[0] ? ", unit " : "", l->unit);
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

/* --- the backend's own configuration --- */

static bool sw_is(const struct advice_in *in, enum backend_kind k)
{
	return in->software && in->software->kind == k;
}

/* Where a backend setting lives: "file:line", the file it belongs in when it
 * is not set (the pool's, the ini's), or "its command line". */
static const char *sw_where(const struct backend_info *sw, const struct backend_setting *s,
			    char *buf, size_t len)
{
	if (s->value && s->file)
		snprintf(buf, len, "%s:%u", s->file, s->line);
	else if (s->value)
		snprintf(buf, len, "its command line");
	else if (sw->bind.file)
		snprintf(buf, len, "%s (not set there: add it next to line %u)", sw->bind.file,
			 sw->bind.line);
	else if (sw->config_file)
		snprintf(buf, len, "%s (not set: add it)", sw->config_file);
	else
		snprintf(buf, len, "its command line (not set: add it)");
	return buf;
}

/* "php-fpm pool www (listen = /run/php/x.sock at /etc/php/.../www.conf:36)" */
static void sw_name(struct strbuf *b, const struct backend_info *sw)
{
	char w[400];
	add(b, "%s", backend_kind_name(sw->kind));
	if (sw->section)
		add(b, " %s %s", sw->kind == BACKEND_PHPFPM ? "pool" : "section", sw->section);
	if (sw->bound && sw->bind.value)
		add(b, " (%s at %s)", sw->bind.value, sw_where(sw, &sw->bind, w, sizeof(w)));
	else if (sw->config_file)
		add(b, " (%s)", sw->config_file);
}

static void observed_software(struct writer *w)
{
	if (!w->in->software)
		return;
	add(&w->expl, " The backend is ");
	sw_name(&w->expl, w->in->software);
	add(&w->expl, ".");
}

/* The backend's worker count as a number, its software's default when unset. */
static unsigned sw_workers(const struct backend_info *sw)
{
	unsigned n;
	if (sw->workers.value && parse_uint(sw->workers.value, 1u << 20, &n) == 0 && n)
		return n;
	switch (sw->kind) {
	case BACKEND_PHPFPM:
		return 5; /* php-fpm's pm.max_children default */
	default:
		return 1; /* gunicorn --workers, uwsgi processes */
	}
}

static const char *sw_workers_name(const struct backend_info *sw)
{
	switch (sw->kind) {
	case BACKEND_PHPFPM:
		return "pm.max_children";
	case BACKEND_GUNICORN:
		return "--workers";
	case BACKEND_UWSGI:
		return "processes";
	default:
		return NULL;
	}
}

static const char *sw_timeout_name(const struct backend_info *sw)
{
	switch (sw->kind) {
	case BACKEND_PHPFPM:
		return "request_terminate_timeout";
	case BACKEND_GUNICORN:
		return "--timeout";
	case BACKEND_UWSGI:
		return "harakiri";
	default:
		return NULL;
	}
}

/* One setting as it is written in the software's own syntax. */
static void sw_setting_line(struct strbuf *b, const struct backend_info *sw, const char *name,
			    const char *value)
{
	if (sw->kind == BACKEND_GUNICORN && name[0] == '-') {
		if (sw->workers.file || sw->timeout.file || sw->bind.file)
			add(b, "    %s = %s\n", name[2] == 'w' ? "workers" : "timeout", value);
		else
			add(b, "    %s %s\n", name, value);
	} else {
		add(b, "    %s = %s\n", name, value);
	}
}

/* The seconds a backend timeout value stands for ("30", "30s", "1m"); 0 = none. */
static unsigned sw_seconds(const char *v)
{
	uint64_t ms;
	unsigned n;
	if (!v)
		return 0;
	if (parse_uint(v, 1u << 30, &n) == 0)
		return n;
	return parse_duration_ms(v, &ms) == 0 ? (unsigned)(ms / 1000) : 0;
}

static const char *sw_reload(const struct backend_info *sw)
{
	switch (sw->kind) {
	case BACKEND_PHPFPM:
		return "then reload php-fpm (systemctl reload php8.2-fpm, or kill -USR2 its "
		       "master)";
	case BACKEND_GUNICORN:
		return "then restart gunicorn (kill -HUP its master re-reads the config file)";
	case BACKEND_UWSGI:
		return "then reload uwsgi (kill -HUP its master)";
	default:
		return "then restart it";
	}
}

/* --- one writer per cause --- */

static void write_down(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	const struct host_listener *l = in->listener;
	add(&w->summary, "%s refuses connections: nothing accepts on it", in->peer);
	observed_log(w, "\"connect() failed (111: Connection refused)\"");
	observed_probe(w);
	observed_listener(w);
	add(&w->expl,
	    " Inferred: the backend is not running, or listens on another port or address.");
	where(w);
	set_ref(w, peer_ref(in));
	if (l && l->unit[0] && l->unit_known && !streq(l->active_state, "active"))
		add(&w->fix, "systemctl restart %s   # it is %s/%s\n", l->unit, l->active_state,
		    l->sub_state);
	else
		add(&w->fix, "Start the service that should listen on %s and check its log.\n",
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
		add(&w->fix, "The same %s now listens on port %u; point nginx there (%s):\n",
		    backend_kind_name(in->software->kind), near, ref(peer_ref(in), b, sizeof(b)));
		if (in->server)
			add(&w->fix, "    server %s;\n", target);
		else if (in->pass)
			add(&w->fix, "    %s %s%s%s;\n", in->pass->directive,
			    in->pass->proto == NGX_PROTO_HTTPS	? "https://"
			    : in->pass->proto == NGX_PROTO_HTTP ? "http://"
								: "",
			    target, in->pass->uri ? in->pass->uri : "");
	} else if (in->nnearby) {
		add(&w->fix,
		    "Other ports listen on %s, but none is known to be this backend: do not "
		    "point nginx at one without checking what it serves.\n",
		    in->addr ? in->addr->host : "this host");
	}
	if (!near && peer_ref(in))
		add(&w->fix,
		    "If the backend is meant to listen elsewhere, correct the address at %s and "
		    "reload nginx (nginx -t first).\n",
		    ref(peer_ref(in), b, sizeof(b)));
}

static void write_restarted(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct host_listener *l = in->listener;
	char t[32], s[32];
	format_time_ms(in->first_error_ms, t);
	format_time_ms(l ? l->started_ms : 0, s);
	add(&w->summary, "%s restarted: nginx failed requests while it was down", in->peer);
	add(&w->expl, "Observed: nginx logged connection errors to %s from %s", in->peer, t);
	if (in->err && errno_text(in->err))
		add(&w->expl, " (last: %s)", errno_text(in->err));
	add(&w->expl, "; its listener");
	if (l && l->pid)
		add(&w->expl, " %s (pid %d)", l->process, (int)l->pid);
	add(&w->expl, " started at %s, after those errors, and the probe succeeds now.", s);
	if (in->window)
		add(&w->expl, " The outage: %s.", in->window);
	add(&w->expl, " Inferred: the backend restarted (crash, deploy or kill) and nginx answered "
		      "502 while it was away.");
	where(w);
	set_ref(w, peer_ref(in));
	if (l && l->unit[0])
		add(&w->fix, "Find out why it restarted: journalctl -u %s --since '%.19s'%s\n",
		    l->unit, t, l->unit_known ? "" : "");
	else
		add(&w->fix,
		    "Find out why it restarted: check the backend's own log around %.19s.\n", t);
	if (l && l->unit_known && l->nrestarts)
		add(&w->fix, "systemd restarted %s %u times so far.\n", l->unit, l->nrestarts);
	add(&w->fix,
	    "To keep restarts away from users, give upstream %s a second peer and retry "
	    "on errors:\n    %s_next_upstream error timeout;\n",
	    in->up ? in->up->name : "the block", module_prefix(in));
}

static void write_unreachable(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300], to[32];
	add(&w->summary, "%s does not answer connection attempts", in->peer);
	if (in->phase == PHASE_CONNECTING && in->err == 110 && in->pass) {
		format_ms(in->pass->t.connect_ms, to, sizeof(to));
		observed_log(w,
			     "\"upstream timed out (110: Connection timed out) while connecting\"");
		add(&w->expl, " nginx gave up after %s_connect_timeout %s.", module_prefix(in), to);
	} else if (in->err && errno_text(in->err)) {
		char what[96];
		snprintf(what, sizeof(what), "\"connect() failed (%s)\"", errno_text(in->err));
		observed_log(w, what);
	} else {
		observed_log(w, "connect failures");
	}
	observed_probe(w);
	add(&w->expl,
	    " Inferred: packets to %s are dropped or cannot be routed: a firewall, a host "
	    "that is down, or a wrong address.",
	    in->peer);
	where(w);
	set_ref(w, peer_ref(in));
	if (in->addr && in->addr->kind != PEERKEY_UNIX)
		add(&w->fix,
		    "Check the path to the backend: ip route get %s; and the firewall on both "
		    "hosts.\n",
		    in->addr->host);
	add(&w->fix, "If the address is wrong, correct it at %s.\n",
	    ref(peer_ref(in), b, sizeof(b)));
	add(&w->fix, "Fail faster meanwhile:\n    %s_connect_timeout 5s;\n", module_prefix(in));
}

static void write_slow(struct writer *w)
{
	const struct advice_in *in = w->in;
	const char *pfx = module_prefix(in);
	bool sending = in->phase == PHASE_SENDING_REQUEST;
	const char *dir = sending ? "send" : "read";
	uint64_t limit = in->pass ? (sending ? in->pass->t.send_ms : in->pass->t.read_ms) : 60000;
	const struct ngx_ref *lref =
	    in->pass ? (sending ? &in->pass->t.send_ref : &in->pass->t.read_ref) : NULL;
	char lim[32], b[300], b2[300];
	format_ms(limit, lim, sizeof(lim));

	add(&w->summary, "%s is too slow: no %s within %s_%s_timeout %s", in->peer,
	    sending ? "progress sending the request" : "response header", pfx, dir, lim);
	observed_log(w, sending ? "\"upstream timed out ... while sending request\""
				: "\"upstream timed out\" (110: Connection timed out)");
	add(&w->expl, " The effective %s_%s_timeout is %s (%s).", pfx, dir, lim,
	    lref && lref->file ? ref(lref, b, sizeof(b)) : "nginx's default");
	const struct probe_result *r = in->probe;
	if (r && r->ttfb_ms)
		add(&w->expl, " The probe measured %u ms to the first byte.", r->ttfb_ms);
	else
		observed_probe(w);
	add(&w->expl, " Inferred: the application takes longer than nginx waits (slow queries, a "
		      "blocked or exhausted worker pool).");
	where(w);
	set_ref(w, lref && lref->file ? lref : (in->pass ? &in->pass->ref : peer_ref(in)));

	/* the new timeout: measured time with headroom, at least twice the old one */
	uint64_t want = limit * 2;
	if (r && r->ttfb_ms && (uint64_t)r->ttfb_ms * 3 / 2 > want)
		want = (uint64_t)r->ttfb_ms * 3 / 2;
	want = (want + 999) / 1000;
	add(&w->fix,
	    "If such responses are expected, wait longer in location %s (%s):\n"
	    "    %s_%s_timeout %llus;\n",
	    in->pass && in->pass->location && in->pass->location[0] ? in->pass->location : "/",
	    ref(in->pass ? &in->pass->ref : NULL, b2, sizeof(b2)), pfx, dir,
	    (unsigned long long)want);
	if (!(r && r->ttfb_ms))
		add(&w->fix,
		    "(%llus is twice nginx's limit, not a measurement: nothing measured how long "
		    "these responses take. Time one first and choose above it:\n"
		    "    curl -o /dev/null -s -w '%%{time_starttransfer}\\n' URL)\n",
		    (unsigned long long)want);
	const struct backend_info *sw = in->software;
	const char *tname = sw ? sw_timeout_name(sw) : NULL;
	unsigned own = sw ? sw_seconds(sw->timeout.value) : 0;
	if (tname && own && own < want) {
		char at[400], v[32];
		snprintf(v, sizeof(v), "%llu", (unsigned long long)want + 5);
		add(&w->fix,
		    "%s kills requests itself after %s = %s (%s): raise it above nginx's, or it "
		    "cuts them first:\n",
		    backend_kind_name(sw->kind), tname, sw->timeout.value,
		    sw_where(sw, &sw->timeout, at, sizeof(at)));
		sw_setting_line(&w->fix, sw, tname, v);
	}
	add(&w->fix, "Otherwise find what blocks the backend (slow log, worker pool size).\n");
}

/* nginx speaks one protocol and the software's configuration says its socket
 * speaks another: the "reset" is the backend refusing nginx's bytes. */
static bool wrong_protocol(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct backend_info *sw = in->software;
	if (!sw || !sw->bound || !in->pass || sw->proto == BACKEND_PROTO_UNKNOWN)
		return false;
	enum ngx_proto want;
	const char *directive;
	switch (sw->proto) {
	case BACKEND_PROTO_FASTCGI:
		want = NGX_PROTO_FASTCGI;
		directive = "fastcgi_pass";
		break;
	case BACKEND_PROTO_UWSGI:
		want = NGX_PROTO_UWSGI;
		directive = "uwsgi_pass";
		break;
	case BACKEND_PROTO_HTTP:
		want = NGX_PROTO_HTTP;
		directive = "proxy_pass";
		break;
	default:
		return false;
	}
	if (in->pass->proto == want ||
	    (want == NGX_PROTO_HTTP && in->pass->proto == NGX_PROTO_HTTPS))
		return false;
	char b[300], at[400];
	observed_software(w);
	add(&w->expl,
	    " Inferred: this port speaks %s (%s at %s) and nginx sends it %s with %s: the "
	    "backend drops what it cannot parse.",
	    backend_proto_name(sw->proto), sw->bind.value ? sw->bind.value : "its socket",
	    sw_where(sw, &sw->bind, at, sizeof(at)), module_prefix(in), in->pass->directive);
	where(w);
	set_ref(w, &in->pass->ref);
	add(&w->fix, "This port speaks %s: use %s at %s:\n", backend_proto_name(sw->proto),
	    directive, ref(&in->pass->ref, b, sizeof(b)));
	if (want == NGX_PROTO_UWSGI)
		add(&w->fix, "    include uwsgi_params;\n    uwsgi_pass %s;\n", in->peer);
	else if (want == NGX_PROTO_FASTCGI)
		add(&w->fix, "    include fastcgi_params;\n    fastcgi_pass %s;\n", in->peer);
	else
		add(&w->fix, "    proxy_pass http://%s;\n", in->peer);
	if (sw->kind == BACKEND_UWSGI && want == NGX_PROTO_UWSGI)
		add(&w->fix,
		    "(or make uwsgi speak HTTP there: http-socket instead of socket at "
		    "%s)\n",
		    at);
	return true;
}

static void write_reset(struct writer *w)
{
	const struct advice_in *in = w->in;
	add(&w->summary, "%s closes or resets connections in the middle of a request", in->peer);
	if (in->err && errno_text(in->err)) {
		char what[96];
		snprintf(what, sizeof(what), "\"recv() failed (%s)\"", errno_text(in->err));
		observed_log(w, what);
	} else {
		observed_log(w, "\"upstream prematurely closed connection\"");
	}
	observed_probe(w);
	const struct backend_info *sw = in->software;
	if (wrong_protocol(w))
		return;
	observed_software(w);
	add(&w->expl,
	    " Inferred: the backend process handling the request died or was killed "
	    "(crash, OOM, a request time limit), or it closed a keepalive connection nginx "
	    "was reusing.");
	where(w);
	set_ref(w, peer_ref(in));
	add(&w->fix, "Look in the backend's log for crashes or killed workers at those times.\n");
	const char *tname = sw ? sw_timeout_name(sw) : NULL;
	if (tname && sw->timeout.value) {
		char at[400];
		add(&w->fix,
		    "%s kills a request after %s = %s (%s): if the killed requests are "
		    "expected to take longer, raise it there.\n",
		    backend_kind_name(sw->kind), tname, sw->timeout.value,
		    sw_where(sw, &sw->timeout, at, sizeof(at)));
	} else if (tname && sw->kind == BACKEND_GUNICORN) {
		add(&w->fix, "gunicorn kills a worker silent for --timeout (30 s by default): look "
			     "for WORKER TIMEOUT in its log.\n");
	}
	add(&w->fix,
	    "If the backend closes idle keepalive connections first, keep nginx's shorter "
	    "(in upstream %s):\n    keepalive_timeout 30s;\n",
	    in->up ? in->up->name : "the block");
}

static void write_invalid(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	add(&w->summary, "%s answers with something that is not valid HTTP", in->peer);
	observed_log(w, "invalid responses");
	if (in->detail && in->detail[0])
		add(&w->expl, " Last: %s.", in->detail);
	observed_probe(w);
	if (wrong_protocol(w))
		return;
	add(&w->expl, " Inferred: another protocol listens on that port (a wrong port, or a "
		      "FastCGI/uwsgi/TLS server behind proxy_pass http://), or the application "
		      "writes broken headers.");
	where(w);
	set_ref(w, in->pass ? &in->pass->ref : peer_ref(in));
	add(&w->fix, "Check what answers: curl -sv http://%s/ \n", in->peer ? in->peer : "");
	add(&w->fix,
	    "If it is php-fpm or uwsgi, use fastcgi_pass or uwsgi_pass at %s; if it "
	    "speaks TLS, use https://; otherwise correct the port.\n",
	    ref(in->pass ? &in->pass->ref : peer_ref(in), b, sizeof(b)));
}

static void write_too_big(struct writer *w)
{
	const struct advice_in *in = w->in;
	const char *pfx = module_prefix(in);
	uint64_t have = in->pass ? in->pass->t.buffer_size : 4096;
	char b[300];
	add(&w->summary, "%s sends response headers larger than %s_buffer_size (%lluk)", in->peer,
	    pfx, (unsigned long long)(have / 1024));
	observed_log(w, "\"upstream sent too big header\"");
	const struct probe_result *r = in->probe;
	if (r && r->header_bytes)
		add(&w->expl, " The probe received %u bytes of headers.", r->header_bytes);
	add(&w->expl, " The effective %s_buffer_size is %llu bytes (%s).", pfx,
	    (unsigned long long)have,
	    in->pass && in->pass->t.buffer_size_ref.file
		? ref(&in->pass->t.buffer_size_ref, b, sizeof(b))
		: "default");
	add(&w->expl,
	    " Inferred: big Set-Cookie or token headers do not fit nginx's header buffer.");
	where(w);
	set_ref(w, in->pass && in->pass->t.buffer_size_ref.file
		       ? &in->pass->t.buffer_size_ref
		       : (in->pass ? &in->pass->ref : NULL));
	uint64_t need = MAX(have * 2, (uint64_t)(r ? r->header_bytes : 0) + 1024);
	uint64_t k = 4;
	while (k * 1024 < need)
		k *= 2;
	add(&w->fix, "In location %s:\n    %s_buffer_size %lluk;\n    %s_buffers 8 %lluk;\n",
	    in->pass && in->pass->location && in->pass->location[0] ? in->pass->location : "/", pfx,
	    (unsigned long long)k, pfx, (unsigned long long)k);
	if (streq(pfx, "proxy"))
		add(&w->fix, "    proxy_busy_buffers_size %lluk;\n", (unsigned long long)k * 2);
}

static const char *worker_user(const struct advice_in *in)
{
	return in->model && in->model->user ? in->model->user : "nobody";
}

static const char *sock_path(const struct advice_in *in)
{
	return in->addr && in->addr->kind == PEERKEY_UNIX ? in->addr->host
							  : (in->peer ? in->peer : "");
}

static void write_missing(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	bool not_sock = in->probe && in->probe->result == PROBE_NOT_SOCKET;
	add(&w->summary, "unix socket %s %s", sock_path(in),
	    not_sock ? "is not a socket" : "does not exist");
	observed_log(w, "\"connect() failed (2: No such file or directory)\"");
	observed_probe(w);
	add(&w->expl, " Inferred: the backend that should create the socket is not running, or it "
		      "listens on another path.");
	where(w);
	set_ref(w, peer_ref(in));
	add(&w->fix,
	    "Start the backend that creates %s (e.g. systemctl start php8.2-fpm), or "
	    "correct the path at %s.\n",
	    sock_path(in), ref(peer_ref(in), b, sizeof(b)));
	add(&w->fix, "Sockets under /run vanish at reboot: let the service create its directory "
		     "(RuntimeDirectory= in its unit).\n");
}

static void write_permission(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct probe_result *r = in->probe;
	const char *user = worker_user(in);
	const char *group = in->model && in->model->group ? in->model->group : user;
	add(&w->summary, "nginx worker user %s may not connect to unix socket %s", user,
	    sock_path(in));
	observed_log(w, "\"connect() failed (13: Permission denied)\"");
	if (r && r->unix_checked)
		add(&w->expl, " The socket is %s:%s %04o.", r->sock_owner, r->sock_group,
		    (unsigned)(r->sock_mode & 07777));
	if (r && r->denied_path[0])
		add(&w->expl, " Denied at %s: %s.", r->denied_path, r->denied_why);
	else
		observed_probe(w);
	add(&w->expl,
	    " Inferred: nginx workers run as %s%s and the socket's owner, group or mode "
	    "(or a directory above it) shuts them out.",
	    user,
	    in->model && in->model->user_default ? " (nginx's default: no user directive)" : "");
	where(w);
	set_ref(w, peer_ref(in));
	bool dir_denied = r && r->denied_path[0] && !streq(r->denied_path, sock_path(in));
	if (dir_denied) {
		add(&w->fix,
		    "Let %s through the directory:\n    chmod o+x %s\n"
		    "or give it the directory's group and g+x.\n",
		    user, r->denied_path);
	} else if (sw_is(in, BACKEND_PHPFPM) && in->software->bound) {
		const struct backend_info *sw = in->software;
		char o[400], g[400], m[400];
		add(&w->fix,
		    "In php-fpm pool %s (the socket's listen line is %s:%u):\n"
		    "    listen.owner = %s   ; %s\n    listen.group = %s   ; %s\n"
		    "    listen.mode = 0660   ; %s\n%s.\n",
		    sw->section ? sw->section : "?", sw->bind.file ? sw->bind.file : "?",
		    sw->bind.line, user, sw_where(sw, &sw->owner, o, sizeof(o)), group,
		    sw_where(sw, &sw->group, g, sizeof(g)), sw_where(sw, &sw->mode, m, sizeof(m)),
		    sw_reload(sw));
	} else if (strstr(sock_path(in), "php") || strstr(sock_path(in), "fpm")) {
		add(&w->fix,
		    "In the php-fpm pool (e.g. /etc/php/8.2/fpm/pool.d/www.conf):\n"
		    "    listen.owner = %s\n    listen.group = %s\n    listen.mode = 0660\n"
		    "then: systemctl reload php8.2-fpm\n",
		    user, group);
	} else {
		add(&w->fix,
		    "Make the socket writable by %s, where the backend creates it:\n"
		    "    chown %s:%s %s && chmod 0660 %s\n"
		    "(gunicorn: --user/--group or --umask 007; systemd socket units: "
		    "SocketUser=/SocketGroup=/SocketMode=0660).\n",
		    user, r && r->sock_owner[0] ? r->sock_owner : "APP", group, sock_path(in),
		    sock_path(in));
	}
}

static void write_stale(struct writer *w)
{
	const struct advice_in *in = w->in;
	add(&w->summary, "unix socket %s exists but nobody accepts on it (stale)", sock_path(in));
	observed_log(w, "\"connect() failed (111: Connection refused)\"");
	observed_probe(w);
	add(&w->expl, " Inferred: the process that created the socket has exited and left the file "
		      "behind.");
	where(w);
	set_ref(w, peer_ref(in));
	add(&w->fix,
	    "Restart the backend so that it binds the socket again; if it refuses to start "
	    "because the file exists, remove it first:\n    rm %s\n",
	    sock_path(in));
}

/* A pool size that would have absorbed what was seen: at least the current
 * size plus what waited in the accept queue, at least double, bounded by the
 * memory available (an estimated 64 MiB a worker). */
static unsigned pool_size(const struct advice_in *in, unsigned have)
{
	unsigned queue = in->listener && in->listener->queue_known ? in->listener->queue : 0;
	queue = MAX(queue, in->queue_peak);
	unsigned want = MAX(have + queue, have * 2);
	if (in->mem_available_mb) {
		uint64_t cap = have + in->mem_available_mb / 64;
		if (want > cap)
			want = (unsigned)MAX(cap, (uint64_t)have + 1);
	}
	return want;
}

static void write_overloaded(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct host_listener *l = in->listener;
	add(&w->summary, "%s is overloaded: every worker is busy and requests wait in its queue",
	    in->peer);
	if (in->err == 11)
		observed_log(w, "\"connect() failed (11: Resource temporarily unavailable)\"");
	else if (in->phase == PHASE_CONNECTING || in->phase == PHASE_NONE)
		observed_log(w, "connect timeouts");
	else
		observed_log(w, "\"upstream timed out\" while the backend had connections waiting");
	if (l && l->queue_known && l->listening)
		add(&w->expl, " Its accept queue holds %u connection%s (limit %u).", l->queue,
		    l->queue == 1 ? "" : "s", l->backlog);
	if (in->queue_peak)
		add(&w->expl, " Up to %u connection%s waited to be accepted while nginx timed out.",
		    in->queue_peak, in->queue_peak == 1 ? "" : "s");
	observed_probe(w);
	observed_listener(w);
	observed_software(w);
	add(&w->expl, " Inferred: the backend's workers are all busy, so new requests wait until "
		      "nginx gives up; a longer nginx timeout only makes them wait longer.");
	where(w);
	const struct backend_info *sw = in->software;
	const char *name = sw ? sw_workers_name(sw) : NULL;
	if (name) {
		char at[400], v[32];
		unsigned have = sw_workers(sw);
		snprintf(v, sizeof(v), "%u", pool_size(in, have));
		add(&w->fix, "Give the backend more workers at %s (now %u%s):\n",
		    sw_where(sw, &sw->workers, at, sizeof(at)), have,
		    sw->workers.value ? "" : ", the default");
		sw_setting_line(&w->fix, sw, name, v);
		add(&w->fix, "%s.\n", sw_reload(sw));
		if (sw->kind == BACKEND_PHPFPM && sw->pm.value && streq(sw->pm.value, "ondemand"))
			add(&w->fix, "(pm = ondemand at %s:%u starts them as needed.)\n",
			    sw->pm.file ? sw->pm.file : "?", sw->pm.line);
		if (sw->workers.file)
			snprintf(w->ref, w->reflen, "%s:%u", sw->workers.file, sw->workers.line);
	} else {
		add(&w->fix, "Give the backend more workers (php-fpm pm.max_children, gunicorn "
			     "--workers, uwsgi processes) and a longer queue (listen.backlog / "
			     "--backlog, sysctl net.core.somaxconn).\n");
	}
	set_ref(w, peer_ref(in));
	add(&w->fix, "Limit what nginx sends it (in upstream %s):\n    server %s max_conns=%u;\n",
	    in->up ? in->up->name : "the block", in->peer ? in->peer : "ADDR",
	    sw ? sw_workers(sw) * 2 : 100);
}

static const char *nameserver(const struct advice_in *in)
{
	return in->nameserver && in->nameserver[0] ? in->nameserver : "NAMESERVER";
}

static void resolver_line(struct writer *w)
{
	add(&w->fix, "    resolver %s valid=30s;%s\n", nameserver(w->in),
	    w->in->nameserver && w->in->nameserver[0]
		? "   # the first nameserver of /etc/resolv.conf"
		: "   # one of /etc/resolv.conf");
}

/* "name:port" as nginx names the peer, the port kept. */
static const char *name_port(const struct advice_in *in, char *buf, size_t len)
{
	if (in->addr && in->addr->kind == PEERKEY_HOST && in->addr->port)
		snprintf(buf, len, "%s:%u", in->addr->host, in->addr->port);
	else
		snprintf(buf, len, "%s", in->peer ? in->peer : "NAME:PORT");
	return buf;
}

static void write_dns(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300], np[300];
	const char *name = in->addr && in->addr->kind == PEERKEY_HOST ? in->addr->host : in->peer;
	add(&w->summary, "nginx cannot resolve %s", name ? name : "a host name");
	observed_log(w, in->host_not_found ? "\"host not found in upstream\""
					   : "name resolution errors");
	if (in->detail && in->detail[0])
		add(&w->expl, " Last: %s.", in->detail);
	observed_probe(w);
	where(w);
	const struct ngx_ref *rr =
	    in->pass && in->pass->t.resolver_ref.file ? &in->pass->t.resolver_ref : NULL;
	set_ref(w, in->host_not_found ? peer_ref(in)
				      : (rr ? rr : (in->pass ? &in->pass->ref : peer_ref(in))));
	if (in->host_not_found) {
		/* nginx resolves names of `server` lines and literal passes when it
		 * loads the configuration: a name that does not resolve refuses it */
		add(&w->expl,
		    " Inferred: nginx resolves this name when it loads its configuration, and the "
		    "name does not resolve, so nginx refused the configuration: a reload failed "
		    "and nginx still runs the previous configuration (the next restart will fail "
		    "to start nginx at all).");
		add(&w->fix,
		    "Fix the name, or write an address instead, at %s; then check before "
		    "reloading:\n    nginx -t && nginx -s reload\n",
		    ref(peer_ref(in), b, sizeof(b)));
		add(&w->fix, "Check the name: getent hosts %s\n", name ? name : "");
		return;
	}
	if (in->no_resolver || (in->pass && in->pass->dynamic && !in->pass->t.resolver)) {
		add(&w->expl, " Inferred: the *_pass holds a variable, so nginx resolves the name "
			      "at request time, and it has no resolver to ask.");
		add(&w->fix, "Give nginx a resolver, in the http or server block (%s):\n",
		    ref(in->pass ? &in->pass->ref : peer_ref(in), b, sizeof(b)));
		resolver_line(w);
		add(&w->fix, "Check the name: getent hosts %s\n", name ? name : "");
		return;
	}
	add(&w->expl, " Inferred: the name does not exist, or the resolver nginx uses does not "
		      "answer for it.");
	add(&w->fix, "Check the name: getent hosts %s\n", name ? name : "");
	if (in->pass && in->pass->t.resolver)
		add(&w->fix, "and what nginx's resolver (%s) answers: dig @%s %s\n",
		    ref(&in->pass->t.resolver_ref, b, sizeof(b)), in->pass->t.resolver,
		    name ? name : "");
	(void)np;
}

static void write_tls(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct probe_result *r = in->probe;
	const char *why = r && r->tls_error[0] ? r->tls_error : (in->detail ? in->detail : "");
	char b[300];
	add(&w->summary, "TLS to %s fails%s%s", in->peer, why[0] ? ": " : "", why);
	observed_log(w, "TLS errors");
	if (in->detail && in->detail[0])
		add(&w->expl, " Last: %s.", in->detail);
	observed_probe(w);
	if (r && r->cert_subject[0])
		add(&w->expl, " Certificate: subject %s, issuer %s.", r->cert_subject,
		    r->cert_issuer);
	if (r && r->cert_not_after) {
		char t[32];
		format_time_ms(r->cert_not_after * 1000, t);
		add(&w->expl, " It expires%s %s.",
		    r->cert_not_after * 1000 < now_wall_ms() ? "d" : "", t);
	}
	add(&w->expl, " Inferred: nginx and the backend do not agree on TLS.");
	where(w);
	set_ref(w, in->pass ? &in->pass->ref : peer_ref(in));
	const char *at = ref(in->pass ? &in->pass->ref : peer_ref(in), b, sizeof(b));
	if (strstr(why, "expired"))
		add(&w->fix, "Renew the backend's certificate; it has expired.\n");
	else if (strstr(why, "self") || strstr(why, "issuer") || strstr(why, "unable to get"))
		add(&w->fix,
		    "Trust the backend's CA in location %s (%s):\n"
		    "    proxy_ssl_trusted_certificate /etc/nginx/backend-ca.pem;\n"
		    "    proxy_ssl_verify on;\n",
		    in->pass && in->pass->location ? in->pass->location : "/", at);
	else if (strstr(why, "match") || strstr(why, "name"))
		add(&w->fix,
		    "Verify the name the certificate carries (%s):\n"
		    "    proxy_ssl_name CERT_NAME;\n    proxy_ssl_server_name on;\n",
		    at);
	else if (strstr(why, "wrong version"))
		add(&w->fix, "The backend speaks plain HTTP: use http:// in %s.\n", at);
	else
		add(&w->fix,
		    "Send SNI and check the protocols (%s):\n    proxy_ssl_server_name on;\n"
		    "    proxy_ssl_protocols TLSv1.2 TLSv1.3;\n",
		    at);
}

static void write_no_live(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	const char *name = in->up ? in->up->name : "?";
	add(&w->summary, "upstream %s has no live peers: nginx answers 502 without trying", name);
	observed_log(w, "\"no live upstreams\"");
	if (in->block_states)
		add(&w->expl, " %s.", in->block_states);
	add(&w->expl, " Inferred: every peer is down, or nginx marked them failed after max_fails "
		      "errors and will not retry them until fail_timeout passes.");
	if (in->up)
		add(&w->expl, " The block is at %s.", ref(&in->up->ref, b, sizeof(b)));
	set_ref(w, in->up ? &in->up->ref : NULL);
	add(&w->fix, "Bring the failing peers back (see their own alerts).\n");
	for (size_t i = 0; in->up && i < in->up->nservers; i++) {
		const struct ngx_server *s = &in->up->servers[i];
		if (s->max_fails == 1 && s->fail_timeout_ms >= 30000)
			add(&w->fix,
			    "One error takes %s out for %llus; tolerate a few (%s):\n"
			    "    server %s max_fails=3 fail_timeout=10s;\n",
			    s->addr, (unsigned long long)(s->fail_timeout_ms / 1000),
			    ref(&s->ref, b, sizeof(b)), s->addr);
	}
}

static void write_worker_connections(struct writer *w)
{
	const struct advice_in *in = w->in;
	unsigned have =
	    in->model && in->model->worker_connections ? in->model->worker_connections : 512;
	add(&w->summary, "nginx ran out of worker connections (worker_connections %u)", have);
	observed_log(w, "\"worker_connections are not enough\" or \"Too many open files\"");
	add(&w->expl,
	    " Inferred: each worker holds a client and an upstream connection per request; "
	    "the limit is reached under this load or with slow upstreams.");
	if (in->model)
		set_ref(w, &in->model->worker_connections_ref);
	add(&w->fix,
	    "In the events block:\n    worker_connections %u;\nand at the top level:\n"
	    "    worker_rlimit_nofile %u;\n",
	    have * 2, have * 4);
}

static void write_peer_failing(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct probe_result *r = in->probe;
	add(&w->summary, "%s fails its probe (%s): nginx has not hit it %s", in->peer,
	    r ? probe_result_name(r->result) : "?", in->last_error_ms ? "lately" : "yet");
	if (in->last_error_ms) {
		char t[32];
		format_time_ms(in->last_error_ms, t);
		add(&w->expl, "Observed: nginx's last error for %s was at %s.", in->peer, t);
	} else {
		add(&w->expl, "Observed: nginx has logged no error for %s yet.", in->peer);
	}
	observed_probe(w);
	observed_listener(w);
	add(&w->expl, " Inferred: requests nginx sends to this peer will fail%s%s.",
	    in->implied != CAUSE_NONE ? " with " : "",
	    in->implied != CAUSE_NONE ? cause_name(in->implied) : "");
	where(w);
	set_ref(w, peer_ref(in));
}

static void write_local_ports(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	add(&w->summary, "nginx cannot open more connections to %s: no free local port",
	    in->peer ? in->peer : "its upstreams");
	observed_log(w, "\"connect() failed (99: Cannot assign requested address)\"");
	if (in->conns_known)
		add(&w->expl,
		    " This host has %u connections to %s in TIME_WAIT and %u established.",
		    in->time_wait, in->peer ? in->peer : "the peer", in->established);
	add(&w->expl, " Inferred: nginx opens a new connection per request and the closed ones "
		      "wait in TIME_WAIT, so the ephemeral ports run out (or nginx asked for a "
		      "local address this host does not have, e.g. [::1] without IPv6).");
	where(w);
	set_ref(w, in->pass ? &in->pass->ref : peer_ref(in));
	if (in->up)
		add(&w->fix, "Reuse connections: in upstream %s (%s):\n    keepalive 32;\n",
		    in->up->name, ref(&in->up->ref, b, sizeof(b)));
	else
		add(&w->fix,
		    "Reuse connections: put %s in an upstream block with:\n"
		    "    keepalive 32;\n",
		    in->peer ? in->peer : "the peer");
	if (!in->pass || in->pass->proto == NGX_PROTO_HTTP || in->pass->proto == NGX_PROTO_HTTPS)
		add(&w->fix,
		    "and in location %s (%s):\n    proxy_http_version 1.1;\n"
		    "    proxy_set_header Connection \"\";\n",
		    in->pass && in->pass->location && in->pass->location[0] ? in->pass->location
									    : "/",
		    ref(in->pass ? &in->pass->ref : NULL, b, sizeof(b)));
	add(&w->fix, "Widen the port range meanwhile:\n"
		     "    sysctl -w net.ipv4.ip_local_port_range=\"15000 64999\"\n");
}

static void write_dns_stale(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300], np[300];
	const char *name = in->addr && in->addr->kind == PEERKEY_HOST ? in->addr->host : in->peer;
	add(&w->summary, "nginx connects to an old address of %s", name ? name : "a host name");
	observed_log(w, "failures on the address resolved at start-up");
	observed_probe(w);
	add(&w->expl, " Inferred: nginx resolved the name once, at start-up or reload, and the "
		      "name now points elsewhere.");
	where(w);
	set_ref(w, in->pass ? &in->pass->ref : peer_ref(in));
	add(&w->fix, "Resolve again now:\n    nginx -t && nginx -s reload\n");
	name_port(in, np, sizeof(np));
	if (in->server && in->up) {
		add(&w->fix,
		    "To follow the name from now on (nginx >= 1.27.3), in upstream %s (%s):\n"
		    "    zone %s 64k;\n    server %s resolve;\nand in the http block:\n",
		    in->up->name, ref(&in->server->ref, b, sizeof(b)), in->up->name, np);
		resolver_line(w);
	} else if (in->pass) {
		add(&w->fix, "To follow the name from now on, in location %s (%s):\n",
		    in->pass->location && in->pass->location[0] ? in->pass->location : "/",
		    ref(&in->pass->ref, b, sizeof(b)));
		resolver_line(w);
		add(&w->fix, "    set $backend \"%s\";\n    %s %s://$backend;\n", np,
		    in->pass->directive, in->pass->scheme ? in->pass->scheme : "http");
	}
}

typedef void (*writer_fn)(struct writer *w);

static const writer_fn writers[CAUSE__COUNT] = {
    [CAUSE_BACKEND_DOWN] = write_down,
    [CAUSE_BACKEND_RESTARTED] = write_restarted,
    [CAUSE_BACKEND_UNREACHABLE] = write_unreachable,
    [CAUSE_BACKEND_SLOW] = write_slow,
    [CAUSE_BACKEND_RESET] = write_reset,
    [CAUSE_INVALID_RESPONSE] = write_invalid,
    [CAUSE_HEADER_TOO_BIG] = write_too_big,
    [CAUSE_SOCKET_MISSING] = write_missing,
    [CAUSE_SOCKET_PERMISSION] = write_permission,
    [CAUSE_SOCKET_STALE] = write_stale,
    [CAUSE_BACKEND_OVERLOADED] = write_overloaded,
    [CAUSE_DNS_FAILURE] = write_dns,
    [CAUSE_TLS_FAILURE] = write_tls,
    [CAUSE_NO_LIVE_UPSTREAMS] = write_no_live,
    [CAUSE_WORKER_CONNECTIONS_EXHAUSTED] = write_worker_connections,
    [CAUSE_PEER_FAILING] = write_peer_failing,
    [CAUSE_LOCAL_PORTS_EXHAUSTED] = write_local_ports,
    [CAUSE_DNS_STALE] = write_dns_stale,
};

static char *take(struct strbuf *b)
{
	return strbuf_steal(b);
}

void advice_write(const struct advice_in *in, struct advice *out)
{
	struct writer w = {
	    .in = in,
	    .ref = out->config_ref,
	    .reflen = sizeof(out->config_ref),
	};
	out->config_ref[0] = '\0';
	if ((unsigned)in->cause < CAUSE__COUNT && writers[in->cause])
		writers[in->cause](&w);
	/* every primary of the block fails and a backup serves: degraded, not down */
	if (in->backup && in->up)
		add(&w.summary, "; every primary of upstream %s fails, backup %s serves",
		    in->up->name, in->backup);
	if (in->software && in->peer && in->cause != CAUSE_PEER_FAILING) {
		add(&w.fix, "\nBackend: ");
		sw_name(&w.fix, in->software);
		add(&w.fix, "\n");
	}
	out->summary = take(&w.summary);
	out->explanation = take(&w.expl);

	/* a prediction's fix (and reference) is the fix of what it predicts */
	if (in->cause == CAUSE_PEER_FAILING && in->implied != CAUSE_NONE &&
	    in->implied != CAUSE_PEER_FAILING) {
		struct advice implied;
		struct advice_in sub = *in;
		sub.cause = in->implied;
		advice_write(&sub, &implied);
		strbuf_done(&w.fix);
		out->fix = implied.fix;
		implied.fix = NULL;
		memcpy(out->config_ref, implied.config_ref, sizeof(out->config_ref));
		advice_done(&implied);
	} else {
		/* drop a trailing newline from the fix */
		if (w.fix.len && w.fix.p[w.fix.len - 1] == '\n')
			w.fix.p[--w.fix.len] = '\0';
		out->fix = take(&w.fix);
	}
}

void advice_done(struct advice *a)
{
	free(a->summary);
	free(a->explanation);
	free(a->fix);
	a->summary = a->explanation = a->fix = NULL;
}
