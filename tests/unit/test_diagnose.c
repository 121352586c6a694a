/* Unit tests for diagnose (and advice through it): real log lines, a real
 * nginx model, and a fake host whose probe results and listeners the test
 * sets (diag_fixture.h): the causes and their lifecycle. The backend's
 * own signals are in test_diagnose_backend.c, its unit's journal and
 * systemd's state in test_diagnose_journal.c, dns_stale in
 * test_diagnose_dns.c. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/unitlog.h"
#include "conf/config.h"
#include "core/util.h"
#include "diag_fixture.h"
#include "diagnose/advice.h"
#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "diagnose/evidence.h"
#include "diagnose/rules.h"
#include "harness.h"
#include "log/errlog.h"
#include "nginx/ngxconf.h"
#include "output/json.h"

static void test_refused_raises_backend_down_with_the_server_line(void)
{
	setup();
	fake.listener_known = true; /* nothing listens; 8080 does */
	fake.nearby[0] = 8080;
	fake.nnearby = 1;
	feed(T0, REFUSED, "/");
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:8081", "app", "4", ALERT_CRITICAL);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	/* what listens on 8080 is unknown: never proposed (issue 13) */
	CHECK(a && !strstr(a->fix, "server 127.0.0.1:8080;"));
	CHECK(a && strstr(a->fix, "none is known to be this backend"));
	CHECK(a && strstr(a->explanation, "Nothing listens on 127.0.0.1:8081"));
	CHECK_INT(fake.probes_asked, 1); /* the event asks for a fresh probe */
	feed(T0 + 10, REFUSED, "/");
	CHECK(a && a->count == 2);
	CHECK_INT(alert_firing_count(alerts), 1);
	teardown();
}

static void test_probe_alone_predicts_then_traffic_upgrades(void)
{
	setup();
	set_probe("127.0.0.1:8081", PROBE_REFUSED, T0);
	diag_probe_result(diag, "127.0.0.1:8081", &fake.probe[0], T0);
	expect_alert(CAUSE_PEER_FAILING, "127.0.0.1:8081", "app", "4", ALERT_WARNING);
	feed(T0 + 1000, REFUSED, "/");
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:8081") == NULL);
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:8081", "app", "4", ALERT_CRITICAL);
	teardown();
}

static void test_listener_started_after_errors_means_restarted(void)
{
	setup();
	feed(T0, REFUSED, "/");
	fake.listener_known = true;
	fake.listener =
	    (struct host_listener){.listening = true, .pid = 42, .started_ms = T0 + 5000};
	snprintf(fake.listener.process, sizeof(fake.listener.process), "app");
	set_probe("127.0.0.1:8081", PROBE_OK, T0 + 6000);
	diag_probe_result(diag, "127.0.0.1:8081", &fake.probe[0], T0 + 6000);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081") == NULL);
	expect_alert(CAUSE_BACKEND_RESTARTED, "127.0.0.1:8081", "app", "4", ALERT_WARNING);
	teardown();
}

/* As the service user: no /proc of the backend (pid 0, no start time); the
 * listening socket tells the restart. */
static bool restarted_with(struct host_listener l)
{
	setup();
	feed(T0, REFUSED, "/");
	fake.listener_known = true;
	fake.listener = l;
	set_probe("127.0.0.1:8081", PROBE_OK, T0 + 6000);
	diag_probe_result(diag, "127.0.0.1:8081", &fake.probe[0], T0 + 6000);
	bool restarted = alert_find(alerts, CAUSE_BACKEND_RESTARTED, "127.0.0.1:8081") != NULL;
	bool down = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081") != NULL;
	CHECK(restarted != down);
	teardown();
	return restarted;
}

static void test_new_listening_socket_after_errors_means_restarted_without_proc(void)
{
	/* nothing (inode 0) was seen listening after the errors began */
	CHECK(restarted_with((struct host_listener){
	    .listening = true, .inode = 7, .before_ms = T0 + 1000, .since_ms = T0 + 5000}));
	/* no history across the errors, but nginx was refused before this
	 * listener was first seen: it is new */
	CHECK(restarted_with(
	    (struct host_listener){.listening = true, .inode = 7, .since_ms = T0 + 5000}));
	/* the same socket, seen since before the errors: no restart */
	CHECK(!restarted_with(
	    (struct host_listener){.listening = true, .inode = 7, .since_ms = T0 - 60000}));
	/* a change long before the errors: no restart */
	CHECK(!restarted_with((struct host_listener){
	    .listening = true, .inode = 7, .before_ms = T0 - 70000, .since_ms = T0 - 60000}));
}

static void test_ok_probe_with_an_old_listener_keeps_the_alert_until_hold(void)
{
	setup();
	feed(T0, REFUSED, "/");
	fake.listener_known = true;
	fake.listener =
	    (struct host_listener){.listening = true, .pid = 42, .started_ms = T0 - 60000};
	set_probe("127.0.0.1:8081", PROBE_OK, T0 + 1000);
	diag_probe_result(diag, "127.0.0.1:8081", &fake.probe[0], T0 + 1000);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081") != NULL);
	CHECK(alert_find(alerts, CAUSE_BACKEND_RESTARTED, "127.0.0.1:8081") == NULL);
	diag_tick(diag, T0 + 29999);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081") != NULL);
	diag_tick(diag, T0 + 30000);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081") == NULL);
	teardown();
}

