/* Unit tests for accessstats: lines from the fixture's two access logs
 * counted per location and per peer (retries included), sliding windows by
 * the lines' own time, the response-time sketch, the "served" test that
 * keeps a probe from calling a working peer failing, the impact sentence
 * and the log_format advice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "log/accessstats.h"
#include "nginx/ngxconf.h"

#define DIR FIXTURES "/nginx/accessstats"
#define UP  DIR "/logs/up.log"
#define PL  DIR "/logs/plain.log"

static const time_t now = 1795989565; /* 2026-11-29 21:59:25 UTC */

static struct ngx_model *load(void)
{
	struct ngx_model *m = NULL;
	char err[1024] = "";
	struct ngxconf_options o = {.prefix = DIR};
	if (ngxconf_load_opts(DIR "/nginx.conf", NULL, &o, &m, err, sizeof(err)) < 0)
		fprintf(stderr, "load: %s\n", err);
	return m;
}

static size_t pass_at(const struct ngx_model *m, const char *location)
{
	for (size_t i = 0; i < m->npasses; i++)
		if (strcmp(m->passes[i].location, location) == 0)
			return i;
	return SIZE_MAX;
}

static int feed(struct accessstats *s, const char *path, const char *line)
{
	return accessstats_line(s, path, line, strlen(line), now);
}

static void test_counts_per_location_and_peer(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	CHECK_INT(accessstats_new(m, &s), 0);
	CHECK_INT(accessstats_nlogs(s), 2);
	CHECK_INT(feed(s, UP,
		       "api.example [29/Nov/2026:21:59:20 +0000] \"GET /api/x HTTP/1.1\" 200 "
		       "ua=\"127.0.0.1:9000\" us=\"200\" urt=\"0.010\""),
		  0);
	CHECK_INT(
	    feed(s, UP,
		 "api.example [29/Nov/2026:21:59:21 +0000] \"GET /api/y HTTP/1.1\" 502 "
		 "ua=\"127.0.0.1:9000, 127.0.0.1:9001\" us=\"502, 502\" urt=\"0.001, 0.002\""),
	    0);
	CHECK_INT(feed(s, UP,
		       "api.example [29/Nov/2026:21:59:22 +0000] \"GET /index.html HTTP/1.1\" 200 "
		       "ua=\"127.0.0.1:9002\" us=\"200\" urt=\"0.003\""),
		  0);
	/* combined, no upstream variables: the server comes from the access_log's scope */
	CHECK_INT(feed(s, PL,
		       "127.0.0.1 - - [29/Nov/2026:21:59:23 +0000] \"GET /php/a.php HTTP/1.1\" 504 "
		       "0 \"-\" \"curl/7.88.1\""),
		  0);
	CHECK_INT(feed(s, PL,
		       "127.0.0.1 - - [29/Nov/2026:21:59:23 +0000] \"GET /php/b.php HTTP/1.1\" 200 "
		       "5 \"-\" \"curl/7.88.1\""),
		  0);
	CHECK_INT(feed(s, PL, "not an access-log line"), -EINVAL);
	CHECK_INT(feed(s, "/var/log/nginx/error.log", "x"), -ENOENT);

	struct accessstats_counts c;
	CHECK(accessstats_pass_window(s, pass_at(m, "/api/"), 60, now, &c));
	CHECK_INT(c.requests, 2);
	CHECK_INT(c.s502, 1);
	CHECK_INT(c.s5xx, 1);
	CHECK_INT(c.retries, 1);
	CHECK(accessstats_pass_window(s, pass_at(m, "/"), 60, now, &c));
	CHECK_INT(c.requests, 1);
	CHECK_INT(c.s5xx, 0);
	CHECK(accessstats_pass_window(s, pass_at(m, "/php/"), 300, now, &c));
	CHECK_INT(c.requests, 2);
	CHECK_INT(c.s504, 1);

	CHECK(accessstats_peer_window(s, "127.0.0.1:9000", 60, now, &c));
	CHECK_INT(c.requests, 2);
	CHECK_INT(c.s502, 1);
	CHECK(accessstats_peer_window(s, "127.0.0.1:9001", 60, now, &c));
	CHECK_INT(c.requests, 1);
	CHECK_INT(c.s502, 1);
	CHECK(!accessstats_peer_window(s, "127.0.0.1:9003", 60, now, &c)); /* combined: no peer */

	const char *key, *seen[8];
	size_t npeers = 0;
	for (size_t it = 0; npeers < 8 && accessstats_next_peer(s, &it, &key);)
		seen[npeers++] = key;
	CHECK_INT(npeers, 3); /* model order */
	CHECK_STR(seen[0], "127.0.0.1:9000");
	CHECK_STR(seen[2], "127.0.0.1:9002");

	CHECK(accessstats_peer_served(s, "127.0.0.1:9000", 60, now));
	CHECK(!accessstats_peer_served(s, "127.0.0.1:9001", 60, now));
	CHECK(!accessstats_peer_served(s, "127.0.0.1:9000", 60, now + 120));

	const struct accessstats_log *up = accessstats_log_at(s, 0);
	CHECK_STR(up->path, UP);
	CHECK(up->upstream_vars);
	CHECK_INT(up->lines, 3);
	const struct accessstats_log *pl = accessstats_log_at(s, 1);
	CHECK(!pl->upstream_vars);
	CHECK_INT(pl->lines, 3);
	CHECK_INT(pl->unparsed, 1);
	accessstats_free(s);
	ngxconf_free(m);
}

