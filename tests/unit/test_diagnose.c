/* Unit tests for diagnose (and advice through it): real log lines, a real
 * nginx model, and a fake host whose probe results and listeners the test
 * sets (diag_fixture.h). The backend's own word — its unit's journal and
 * systemd's state — is in test_diagnose_journal.c. */
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

static const struct backend_info GUNICORN_A = {
    .kind = BACKEND_GUNICORN,
    .config_file = "/srv/a/gunicorn.conf.py",
    .bound = true,
    .proto = BACKEND_PROTO_HTTP,
    .bind = {.value = "127.0.0.1:8081", .file = "/srv/a/gunicorn.conf.py", .line = 2},
};

static void test_a_port_is_proposed_only_when_the_same_software_listens_there(void)
{
	/* another gunicorn app (another config file) on the next port: listed
	 * with its name, never proposed */
	setup();
	fake.listener_known = true;
	fake.sw_peer = GUNICORN_A;
	fake.have_sw_peer = true;
	fake.sw_near = GUNICORN_A;
	fake.sw_near.config_file = "/srv/b/gunicorn.conf.py";
	fake.have_sw_near = true;
	fake.nearby[0] = 8082;
	fake.nnearby = 1;
	feed(T0, REFUSED, "/");
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	CHECK(a && !strstr(a->fix, "server 127.0.0.1:8082;"));
	CHECK(a && strstr(a->explanation, "these ports do: 8082 (gunicorn)."));
	CHECK(a &&
	      strstr(a->fix, "Backend: gunicorn (127.0.0.1:8081 at /srv/a/gunicorn.conf.py:2)"));
	teardown();

	/* the same configuration now binds the next port: proposed */
	setup();
	fake.listener_known = true;
	fake.sw_peer = GUNICORN_A;
	fake.have_sw_peer = true;
	fake.sw_near = GUNICORN_A;
	fake.have_sw_near = true;
	fake.nearby[0] = 8082;
	fake.nnearby = 1;
	feed(T0, REFUSED, "/");
	a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	CHECK(a && strstr(a->fix, "The same gunicorn now listens on port 8082"));
	CHECK(a && strstr(a->fix, "    server 127.0.0.1:8082;"));
	teardown();
}

static void test_nearby_ports_name_their_process_and_count_the_rest(void)
{
	setup();
	fake.listener_known = true;
	snprintf(fake.near_process, sizeof(fake.near_process), "node");
	for (int i = 0; i < 12; i++)
		fake.nearby[i] = 8090 + (unsigned)i;
	fake.nnearby = 12;
	feed(T0, REFUSED, "/");
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	/* the 8 nearest to 8081, ascending, each with its process, and the rest counted */
	CHECK(a && strstr(a->explanation, "these ports do: 8090 (node), 8091 (node),"));
	CHECK(a && strstr(a->explanation, "8097 (node) and 4 more."));
	CHECK(a && !strstr(a->explanation, "8098"));
	CHECK(a && !strstr(a->fix, "server 127.0.0.1:80"));
	teardown();
}

#define PHP_POOL "/etc/php/8.2/fpm/pool.d/www.conf"
#define PHP_SOCK_DENIED                                                                            \
	"2026/11/21 10:00:00 [crit] 7#7: *5 connect() to unix:/run/php/fpm.sock failed (13: "      \
	"Permission denied) while connecting to upstream, client: 127.0.0.1, server: diag.test, "  \
	"request: \"GET %s HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/fpm.sock:\", host: "    \
	"\"d\""

static void set_php_pool(void)
{
	fake.sw_peer = (struct backend_info){
	    .kind = BACKEND_PHPFPM,
	    .config_file = "/etc/php/8.2/fpm/php-fpm.conf",
	    .section = "www",
	    .bound = true,
	    .proto = BACKEND_PROTO_FASTCGI,
	    .bind = setting("/run/php/fpm.sock", PHP_POOL, 36),
	    .owner = setting("nginx", PHP_POOL, 37),
	    .group = setting("nginx", PHP_POOL, 38),
	    .workers = setting("1", PHP_POOL, 116),
	    .timeout = setting("3", PHP_POOL, 400),
	};
	fake.have_sw_peer = true;
}