static void test_read_timeout_names_the_location_timeout(void)
{
	setup();
	set_probe("127.0.0.1:8081", PROBE_TIMEOUT, T0 - 1);
	fake.probe[0].ttfb_ms = 45000;
	feed(
	    T0,
	    "2026/11/21 10:00:00 [error] 7#7: *3 upstream timed out (110: Connection timed out) "
	    "while reading response header from upstream, client: 127.0.0.1, server: diag.test, "
	    "request: \"GET %s HTTP/1.1\", upstream: \"http://127.0.0.1:8081/slow/x\", host: \"d\"",
	    "/slow/x");
	/* issue 10: one source of severity, cause.c's table: backend_slow warns */
	expect_alert(CAUSE_BACKEND_SLOW, "127.0.0.1:8081", "app", "13", ALERT_WARNING);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.1:8081");
	CHECK(a && strstr(a->summary, "proxy_read_timeout 30s"));
	CHECK(a && strstr(a->fix, "proxy_read_timeout 68s;")); /* 45 s measured x 1.5 */
	teardown();
}

static void test_unix_errnos_map_to_socket_causes(void)
{
	static const struct {
		int err;
		enum cause cause;
		enum alert_severity sev; /* issue 10: the cause table's */
	} cases[] = {
	    {2, CAUSE_SOCKET_MISSING, ALERT_CRITICAL},
	    {13, CAUSE_SOCKET_PERMISSION, ALERT_CRITICAL},
	    {111, CAUSE_SOCKET_STALE, ALERT_CRITICAL},
	    {11, CAUSE_BACKEND_OVERLOADED, ALERT_WARNING},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		setup();
		feed(T0,
		     "2026/11/21 10:00:00 [crit] 7#7: *5 connect() to unix:/run/php/fpm.sock "
		     "failed (%d: x) while connecting to upstream, client: 127.0.0.1, server: "
		     "diag.test, request: \"GET /php HTTP/1.1\", upstream: "
		     "\"fastcgi://unix:/run/php/fpm.sock:\", host: \"d\"",
		     cases[i].err);
		expect_alert(cases[i].cause, "unix:/run/php/fpm.sock", NULL, "16", cases[i].sev);
		teardown();
	}
}

/* nginx sometimes logs a unix upstream without the ':' after the socket
 * path: the peer is the path the configuration names, whatever the URI. */
static void test_unix_peer_without_colon_is_keyed_by_the_configured_socket(void)
{
	setup();
	for (int i = 1; i <= 2; i++)
		feed(T0 + i,
		     "2026/11/21 10:00:00 [error] 7#7: *5 connect() to unix:/run/app/socket "
		     "failed (111: Connection refused) while connecting to upstream, client: "
		     "127.0.0.1, server: bk.test, request: \"GET /orders/%d HTTP/1.1\", upstream: "
		     "\"http://unix:/run/app/socket/orders/%d\", host: \"bk.test\"",
		     i, i);
	const struct alert *a = alert_find(alerts, CAUSE_SOCKET_STALE, "unix:/run/app/socket");
	CHECK(a != NULL);
	CHECK(a && a->count == 2);
	CHECK_INT(alert_firing_count(alerts), 1);
	teardown();
}

/* gRPC RST_STREAM: REFUSED_STREAM (7) is a full backend, other codes a broken answer */
static void test_grpc_rejected_request_by_error_code(void)
{
	static const struct {
		int code;
		enum cause cause;
	} cases[] = {{7, CAUSE_BACKEND_OVERLOADED}, {2, CAUSE_INVALID_RESPONSE}};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		setup();
		feed(T0,
		     "2026/11/21 10:00:00 [error] 7#7: *1 upstream rejected request with error %d "
		     "while reading response header from upstream, client: 127.0.0.1, server: "
		     "diag.test, request: \"POST /a.B/C HTTP/2.0\", upstream: "
		     "\"grpc://127.0.0.1:8081\", host: \"diag.test\"",
		     cases[i].code);
		CHECK(alert_find(alerts, cases[i].cause, "127.0.0.1:8081") != NULL);
		teardown();
	}
}

static void test_permission_fix_names_the_worker_user(void)
{
	setup();
	set_probe("unix:/run/php/fpm.sock", PROBE_PERMISSION, T0 - 1);
	struct probe_result *r = &fake.probe[0];
	r->unix_checked = true;
	r->sock_mode = 0660;
	snprintf(r->sock_owner, sizeof(r->sock_owner), "nginx");
	snprintf(r->sock_group, sizeof(r->sock_group), "nginx");
	snprintf(r->denied_path, sizeof(r->denied_path), "/run/php/fpm.sock");
	snprintf(r->denied_why, sizeof(r->denied_why), "no write (w) permission for www-data");
	feed(T0,
	     "2026/11/21 10:00:00 [crit] 7#7: *5 connect() to unix:/run/php/fpm.sock failed (13: "
	     "Permission denied) while connecting to upstream, client: 127.0.0.1, server: "
	     "diag.test, "
	     "request: \"GET %s HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/fpm.sock:\", "
	     "host: \"d\"",
	     "/php");
	const struct alert *a =
	    alert_find(alerts, CAUSE_SOCKET_PERMISSION, "unix:/run/php/fpm.sock");
	CHECK(a && strstr(a->summary, "www-data"));
	CHECK(a && strstr(a->explanation, "nginx:nginx 0660"));
	CHECK(a && strstr(a->fix, "listen.owner = www-data"));
	CHECK(a && strstr(a->fix, "listen.group = www-data"));
	teardown();
}

