/* Unit tests for diagnose against the backend's own signals: which
 * software listens on the peer and nearby ports, its pool's configuration
 * (php-fpm's listen lines, gunicorn's and uwsgi's queues) and the protocol
 * it speaks (diag_fixture.h). The causes and their lifecycle are in
 * test_diagnose.c, the unit's journal in test_diagnose_journal.c. */
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

int main(void)
{
	if (diag_fixture_load() != 0)
		return 1;

	RUN(test_the_last_requests_details_outlive_its_line_in_the_ring);
	RUN(test_a_full_gunicorn_pool_is_sized_from_its_queue_and_the_burst);
	RUN(test_uwsgi_refusing_with_eagain_is_sized_from_queue_plus_refused);
	RUN(test_a_port_is_proposed_only_when_the_same_software_listens_there);
	RUN(test_nearby_ports_name_their_process_and_count_the_rest);
	RUN(test_permission_on_a_php_pool_names_its_listen_lines);
	RUN(test_timeouts_with_a_queue_are_an_exhausted_pool);
	RUN(test_timeouts_look_at_the_listener_once_a_second);
	RUN(test_a_uwsgi_socket_behind_proxy_pass_is_the_wrong_protocol);
	RUN(test_a_sniffed_protocol_names_the_pass_to_use_without_any_config);

	config_free(cfg);
	ngxconf_free(model);
	return harness_result();
}