/* The path is placed as nginx saw it: unescaped, without its query,
 * whether the location cache is keyed by the raw bytes or not. */
static void test_escaped_path_placed_as_unescaped(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	CHECK_INT(accessstats_new(m, &s), 0);
	static const char *const lines[] = {
	    "127.0.0.1 - - [29/Nov/2026:21:59:23 +0000] \"GET /php/a.php HTTP/1.1\" 200 0 \"-\" "
	    "\"-\"",
	    /* \x70 is 'p': /php/b.php */
	    "127.0.0.1 - - [29/Nov/2026:21:59:23 +0000] \"GET /ph\\x70/b.php HTTP/1.1\" 502 0 "
	    "\"-\" \"-\"",
	    /* the path is /php: the other server's location / */
	    "127.0.0.1 - - [29/Nov/2026:21:59:24 +0000] \"GET /php?x=/php/ HTTP/1.1\" 200 0 "
	    "\"-\" \"-\"",
	    "127.0.0.1 - - [29/Nov/2026:21:59:24 +0000] \"GET /php/a.php HTTP/1.1\" 504 0 \"-\" "
	    "\"-\"",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		CHECK_INT(feed(s, PL, lines[i]), 0);
	struct accessstats_counts c;
	CHECK(accessstats_pass_window(s, pass_at(m, "/php/"), 60, now, &c));
	CHECK_INT(c.requests, 3);
	CHECK_INT(c.s502, 1);
	CHECK_INT(c.s504, 1);
	CHECK(accessstats_pass_window(s, pass_at(m, "/"), 60, now, &c));
	CHECK_INT(c.requests, 1);
	CHECK_INT(c.s5xx, 0);
	CHECK_INT(accessstats_log_at(s, 1)->unmatched, 0);
	accessstats_free(s);
	ngxconf_free(m);
}

/* The (server, path prefix) -> location cache: one prefix answered per
 * server, and the same answers after it filled up and started over. */
static void test_location_cache_per_server_and_past_its_size(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	CHECK_INT(accessstats_new(m, &s), 0);
	static const char *const pair[] = {
	    "api.example [29/Nov/2026:21:59:20 +0000] \"GET /php/a HTTP/1.1\" 502 ua=\"-\" "
	    "us=\"-\" urt=\"-\"",
	    "plain.example [29/Nov/2026:21:59:20 +0000] \"GET /php/a HTTP/1.1\" 504 ua=\"-\" "
	    "us=\"-\" urt=\"-\"",
	};
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < 2; i++)
			CHECK_INT(feed(s, UP, pair[i]), 0);
		/* 5,000 prefixes no location of api.example but / takes */
		for (unsigned i = 0; round == 0 && i < 5000; i++) {
			char line[256];
			snprintf(line, sizeof(line),
				 "api.example [29/Nov/2026:21:59:20 +0000] \"GET /z%05u HTTP/1.1\" "
				 "200 ua=\"-\" us=\"-\" urt=\"-\"",
				 i);
			CHECK_INT(feed(s, UP, line), 0);
		}
	}
	struct accessstats_counts c;
	CHECK(accessstats_pass_total(s, pass_at(m, "/"), &c));
	CHECK_INT(c.requests, 5002);
	CHECK_INT(c.s502, 2);
	CHECK_INT(c.s504, 0);
	CHECK(accessstats_pass_total(s, pass_at(m, "/php/"), &c));
	CHECK_INT(c.requests, 2);
	CHECK_INT(c.s504, 2);
	CHECK_INT(accessstats_log_at(s, 0)->unmatched, 0);
	accessstats_free(s);
	ngxconf_free(m);
}