static void test_permission_on_a_php_pool_names_its_listen_lines(void)
{
	setup();
	set_php_pool();
	feed(T0, PHP_SOCK_DENIED, "/php");
	const struct alert *a =
	    alert_find(alerts, CAUSE_SOCKET_PERMISSION, "unix:/run/php/fpm.sock");
	CHECK(a && strstr(a->fix, "In php-fpm pool www (the socket's listen line is " PHP_POOL
				  ":36):\n    listen.owner = www-data   ; " PHP_POOL ":37\n"
				  "    listen.group = www-data   ; " PHP_POOL ":38\n"
				  "    listen.mode = 0660   ; " PHP_POOL
				  " (not set there: add it next to line 36)\n"));
	CHECK(a &&
	      strstr(a->fix, "Backend: php-fpm pool www (/run/php/fpm.sock at " PHP_POOL ":36)"));
	teardown();
}

#define PHP_TIMEOUT                                                                                \
	"2026/11/21 10:00:00 [error] 7#7: *3 upstream timed out (110: Connection timed out) "      \
	"while reading response header from upstream, client: 127.0.0.1, server: diag.test, "      \
	"request: \"GET %s HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/fpm.sock:\", host: "    \
	"\"d\""

static void test_timeouts_with_a_queue_are_an_exhausted_pool(void)
{
	setup();
	set_php_pool();
	fake.listener_known = true;
	fake.listener = (struct host_listener){
	    .listening = true, .queue_known = true, .queue = 6, .backlog = 511};
	feed(T0, PHP_TIMEOUT, "/php");
	CHECK(alert_find(alerts, CAUSE_BACKEND_SLOW, "unix:/run/php/fpm.sock") == NULL);
	const struct alert *a =
	    alert_find(alerts, CAUSE_BACKEND_OVERLOADED, "unix:/run/php/fpm.sock");
	CHECK(a && strstr(a->explanation, "Its accept queue holds 6 connections (limit 511)."));
	/* 1 worker + 6 waiting */
	CHECK(a && strstr(a->fix, "Give the backend more workers at " PHP_POOL
				  ":116 (now 1):\n    pm.max_children = 7\n"));
	CHECK_STR(a ? a->config_ref : "", PHP_POOL ":116");
	teardown();

	/* no queue: one slow request, and php-fpm's own shorter limit is named */
	setup();
	set_php_pool();
	fake.listener_known = true;
	fake.listener = (struct host_listener){.listening = true, .queue_known = true};
	feed(T0, PHP_TIMEOUT, "/php");
	a = alert_find(alerts, CAUSE_BACKEND_SLOW, "unix:/run/php/fpm.sock");
	/* no probe measured the time: the value says it is no measurement */
	CHECK(a && strstr(a->fix, "    fastcgi_read_timeout 120s;\n(120s is twice nginx's limit, "
				  "not a measurement"));
	CHECK(a && strstr(a->fix, "php-fpm kills requests itself after request_terminate_timeout "
				  "= 3 (" PHP_POOL ":400)"));
	teardown();
}

/* A storm of timeouts looks at the listener once per host snapshot (a
 * second), not once a line; a queue that fills is seen in the next second. */
