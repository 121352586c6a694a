/* Unit tests for what the access logs add to diagnosis: the impact
 * sentence every alert carries, and no peer_failing for a peer nginx served
 * lately, whatever a probe says. Uses the accessstats fixture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "diagnose/impact.h"
#include "harness.h"
#include "log/accessstats.h"
#include "log/errlog.h"
#include "nginx/ngxconf.h"

#define DIR FIXTURES "/nginx/accessstats"
#define UP  DIR "/logs/up.log"

static const time_t now = 1795989565; /* 2026-11-29 21:59:25 UTC */

static struct ngx_model *model;
static struct accessstats *stats;

static void feed(const char *line)
{
	CHECK_INT(accessstats_line(stats, UP, line, strlen(line), now), 0);
}

static void setup(void)
{
	char err[1024] = "";
	struct ngxconf_options o = {.prefix = DIR};
	model = NULL;
	if (ngxconf_load_opts(DIR "/nginx.conf", NULL, &o, &model, err, sizeof(err)) < 0)
		fprintf(stderr, "load: %s\n", err);
	stats = NULL;
	if (model)
		accessstats_new(model, &stats);
}

static void teardown(void)
{
	accessstats_free(stats);
	ngxconf_free(model);
}

static void traffic(int n502, int n200, const char *peer)
{
	char line[512];
	for (int i = 0; i < n502 + n200; i++) {
		int st = i < n502 ? 502 : 200;
		snprintf(line, sizeof(line),
			 "api.example [29/Nov/2026:21:59:%02d +0000] \"GET /api/%d HTTP/1.1\" %d "
			 "ua=\"%s\" us=\"%d\" urt=\"0.002\"",
			 i % 20, i, st, peer, st);
		feed(line);
	}
}

static void test_impact_of_a_peer_names_its_location(void)
{
	setup();
	if (!stats)
		return;
	traffic(4, 96, "127.0.0.1:9001");
	char buf[600];
	CHECK(impact_text(stats, model, "127.0.0.1:9001", NULL, NULL, (int64_t)now * 1000, buf,
			  sizeof(buf)) > 0);
	CHECK_STR(buf, "4 requests to location /api/ (" DIR "/nginx.conf:17) answered 502 in the "
		       "last 5 min, 4.0 % of its traffic");
	/* the block: the same location */
	CHECK(impact_text(stats, model, NULL, "app", NULL, (int64_t)now * 1000, buf, sizeof(buf)) >
	      0);
	CHECK(strstr(buf, "4 requests to location /api/") == buf);
	/* no 5xx: no sentence */
	CHECK_INT(impact_text(stats, model, "127.0.0.1:9002", NULL, NULL, (int64_t)now * 1000, buf,
			      sizeof(buf)),
		  0);
	CHECK_INT(impact_text(NULL, model, "127.0.0.1:9001", NULL, NULL, (int64_t)now * 1000, buf,
			      sizeof(buf)),
		  0);
	teardown();
}

static void test_served_peer_is_not_called_failing_by_a_probe(void)
{
	setup();
	if (!stats)
		return;
	traffic(0, 10, "127.0.0.1:9000"); /* nginx gets 200s through it */
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	const struct diag_host host = {0};
	struct diag *d = diag_new(alerts, &host);
	diag_set_model(d, model, NULL);
	diag_set_access(d, stats);
	struct probe_result r = {.result = PROBE_HTTP_STATUS, .latency_ms = 1};
	int64_t ms = (int64_t)now * 1000;
	r.time_ms = ms;
	diag_probe_result(d, "127.0.0.1:9000", &r, ms);
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:9000") == NULL);
	/* a peer nginx did not reach lately: the probe predicts */
	diag_probe_result(d, "127.0.0.1:9001", &r, ms);
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:9001") != NULL);
	/* and two minutes on, the served peer's window has passed */
	diag_probe_result(d, "127.0.0.1:9000", &r, ms + 120000);
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:9000") != NULL);
	diag_free(d);
	alert_store_free(alerts);
	teardown();
}

/* With a health_uri configured for it, a served peer failing its probe is
 * a warning that says nginx is answered; once nginx no longer is, the
 * ordinary prediction takes its words. */
