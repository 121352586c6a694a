/* Unit tests for metrics: families, alert counts by cause, label escaping. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "harness.h"
#include "diagnose/evidence.h"
#include "output/metrics.h"
#include "probe/probe.h"

static void test_exposition_counts_events_and_alerts(void)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct prober *p = NULL;
	CHECK_INT(prober_new(loop, 4, NULL, NULL, &p), 0);
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	const struct diag_host host = {0}; /* nothing known of the host */
	struct diag *d = diag_new(alerts, &host);

	const char *line =
	    "2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection "
	    "refused) while connecting to upstream, client: 127.0.0.1, server: x, "
	    "request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:81/\", host: \"x\"";
	struct errlog_event ev;
	CHECK_INT(errlog_parse(line, strlen(line), &ev), 0);
	diag_log_event(d, &ev, line, strlen(line), 1700000000000);

	const char *learned[] = {"weird\"peer\\x"};
	struct metrics_sources s = {.prober = p,
				    .diag = d,
				    .alerts = alerts,
				    .extra_peers = learned,
				    .nextra_peers = 1,
				    .reloads = 2,
				    .rss_bytes = 4096};
	char *text = metrics_render(&s);
	CHECK(strstr(text, "# TYPE upwatch_log_events_total counter\n"));
	CHECK(strstr(text, "upwatch_log_events_total{kind=\"connect_failed\"} 1\n"));
	CHECK(strstr(
	    text,
	    "upwatch_peer_log_events_total{peer=\"127.0.0.1:81\",kind=\"connect_failed\"} 1\n"));
	CHECK(strstr(text, "upwatch_alerts_firing{cause=\"backend_down\"} 1\n"));
	CHECK(strstr(text, "upwatch_alerts_firing{cause=\"socket_missing\"} 0\n"));
	CHECK(strstr(text, "upwatch_reloads_total 2\n"));
	CHECK(strstr(text, "upwatch_resident_memory_bytes 4096\n"));
	/* every sample line is NAME{labels} VALUE or NAME VALUE */
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
		CHECK(l[0] == '#' || strncmp(l, "upwatch_", 8) == 0);
	free(text);

	diag_free(d);
	alert_store_free(alerts);
	prober_free(p);
}

/* promtool's verdict on text, or -1 when promtool is not installed. */
static int promtool(const char *text)
{
	if (access("/usr/bin/promtool", X_OK) != 0)
		return -1;
	FILE *f = popen("/usr/bin/promtool check metrics >/dev/null 2>&1", "w");
	fputs(text, f);
	return pclose(f);
}

/* A unix path with an invalid byte, ESC and quotes, as a log line can name
 * it: the label is escaped and valid UTF-8, and promtool accepts the file. */
static void test_odd_unix_path_label_is_valid_exposition(void)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct prober *p;
	CHECK_INT(prober_new(loop, 4, NULL, NULL, &p), 0);
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	const struct diag_host host = {0}; /* nothing known of the host */
	struct diag *d = diag_new(alerts, &host);
	const char *line =
	    "2026/11/21 10:00:00 [crit] 7#7: *1 connect() to unix:/run/a\xff\x1b\"q.sock failed "
	    "(2: No such file or directory) while connecting to upstream, client: 127.0.0.1, "
	    "server: x, request: \"GET /caf\xe9 HTTP/1.1\", upstream: "
	    "\"http://unix:/run/a\xff\x1b\"q.sock:/\", host: \"x\"";
	struct errlog_event ev;
	CHECK_INT(errlog_parse(line, strlen(line), &ev), 0);
	diag_log_event(d, &ev, line, strlen(line), 1700000000000);
	struct metrics_sources s = {.prober = p, .diag = d, .alerts = alerts};
	char *text = metrics_render(&s);
	CHECK(strstr(
	    text, "{peer=\"unix:/run/a\xef\xbf\xbd\x1b\\\"q.sock\",kind=\"connect_failed\"} 1\n"));
	int r = promtool(text);
	if (r >= 0)
		CHECK_INT(r, 0);
	free(text);
	diag_free(d);
	alert_store_free(alerts);
	prober_free(p);
}

/* Events of learned peers beyond the cap are counted and exposed (issue 16). */
static void test_untracked_learned_events_are_a_metric(void)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct prober *p = NULL;
	CHECK_INT(prober_new(loop, 4, NULL, NULL, &p), 0);
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	const struct diag_host host = {0}; /* nothing known of the host */
	struct diag *d = diag_new(alerts, &host);
	for (int i = 0; i < EVIDENCE_LEARNED_MAX + 5; i++) {
		char line[512];
		snprintf(line, sizeof(line),
			 "2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection "
			 "refused) while connecting to upstream, client: 127.0.0.1, server: x, "
			 "request: \"GET / HTTP/1.1\", upstream: \"http://127.0.%d.%d:81/\", "
			 "host: \"x\"",
			 i / 250, i % 250 + 1);
		struct errlog_event ev;
		CHECK_INT(errlog_parse(line, strlen(line), &ev), 0);
		diag_log_event(d, &ev, line, strlen(line), 1700000000000);
	}
	struct metrics_sources s = {.prober = p, .diag = d, .alerts = alerts};
	char *text = metrics_render(&s);
	CHECK(strstr(text, "# TYPE upwatch_log_events_untracked_total counter\n"));
	CHECK(strstr(text, "upwatch_log_events_untracked_total 5\n"));
	CHECK(strstr(text, "upwatch_learned_peers 4096\n"));
	free(text);
	diag_free(d);
	alert_store_free(alerts);
	prober_free(p);
}

int main(void)
{
	RUN(test_exposition_counts_events_and_alerts);
	RUN(test_odd_unix_path_label_is_valid_exposition);
	RUN(test_untracked_learned_events_are_a_metric);
	return harness_result();
}
