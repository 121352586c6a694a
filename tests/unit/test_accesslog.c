/* Unit tests for accesslog: formats compiled once, lines matched into the
 * variables upwatch reads, nginx's escaping undone, upstream try lists
 * (retries ", " and internal redirects " : ") split in step, and the work
 * per line bounded. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "log/accesslog.h"

static struct accesslog_format *compile(const char *fmt, enum ngx_log_escape esc)
{
	struct accesslog_format *f = NULL;
	CHECK_INT(accesslog_format_new(fmt, esc, &f), 0);
	return f;
}

static char *field(const struct accesslog_line *l, enum accesslog_var v)
{
	static char buf[8][512];
	static unsigned k;
	char *b = buf[k++ % 8];
	if (!l->v[v].p)
		return strcpy(b, "(none)");
	snprintf(b, 512, "%.*s", (int)l->v[v].len, l->v[v].p);
	return b;
}

static int parse(const struct accesslog_format *f, const char *line, struct accesslog_line *l)
{
	return accesslog_parse(f, line, strlen(line), l);
}

static void test_combined_line(void)
{
	struct accesslog_format *f = compile(NGXCONF_COMBINED_FORMAT, NGX_ESCAPE_DEFAULT);
	struct accesslog_line l;
	const char *line = "127.0.0.1 - - [29/Nov/2026:21:59:25 +0000] \"GET /api/x?y=1 HTTP/1.1\" "
			   "502 157 \"-\" \"curl/7.88.1\"";
	CHECK_INT(parse(f, line, &l), 0);
	CHECK_STR(field(&l, ACCESSLOG_REMOTE_ADDR), "127.0.0.1");
	CHECK_STR(field(&l, ACCESSLOG_REQUEST), "GET /api/x?y=1 HTTP/1.1");
	CHECK_INT(accesslog_status(&l), 502);
	CHECK_STR(field(&l, ACCESSLOG_UPSTREAM_ADDR), "(none)");
	char path[64];
	CHECK_INT(accesslog_path(&l, NGX_ESCAPE_DEFAULT, path, sizeof(path)), 6);
	CHECK_STR(path, "/api/x");
	time_t t;
	CHECK_INT(accesslog_time(&l, &t), 0);
	CHECK_INT(t, 1795989565); /* 2026-11-29 21:59:25 UTC */
	CHECK(!accesslog_format_has(f, ACCESSLOG_UPSTREAM_ADDR));
	CHECK(accesslog_format_has(f, ACCESSLOG_STATUS));
	accesslog_format_free(f);
}

static void test_default_escape_of_quotes_in_request(void)
{
	struct accesslog_format *f = compile(NGXCONF_COMBINED_FORMAT, NGX_ESCAPE_DEFAULT);
	struct accesslog_line l;
	const char *line =
	    "::1 - - [29/Nov/2026:21:59:25 -0130] \"GET /a\\x22b\\x5C HTTP/1.1\" 200 "
	    "0 \"-\" \"ua \\x22quoted\\x22\"";
	CHECK_INT(parse(f, line, &l), 0);
	char path[64];
	accesslog_path(&l, NGX_ESCAPE_DEFAULT, path, sizeof(path));
	CHECK_STR(path, "/a\"b\\");
	time_t t;
	CHECK_INT(accesslog_time(&l, &t), 0);
	CHECK_INT(t, 1795989565 + 90 * 60); /* -0130: UTC is 90 min later */
	accesslog_format_free(f);
}

#define UPFMT                                                                                      \
	"$remote_addr [$time_local] \"$request\" $status ua=\"$upstream_addr\" "                   \
	"us=\"$upstream_status\" urt=\"$upstream_response_time\" rt=$request_time"