static void test_served_peer_failing_its_health_uri_warns(void)
{
	setup();
	if (!stats)
		return;
	harness_write(harness_tmpdir(), "upwatch.conf", "upstream app { health_uri /healthz; }\n");
	char conf[512];
	snprintf(conf, sizeof(conf), "%s/upwatch.conf", harness_tmpdir());
	struct config *cfg = NULL;
	char err[512];
	CHECK_INT(config_load(conf, false, &cfg, err, sizeof(err)), 0);
	traffic(0, 10, "127.0.0.1:9000");
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	const struct diag_host host = {0};
	struct diag *d = diag_new(alerts, &host);
	diag_set_model(d, model, cfg);
	diag_set_access(d, stats);
	struct probe_result r = {.result = PROBE_HTTP_STATUS, .latency_ms = 1};
	snprintf(r.detail, sizeof(r.detail), "HTTP 503");
	int64_t ms = (int64_t)now * 1000;
	r.time_ms = ms;
	diag_probe_result(d, "127.0.0.1:9000", &r, ms);
	const struct alert *a = alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:9000");
	CHECK(a != NULL);
	if (a) {
		CHECK_INT(a->severity, ALERT_WARNING);
		CHECK_STR(a->summary, "127.0.0.1:9000 fails its health check GET /healthz "
				      "(http_status) while nginx is answered through it");
		CHECK_INT(a->nevidence, 2);
		CHECK_STR(a->evidence[0], "probe: GET /healthz: http_status (HTTP 503)");
		CHECK_STR(a->evidence[1], "access log: 10 requests through 127.0.0.1:9000 in the "
					  "last minute, 0 answered 5xx");
		CHECK(impact_is_health(a));
	}
	/* 127.0.0.1:9002 has no health_uri (no upstream block): no verdict */
	traffic(0, 3, "127.0.0.1:9002");
	diag_probe_result(d, "127.0.0.1:9002", &r, ms);
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:9002") == NULL);
	/* two minutes on, nginx no longer answered through it: a prediction */
	diag_probe_result(d, "127.0.0.1:9000", &r, ms + 120000);
	a = alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:9000");
	CHECK(a != NULL && !impact_is_health(a));
	if (a) /* (the probe's name comes from host.last_probe, absent here) */
		CHECK(strstr(a->summary, "127.0.0.1:9000 fails its probe (") == a->summary);
	diag_free(d);
	alert_store_free(alerts);
	config_free(cfg);
	teardown();
}

static void test_alert_carries_its_impact(void)
{
	setup();
	if (!stats)
		return;
	traffic(31, 969, "127.0.0.1:9001");
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	const struct diag_host host = {0};
	struct diag *d = diag_new(alerts, &host);
	diag_set_model(d, model, NULL);
	diag_set_access(d, stats);
	const char *line =
	    "2026/11/29 21:59:20 [error] 7#7: *1 connect() failed (111: Connection refused) while "
	    "connecting to upstream, client: 127.0.0.1, server: api.example, request: \"GET /api/x "
	    "HTTP/1.1\", upstream: \"http://127.0.0.1:9001/api/x\", host: \"api.example\"";
	struct errlog_event ev;
	CHECK_INT(errlog_parse(line, strlen(line), &ev), 0);
	diag_log_event(d, &ev, line, strlen(line), (int64_t)now * 1000);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:9001");
	CHECK(a != NULL);
	bool found = false;
	for (size_t i = 0; a && i < a->nevidence; i++)
		found |= strcmp(a->evidence[i], "31 requests to location /api/ (" DIR
						"/nginx.conf:17) answered 502 in the last 5 min, "
						"3.1 % of its traffic") == 0;
	CHECK(found);
	/* and in the summary, journald's MESSAGE */
	CHECK(a && strstr(a->summary, ": 31 requests to location /api/ (") != NULL);
	diag_free(d);
	alert_store_free(alerts);
	teardown();
}

static void timed(const char *peer, const char *urt, int n)
{
	char line[512];
	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line),
			 "api.example [29/Nov/2026:21:59:%02d +0000] \"GET /api/%d HTTP/1.1\" 200 "
			 "ua=\"%s\" us=\"200\" urt=\"%s\"",
			 i % 20, i, peer, urt);
		feed(line);
	}
}