/* combined names no server: its log's is the key of the cache's front,
 * whose 256 slots many prefixes of 1 to 6 bytes share; every line is
 * placed as without a cache. */
static void test_location_front_shared_by_prefixes(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	CHECK_INT(accessstats_new(m, &s), 0);
	/* "/php/123", "/ph123", "/ph\x70/123" (an escaped p: /php/) and
	 * "/ph\x71/123" (/phq/: the same first six raw bytes, another answer),
	 * "/php?x=123" (the path is /php), "/php/?123", "/123", then "/php",
	 * "/p", "/" */
	static const char *const shapes[] = {
	    "/php/", "/ph", "/ph\\x70/", "/ph\\x71/", "/php?x=", "/php/?", "/", "/php", "/p", "/"};
	static const bool in_php[] = {true, false, true,  false, false,
				      true, false, false, false, false};
	unsigned php = 0, n = 4000;
	for (unsigned i = 0; i < n; i++) {
		char path[32], line[256];
		size_t k = i % 10;
		if (k < 7)
			snprintf(path, sizeof(path), "%s%u", shapes[k], i % 700);
		else
			snprintf(path, sizeof(path), "%s", shapes[k]);
		php += in_php[k];
		snprintf(line, sizeof(line),
			 "127.0.0.1 - - [29/Nov/2026:21:59:23 +0000] \"GET %s HTTP/1.1\" 200 0 "
			 "\"-\" \"curl/7.88.1\"",
			 path);
		CHECK_INT(feed(s, PL, line), 0);
	}
	struct accessstats_counts c;
	CHECK(accessstats_pass_total(s, pass_at(m, "/php/"), &c));
	CHECK_INT(c.requests, php);
	/* plain.example has no other location: api.example's / takes the rest */
	CHECK(accessstats_pass_total(s, pass_at(m, "/"), &c));
	CHECK_INT(c.requests, n - php);
	CHECK_INT(accessstats_log_at(s, 1)->unmatched, 0);
	accessstats_free(s);
	ngxconf_free(m);
}