static void test_no_live_upstreams_names_the_block_and_its_peers(void)
{
	setup();
	set_probe("127.0.0.1:9001", PROBE_REFUSED, T0);
	set_probe("127.0.0.1:9002", PROBE_REFUSED, T0);
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *9 no live upstreams while connecting to upstream, "
	     "client: 127.0.0.1, server: diag.test, request: \"GET %s HTTP/1.1\", upstream: "
	     "\"http://pool/pool\", host: \"d\"",
	     "/pool");
	expect_alert(CAUSE_NO_LIVE_UPSTREAMS, NULL, "pool", "5", ALERT_CRITICAL);
	const struct alert *a = alert_find(alerts, CAUSE_NO_LIVE_UPSTREAMS, "pool");
	CHECK(a && strstr(a->explanation, "127.0.0.1:9001 down (refused)"));
	CHECK(a && strstr(a->fix, "server 127.0.0.1:9001 max_fails=3 fail_timeout=10s;"));
	CHECK_INT(fake.probes_asked, 2); /* each peer of the block */
	/* the peers' own probes now name their causes */
	diag_probe_result(diag, "127.0.0.1:9001", &fake.probe[0], T0 + 100);
	diag_probe_result(diag, "127.0.0.1:9002", &fake.probe[1], T0 + 100);
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:9001", "pool", "6", ALERT_CRITICAL);
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:9002", "pool", "7", ALERT_CRITICAL);
	teardown();
}

static void test_one_failing_peer_of_a_healthy_pool_is_a_warning(void)
{
	setup();
	set_probe("127.0.0.1:9002", PROBE_OK, T0);
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while "
	     "connecting to upstream, client: 127.0.0.1, server: diag.test, request: \"GET %s "
	     "HTTP/1.1\", upstream: \"http://127.0.0.1:9001/pool\", host: \"d\"",
	     "/pool");
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:9001", "pool", "6", ALERT_WARNING);
	teardown();
}

static void test_worker_connections_exhausted(void)
{
	setup();
	feed(T0,
	     "2026/11/21 10:00:00 [alert] 7#7: *9 256 worker_connections are not enough while "
	     "connecting to upstream, client: 127.0.0.1, server: diag.test, request: \"GET %s "
	     "HTTP/1.1\", host: \"d\"",
	     "/");
	expect_alert(CAUSE_WORKER_CONNECTIONS_EXHAUSTED, NULL, NULL, "2", ALERT_CRITICAL);
	const struct alert *a = alert_find(alerts, CAUSE_WORKER_CONNECTIONS_EXHAUSTED, NULL);
	/* one refused on top of the 256 held, twice over */
	CHECK(a && strstr(a->fix, "    worker_connections 514;\n"));
	CHECK(a && strstr(a->explanation, "those clients saw a dropped connection"));
	teardown();
}

/* 16 held and 43 refused in one burst (real nginx under 50 curls): 59 at
 * once, 118 with their upstream connections; a later, smaller burst does not
 * shrink it, and one line a second never grows it. */
static void test_worker_connections_are_sized_from_the_fullest_burst(void)
{
	setup();
	const char *line = "2026/11/21 10:00:00 [alert] 7#7: 16 worker_connections are not enough";
	for (int i = 0; i < 43; i++)
		feed(T0 + i * 10, "%s", line);
	diag_tick(diag, T0 + 1000);
	const struct alert *a = alert_find(alerts, CAUSE_WORKER_CONNECTIONS_EXHAUSTED, NULL);
	CHECK(a && strstr(a->explanation, "Up to 43 connections found no free slot within one "
					  "second, on top of the 256 a worker held: about 299"));
	CHECK(a && strstr(a->fix, "    worker_connections 598;\n"));
	for (int i = 0; i < 5; i++)
		feed(T0 + 2000 + i * 1000, "%s", line);
	diag_tick(diag, T0 + 8000);
	a = alert_find(alerts, CAUSE_WORKER_CONNECTIONS_EXHAUSTED, NULL);
	CHECK(a && strstr(a->fix, "    worker_connections 598;\n"));
	teardown();
}

static void test_unresolvable_name_is_dns_failure(void)
{
	setup();
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *2 %s could not be resolved (3: Host not found), "
	     "client: 127.0.0.1, server: diag.test, request: \"GET / HTTP/1.1\", host: \"d\"",
	     "gone.invalid");
	const struct alert *a = alert_find(alerts, CAUSE_DNS_FAILURE, "gone.invalid");
	CHECK(a != NULL);
	CHECK(a && a->firing && strstr(a->summary, "cannot resolve gone.invalid"));
	teardown();
}

static void test_dns_fix_matches_the_case(void)
{
	/* a name in an upstream block that stops resolving: the reload is
	 * refused and nginx runs the old configuration (issue 13) */
	setup();
	feed(T0,
	     "2026/11/21 10:00:00 [emerg] 7#7: host not found in upstream \"%s\" in "
	     "/etc/nginx/nginx.conf:4",
	     "gone.invalid:8080");
	const struct alert *a = NULL;
	for (const struct alert *x = alert_first(alerts); x; x = alert_next(alerts, x))
		if (x->cause == CAUSE_DNS_FAILURE)
			a = x;
	CHECK(a != NULL);
	CHECK(a && strstr(a->explanation, "nginx still runs the previous configuration"));
	CHECK(a && strstr(a->fix, "    nginx -t && nginx -s reload"));
	CHECK(a && !strstr(a->fix, "$backend"));
	CHECK(a && !strstr(a->fix, "127.0.0.53"));
	teardown();

	/* a variable proxy_pass without a resolver: a resolver line, nothing else */
	setup();
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *2 no resolver defined to resolve %s, client: "
	     "127.0.0.1, server: diag.test, request: \"GET / HTTP/1.1\", host: \"d\"",
	     "api.example");
	a = alert_find(alerts, CAUSE_DNS_FAILURE, "api.example");
	CHECK(a && strstr(a->fix, "Give nginx a resolver"));
	CHECK(a && strstr(a->fix, " valid=30s;"));
	CHECK(a && !strstr(a->fix, "$backend"));
	teardown();
}