static void test_backend_slow_before_any_timeout(void)
{
	setup();
	if (!stats)
		return;
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	int64_t ms = (int64_t)now * 1000;
	/* 9 s answers behind /api/'s proxy_read_timeout 10s (nginx.conf:18) */
	timed("127.0.0.1:9000", "9.000", 30);
	/* 5 s answers: half the timeout, no warning */
	timed("127.0.0.1:9001", "5.000", 30);
	/* too few samples to judge */
	timed("127.0.0.1:9002", "59.000", 5);
	CHECK_INT(impact_check_slow(stats, model, alerts, ms), 1);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.1:9000");
	CHECK(a != NULL);
	if (a) {
		CHECK(a->firing);
		CHECK_INT(a->severity, ALERT_WARNING);
		CHECK_STR(a->summary, "127.0.0.1:9000 is getting slow: p99 upstream response time "
				      "9.412 s is 94 % of proxy_read_timeout 10 s");
		CHECK_STR(a->config_ref, DIR "/nginx.conf:18");
		CHECK(strstr(a->fix, "    proxy_read_timeout 20s;\n") != NULL);
		CHECK_STR(a->upstream, "app");
	}
	CHECK(alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.1:9001") == NULL);
	CHECK(alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.1:9002") == NULL);
	alert_store_free(alerts);
	teardown();
}

static void test_backend_slow_over_the_span_explain_read(void)
{
	setup();
	if (!stats)
		return;
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	int64_t ms = (int64_t)now * 1000;
	/* 9 s answers 40 minutes ago: out of the 5 min ring, inside an hour */
	char line[512];
	for (int i = 0; i < 25; i++) {
		snprintf(line, sizeof(line),
			 "api.example [29/Nov/2026:21:19:%02d +0000] \"GET /api/%d HTTP/1.1\" 200 "
			 "ua=\"127.0.0.1:9000\" us=\"200\" urt=\"9.000\"",
			 i, i);
		feed(line);
	}
	CHECK_INT(impact_check_slow(stats, model, alerts, ms), 0);
	accessstats_set_span(stats, 3600);
	CHECK_INT(impact_check_slow(stats, model, alerts, ms), 1);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.1:9000");
	CHECK(a != NULL);
	if (a) {
		CHECK_STR(a->summary, "127.0.0.1:9000 is getting slow: p99 upstream response time "
				      "9.412 s is 94 % of proxy_read_timeout 10 s");
		CHECK(strstr(a->explanation, "Observed (access log, in the last 1 h): 99 % of "
					     "nginx's tries to 127.0.0.1:9000 were answered "
					     "within 9.412 s") != NULL);
	}
	alert_store_free(alerts);
	teardown();
}

static void test_errors_unlogged_until_an_alert_explains_them(void)
{
	setup();
	if (!stats)
		return;
	traffic(31, 969, "127.0.0.1:9001");
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	int64_t ms = (int64_t)now * 1000;
	CHECK_INT(impact_check_unlogged(stats, model, alerts, ms), 1);
	const struct alert *a = alert_find(alerts, CAUSE_ERRORS_UNLOGGED, NULL);
	CHECK(a != NULL);
	if (a) {
		CHECK_STR(a->summary,
			  "31 requests to location /api/ (" DIR "/nginx.conf:17) answered "
			  "502 in the last 5 min, 3.1 % of its traffic, and no "
			  "error-log line says why");
		/* error_log ... crit; on the fixture's last line */
		CHECK_STR(a->config_ref, DIR "/nginx.conf:33");
		CHECK_STR(a->fix,
			  "Lower the error_log level so that the next failure says why (" DIR
			  "/nginx.conf:33):\n    error_log " DIR "/logs/error.log error;\n");
		CHECK_STR(a->upstream, "app");
	}
	/* the error log speaks up: an alert for the peer explains the 502s */
	const struct alert_report down = {.cause = CAUSE_BACKEND_DOWN,
					  .severity = ALERT_CRITICAL,
					  .peer = "127.0.0.1:9001",
					  .upstream = "app",
					  .summary = "down",
					  .time_ms = ms};
	alert_report(alerts, &down, ms);
	CHECK_INT(impact_check_unlogged(stats, model, alerts, ms + 1000), 0);
	CHECK(alert_find(alerts, CAUSE_ERRORS_UNLOGGED, NULL) == NULL);
	alert_store_free(alerts);
	teardown();
}

static void test_errors_unlogged_names_the_log_format_to_add(void)
{
	setup();
	if (!stats)
		return;
	const char *line = "127.0.0.1 - - [29/Nov/2026:21:59:23 +0000] \"GET /php/a.php "
			   "HTTP/1.1\" 504 0 \"-\" \"curl/7.88.1\"";
	for (int i = 0; i < 6; i++)
		CHECK_INT(accessstats_line(stats, DIR "/logs/plain.log", line, strlen(line), now),
			  0);
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	CHECK_INT(impact_check_unlogged(stats, model, alerts, (int64_t)now * 1000), 1);
	const struct alert *a = alert_find(alerts, CAUSE_ERRORS_UNLOGGED, NULL);
	CHECK(a != NULL);
	if (a) {
		CHECK(strstr(a->summary, "6 requests to location /php/ (") == a->summary);
		CHECK(strstr(a->fix, "    error_log " DIR "/logs/error.log error;\n") != NULL);
		CHECK(strstr(a->fix, "at " DIR "/nginx.conf:27") != NULL);
		CHECK(strstr(a->fix, "    access_log " DIR "/logs/plain.log upstream_info;") !=
		      NULL);
	}
	alert_store_free(alerts);
	teardown();
}

int main(void)
{
	RUN(test_impact_of_a_peer_names_its_location);
	RUN(test_served_peer_is_not_called_failing_by_a_probe);
	RUN(test_served_peer_failing_its_health_uri_warns);
	RUN(test_alert_carries_its_impact);
	RUN(test_backend_slow_before_any_timeout);
	RUN(test_backend_slow_over_the_span_explain_read);
	RUN(test_errors_unlogged_until_an_alert_explains_them);
	RUN(test_errors_unlogged_names_the_log_format_to_add);
	return harness_result();
}