static void test_timeouts_look_at_the_listener_once_a_second(void)
{
	setup();
	set_php_pool();
	fake.listener_known = true;
	fake.listener = (struct host_listener){.listening = true, .queue_known = true};
	feed(T0, PHP_TIMEOUT, "/php");
	int asks = fake.listener_asks; /* the timeout's look, and the new alert's */
	for (int i = 1; i < 100; i++)
		feed(T0 + i * 9, PHP_TIMEOUT, "/php");
	CHECK_INT(fake.listener_asks, asks);
	CHECK(alert_find(alerts, CAUSE_BACKEND_SLOW, "unix:/run/php/fpm.sock") != NULL);
	fake.listener.queue = 6;
	fake.listener.backlog = 511;
	feed(T0 + 999, PHP_TIMEOUT, "/php");
	CHECK_INT(fake.listener_asks, asks);
	CHECK(alert_find(alerts, CAUSE_BACKEND_OVERLOADED, "unix:/run/php/fpm.sock") == NULL);
	feed(T0 + 1000, PHP_TIMEOUT, "/php");
	CHECK(fake.listener_asks > asks);
	CHECK(alert_find(alerts, CAUSE_BACKEND_OVERLOADED, "unix:/run/php/fpm.sock") != NULL);
	teardown();
}

static void test_a_uwsgi_socket_behind_proxy_pass_is_the_wrong_protocol(void)
{
	setup();
	fake.sw_peer = (struct backend_info){
	    .kind = BACKEND_UWSGI,
	    .config_file = "/srv/app/uwsgi.ini",
	    .section = "uwsgi",
	    .bound = true,
	    .proto = BACKEND_PROTO_UWSGI,
	    .bind = setting("127.0.0.1:8081", "/srv/app/uwsgi.ini", 3),
	};
	fake.have_sw_peer = true;
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *1 upstream prematurely closed connection while "
	     "reading response header from upstream, client: 127.0.0.1, server: diag.test, "
	     "request: \"GET %s HTTP/1.1\", upstream: \"http://127.0.0.1:8081/\", host: \"d\"",
	     "/");
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(a && strstr(a->fix, "This port speaks uwsgi: use uwsgi_pass at "));
	CHECK(a && strstr(a->fix, "    uwsgi_pass 127.0.0.1:8081;"));
	CHECK(a && strstr(a->fix, "http-socket instead of socket at /srv/app/uwsgi.ini:3"));
	CHECK(a && !strstr(a->fix, "request_terminate_timeout"));
	teardown();
}

#define TIMED_OUT                                                                                  \
	"2026/11/21 10:00:00 [error] 7#7: *3 upstream timed out (110: Connection timed out) "      \
	"while reading response header from upstream, client: 127.0.0.1, server: diag.test, "      \
	"request: \"GET %s HTTP/1.1\", upstream: \"http://127.0.0.1:8081%s\", host: \"d\""
#define DISABLED                                                                                   \
	"2026/11/21 10:00:00 [warn] 7#7: *4 upstream server temporarily disabled while "           \
	"connecting to upstream, client: 127.0.0.1, server: bk.test, request: \"GET /other "       \
	"HTTP/1.1\", upstream: \"http://127.0.0.1:8081/other\", host: \"d\""

/* The last cause line's server and URI (which location, which timeout) are
 * read when the words are written, after lines that are evidence only have
 * pushed that line out of the ring of kept lines; a URI past what the ring
 * keeps of a long line is kept too. */
static void test_the_last_requests_details_outlive_its_line_in_the_ring(void)
{
	static char long_uri[400];
	memset(long_uri, 'a', sizeof(long_uri) - 1);
	memcpy(long_uri, "/slow/", 6);
	const char *uris[] = {"/slow/x", long_uri};
	for (size_t u = 0; u < ARRAY_SIZE(uris); u++) {
		setup();
		feed(T0, TIMED_OUT, "/", "/");
		const struct alert *a = alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.1:8081");
		CHECK(a && strstr(a->summary, "proxy_read_timeout 60s"));
		feed(T0 + 10, TIMED_OUT, uris[u], uris[u]); /* counted: words at the tick */
		for (int i = 0; i < 4; i++)		    /* the ring's size */
			feed(T0 + 20 + i, DISABLED);
		diag_tick(diag, T0 + 1000);
		a = alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.1:8081");
		CHECK(a && strstr(a->summary, "proxy_read_timeout 30s"));
		CHECK(a && a->count == 2);
		CHECK(has_evidence(a, DISABLED)); /* the ring holds the last four lines */
		teardown();
	}
}