static void test_peers_from_logs_are_capped_but_configured_ones_never(void)
{
	setup();
	for (int i = 0; i < 4200; i++)
		feed(T0 + i,
		     "2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection "
		     "refused) "
		     "while connecting to upstream, client: 127.0.0.1, server: x, request: \"GET / "
		     "HTTP/1.1\", upstream: \"http://127.0.%d.%d:80/\", host: \"x\"",
		     2 + i / 250, i % 250 + 1);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.2.1:80") != NULL);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.18.200:80") == NULL); /* the 4200th */
	CHECK_INT(diag_untracked_events(diag), 4200 - 4096); /* counted, and shown by stats */
	feed(T0 + 5000, REFUSED, "/");
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:8081", "app", "4", ALERT_CRITICAL);
	teardown();
}

#define STALE                                                                                      \
	"2026/11/21 10:00:00 [error] 7#7: *5 connect() to unix:/run/php/fpm.sock failed (111: "    \
	"Connection refused) while connecting to upstream, client: 127.0.0.1, server: diag.test, " \
	"request: \"GET %s HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/fpm.sock:\", host: "    \
	"\"d\""

static void probe_at(const char *key, enum probe_result_kind res, int64_t t)
{
	set_probe(key, res, t);
	for (size_t i = 0; i < fake.nprobe; i++)
		if (streq(fake.probe_key[i], key))
			diag_probe_result(diag, key, &fake.probe[i], t);
}

static void test_a_weaker_probe_never_resolves_a_cause_that_still_holds(void)
{
	setup();
	const char *sock = "unix:/run/php/fpm.sock";
	feed(T0, STALE, "/php");
	CHECK(alert_find(alerts, CAUSE_SOCKET_STALE, sock) != NULL);
	/* upwatch's own connect is denied (the service user): weaker, not a fix */
	for (int64_t t = T0 + 20000; t <= T0 + 400000; t += 20000) {
		probe_at(sock, PROBE_PERMISSION, t);
		diag_tick(diag, t + 1);
	}
	CHECK(alert_find(alerts, CAUSE_SOCKET_STALE, sock) != NULL);
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, sock) == NULL);
	teardown();
}

static void test_peer_failing_after_old_errors_does_not_say_no_error_yet(void)
{
	setup();
	feed(T0, REFUSED, "/");
	diag_tick(diag, T0 + 30000); /* resolved by its hold, no probe kept it */
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081") == NULL);
	probe_at("127.0.0.1:8081", PROBE_REFUSED, T0 + DIAG_TEST_EPISODE_MS);
	const struct alert *a = alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:8081");
	CHECK(a && !strstr(a->explanation, "no error") && strstr(a->explanation, "last error"));
	teardown();
}

static void test_no_live_upstreams_holds_while_every_peer_is_down(void)
{
	setup();
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *9 no live upstreams while connecting to upstream, "
	     "client: 127.0.0.1, server: diag.test, request: \"GET %s HTTP/1.1\", upstream: "
	     "\"http://pool/pool\", host: \"d\"",
	     "/pool");
	for (int64_t t = T0 + 5000; t <= T0 + 120000; t += 5000) {
		probe_at("127.0.0.1:9001", PROBE_REFUSED, t);
		probe_at("127.0.0.1:9002", PROBE_REFUSED, t);
		diag_tick(diag, t + 1);
	}
	CHECK(alert_find(alerts, CAUSE_NO_LIVE_UPSTREAMS, "pool") != NULL);
	/* one peer is back: the block lives, the alert ages out */
	probe_at("127.0.0.1:9002", PROBE_OK, T0 + 125000);
	diag_tick(diag, T0 + 125000 + 30000);
	CHECK(alert_find(alerts, CAUSE_NO_LIVE_UPSTREAMS, "pool") == NULL);
	teardown();
}

static void test_one_crash_is_one_backend_restarted_story(void)
{
	setup();
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *1 recv() failed (104: Connection reset by peer) "
	     "while reading response header from upstream, client: 127.0.0.1, server: diag.test, "
	     "request: \"GET %s HTTP/1.1\", upstream: \"http://127.0.0.1:8081/\", host: \"d\"",
	     "/");
	feed(T0 + 1000, REFUSED, "/");
	feed(T0 + 1500, REFUSED, "/");
	CHECK(alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081") != NULL);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081") != NULL);
	fake.listener_known = true;
	fake.listener =
	    (struct host_listener){.listening = true, .pid = 42, .started_ms = T0 + 2000};
	probe_at("127.0.0.1:8081", PROBE_OK, T0 + 3000);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_RESTARTED, "127.0.0.1:8081");
	CHECK(a != NULL);
	CHECK(a && a->count == 3);
	bool window = false;
	for (size_t i = 0; a && i < a->nevidence; i++)
		window |= strstr(a->evidence[i], "backend_reset") &&
			  strstr(a->evidence[i], "backend_down");
	CHECK(window);
	/* its chapters are not alerts of their own, firing or in the history */
	size_t n = 0;
	for (const struct alert *x = alert_first(alerts); x; x = alert_next(alerts, x))
		n++;
	CHECK_INT(n, 1);
	CHECK_INT(alert_firing_count(alerts), 1);
	teardown();
}