static void test_upstream_retries_and_redirects(void)
{
	struct accesslog_format *f = compile(UPFMT, NGX_ESCAPE_DEFAULT);
	struct accesslog_line l;
	const char *line = "127.0.0.1 [29/Nov/2026:21:59:25 +0000] \"GET /api/ HTTP/1.1\" 200 "
			   "ua=\"127.0.0.1:9000, 127.0.0.1:9001 : unix:/run/app.sock\" "
			   "us=\"502, 504 : 200\" urt=\"0.001, 60.002 : 0.010\" rt=60.015";
	CHECK_INT(parse(f, line, &l), 0);
	CHECK_INT(accesslog_status(&l), 200);
	struct accesslog_try t[ACCESSLOG_MAX_TRIES];
	size_t n = accesslog_tries(&l, t, ACCESSLOG_MAX_TRIES);
	CHECK_INT(n, 3);
	CHECK_INT(t[0].addr_len, strlen("127.0.0.1:9000"));
	CHECK(memcmp(t[0].addr, "127.0.0.1:9000", t[0].addr_len) == 0);
	CHECK_INT(t[0].status, 502);
	CHECK_INT(t[0].time_ms, 1);
	CHECK(!t[0].redirect);
	CHECK(memcmp(t[1].addr, "127.0.0.1:9001", t[1].addr_len) == 0);
	CHECK_INT(t[1].status, 504);
	CHECK_INT(t[1].time_ms, 60002);
	CHECK(!t[1].redirect);
	CHECK(memcmp(t[2].addr, "unix:/run/app.sock", t[2].addr_len) == 0);
	CHECK_INT(t[2].status, 200);
	CHECK_INT(t[2].time_ms, 10);
	CHECK(t[2].redirect);
	CHECK_STR(field(&l, ACCESSLOG_REQUEST_TIME), "60.015");
	CHECK_INT(accesslog_tries(&l, t, 2), 2);
	accesslog_format_free(f);
}

static void test_unquoted_lists_followed_by_spaces(void)
{
	struct accesslog_format *f =
	    compile("$upstream_addr $upstream_status $status", NGX_ESCAPE_DEFAULT);
	struct accesslog_line l;
	CHECK_INT(parse(f, "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80 502, 502 : 200 200", &l), 0);
	CHECK_STR(field(&l, ACCESSLOG_UPSTREAM_ADDR), "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80");
	CHECK_STR(field(&l, ACCESSLOG_UPSTREAM_STATUS), "502, 502 : 200");
	CHECK_INT(accesslog_status(&l), 200);
	CHECK_INT(parse(f, "- - 404", &l), 0);
	struct accesslog_try t[4];
	CHECK_INT(accesslog_tries(&l, t, 4), 0);
	accesslog_format_free(f);
}

static void test_unquoted_request_backs_off_to_the_status(void)
{
	struct accesslog_format *f = compile("$request $status $request_time", NGX_ESCAPE_DEFAULT);
	struct accesslog_line l;
	CHECK_INT(parse(f, "GET /x HTTP/1.1 504 60.001", &l), 0);
	CHECK_STR(field(&l, ACCESSLOG_REQUEST), "GET /x HTTP/1.1");
	CHECK_INT(accesslog_status(&l), 504);
	accesslog_format_free(f);
}

/* A line kept across lines of one format (accesslog_parse_into) reads as
 * accesslog_parse's, after a line that matched part of the way too. */
static void test_kept_line_reads_as_a_fresh_one(void)
{
	static const struct {
		const char *fmt, *lines[4];
	} cases[] = {
	    {NGXCONF_COMBINED_FORMAT,
	     {"127.0.0.1 - - [29/Nov/2026:21:59:25 +0000] \"GET /api/x HTTP/1.1\" 502 1 \"-\" "
	      "\"-\"",
	      "10.0.0.1 - - [29/Nov/2026:21:59:26 +0000] \"GET /a HTTP/1.1\" 5x2 1 \"-\" \"-\"",
	      "10.0.0.2 - bob - \"GET / HTTP/1.1\" 200 1",
	      "::1 - - [29/Nov/2026:21:59:27 +0000] \"POST /b HTTP/1.1\" 200 1 \"-\" \"-\""}},
	    {"$request $status $upstream_addr $request_time",
	     {"GET /x HTTP/1.1 504 127.0.0.1:9000, 127.0.0.1:9001 60.001", "GET /y HTTP/1.1 504 x",
	      "GET /z HTTP/1.1 200 - 0.001", "GET / HTTP/1.0 200 a:1 0"}},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct accesslog_format *f = compile(cases[c].fmt, NGX_ESCAPE_DEFAULT);
		struct accesslog_line kept, fresh;
		memset(&kept, 0, sizeof(kept));
		for (size_t i = 0; i < 4; i++) {
			const char *line = cases[c].lines[i];
			int r = parse(f, line, &fresh);
			CHECK_INT(accesslog_parse_into(f, line, strlen(line), &kept), r);
			if (r == 0)
				CHECK(memcmp(&kept, &fresh, sizeof(kept)) == 0);
		}
		CHECK_STR(field(&kept, ACCESSLOG_TIME_ISO8601), "(none)");
		accesslog_format_free(f);
	}
}