/* gunicorn with --workers on its command line: 7 requests timed out at once
 * while 7 waited in its queue — the queued ones: 1 + 7 workers. */
static void test_a_full_gunicorn_pool_is_sized_from_its_queue_and_the_burst(void)
{
	setup();
	set_gunicorn();
	fake.sw_peer.config_file = NULL;
	fake.sw_peer.bind = setting("127.0.0.1:8081", NULL, 0);
	fake.sw_peer.workers = setting("1", NULL, 0);
	fake.sw_peer.timeout = setting(NULL, NULL, 0);
	fake.listener.queue_known = true;
	fake.listener.queue = 7;
	fake.listener.backlog = 2048;
	for (int i = 0; i < 7; i++)
		feed(
		    T0 + i,
		    "2026/11/21 10:00:00 [error] 7#7: *3 upstream timed out (110: Connection timed "
		    "out) while reading response header from upstream, client: 127.0.0.1, server: "
		    "diag.test, request: \"GET %s HTTP/1.1\", upstream: "
		    "\"http://127.0.0.1:8081/\", "
		    "host: \"d\"",
		    "/");
	diag_tick(diag, T0 + 1000);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_OVERLOADED, "127.0.0.1:8081");
	CHECK(a && strstr(a->fix, "Give the backend more workers at its command line (now 1):\n"
				  "    --workers 8\n"));
	teardown();
}

/* uwsgi on a unix socket whose listen queue is full: connects fail at once
 * with EAGAIN — 6 refused in a burst come on top of the 2 queued and the 2
 * processes: 10, at the ini's line. */
static void test_uwsgi_refusing_with_eagain_is_sized_from_queue_plus_refused(void)
{
	setup();
	fake.sw_peer = (struct backend_info){
	    .kind = BACKEND_UWSGI,
	    .config_file = "/etc/uwsgi/app.ini",
	    .section = "uwsgi",
	    .bound = true,
	    .proto = BACKEND_PROTO_HTTP,
	    .bind = setting("/run/app/socket", "/etc/uwsgi/app.ini", 2),
	    .workers = setting("2", "/etc/uwsgi/app.ini", 5),
	    .backlog = setting("2", "/etc/uwsgi/app.ini", 6),
	};
	fake.have_sw_peer = true;
	fake.listener_known = true;
	fake.listener = (struct host_listener){
	    .listening = true, .queue_known = true, .queue = 2, .backlog = 2};
	for (int i = 0; i < 6; i++)
		feed(T0 + i,
		     "2026/11/21 10:00:00 [error] 7#7: *3 connect() to unix:/run/app/socket failed "
		     "(11: Resource temporarily unavailable) while connecting to upstream, client: "
		     "127.0.0.1, server: bk.test, request: \"GET %s HTTP/1.1\", upstream: "
		     "\"http://unix:/run/app/socket:/app\", host: \"d\"",
		     "/app");
	diag_tick(diag, T0 + 1000);
	const struct alert *a =
	    alert_find(alerts, CAUSE_BACKEND_OVERLOADED, "unix:/run/app/socket");
	CHECK(a && strstr(a->fix, "Give the backend more workers at /etc/uwsgi/app.ini:5 (now "
				  "2):\n    processes = 10\n"));
	/* and room in the queue for the 8 that came at once, twice over */
	CHECK(a && strstr(a->fix, "and room in its listen queue at /etc/uwsgi/app.ini:6 (now 2; "
				  "the kernel caps it at sysctl net.core.somaxconn):\n"
				  "    listen = 16\n"));
	CHECK_STR(a ? a->config_ref : "", "/etc/uwsgi/app.ini:5");
	CHECK(a && strstr(a->explanation, "Up to 6 requests to it failed within one second."));
	teardown();
}