static void test_a_local_probe_error_is_never_a_verdict(void)
{
	setup();
	probe_at("127.0.0.1:8081", PROBE_LOCAL_ERROR, T0);
	CHECK_INT(alert_firing_count(alerts), 0);
	feed(T0 + 1000, REFUSED, "/");
	probe_at("127.0.0.1:8081", PROBE_LOCAL_ERROR, T0 + 20000);
	diag_tick(diag, T0 + 31000); /* the local error kept nothing alive */
	CHECK_INT(alert_firing_count(alerts), 0);
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.1:8081") == NULL);
	teardown();
}

static void test_one_path_is_missing_or_stale_never_both(void)
{
	setup();
	const char *sock = "unix:/run/php/fpm.sock";
	feed(T0, STALE, "/php");
	probe_at(sock, PROBE_MISSING, T0 + 1000);
	CHECK(alert_find(alerts, CAUSE_SOCKET_MISSING, sock) != NULL);
	CHECK(alert_find(alerts, CAUSE_SOCKET_STALE, sock) == NULL);
	feed(T0 + 2000, STALE, "/php");
	CHECK(alert_find(alerts, CAUSE_SOCKET_STALE, sock) != NULL);
	CHECK(alert_find(alerts, CAUSE_SOCKET_MISSING, sock) == NULL);
	teardown();
}

#define MISSING                                                                                    \
	"2026/11/21 10:00:00 [crit] 7#7: *5 connect() to unix:/run/php/fpm.sock failed (2: No "    \
	"such file or directory) while connecting to upstream, client: 127.0.0.1, server: "        \
	"diag.test, request: \"GET %s HTTP/1.1\", upstream: "                                      \
	"\"fastcgi://unix:/run/php/fpm.sock:\", "                                                  \
	"host: \"d\""

/* Both kinds of line keep coming for one path: both causes hold, so the
 * first alert keeps the story and counts the other lines (no flip, nothing
 * published per line); once one kind stops for a second, the newest wins. */
static void test_missing_and_stale_lines_together_keep_the_first_alert(void)
{
	setup();
	const char *sock = "unix:/run/php/fpm.sock";
	feed(T0, MISSING, "/php");
	CHECK_INT(published, 1);
	for (int i = 1; i <= 10; i++) {
		if (i % 2)
			feed(T0 + i * 50, STALE, "/php");
		else
			feed(T0 + i * 50, MISSING, "/php");
	}
	const struct alert *a = alert_find(alerts, CAUSE_SOCKET_MISSING, sock);
	CHECK(a && a->firing);
	CHECK(a && a->count == 11);
	CHECK(alert_find(alerts, CAUSE_SOCKET_STALE, sock) == NULL);
	CHECK_INT(alert_firing_count(alerts), 1);
	CHECK_INT(published, 1);
	/* the tick words it once; the refused lines are among its evidence */
	diag_tick(diag, T0 + 1000);
	a = alert_find(alerts, CAUSE_SOCKET_MISSING, sock);
	bool refused = false;
	for (size_t i = 0; a && i < a->nevidence; i++)
		refused |= strstr(a->evidence[i], "(111: Connection refused)") != NULL;
	CHECK(refused);
	CHECK_INT(published, 1);
	/* the missing lines stopped 1.1 s ago: the stale path is the news */
	feed(T0 + 1600, STALE, "/php");
	a = alert_find(alerts, CAUSE_SOCKET_STALE, sock);
	CHECK(a && a->firing);
	CHECK(a && a->count == 1);
	CHECK(alert_find(alerts, CAUSE_SOCKET_MISSING, sock) == NULL);
	CHECK_INT(alert_firing_count(alerts), 1);
	CHECK_INT(published, 3); /* missing resolved, stale raised */
	teardown();
}

static void test_learned_peers_and_their_alerts_expire_when_quiet(void)
{
	setup();
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while "
	     "connecting to upstream, client: 127.0.0.1, server: x, request: \"GET %s HTTP/1.1\", "
	     "upstream: \"http://127.0.9.9:80/\", host: \"x\"",
	     "/");
	CHECK_INT(fake.learned, 1);
	CHECK_INT(diag_learned_count(diag), 1);
	/* its probe keeps failing: the alert stays, but not forever */
	probe_at("127.0.9.9:80", PROBE_REFUSED, T0 + 60000);
	diag_tick(diag, T0 + 60001);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.9.9:80") != NULL);
	diag_tick(diag, T0 + 15 * 60 * 1000);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.9.9:80") == NULL);
	CHECK_INT(fake.learned, 0);
	CHECK_INT(diag_learned_count(diag), 0);
	const char **keys;
	CHECK_INT(diag_learned_peers(diag, &keys), 0);
	teardown();
}

#define LEARNED                                                                                    \
	"2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while "    \
	"connecting to upstream, client: 127.0.0.1, server: x, request: \"GET / HTTP/1.1\", "      \
	"upstream: \"http://%s/\", host: \"x\""

/* A learned peer that expired and comes back is a new record, learned
 * again: never the freed one (the lookup memo forgets it). */
