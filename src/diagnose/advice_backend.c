/* advice_backend: the backend software's own words — which setting, at
 * which file:line of its configuration, in its syntax, and how to reload it. */
#include "diagnose/advice_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

bool advice_sw_is(const struct advice_in *in, enum backend_kind k)
{
	return in->software && in->software->kind == k;
}

/* Where a backend setting lives: "file:line", the file it belongs in when it
 * is not set (the pool's, the ini's), or "its command line". */
const char *advice_sw_where(const struct backend_info *sw, const struct backend_setting *s,
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
void advice_sw_name(struct strbuf *b, const struct backend_info *sw)
{
	char w[400];
	strbuf_printf(b, "%s", backend_kind_name(sw->kind));
	if (sw->section)
		strbuf_printf(b, " %s %s", sw->kind == BACKEND_PHPFPM ? "pool" : "section",
			      sw->section);
	if (sw->bound && sw->bind.value)
		strbuf_printf(b, " (%s at %s)", sw->bind.value,
			      advice_sw_where(sw, &sw->bind, w, sizeof(w)));
	else if (sw->config_file)
		strbuf_printf(b, " (%s)", sw->config_file);
}

void advice_sw_observed(struct writer *w)
{
	if (!w->in->software)
		return;
	strbuf_printf(&w->expl, " The backend is ");
	advice_sw_name(&w->expl, w->in->software);
	strbuf_printf(&w->expl, ".");
}

/* The backend's worker count as a number, its software's default when unset. */
unsigned advice_sw_workers(const struct backend_info *sw)
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

const char *advice_sw_workers_name(const struct backend_info *sw)
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

const char *advice_sw_timeout_name(const struct backend_info *sw)
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
void advice_sw_setting_line(struct strbuf *b, const struct backend_info *sw, const char *name,
			    const char *value)
{
	if (sw->kind == BACKEND_GUNICORN && name[0] == '-') {
		if (sw->workers.file || sw->timeout.file || sw->bind.file)
			strbuf_printf(b, "    %s = %s\n", name[2] == 'w' ? "workers" : "timeout",
				      value);
		else
			strbuf_printf(b, "    %s %s\n", name, value);
	} else if (sw->kind == BACKEND_UWSGI && !sw->config_file) {
		strbuf_printf(b, "    --%s %s\n", name, value); /* no ini: its flags */
	} else {
		strbuf_printf(b, "    %s = %s\n", name, value);
	}
}

/* The seconds a backend timeout value stands for ("30", "30s", "1m"); 0 = none. */
unsigned advice_sw_seconds(const char *v)
{
	uint64_t ms;
	unsigned n;
	if (!v)
		return 0;
	if (parse_uint(v, 1u << 30, &n) == 0)
		return n;
	return parse_duration_ms(v, &ms) == 0 ? (unsigned)(ms / 1000) : 0;
}

const char *advice_sw_reload(const struct backend_info *sw)
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

/* The time limit the software killed a request at, in seconds: its own
 * setting, else its default (gunicorn 30 s; uwsgi has none). 0 = unknown. */
static unsigned sw_limit_s(const struct backend_info *sw)
{
	unsigned s = advice_sw_seconds(sw->timeout.value);
	return s ? s : sw->kind == BACKEND_GUNICORN ? 30 : 0;
}

/* A worker killed at the software's own time limit: the request ran longer
 * than that, and nginx would have waited read_s. The new limit is above
 * both, with headroom: nginx, not the backend, decides when to give up. */
static void killed_by_timeout(struct writer *w, const struct unitlog_signal *s)
{
	const struct advice_in *in = w->in;
	const struct backend_info *sw = in->software;
	const char *tname = sw ? advice_sw_timeout_name(sw) : NULL;
	unsigned limit = sw ? sw_limit_s(sw) : 0;
	uint64_t read_ms = in->pass && in->pass->t->read_ms ? in->pass->t->read_ms : 60000;
	unsigned read_s = (unsigned)((read_ms + 999) / 1000);
	strbuf_printf(&w->expl,
		      " Inferred: %s killed the worker serving the request at its own time "
		      "limit",
		      sw ? backend_kind_name(sw->kind) : "the backend");
	if (tname && limit)
		strbuf_printf(&w->expl, " (%s %u s): the request ran longer than that", tname,
			      limit);
	strbuf_printf(&w->expl, ", and nginx saw the connection close.");
	advice_where(w);
	if (!tname || !limit) {
		strbuf_printf(&w->fix, "Raise the backend's request time limit above what these "
				       "requests take.\n");
		return;
	}
	unsigned want = MAX(limit * 2, read_s + read_s / 10 + 1);
	char at[400], v[32];
	snprintf(v, sizeof(v), "%u", want);
	strbuf_printf(&w->fix,
		      "Raise %s at %s above what these requests take (they ran more than %u s; "
		      "nginx waits %u s for them here):\n",
		      tname, advice_sw_where(sw, &sw->timeout, at, sizeof(at)), limit, read_s);
	advice_sw_setting_line(&w->fix, sw, tname, v);
	strbuf_printf(&w->fix, "%s.\n", advice_sw_reload(sw));
	if (sw->timeout.file)
		snprintf(w->ref, w->reflen, "%s:%u", sw->timeout.file, sw->timeout.line);
	else if (sw->bind.file)
		snprintf(w->ref, w->reflen, "%s:%u", sw->bind.file, sw->bind.line);
}

/* The peer's system unit: the listener's, else the one its software's
 * master runs in (the service user may not see the listener's pid). */
static const char *peer_unit(const struct advice_in *in)
{
	const struct host_listener *l = in->listener;
	if (l && l->unit[0] && !l->unit_user)
		return l->unit;
	if (in->software && in->software->unit[0] && !in->software->unit_user)
		return in->software->unit;
	return NULL;
}

/* Killed from outside: the OOM killer (the journal says so, or the unit's
 * Result=oom-kill), or a SIGKILL nobody explains. */
static void killed_by_memory(struct writer *w, bool oom)
{
	const struct advice_in *in = w->in;
	const struct backend_info *sw = in->software;
	strbuf_printf(&w->expl,
		      oom ? " Inferred: the kernel's OOM killer ended a backend process while it "
			    "served requests: the host or the unit ran out of memory."
			  : " Inferred: a worker was killed with SIGKILL while it served requests "
			    "— the OOM killer's signal, unless an operator sent it.");
	advice_where(w);
	if (!oom)
		strbuf_printf(&w->fix, "Check the kernel log for the OOM killer: journalctl -k "
				       "--grep 'Out of memory'\n");
	const char *name = sw ? advice_sw_workers_name(sw) : NULL;
	if (name && sw->kind != BACKEND_PHPFPM) {
		char at[400];
		strbuf_printf(
		    &w->fix,
		    "Each worker holds its own memory: run fewer at %s (now %u), or "
		    "recycle leaking ones (%s).\n",
		    advice_sw_where(sw, &sw->workers, at, sizeof(at)), advice_sw_workers(sw),
		    sw->kind == BACKEND_GUNICORN ? "--max-requests 1000" : "max-requests");
	}
	if (peer_unit(in))
		strbuf_printf(&w->fix,
			      "If the unit's memory limit is what runs out, raise it: systemctl "
			      "set-property %s MemoryMax=...\n",
			      peer_unit(in));
}

bool advice_sw_killed(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct unitlog_signal *s = in->unit_signal;
	const struct host_listener *l = in->listener;
	bool unit_oom = l && l->unit_known && streq(l->result, "oom-kill");
	const char *unit = peer_unit(in) ? peer_unit(in) : "its unit";
	if (!s && !unit_oom)
		return false;
	advice_sw_observed(w);
	if (s) {
		char t[32];
		format_time_ms(s->time_ms, t);
		strbuf_printf(&w->expl, " Observed: the journal of %s says \"%s\" at %s", unit,
			      s->text, t);
		if (s->count > 1)
			strbuf_printf(&w->expl, " (%u such entries since the errors began)",
				      s->count);
		strbuf_printf(&w->expl, ".");
	}
	if (unit_oom)
		strbuf_printf(&w->expl, " Observed: systemd says unit %s Result=oom-kill%s.",
			      l->unit, l->nrestarts ? ", restarted" : "");
	if (s && s->kind == UNITLOG_WORKER_TIMEOUT && !unit_oom)
		killed_by_timeout(w, s);
	else
		killed_by_memory(w, unit_oom || (s && s->kind == UNITLOG_OOM_KILL));
	return true;
}

void advice_unit_result(struct writer *w)
{
	static const struct {
		const char *result, *meaning;
	} meanings[] = {
	    {"exit-code", "its main process exited with an error status"},
	    {"signal", "its main process was killed by a signal"},
	    {"core-dump", "its main process crashed and dumped core"},
	    {"timeout", "systemd gave up waiting for it to start or stop (TimeoutStartSec=, "
			"TimeoutStopSec=)"},
	    {"watchdog", "it stopped answering systemd's watchdog"},
	    {"oom-kill", "the kernel's OOM killer ended a process of it"},
	    {"start-limit-hit", "it failed too often and systemd stopped restarting it"},
	};
	const struct host_listener *l = w->in->listener;
	if (!l || !l->unit[0] || !l->unit_known)
		return;
	bool bad = l->result[0] && !streq(l->result, "success");
	if (!bad && !l->nrestarts)
		return;
	strbuf_printf(&w->expl, " systemd says unit %s Result=%s", l->unit,
		      l->result[0] ? l->result : "success");
	for (size_t i = 0; bad && i < ARRAY_SIZE(meanings); i++)
		if (streq(l->result, meanings[i].result))
			strbuf_printf(&w->expl, " (%s)", meanings[i].meaning);
	char t[32];
	if (l->unit_exit_ms) {
		format_time_ms(l->unit_exit_ms, t);
		strbuf_printf(&w->expl, ", its main process last exited at %s", t);
	}
	if (l->nrestarts)
		strbuf_printf(&w->expl, ", and restarted it %u time%s", l->nrestarts,
			      l->nrestarts == 1 ? "" : "s");
	strbuf_printf(&w->expl, ".");
	if (l->unit_exit_ms)
		strbuf_printf(&w->fix,
			      "What it said as it exited: journalctl -u %s --since '%.10s %.8s'\n",
			      l->unit, t, t + 11);
}