static void test_json_format(void)
{
	struct accesslog_format *f = compile("{\"status\":$status,\"uri\":\"$request_uri\","
					     "\"ua\":\"$upstream_addr\",\"host\":\"$host\"}",
					     NGX_ESCAPE_JSON);
	struct accesslog_line l;
	const char *line =
	    "{\"status\":502,\"uri\":\"/api/\\\"q\\\\\\\",\\\"x\",\"ua\":\"127.0.0.1:9000\","
	    "\"host\":\"api.example\"}";
	CHECK_INT(parse(f, line, &l), 0);
	CHECK_INT(accesslog_status(&l), 502);
	CHECK_STR(field(&l, ACCESSLOG_HOST), "api.example");
	CHECK_STR(field(&l, ACCESSLOG_UPSTREAM_ADDR), "127.0.0.1:9000");
	char path[64];
	accesslog_path(&l, NGX_ESCAPE_JSON, path, sizeof(path));
	CHECK_STR(path, "/api/\"q\\\",\"x");
	char out[16];
	CHECK_INT(accesslog_unescape(NGX_ESCAPE_JSON, "a\\u001fb\\n", 10, out, sizeof(out)), 4);
	CHECK_STR(out, "a\x1f"
		       "b\n");
	accesslog_format_free(f);
}

static void test_compile_errors_and_adjacent_variables(void)
{
	struct accesslog_format *f = NULL;
	CHECK_INT(accesslog_format_new("", NGX_ESCAPE_DEFAULT, &f), -EINVAL);
	CHECK_INT(accesslog_format_new("$ x", NGX_ESCAPE_DEFAULT, &f), -EINVAL);
	CHECK_INT(accesslog_format_new("${status", NGX_ESCAPE_DEFAULT, &f), -EINVAL);
	CHECK(f == NULL);
	f = compile("${status}$request_time [$host]", NGX_ESCAPE_DEFAULT);
	/* $status$request_time: no way to tell where one ends, neither is read */
	CHECK(!accesslog_format_has(f, ACCESSLOG_REQUEST_TIME));
	CHECK(!accesslog_format_has(f, ACCESSLOG_STATUS));
	struct accesslog_line l;
	CHECK_INT(parse(f, "2000.001 [h]", &l), 0);
	CHECK_INT(accesslog_status(&l), -EINVAL);
	CHECK_STR(field(&l, ACCESSLOG_HOST), "h");
	accesslog_format_free(f);
}

static void test_mismatch_and_bounded_work(void)
{
	struct accesslog_format *f = compile(NGXCONF_COMBINED_FORMAT, NGX_ESCAPE_DEFAULT);
	struct accesslog_line l;
	CHECK_INT(parse(f, "2026/11/29 21:59:25 [error] 1#1: *1 connect() failed", &l), -EINVAL);
	accesslog_format_free(f);
	/* many spaces and many optional splits: the budget ends it */
	f = compile("$request $request $request $request $request $status", NGX_ESCAPE_NONE);
	char line[4096];
	memset(line, ' ', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	CHECK_INT(parse(f, line, &l), -EINVAL);
	accesslog_format_free(f);
}

/* A line is matched up to the literal that ends the last variable read:
 * what follows (combined's referer and user agent) is not looked at. */
static void test_matching_stops_after_the_last_variable_read(void)
{
	struct accesslog_format *f = compile(NGXCONF_COMBINED_FORMAT, NGX_ESCAPE_DEFAULT);
	struct accesslog_line l;
	CHECK_INT(parse(f,
			"127.0.0.1 - - [29/Nov/2026:21:59:25 +0000] \"GET / HTTP/1.1\" 504 "
			"cut by a full disk",
			&l),
		  0);
	CHECK_INT(accesslog_status(&l), 504);
	CHECK_STR(field(&l, ACCESSLOG_REQUEST), "GET / HTTP/1.1");
	/* broken before the status: not a line of this format */
	CHECK_INT(parse(f, "127.0.0.1 - - [29/Nov/2026:21:59:25 +0000] \"GET / HTTP/1.1", &l),
		  -EINVAL);
	accesslog_format_free(f);
	/* a format that reads nothing must match whole */
	f = compile("$remote_user:$body_bytes_sent;", NGX_ESCAPE_DEFAULT);
	CHECK_INT(parse(f, "bob:12;", &l), 0);
	CHECK_INT(parse(f, "bob:12", &l), -EINVAL);
	accesslog_format_free(f);
}

int main(void)
{
	RUN(test_combined_line);
	RUN(test_default_escape_of_quotes_in_request);
	RUN(test_upstream_retries_and_redirects);
	RUN(test_unquoted_lists_followed_by_spaces);
	RUN(test_unquoted_request_backs_off_to_the_status);
	RUN(test_kept_line_reads_as_a_fresh_one);
	RUN(test_json_format);
	RUN(test_compile_errors_and_adjacent_variables);
	RUN(test_mismatch_and_bounded_work);
	RUN(test_matching_stops_after_the_last_variable_read);
	return harness_result();
}