static void test_windows_slide_by_line_time(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	/* 6 min, 2 min and 10 s before now */
	feed(
	    s, UP,
	    "api.example [29/Nov/2026:21:53:25 +0000] \"GET /api/ HTTP/1.1\" 502 ua=\"-\" us=\"-\" "
	    "urt=\"-\"");
	feed(
	    s, UP,
	    "api.example [29/Nov/2026:21:57:25 +0000] \"GET /api/ HTTP/1.1\" 503 ua=\"-\" us=\"-\" "
	    "urt=\"-\"");
	feed(
	    s, UP,
	    "api.example [29/Nov/2026:21:59:15 +0000] \"GET /api/ HTTP/1.1\" 504 ua=\"-\" us=\"-\" "
	    "urt=\"-\"");
	size_t api = pass_at(m, "/api/");
	struct accessstats_counts c;
	CHECK(accessstats_pass_window(s, api, 60, now, &c));
	CHECK_INT(c.requests, 1);
	CHECK_INT(c.s504, 1);
	CHECK(accessstats_pass_window(s, api, 300, now, &c));
	CHECK_INT(c.requests, 2);
	CHECK_INT(c.s503, 1);
	CHECK(accessstats_pass_total(s, api, &c));
	CHECK_INT(c.requests, 3);
	CHECK_INT(c.s5xx, 3);
	accessstats_free(s);
	ngxconf_free(m);
}

/* Lines of one second share a parsed time; a line with none ("-") counts
 * at now and leaves the previous stamp's time alone. */
static void test_repeated_stamps_keep_their_own_time(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	static const char *const stamps[] = {
	    "29/Nov/2026:21:53:25 +0000",				/* 6 min before now */
	    "29/Nov/2026:21:53:25 +0000", "-",				/* no time: now */
	    "29/Nov/2026:21:53:25 +0000", "29/Nov/2026:21:59:15 +0000", /* 10 s before now */
	    "29/Nov/2026:21:53:25 +0000",
	};
	char line[256];
	for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
		snprintf(line, sizeof(line),
			 "api.example [%s] \"GET /api/ HTTP/1.1\" 502 ua=\"-\" us=\"-\" urt=\"-\"",
			 stamps[i]);
		CHECK_INT(feed(s, UP, line), 0);
	}
	size_t api = pass_at(m, "/api/");
	struct accessstats_counts c;
	CHECK(accessstats_pass_window(s, api, 60, now, &c));
	CHECK_INT(c.requests, 2);
	CHECK(accessstats_pass_window(s, api, 300, now, &c));
	CHECK_INT(c.requests, 2);
	CHECK(accessstats_pass_total(s, api, &c));
	CHECK_INT(c.requests, 6);
	accessstats_free(s);
	ngxconf_free(m);
}

static void test_quantile_sketch_bounded(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	char line[512];
	for (int i = 1; i <= 1000; i++) {
		snprintf(line, sizeof(line),
			 "api.example [29/Nov/2026:21:59:20 +0000] \"GET /api/ HTTP/1.1\" 200 "
			 "ua=\"127.0.0.1:9000\" us=\"200\" urt=\"%d.%03d\"",
			 i / 100, (i % 100) * 10);
		CHECK_INT(feed(s, UP, line), 0);
	}
	/* times 10 ms .. 10 s; p50 = 5 s, p99 = 9.9 s, each within one bin (10 %) */
	uint64_t ms = 0;
	CHECK_INT(accessstats_peer_quantile_ms(s, "127.0.0.1:9000", 0.5, 1, now, &ms), 0);
	CHECK(ms >= 5000 && ms < 5500);
	CHECK_INT(accessstats_peer_quantile_ms(s, "127.0.0.1:9000", 0.99, 5, now, &ms), 0);
	CHECK(ms >= 9900 && ms < 10890);
	CHECK_INT(accessstats_peer_quantile_ms(s, "127.0.0.1:9001", 0.99, 5, now, &ms), -ENOENT);
	CHECK_INT(accessstats_peer_quantile_ms(s, "127.0.0.1:9000", 0.99, 5, now + 600, &ms),
		  -ENOENT);
	accessstats_free(s);
	ngxconf_free(m);
}

/* A lone response time's quantile is the upper bound of its bin: the
 * first floor(1.1^b) at or above it (the powers taken here by
 * multiplication, which gives the exact floors for all 160 bins), the last
 * bin holding what is longer. */
