/* Unit tests for the access_log / log_format part of the nginx model:
 * every directive with its scope and file:line, the built-in combined,
 * escape= and multi-string formats, and the targets upwatch cannot tail
 * (off, syslog:, gzip, variables) kept with a note. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nginx/ngxconf.h"

#define DIR FIXTURES "/nginx/access"

static struct ngx_model *load(void)
{
	struct ngx_model *m = NULL;
	char err[1024] = "";
	struct ngxconf_options o = {.prefix = DIR};
	if (ngxconf_load_opts(DIR "/nginx.conf", NULL, &o, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "load: %s\n", err);
		return NULL;
	}
	return m;
}

static void test_log_formats_builtin_first_and_joined(void)
{
	struct ngx_model *m = load();
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_INT(m->nlog_formats, 4);
	CHECK_STR(m->log_formats[0].name, "combined");
	CHECK(m->log_formats[0].ref.file == NULL);
	CHECK_STR(m->log_formats[0].format, NGXCONF_COMBINED_FORMAT);
	CHECK_STR(m->log_formats[1].name, "upstreams");
	CHECK_INT(m->log_formats[1].ref.line, 4);
	CHECK_INT(m->log_formats[1].escape, NGX_ESCAPE_DEFAULT);
	CHECK_STR(m->log_formats[1].format,
		  "$remote_addr [$time_local] \"$request\" $status ua=\"$upstream_addr\" "
		  "us=\"$upstream_status\" urt=\"$upstream_response_time\" rt=$request_time");
	CHECK_STR(m->log_formats[2].name, "jsonfmt");
	CHECK_INT(m->log_formats[2].escape, NGX_ESCAPE_JSON);
	CHECK_STR(
	    m->log_formats[2].format,
	    "{\"status\":$status,\"uri\":\"$request_uri\",\"upstream_addr\":\"$upstream_addr\"}");
	CHECK_INT(m->log_formats[3].escape, NGX_ESCAPE_NONE);
	ngxconf_free(m);
}

static void test_access_logs_every_level_with_scope(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	CHECK_INT(m->naccess_logs, 7);
	const struct ngx_access_log *a = m->access_logs;
	/* http level */
	CHECK_STR(a[0].path, DIR "/logs/access.log");
	CHECK_STR(a[0].format_name, "combined");
	CHECK_INT(a[0].format, 0);
	CHECK(a[0].followable);
	CHECK(a[0].server_name == NULL);
	CHECK(a[0].location == NULL);
	CHECK_INT(a[0].ref.line, 10);
	/* server level, buffered: followed, with a note */
	CHECK_STR(a[1].path, DIR "/logs/api.log");
	CHECK_INT(a[1].format, 1);
	CHECK(a[1].followable);
	CHECK(a[1].buffered);
	CHECK_STR(a[1].note, "buffered: lines arrive up to the flush time late");
	CHECK_STR(a[1].server_name, "api.example");
	CHECK_STR(a[1].location, "");
	CHECK_INT(a[1].ref.line, 15);
	/* syslog */
	CHECK(!a[2].followable);
	CHECK_STR(a[2].note, "sent to syslog, not a file");
	/* location, if= */
	CHECK_STR(a[3].location, "/api/");
	CHECK_INT(a[3].format, 2);
	CHECK(a[3].followable);
	CHECK(a[3].conditional);
	CHECK_INT(a[3].ref.line, 20);
	/* off */
	CHECK(a[4].off);
	CHECK(!a[4].followable);
	CHECK_STR(a[4].location, "/static/");
	/* gzip, variables */
	CHECK(!a[5].followable);
	CHECK_STR(a[5].note, "gzip-compressed, not a text file");
	CHECK(!a[6].followable);
	CHECK_STR(a[6].note, "the path holds variables: one file per value");
	ngxconf_free(m);
}

static struct ngx_model *load_text(const char *text, char *err)
{
	char path[] = "/tmp/test_ngxaccess.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	struct ngx_model *m = NULL;
	err[0] = '\0';
	int r = ngxconf_load(path, NULL, &m, err, 1024);
	remove(path);
	return r < 0 ? NULL : m;
}