static void test_a_peer_that_expired_and_comes_back_is_learned_again(void)
{
	setup();
	feed(T0, LEARNED, "127.0.9.9:80");
	feed(T0 + 1, LEARNED, "127.0.9.9:80");
	CHECK_INT(fake.learned, 1);
	diag_tick(diag, T0 + 15 * 60 * 1000 + 1);
	CHECK_INT(fake.learned, 0);
	CHECK_INT(diag_learned_count(diag), 0);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.9.9:80") == NULL);
	feed(T0 + 15 * 60 * 1000 + 2, LEARNED, "127.0.9.9:80");
	CHECK_INT(fake.learned, 1);
	CHECK_INT(diag_learned_count(diag), 1);
	const char **keys;
	CHECK_INT(diag_learned_peers(diag, &keys), 1);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.9.9:80") != NULL);
	teardown();
}

/* A peer whose record expired while others filled the cap is untracked
 * when it comes back, whatever was looked up for it before. */
static void test_a_peer_that_expired_is_untracked_once_the_cap_is_full(void)
{
	setup();
	feed(T0, LEARNED, "127.0.9.9:80");
	feed(T0 + 1, LEARNED, "127.0.9.9:80");
	char peer[32];
	for (int i = 0; i < EVIDENCE_LEARNED_MAX - 1; i++) {
		snprintf(peer, sizeof(peer), "127.1.%d.%d:80", i / 250, i % 250 + 1);
		feed(T0 + 10 * 60 * 1000, LEARNED, peer);
	}
	diag_tick(diag, T0 + 15 * 60 * 1000 + 1); /* only 127.0.9.9 was quiet that long */
	CHECK_INT(diag_learned_count(diag), EVIDENCE_LEARNED_MAX - 1);
	feed(T0 + 15 * 60 * 1000 + 2, LEARNED, "127.0.8.8:80");
	CHECK_INT(diag_learned_count(diag), EVIDENCE_LEARNED_MAX);
	CHECK_INT(diag_untracked_events(diag), 0);
	feed(T0 + 15 * 60 * 1000 + 3, LEARNED, "127.0.9.9:80");
	CHECK_INT(diag_untracked_events(diag), 1);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.9.9:80") == NULL);
	CHECK_INT(diag_learned_count(diag), EVIDENCE_LEARNED_MAX);
	teardown();
}

/* A reload swaps the model (the old one freed): a configured peer's lines
 * keep counting in its alert. */