static void test_quantile_bins_are_the_powers_of_1_1(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	uint64_t upper[ACCESSSTATS_HIST_BINS];
	double x = 1.0;
	for (size_t b = 0; b < ACCESSSTATS_HIST_BINS; b++, x *= 1.1)
		upper[b] = (uint64_t)(x + 1e-9);
	CHECK_INT(upper[ACCESSSTATS_HIST_BINS - 1], 3814494);
	const unsigned times[] = {1,	2,    3,    10,	   11,	    97,	    98,
				  1000, 2048, 2049, 60000, 3814494, 3814495};
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		struct accessstats *s = NULL;
		accessstats_new(m, &s);
		char line[512];
		snprintf(line, sizeof(line),
			 "api.example [29/Nov/2026:21:59:20 +0000] \"GET /api/ HTTP/1.1\" 200 "
			 "ua=\"127.0.0.1:9000\" us=\"200\" urt=\"%u.%03u\"",
			 times[i] / 1000, times[i] % 1000);
		CHECK_INT(feed(s, UP, line), 0);
		uint64_t want = upper[ACCESSSTATS_HIST_BINS - 1];
		for (size_t b = 0; b < ACCESSSTATS_HIST_BINS; b++)
			if (times[i] <= upper[b]) {
				want = upper[b];
				break;
			}
		uint64_t ms = 0;
		CHECK_INT(accessstats_peer_quantile_ms(s, "127.0.0.1:9000", 0.5, 1, now, &ms), 0);
		CHECK_INT(ms, want);
		accessstats_free(s);
	}
	ngxconf_free(m);
}

static void test_impact_sentence(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	char line[512];
	for (int i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line),
			 "api.example [29/Nov/2026:21:58:%02d +0000] \"GET /api/%d HTTP/1.1\" %d "
			 "ua=\"127.0.0.1:9001\" us=\"%d\" urt=\"0.001\"",
			 i % 60, i, i < 31 ? 502 : 200, i < 31 ? 502 : 200);
		feed(s, UP, line);
	}
	char buf[512];
	size_t api = pass_at(m, "/api/");
	CHECK(accessstats_impact(s, api, now, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "31 requests to location /api/ (" DIR "/nginx.conf:17) answered 502 in the "
		       "last 5 min, 3.1 % of its traffic");
	CHECK_INT(accessstats_impact(s, pass_at(m, "/"), now, buf, sizeof(buf)), 0);
	accessstats_free(s);
	ngxconf_free(m);
}

static void test_span_counts_every_line_read(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	accessstats_set_span(s, 3600);
	char line[512];
	/* 40 minutes of lines, one a minute: the ring holds 5 of them, the span all */
	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof(line),
			 "api.example [29/Nov/2026:21:%02d:00 +0000] \"GET /api/%d HTTP/1.1\" %d "
			 "ua=\"127.0.0.1:9001\" us=\"%d\" urt=\"0.001\"",
			 19 + i, i, i % 4 ? 200 : 504, i % 4 ? 200 : 504);
		feed(s, UP, line);
	}
	char buf[512];
	size_t api = pass_at(m, "/api/");
	struct accessstats_counts c;
	CHECK(accessstats_pass_recent(s, api, now, &c));
	CHECK_INT(c.requests, 40);
	CHECK_INT(c.s504, 10);
	CHECK(accessstats_peer_recent(s, "127.0.0.1:9001", now, &c));
	CHECK_INT(c.requests, 40);
	CHECK(accessstats_impact(s, api, now, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "10 requests to location /api/ (" DIR "/nginx.conf:17) answered 504 in the "
		       "last 1 h, 25.0 % of its traffic");
	accessstats_set_span(s, 900);
	CHECK_STR(accessstats_recent_words(s), "in the last 15 min");
	accessstats_set_span(s, 0);
	CHECK_STR(accessstats_recent_words(s), "in the last 5 min");
	CHECK(accessstats_pass_recent(s, api, now, &c));
	CHECK_INT(c.requests, 4); /* 21:55 .. 21:58 */
	accessstats_free(s);
	ngxconf_free(m);
}

