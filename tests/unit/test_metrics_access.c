/* Unit tests for the access-log part of the Prometheus exposition: per
 * location and per peer requests, 502/503/504/5xx, retries and response
 * time quantiles, labelled with the location's config_ref. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "harness.h"
#include "log/accessstats.h"
#include "nginx/ngxconf.h"
#include "output/metrics.h"
#include "probe/probe.h"

#define DIR FIXTURES "/nginx/accessstats"
#define UP  DIR "/logs/up.log"

static const time_t now = 1795989565;

static void test_location_and_peer_families(void)
{
	char err[1024] = "";
	struct ngxconf_options o = {.prefix = DIR};
	struct ngx_model *m = NULL;
	if (ngxconf_load_opts(DIR "/nginx.conf", NULL, &o, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "load: %s\n", err);
		CHECK(0);
		return;
	}
	struct accessstats *s = NULL;
	accessstats_new(m, &s);
	const char *lines[] = {
	    "api.example [29/Nov/2026:21:59:20 +0000] \"GET /api/a HTTP/1.1\" 200 "
	    "ua=\"127.0.0.1:9001, 127.0.0.1:9000\" us=\"502, 200\" urt=\"0.001, 0.250\"",
	    "api.example [29/Nov/2026:21:59:21 +0000] \"GET /api/b HTTP/1.1\" 504 "
	    "ua=\"127.0.0.1:9000\" us=\"504\" urt=\"10.000\"",
	};
	for (size_t i = 0; i < 2; i++)
		CHECK_INT(accessstats_line(s, UP, lines[i], strlen(lines[i]), now), 0);
	struct prober *p = NULL;
	CHECK_INT(prober_new(ev_default_loop(0), 4, NULL, NULL, &p), 0);
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	const struct diag_host host = {0};
	struct diag *d = diag_new(alerts, &host);
	struct metrics_sources src = {
	    .model = m, .prober = p, .diag = d, .alerts = alerts, .access = s, .now = (long)now};
	char *text = metrics_render(&src);
	const char *labels =
	    "server=\"api.example\",location=\"/api/\",config_ref=\"" DIR "/nginx.conf:17\"";
	char want[1024];
	snprintf(want, sizeof(want), "upwatch_location_requests_total{%s} 2\n", labels);
	CHECK(strstr(text, want) != NULL);
	snprintf(want, sizeof(want), "upwatch_location_errors_total{%s,code=\"504\"} 1\n", labels);
	CHECK(strstr(text, want) != NULL);
	snprintf(want, sizeof(want), "upwatch_location_retries_total{%s} 1\n", labels);
	CHECK(strstr(text, want) != NULL);
	CHECK(strstr(text, "upwatch_peer_requests_total{peer=\"127.0.0.1:9000\"} 2\n") != NULL);
	CHECK(strstr(text, "upwatch_peer_errors_total{peer=\"127.0.0.1:9001\",code=\"502\"} 1\n") !=
	      NULL);
	CHECK(strstr(text,
		     "upwatch_peer_response_seconds{peer=\"127.0.0.1:9000\",quantile=\"0.99\"}"
		     " 10.353\n") != NULL); /* 10 s: the bin ending at 1.1^97 ms */
	free(text);
	diag_free(d);
	alert_store_free(alerts);
	prober_free(p);
	accessstats_free(s);
	ngxconf_free(m);
}

int main(void)
{
	RUN(test_location_and_peer_families);
	return harness_result();
}