static void test_lines_after_a_reload_count_in_the_same_alert(void)
{
	char err[512];
	struct ngx_model *again;
	if (ngxconf_load(conf_path, NULL, &again, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		CHECK(false);
		return;
	}
	setup();
	feed(T0, REFUSED, "/");
	feed(T0 + 1, REFUSED, "/");
	diag_set_model(diag, again, cfg);
	feed(T0 + 2, REFUSED, "/");
	feed(T0 + 3, REFUSED, "/");
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	CHECK(a != NULL);
	CHECK_INT(a ? a->count : 0, 4);
	CHECK_INT(a ? a->last_seen : 0, T0 + 3);
	diag_set_model(diag, model, cfg);
	ngxconf_free(again);
	feed(T0 + 4, REFUSED, "/");
	CHECK_INT(a ? a->count : 0, 5);
	teardown();
}

/* One peer's lines mixing causes: each line counts in its cause's alert. */
static void test_a_peer_mixing_causes_counts_each_line_once_in_its_alert(void)
{
	setup();
	for (int i = 0; i < 10; i++) {
		feed(T0 + i, REFUSED, "/");
		feed(T0 + i, SLOW_RESET);
		if (i % 3 == 0)
			feed(T0 + i, REFUSED, "/");
	}
	const struct alert *down = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	const struct alert *reset = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(down && reset);
	CHECK_INT(down ? down->count : 0, 14);
	CHECK_INT(reset ? reset->count : 0, 10);
	CHECK_INT(down ? down->last_seen : 0, T0 + 9);
	teardown();
}

/* Words a cause does not write read empty, never unset (advice_write
 * reserves its buffers before writing). */
static void test_words_a_cause_does_not_write_are_empty(void)
{
	struct advice_in in = {.cause = CAUSE_ERRORS_UNLOGGED, .implied = CAUSE_NONE};
	struct advice a;
	advice_write(&in, &a);
	CHECK_STR(a.summary, "");
	CHECK_STR(a.explanation, "");
	CHECK_STR(a.fix, "");
	CHECK_STR(a.config_ref, "");
	advice_done(&a);
}

/* Lines that are evidence for other causes name none; a listener changes
 * only the connect timeouts' cause. */
static void test_rules_name_no_cause_for_evidence_lines(void)
{
	struct errlog_event ev = {.kind = EV_PEER_DISABLED};
	CHECK_INT(rules_event_cause(&ev, false, false), CAUSE_NONE);
	CHECK_INT(rules_event_cause(&ev, true, true), CAUSE_NONE);
	ev.kind = EV_FASTCGI_STDERR;
	CHECK_INT(rules_event_cause(&ev, false, false), CAUSE_NONE);
	CHECK_INT(rules_event_cause(&ev, true, true), CAUSE_NONE);
	for (int k = 0; k < EV__COUNT; k++)
		for (int err = 0; err < 120; err++)
			for (int ph = 0; ph <= PHASE_PROXYING_TO_UPSTREAM; ph++) {
				ev = (struct errlog_event){.kind = (enum errlog_kind)k,
							   .err = err,
							   .phase = (enum errlog_phase)ph};
				enum cause down = rules_event_cause(&ev, false, false);
				enum cause up = rules_event_cause(&ev, false, true);
				if (rules_event_needs_listener(&ev)) {
					CHECK_INT(down, CAUSE_BACKEND_UNREACHABLE);
					CHECK_INT(up, CAUSE_BACKEND_OVERLOADED);
				} else {
					CHECK_INT(up, down);
				}
			}
}

/* An alert resolved, and past the flap window a new one for the same
 * peer and cause: the lines count in the new one, never the old. */
static void test_lines_after_a_new_alert_of_the_same_peer_count_in_it(void)
{
	setup();
	feed(T0, REFUSED, "/");
	feed(T0 + 1, REFUSED, "/");
	const struct alert *old = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	CHECK(old != NULL);
	CHECK_INT(old ? old->count : 0, 2);
	diag_tick(diag, T0 + 2); /* the counts' words */
	int64_t t = T0 + 10 * 60 * 1000;
	diag_tick(diag, t);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081") == NULL);
	t += ALERT_FLAP_WINDOW_MS + 1;
	feed(t, REFUSED, "/");
	feed(t + 1, REFUSED, "/");
	feed(t + 2, REFUSED, "/");
	const struct alert *fresh = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	CHECK(fresh != NULL && fresh != old);
	CHECK_INT(fresh ? fresh->count : 0, 3);
	CHECK_INT(fresh ? fresh->last_seen : 0, t + 2);
	CHECK_INT(old ? old->count : 0, 2);
	CHECK(old && !old->firing);
	teardown();
}

static void test_cannot_assign_address_is_local_ports_exhausted(void)
{
	setup();
	fake.conns_known = true;
	fake.conns = (struct diag_conns){.time_wait = 28000, .established = 40};
	feed(T0,
	     "2026/11/21 10:00:00 [crit] 7#7: *1 connect() to 127.0.0.1:8081 failed (99: Cannot "
	     "assign requested address) while connecting to upstream, client: 127.0.0.1, server: "
	     "diag.test, request: \"GET %s HTTP/1.1\", upstream: \"http://127.0.0.1:8081/\", "
	     "host: \"d\"",
	     "/");
	CHECK(alert_find(alerts, CAUSE_BACKEND_UNREACHABLE, "127.0.0.1:8081") == NULL);
	expect_alert(CAUSE_LOCAL_PORTS_EXHAUSTED, "127.0.0.1:8081", "app", "11", ALERT_CRITICAL);
	const struct alert *a = alert_find(alerts, CAUSE_LOCAL_PORTS_EXHAUSTED, "127.0.0.1:8081");
	bool conns = false;
	for (size_t i = 0; a && i < a->nevidence; i++)
		conns |= strstr(a->evidence[i], "28000 connections to 127.0.0.1:8081 in TIME_WAIT, "
						"40 established") != NULL;
	CHECK(conns);
	char at[600];
	snprintf(at, sizeof(at), "in upstream app (%s:4):\n    keepalive 32;", conf_path);
	CHECK(a && strstr(a->fix, at));
	snprintf(at, sizeof(at), "location / (%s:11):\n    proxy_http_version 1.1;\n", conf_path);
	CHECK(a && strstr(a->fix, at));
	CHECK(a && strstr(a->fix, "proxy_set_header Connection \"\";"));
	CHECK(a && strstr(a->fix, "net.ipv4.ip_local_port_range"));
	teardown();
}

#define BK_REFUSED                                                                                 \
	"2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while "    \
	"connecting to upstream, client: 127.0.0.1, server: bk.test, request: \"GET %s "           \
	"HTTP/1.1\", upstream: \"http://127.0.0.1:9101/\", host: \"bk.test\""

static void test_primaries_down_while_a_backup_serves_is_a_warning_naming_both(void)
{
	setup();
	probe_at("127.0.0.1:9102", PROBE_OK, T0);
	feed(T0, BK_REFUSED, "/");
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:9101", "bk", "19", ALERT_WARNING);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:9101");
	CHECK(
	    a && strstr(a->summary, "127.0.0.1:9101") &&
	    strstr(a->summary, "every primary of upstream bk fails, backup 127.0.0.1:9102 serves"));
	teardown();

	/* the backup fails too: an outage */
	setup();
	probe_at("127.0.0.1:9102", PROBE_REFUSED, T0);
	feed(T0, BK_REFUSED, "/");
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:9101", "bk", "19", ALERT_CRITICAL);
	teardown();
}

static void test_log_alone_never_prints_an_empty_reference(void)
{
	setup();
	diag_set_model(diag, NULL, cfg);
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (113: No route to host) while "
	     "connecting to upstream, client: 127.0.0.1, server: x, request: \"GET %s HTTP/1.1\", "
	     "upstream: \"http://127.0.0.1:8081/\", host: \"x\"",
	     "/");
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_UNREACHABLE, "127.0.0.1:8081");
	CHECK(a != NULL);
	CHECK(a && a->config_ref == NULL);
	CHECK(a && !strstr(a->fix, " at .") && !strstr(a->fix, "()") && !strstr(a->fix, " at \n"));
	CHECK(a && strstr(a->fix, "correct it at the nginx configuration (no file:line known)."));
	teardown();
}