static void test_line_time_by_the_logs_format(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	const char *l = "api.example [29/Nov/2026:21:59:20 +0000] \"GET /api/x HTTP/1.1\" 200 "
			"ua=\"127.0.0.1:9000\" us=\"200\" urt=\"0.010\"";
	time_t t = 0;
	CHECK_INT(accessstats_line_time(s, UP, l, strlen(l), &t), 0);
	CHECK_INT(t, now - 5);
	CHECK_INT(accessstats_line_time(s, UP, "garbage", 7, &t), -EINVAL);
	CHECK_INT(accessstats_line_time(s, "/nowhere.log", l, strlen(l), &t), -ENOENT);
	CHECK(accessstats_log_by_path(s, UP) == accessstats_log_at(s, 0));
	CHECK(accessstats_log_by_path(s, "/nowhere.log") == NULL);
	accessstats_free(s);
	ngxconf_free(m);
}

static void test_format_advice_at_the_access_log(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	char buf[2048];
	CHECK_INT(accessstats_format_advice(accessstats_log_at(s, 0), buf, sizeof(buf)), 0);
	CHECK(accessstats_format_advice(accessstats_log_at(s, 1), buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "at " DIR "/nginx.conf:27") != NULL);
	CHECK(strstr(buf, "log_format upstream_info '") != NULL);
	CHECK(strstr(buf, "ua=\"$upstream_addr\" us=\"$upstream_status\"") != NULL);
	CHECK(strstr(buf, "access_log " PL " upstream_info;") != NULL);
	accessstats_free(s);
	ngxconf_free(m);
}

/* stream {}: a session's $status is its own; the addresses before the last
 * in $upstream_addr were left unreachable; a server's log without
 * $upstream_addr counts on that server's proxy_pass. */