static void test_a_sniffed_protocol_names_the_pass_to_use_without_any_config(void)
{
	static const struct {
		enum probe_speaks speaks;
		const char *says, *snippet;
	} cases[] = {
	    {PROBE_SPEAKS_UWSGI, "This port speaks uwsgi: use uwsgi_pass at ",
	     "    include uwsgi_params;\n    uwsgi_pass 127.0.0.1:8081;"},
	    {PROBE_SPEAKS_FASTCGI, "This port speaks FastCGI: use fastcgi_pass at ",
	     "    include fastcgi_params;\n    fastcgi_pass 127.0.0.1:8081;"},
	    {PROBE_SPEAKS_TLS, "This port speaks TLS: use https:// at ",
	     "    proxy_pass https://127.0.0.1:8081;"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		setup(); /* no software identified, no configuration read */
		set_probe("127.0.0.1:8081", PROBE_RESET, T0);
		fake.probe[0].speaks = cases[i].speaks;
		feed(T0,
		     "2026/11/21 10:00:00 [error] 7#7: *1 upstream prematurely closed "
		     "connection "
		     "while reading response header from upstream, client: 127.0.0.1, "
		     "server: "
		     "diag.test, request: \"GET %s HTTP/1.1\", upstream: "
		     "\"http://127.0.0.1:8081/\", "
		     "host: \"d\"",
		     "/");
		const struct alert *a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
		char want[600];
		snprintf(want, sizeof(want), "%s%s:11:\n%s", cases[i].says, conf_path,
			 cases[i].snippet);
		CHECK(a && strstr(a->fix, want));
		CHECK(a && strstr(a->explanation, "answered upwatch's"));
		CHECK(a && !strstr(a->fix, "request_terminate_timeout"));
		snprintf(want, sizeof(want), "%s:11", conf_path);
		CHECK_STR(a ? a->config_ref : NULL, want);
		teardown();
	}
	/* nothing heard: the reset advice as before */
	setup();
	set_probe("127.0.0.1:8081", PROBE_RESET, T0);
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *1 upstream prematurely closed connection "
	     "while "
	     "reading response header from upstream, client: 127.0.0.1, server: diag.test, "
	     "request: \"GET %s HTTP/1.1\", upstream: \"http://127.0.0.1:8081/\", host: "
	     "\"d\"",
	     "/");
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(a && !strstr(a->fix, "This port speaks"));
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

static const char *NGINX_NAMES = "events { }\n"						    /* 1 */
				 "http {\n"						    /* 2 */
				 "  upstream named {\n"					    /* 3 */
				 "    server app.test:8080;\n"				    /* 4 */
				 "  }\n"						    /* 5 */
				 "  server {\n"						    /* 6 */
				 "    server_name dns.test;\n"				    /* 7 */
				 "    location /named { proxy_pass http://named; }\n"	    /* 8 */
				 "    location /lit { proxy_pass http://lit.test:8090; }\n" /* 9 */
				 "    location /fol { proxy_pass http://follows; }\n"	    /* 10 */
				 "  }\n"						    /* 11 */
				 "  upstream follows { zone follows 64k;\n"		    /* 12 */
				 "    server fol.test:8070 resolve; }\n"		    /* 13 */
				 "}\n";

#define REFUSED_AT                                                                                 \
	"2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while "    \
	"connecting to upstream, client: 127.0.0.1, server: dns.test, request: \"GET %s "          \
	"HTTP/1.1\", upstream: \"http://%s/\", host: \"dns.test\""

static char names_path[512];
static struct ngx_model *names_model;

static void setup_names(void)
{
	setup();
	diag_set_model(diag, names_model, cfg);
}

static void set_answers(const char *key, enum probe_result_kind res, const char *answers)
{
	set_probe(key, res, T0);
	struct probe_result r;
	fake_last_probe(NULL, key, &r);
	for (size_t i = 0; i < fake.nprobe; i++)
		if (streq(fake.probe_key[i], key))
			snprintf(fake.probe[i].dns_answers, sizeof(fake.probe[i].dns_answers), "%s",
				 answers);
}

static bool evidence_has(const struct alert *a, const char *needle)
{
	for (size_t i = 0; a && i < a->nevidence; i++)
		if (strstr(a->evidence[i], needle))
			return true;
	return false;
}

static void test_an_old_answer_of_a_moved_name_is_dns_stale(void)
{
	setup_names();
	/* the name resolves to 127.0.0.3 now; nginx still connects to .2 */
	set_answers("app.test:8080", PROBE_OK, "127.0.0.3");
	/* where the kernel shows them: nginx's own sockets to the old address */
	fake.remotes[0] = (struct sockdiag_remote){.family = AF_INET, .syn_sent = 2};
	inet_pton(AF_INET, "127.0.0.2", fake.remotes[0].addr);
	fake.nremotes = 1;
	feed(T0, REFUSED_AT, "/named", "127.0.0.2:8080");
	feed(T0 + 10, REFUSED_AT, "/named", "127.0.0.2:8080");
	const struct alert *a = alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080");
	CHECK(a && a->firing);
	CHECK(a && a->count == 2);
	CHECK_STR(a ? a->upstream : NULL, "named");
	char want[600];
	snprintf(want, sizeof(want), "%s:4", names_path); /* the server line naming it */
	CHECK_STR(a ? a->config_ref : NULL, want);
	CHECK(a && strstr(a->summary, "nginx connects to an old address of app.test "
				      "(127.0.0.2:8080)"));
	CHECK(a && strstr(a->explanation, "nginx's error lines name 127.0.0.2:8080, an address "
					  "app.test no longer resolves to"));
	CHECK(a && strstr(a->fix, "nginx -t && nginx -s reload"));
	CHECK(a && strstr(a->fix, "server app.test:8080 resolve;"));
	CHECK(evidence_has(a, "dns: nginx connects to 127.0.0.2:8080 (its error log); app.test "
			      "resolves now to 127.0.0.3"));
	CHECK(evidence_has(a, "upstream: \"http://127.0.0.2:8080/\""));
	CHECK(evidence_has(a, "host: nginx's workers hold connections to 127.0.0.2:8080 (2 "
			      "connecting)"));
	/* one story: the old address gets no alert of its own, nor from its probe */
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") == NULL);
	set_probe("127.0.0.2:8080", PROBE_REFUSED, T0 + 20);
	struct probe_result r;
	fake_last_probe(NULL, "127.0.0.2:8080", &r);
	diag_probe_result(diag, "127.0.0.2:8080", &r, T0 + 20);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") == NULL);
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.2:8080") == NULL);
	CHECK_INT(alert_firing_count(alerts), 1);
	teardown();
}

static void test_a_literal_pass_target_that_moved_is_dns_stale_at_its_line(void)
{
	setup_names();
	set_answers("lit.test:8090", PROBE_OK, "127.0.0.5 ::1");
	feed(T0, REFUSED_AT, "/lit/x", "127.0.0.4:8090");
	const struct alert *a = alert_find(alerts, CAUSE_DNS_STALE, "lit.test:8090");
	CHECK(a && a->firing);
	char want[600];
	snprintf(want, sizeof(want), "%s:9", names_path);
	CHECK_STR(a ? a->config_ref : NULL, want);
	CHECK(a && strstr(a->fix, "set $backend \"lit.test:8090\";"));
	teardown();
}

static void test_a_name_that_still_gives_the_address_is_backend_down(void)
{
	setup_names();
	set_answers("app.test:8080", PROBE_REFUSED, "127.0.0.2");
	feed(T0, REFUSED_AT, "/named", "127.0.0.2:8080");
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") != NULL);
	CHECK(alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080") == NULL);
	/* a name on another port never claims the address */
	feed(T0, REFUSED_AT, "/named", "127.0.0.2:9999");
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:9999") != NULL);
	CHECK(alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080") == NULL);
	teardown();
}

static void test_a_name_nginx_resolves_itself_never_goes_stale(void)
{
	/* `server ... resolve`: nginx follows the name; an old address failing
	 * is that address's own story */
	setup_names();
	set_answers("fol.test:8070", PROBE_OK, "127.0.0.7");
	feed(T0, REFUSED_AT, "/fol", "127.0.0.6:8070");
	CHECK(alert_find(alerts, CAUSE_DNS_STALE, "fol.test:8070") == NULL);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.6:8070") != NULL);
	teardown();
}

static void test_a_slow_old_address_is_not_dns_stale(void)
{
	/* the old address answers (slowly): the name moving is not the failure */
	setup_names();
	set_answers("app.test:8080", PROBE_OK, "127.0.0.3");
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *1 upstream timed out (110: Connection "
	     "timed out) "
	     "while reading response header from upstream, client: 127.0.0.1, server: "
	     "dns.test, "
	     "request: \"GET %s HTTP/1.1\", upstream: \"http://127.0.0.2:8080/\", host: "
	     "\"d\"",
	     "/named");
	CHECK(alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080") == NULL);
	CHECK(alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.2:8080") != NULL);
	teardown();
}

static void test_a_fresh_answer_turns_the_old_address_alert_into_dns_stale(void)
{
	setup_names();
	/* not resolved yet: the address's own alert, and the name is asked for */
	feed(T0, REFUSED_AT, "/named", "127.0.0.2:8080");
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") != NULL);
	CHECK(fake.probes_asked >= 2); /* the address, and the name */
	set_answers("app.test:8080", PROBE_OK, "127.0.0.3");
	struct probe_result r;
	fake_last_probe(NULL, "app.test:8080", &r);
	diag_probe_result(diag, "app.test:8080", &r, T0 + 1000);
	const struct alert *a = alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080");
	CHECK(a && a->firing);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") == NULL);
	CHECK_INT(alert_firing_count(alerts), 1);
	/* and the next line on the old address counts there */
	feed(T0 + 2000, REFUSED_AT, "/named", "127.0.0.2:8080");
	CHECK(a && a->count == 2);
	CHECK_INT(alert_firing_count(alerts), 1);
	teardown();
}

int main(void)
{
	char err[512];
	if (diag_fixture_load() != 0)
		return 1;
	snprintf(names_path, sizeof(names_path), "%s/names/nginx.conf", harness_tmpdir());
	harness_write(harness_tmpdir(), "names/nginx.conf", NGINX_NAMES);
	if (ngxconf_load(names_path, NULL, &names_model, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}

	RUN(test_refused_raises_backend_down_with_the_server_line);
	RUN(test_the_last_requests_details_outlive_its_line_in_the_ring);
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
	RUN(test_a_full_gunicorn_pool_is_sized_from_its_queue_and_the_burst);
	RUN(test_uwsgi_refusing_with_eagain_is_sized_from_queue_plus_refused);
	RUN(test_other_lines_raise_nothing);
	RUN(test_a_port_is_proposed_only_when_the_same_software_listens_there);
	RUN(test_nearby_ports_name_their_process_and_count_the_rest);
	RUN(test_permission_on_a_php_pool_names_its_listen_lines);
	RUN(test_timeouts_with_a_queue_are_an_exhausted_pool);
	RUN(test_timeouts_look_at_the_listener_once_a_second);
	RUN(test_a_uwsgi_socket_behind_proxy_pass_is_the_wrong_protocol);
	RUN(test_a_sniffed_protocol_names_the_pass_to_use_without_any_config);

	RUN(test_an_old_answer_of_a_moved_name_is_dns_stale);
	RUN(test_a_literal_pass_target_that_moved_is_dns_stale_at_its_line);
	RUN(test_a_name_that_still_gives_the_address_is_backend_down);
	RUN(test_a_slow_old_address_is_not_dns_stale);
	RUN(test_a_name_nginx_resolves_itself_never_goes_stale);
	RUN(test_a_fresh_answer_turns_the_old_address_alert_into_dns_stale);

	config_free(cfg);
	ngxconf_free(model);
	ngxconf_free(names_model);
	return harness_result();
}