static void test_stream_peers_are_diagnosed_like_http_ones(void)
{
	setup();
	feed(
	    T0,
	    "2026/11/21 10:00:00 [error] 7#7: *%d connect() failed (111: Connection refused) while "
	    "connecting to upstream, client: 127.0.0.1, server: 0.0.0.0:5432, upstream: "
	    "\"127.0.0.1:5433\", bytes from/to client:0/0, bytes from/to upstream:0/0",
	    1);
	expect_alert(CAUSE_BACKEND_DOWN, "127.0.0.1:5433", "pg", "23", ALERT_CRITICAL);
	teardown();
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : 3;
		if (*p >= 0x80 && (*p & 0xc0) == 0x80)
			return false;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

static void test_evidence_and_summaries_cut_on_character_boundaries(void)
{
	setup();
	/* "é" (2 bytes) from byte 297 on: a 300-byte cut falls inside one */
	char uri[1200] = "/";
	size_t pre = 297 - strlen("2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: "
				  "Connection refused) while connecting to upstream, client: "
				  "127.0.0.1, server: diag.test, request: \"GET ");
	for (size_t i = 1; i < pre; i++)
		strcat(uri, "a");
	for (int i = 0; i < 300; i++)
		strcat(uri, "\xc3\xa9");
	feed(T0, REFUSED, uri);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	CHECK(a && a->nevidence >= 1);
	for (size_t i = 0; a && i < a->nevidence; i++)
		CHECK(valid_utf8(a->evidence[i]));
	CHECK(a && valid_utf8(a->summary) && valid_utf8(a->explanation) && valid_utf8(a->fix));
	teardown();

	/* a host name longer than diagnosis keeps: cut between characters */
	setup();
	char name[400] = "";
	for (int i = 0; i < 170; i++)
		strcat(name, "\xc3\xa9");
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *2 %s.invalid could not be resolved (3: Host not "
	     "found), client: 127.0.0.1, server: diag.test, request: \"GET / HTTP/1.1\", host: "
	     "\"d\"",
	     name);
	a = alert_first(alerts);
	CHECK(a && a->peer && strlen(a->peer) == 254 && valid_utf8(a->peer));
	CHECK(a && valid_utf8(a->summary) && valid_utf8(a->explanation) && valid_utf8(a->fix));
	teardown();
}

static void test_other_lines_raise_nothing(void)
{
	setup();
	feed(T0, "2026/11/21 10:00:00 [notice] 7#7: %s", "signal process started");
	CHECK_INT(alert_firing_count(alerts), 0);
	cJSON *o = cJSON_CreateObject();
	json_diag_events(diag, o);
	CHECK_INT(cJSON_GetObjectItem(o, "other")->valueint, 1);
	CHECK_INT(cJSON_GetObjectItem(o, "connect_failed")->valueint, 0);
	cJSON_Delete(o);
	teardown();
}

int main(void)
{
	if (diag_fixture_load() != 0)
		return 1;

	RUN(test_refused_raises_backend_down_with_the_server_line);
	RUN(test_probe_alone_predicts_then_traffic_upgrades);
	RUN(test_listener_started_after_errors_means_restarted);
	RUN(test_new_listening_socket_after_errors_means_restarted_without_proc);
	RUN(test_ok_probe_with_an_old_listener_keeps_the_alert_until_hold);
	RUN(test_read_timeout_names_the_location_timeout);
	RUN(test_unix_errnos_map_to_socket_causes);
	RUN(test_unix_peer_without_colon_is_keyed_by_the_configured_socket);
	RUN(test_grpc_rejected_request_by_error_code);
	RUN(test_permission_fix_names_the_worker_user);
	RUN(test_no_live_upstreams_names_the_block_and_its_peers);
	RUN(test_one_failing_peer_of_a_healthy_pool_is_a_warning);
	RUN(test_worker_connections_exhausted);
	RUN(test_worker_connections_are_sized_from_the_fullest_burst);
	RUN(test_unresolvable_name_is_dns_failure);
	RUN(test_dns_fix_matches_the_case);
	RUN(test_peers_from_logs_are_capped_but_configured_ones_never);
	RUN(test_a_weaker_probe_never_resolves_a_cause_that_still_holds);
	RUN(test_peer_failing_after_old_errors_does_not_say_no_error_yet);
	RUN(test_no_live_upstreams_holds_while_every_peer_is_down);
	RUN(test_one_crash_is_one_backend_restarted_story);
	RUN(test_a_local_probe_error_is_never_a_verdict);
	RUN(test_one_path_is_missing_or_stale_never_both);
	RUN(test_missing_and_stale_lines_together_keep_the_first_alert);
	RUN(test_learned_peers_and_their_alerts_expire_when_quiet);
	RUN(test_a_peer_that_expired_and_comes_back_is_learned_again);
	RUN(test_a_peer_that_expired_is_untracked_once_the_cap_is_full);
	RUN(test_lines_after_a_reload_count_in_the_same_alert);
	RUN(test_a_peer_mixing_causes_counts_each_line_once_in_its_alert);
	RUN(test_words_a_cause_does_not_write_are_empty);
	RUN(test_rules_name_no_cause_for_evidence_lines);
	RUN(test_lines_after_a_new_alert_of_the_same_peer_count_in_it);
	RUN(test_cannot_assign_address_is_local_ports_exhausted);
	RUN(test_primaries_down_while_a_backup_serves_is_a_warning_naming_both);
	RUN(test_log_alone_never_prints_an_empty_reference);
	RUN(test_stream_peers_are_diagnosed_like_http_ones);
	RUN(test_evidence_and_summaries_cut_on_character_boundaries);
	RUN(test_other_lines_raise_nothing);

	config_free(cfg);
	ngxconf_free(model);
	return harness_result();
}
