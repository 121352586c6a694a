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