static void test_implicit_default_when_http_has_none(void)
{
	char err[1024];
	struct ngx_model *m = load_text("events {} http { server { listen 80; } }", err);
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_INT(m->naccess_logs, 1);
	CHECK_STR(m->access_logs[0].path, NGXCONF_DEFAULT_ACCESS_LOG);
	CHECK(m->access_logs[0].ref.file == NULL);
	CHECK_INT(m->access_logs[0].format, 0);
	ngxconf_free(m);
}

static void test_unknown_format_is_kept_unfollowed(void)
{
	char err[1024];
	struct ngx_model *m = load_text("http { access_log /tmp/x.log nosuch; }", err);
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_INT(m->naccess_logs, 1);
	CHECK(!m->access_logs[0].followable);
	CHECK(m->access_logs[0].format == SIZE_MAX);
	CHECK_STR(m->access_logs[0].note, "unknown log format");
	ngxconf_free(m);
}

static void test_errors_nginx_raises(void)
{
	char err[1024];
	CHECK(load_text("http { log_format a '$status'; log_format a '$status'; }", err) == NULL);
	CHECK(strstr(err, "duplicate \"log_format\" name \"a\"") != NULL);
	CHECK(load_text("http { log_format combined '$status'; }", err) == NULL);
	CHECK(load_text("http { log_format a escape=xml '$status'; }", err) == NULL);
	CHECK(strstr(err, "unknown log format escaping \"xml\"") != NULL);
	CHECK(load_text("http { access_log /tmp/a.log combined bogus=1; }", err) == NULL);
	CHECK(strstr(err, "invalid parameter \"bogus=1\"") != NULL);
}

static void test_stream_logs_with_their_own_formats(void)
{
	struct ngx_model *m = NULL;
	char err[1024] = "";
	const char *dir = FIXTURES "/nginx/accessstream";
	struct ngxconf_options o = {.prefix = dir};
	CHECK_INT(ngxconf_load_opts(FIXTURES "/nginx/accessstream/nginx.conf", NULL, &o, &m, err,
				    sizeof(err)),
		  0);
	if (!m)
		return;
	/* combined, http's basic, stream's basic and bare */
	CHECK_INT(m->nlog_formats, 4);
	CHECK(!m->log_formats[1].stream);
	CHECK(m->log_formats[2].stream && m->log_formats[3].stream);
	CHECK_STR(m->log_formats[2].name, "basic");
	CHECK_INT(m->naccess_logs, 3); /* http's, stream's, redis server's: no implicit one */
	const struct ngx_access_log *h = &m->access_logs[0], *s = &m->access_logs[1],
				    *r = &m->access_logs[2];
	CHECK(!h->stream);
	CHECK_INT(h->format, 1);
	CHECK(s->stream && s->followable);
	CHECK_INT(s->format, 2);
	CHECK_INT(s->ref.line, 13);
	CHECK(s->pass_ref.file == NULL);
	CHECK(r->stream);
	CHECK_INT(r->format, 3);
	CHECK_STR(r->location, "");
	CHECK_INT(r->pass_ref.line, 26);
	ngxconf_free(m);

	CHECK(load_text("stream { server { listen 1; access_log /tmp/s.log; proxy_pass "
			"127.0.0.1:2; } }",
			err) == NULL);
	CHECK(strstr(err, "log format is not specified") != NULL);
	m = load_text("stream { log_format combined '$status'; access_log /tmp/s.log combined; }",
		      err);
	CHECK(m != NULL);
	if (m)
		CHECK_INT(m->access_logs[0].format, 1); /* stream's own, not the built-in */
	ngxconf_free(m);
}

int main(void)
{
	RUN(test_log_formats_builtin_first_and_joined);
	RUN(test_access_logs_every_level_with_scope);
	RUN(test_implicit_default_when_http_has_none);
	RUN(test_unknown_format_is_kept_unfollowed);
	RUN(test_errors_nginx_raises);
	RUN(test_stream_logs_with_their_own_formats);
	return harness_result();
}