static void test_stream_sessions_per_server_and_peer(void)
{
	const char *dir = FIXTURES "/nginx/accessstream";
	struct ngx_model *m = NULL;
	char err[1024] = "";
	struct ngxconf_options o = {.prefix = dir};
	if (ngxconf_load_opts(FIXTURES "/nginx/accessstream/nginx.conf", NULL, &o, &m, err,
			      sizeof(err)) < 0) {
		fprintf(stderr, "load: %s\n", err);
		CHECK(0);
		return;
	}
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	CHECK_INT(accessstats_nlogs(s), 3);
	const char *sl = FIXTURES "/nginx/accessstream/logs/stream.log";
	const char *rl = FIXTURES "/nginx/accessstream/logs/redis.log";
	const char *lines[] = {
	    "127.0.0.1 [29/Nov/2026:21:59:10 +0000] TCP 200 10 20 0.100 ua=\"127.0.0.1:5432\"",
	    "127.0.0.1 [29/Nov/2026:21:59:11 +0000] TCP 200 10 20 0.100 "
	    "ua=\"127.0.0.1:5433, 127.0.0.1:5432\"",
	    "127.0.0.1 [29/Nov/2026:21:59:12 +0000] TCP 502 0 0 0.001 "
	    "ua=\"127.0.0.1:5433, 127.0.0.1:5432\"",
	};
	for (size_t i = 0; i < 3; i++)
		CHECK_INT(accessstats_line(s, sl, lines[i], strlen(lines[i]), now), 0);
	const char *redis[] = {
	    "127.0.0.1 [29/Nov/2026:21:59:13 +0000] TCP 200",
	    "127.0.0.1 [29/Nov/2026:21:59:14 +0000] TCP 502",
	    "127.0.0.1 [29/Nov/2026:21:59:15 +0000] TCP 502",
	};
	for (size_t i = 0; i < 3; i++)
		CHECK_INT(accessstats_line(s, rl, redis[i], strlen(redis[i]), now), 0);

	size_t db = SIZE_MAX, rd = SIZE_MAX;
	for (size_t i = 0; i < m->npasses; i++) {
		if (m->passes[i].upstream && strcmp(m->passes[i].upstream, "db") == 0)
			db = i;
		if (m->passes[i].key && strcmp(m->passes[i].key, "127.0.0.1:6379") == 0)
			rd = i;
	}
	struct accessstats_counts c;
	CHECK(accessstats_pass_total(s, db, &c));
	CHECK_INT(c.requests, 3);
	CHECK_INT(c.s502, 1);
	CHECK_INT(c.retries, 2);
	CHECK(accessstats_peer_total(s, "127.0.0.1:5433", &c));
	CHECK_INT(c.requests, 2);
	CHECK_INT(c.s502, 2); /* left for the next peer both times */
	CHECK(accessstats_peer_total(s, "127.0.0.1:5432", &c));
	CHECK_INT(c.requests, 3);
	CHECK_INT(c.s502, 1);
	CHECK(accessstats_peer_served(s, "127.0.0.1:5432", 60, now));
	CHECK(!accessstats_peer_served(s, "127.0.0.1:5433", 60, now));
	CHECK(accessstats_pass_total(s, rd, &c));
	CHECK_INT(c.requests, 3);
	CHECK_INT(c.s502, 2);
	CHECK(!accessstats_peer_total(s, "127.0.0.1:6379", &c)); /* no $upstream_addr */

	char buf[512];
	CHECK(accessstats_impact(s, rd, now, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "2 sessions to stream server (proxy_pass 127.0.0.1:6379) (" FIXTURES
		       "/nginx/accessstream/nginx.conf:26) answered 502 in the last 5 min, 66.7 % "
		       "of its traffic");
	const struct accessstats_log *redislog = accessstats_log_by_path(s, rl);
	CHECK(redislog && !redislog->upstream_vars);
	CHECK(accessstats_log_by_path(s, sl)->upstream_vars);
	CHECK(accessstats_format_advice(redislog, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "add in stream {}:") != NULL);
	CHECK(strstr(buf, "at " FIXTURES "/nginx/accessstream/nginx.conf:25") != NULL);
	accessstats_free(s);
	ngxconf_free(m);
}

/* A reload: the same configuration with a line added above everything
 * (every pass moves a line down) and one location gone. */
static void test_reload_carries_counts(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	FILE *in = fopen(DIR "/nginx.conf", "r");
	CHECK(in != NULL);
	if (!in)
		return;
	char path[] = "/tmp/test_accessstats.XXXXXX";
	int fd = mkstemp(path);
	FILE *out = fdopen(fd, "w");
	fputs("# a comment added on top\n", out);
	char line[512];
	while (fgets(line, sizeof(line), in))
		if (!strstr(line, "proxy_pass http://127.0.0.1:9002;"))
			fputs(line, out); /* location / loses its pass */
	fclose(in);
	fclose(out);
	struct ngx_model *m2 = NULL;
	char err[1024] = "";
	struct ngxconf_options o = {.prefix = DIR};
	CHECK_INT(ngxconf_load_opts(path, NULL, &o, &m2, err, sizeof(err)), 0);
	remove(path);
	if (!m2) {
		ngxconf_free(m);
		return;
	}
	struct accessstats *s = NULL, *s2 = NULL;
	accessstats_new(m, &s);
	feed(s, UP,
	     "api.example [29/Nov/2026:21:59:20 +0000] \"GET /api/x HTTP/1.1\" 502 "
	     "ua=\"127.0.0.1:9000, 127.0.0.1:9001\" us=\"502, 502\" urt=\"0.001, 0.002\"");
	feed(s, UP,
	     "api.example [29/Nov/2026:21:59:21 +0000] \"GET /other HTTP/1.1\" 200 "
	     "ua=\"127.0.0.1:9002\" us=\"200\" urt=\"0.010\"");
	feed(s, UP, "not a line of the format");
	accessstats_new(m2, &s2);
	accessstats_carry(s2, s);
	size_t api = SIZE_MAX;
	for (size_t i = 0; i < m2->npasses; i++)
		if (strcmp(m2->passes[i].location, "/api/") == 0)
			api = i;
	CHECK(api != SIZE_MAX && m2->passes[api].ref.line == 18); /* was 17 */
	struct accessstats_counts c;
	CHECK(accessstats_pass_total(s2, api, &c));
	CHECK_INT(c.requests, 1);
	CHECK_INT(c.s502, 1);
	CHECK_INT(c.retries, 1);
	CHECK(accessstats_pass_window(s2, api, 300, now, &c));
	CHECK_INT(c.s502, 1);
	CHECK(accessstats_peer_total(s2, "127.0.0.1:9001", &c));
	CHECK_INT(c.s502, 1);
	CHECK(accessstats_peer_served(s2, "127.0.0.1:9002", 60, now)); /* now a peer of no pass */
	CHECK(accessstats_pass_log(s2, api) == accessstats_log_by_path(s2, UP));
	const struct accessstats_log *l = accessstats_log_by_path(s2, UP);
	CHECK_INT(l->lines, 3);
	CHECK_INT(l->unparsed, 1);
	/* new lines count on top */
	CHECK_INT(feed(s2, UP,
		       "api.example [29/Nov/2026:21:59:22 +0000] \"GET /api/y HTTP/1.1\" 200 "
		       "ua=\"127.0.0.1:9000\" us=\"200\" urt=\"0.010\""),
		  0);
	CHECK(accessstats_pass_total(s2, api, &c));
	CHECK_INT(c.requests, 2);
	accessstats_free(s);
	ngxconf_free(m);
	accessstats_free(s2);
	ngxconf_free(m2);
}

/* The daemon's way: a log's index looked up once, its lines by index. */
static void test_line_by_log_index(void)
{
	struct ngx_model *m = load();
	if (!m)
		return;
	struct accessstats *s = NULL;
	CHECK_INT(accessstats_new(m, &s), 0);
	size_t i = SIZE_MAX;
	CHECK(accessstats_log_index(s, PL, &i));
	CHECK_INT(i, 1);
	CHECK(!accessstats_log_index(s, "/var/log/nginx/error.log", &i));
	CHECK_INT(i, 1); /* untouched */
	const char *l = "127.0.0.1 - - [29/Nov/2026:21:59:23 +0000] \"GET /php/a.php HTTP/1.1\" "
			"504 0 \"-\" \"curl/7.88.1\"";
	CHECK_INT(accessstats_line_at(s, 1, l, strlen(l), now), 0);
	CHECK_INT(accessstats_line_at(s, 1, "garbage", 7, now), -EINVAL);
	CHECK_INT(accessstats_line_at(s, 2, l, strlen(l), now), -ENOENT);
	struct accessstats_counts c;
	CHECK(accessstats_pass_window(s, pass_at(m, "/php/"), 60, now, &c));
	CHECK_INT(c.requests, 1);
	CHECK_INT(c.s504, 1);
	CHECK_INT(accessstats_log_at(s, 1)->lines, 2);
	CHECK_INT(accessstats_log_at(s, 1)->unparsed, 1);
	CHECK_INT(accessstats_log_at(s, 0)->lines, 0);
	accessstats_free(s);
	ngxconf_free(m);
}

int main(void)
{
	RUN(test_counts_per_location_and_peer);
	RUN(test_line_by_log_index);
	RUN(test_escaped_path_placed_as_unescaped);
	RUN(test_location_cache_per_server_and_past_its_size);
	RUN(test_location_front_shared_by_prefixes);
	RUN(test_windows_slide_by_line_time);
	RUN(test_repeated_stamps_keep_their_own_time);
	RUN(test_quantile_sketch_bounded);
	RUN(test_quantile_bins_are_the_powers_of_1_1);
	RUN(test_impact_sentence);
	RUN(test_format_advice_at_the_access_log);
	RUN(test_span_counts_every_line_read);
	RUN(test_line_time_by_the_logs_format);
	RUN(test_stream_sessions_per_server_and_peer);
	RUN(test_reload_carries_counts);
	return harness_result();
}
