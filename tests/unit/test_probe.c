/* Unit tests for probe: every result against a real local server that
 * misbehaves in that one way, and the scheduler's timing rules.
 *
 * Servers are loopback only: listening sockets that never accept (in this
 * process), fork()ed children that answer in one scripted way, `openssl
 * s_server` for TLS and php-fpm for FastCGI (skipped when not installed).
 * Every wait is bounded. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "probe_fixture.h"
#include "core/peerkey.h"
#include "output/json.h"
#include "probe/probe.h"
#include "probe/probe_dns.h"
#include "probe/probe_tcp.h"
#include "core/util.h"

/* ---- servers ---- */

enum srv_mode {
	SRV_OK,	      /* HTTP 200 "ok" */
	SRV_503,      /* HTTP 503 */
	SRV_RESET,    /* read the request, then RST (SO_LINGER 0) */
	SRV_EMPTY,    /* read the request, then a clean close */
	SRV_GARBAGE,  /* "HELLO\r\n\r\n" */
	SRV_BIGHDR,   /* 200 with one 64 KiB header */
	SRV_SLOW,     /* 200 after SLOW_MS */
	SRV_HUGEHDR,  /* 200 with 5 x 60 KiB of headers: over the 256 KiB cap */
	SRV_BIGBODY,  /* 200 with a 1 MiB body: over the 64 KiB body cap */
	SRV_FCGI_ODD, /* GET_VALUES_RESULT whose pair lengths overrun the record */
	SRV_FCGI_END, /* FCGI_END_REQUEST instead of GET_VALUES_RESULT */
	SRV_HUGELINE, /* 200, then one header line of 1 MiB that never ends */
	SRV_UWSGI,    /* uwsgi --socket: a uwsgi packet gets HTTP, anything else a close */
};

#define SLOW_MS 400
static char bighdr_response[70 * 1024];
static char hugehdr_response[310 * 1024];
static char bigbody_response[1100 * 1024];

static int listen_inet(int family, const char *addr, int backlog, unsigned *ret_port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof(*s4);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*ret_port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					     : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A port on addr that surely refuses: bound and never listening, so that
 * no other process (a bench's listeners on 127.0.0.2, say) can take it
 * while fd is open. Returns the fd to close after the test. */
static int refusing_inet(const char *addr, unsigned *ret_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	socklen_t len = sizeof(s4);
	inet_pton(AF_INET, addr, &s4.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&s4, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&s4, &len) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	*ret_port = ntohs(s4.sin_port);
	return fd;
}

static int listen_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.107s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 16) < 0) {
		perror(path);
		exit(2);
	}
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Read what the client sends: an HTTP request up to its blank line, or
 * whatever a first read brings for anything else (FastCGI). */
static void read_request(int c)
{
	char buf[8192];
	size_t got = 0;
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			return;
		got += (size_t)n;
		buf[got] = '\0';
		if (strncmp(buf, "GET ", 4) != 0 || strstr(buf, "\r\n\r\n"))
			return;
	}
}

/* Connections SRV_UWSGI served, shared with the forked server. */
static unsigned *srv_conns;

static void serve_one(int c, enum srv_mode mode)
{
	static const char ok[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	static const char unavailable[] =
	    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	struct linger lg = {1, 0};

	if (mode == SRV_UWSGI) {
		unsigned char in[2048];
		ssize_t n = read(c, in, sizeof(in));
		__atomic_fetch_add(srv_conns, 1, __ATOMIC_SEQ_CST);
		if (n >= 4 && in[0] == 0 && (size_t)(in[1] | in[2] << 8) + 4 == (size_t)n)
			write_all(c, "HTTP/1.0 200 OK\r\n\r\nok", 21);
		close(c);
		return;
	}
	read_request(c);
	switch (mode) {
	case SRV_OK:
		write_all(c, ok, sizeof(ok) - 1);
		break;
	case SRV_503:
		write_all(c, unavailable, sizeof(unavailable) - 1);
		break;
	case SRV_RESET:
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	case SRV_EMPTY:
		break;
	case SRV_GARBAGE:
		write_all(c, "HELLO\r\n\r\n", 9);
		break;
	case SRV_BIGHDR:
		write_all(c, bighdr_response, strlen(bighdr_response));
		break;
	case SRV_HUGEHDR:
		write_all(c, hugehdr_response, strlen(hugehdr_response));
		break;
	case SRV_BIGBODY:
		write_all(c, bigbody_response, strlen(bigbody_response));
		break;
	case SRV_FCGI_ODD: {
		/* version 1, type 10, id 0, 12 content bytes: a pair "A"="1", then a
		 * name length of 0x7fffffff (4-byte form) with nothing behind it */
		static const unsigned char odd[] = {1, 10, 0,	0,   0,		  12,	0,    0,
						    1, 1,  'A', '1', 0x80 | 0x7f, 0xff, 0xff, 0xff,
						    0, 0,  0,	0};
		write_all(c, (const char *)odd, sizeof(odd));
		break;
	}
	case SRV_FCGI_END: {
		static const unsigned char end[] = {1, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0};
		write_all(c, (const char *)end, sizeof(end));
		break;
	}
	case SRV_UWSGI: /* served above */
		break;
	case SRV_HUGELINE: {
		static const char head[] = "HTTP/1.1 200 OK\r\nX-Line: ";
		char chunk[64 * 1024];
		memset(chunk, 'c', sizeof(chunk));
		write_all(c, head, sizeof(head) - 1);
		for (int i = 0; i < 16; i++)
			write_all(c, chunk, sizeof(chunk));
		break;
	}
	case SRV_SLOW: {
		struct timespec ts = {0, SLOW_MS * 1000000L};
		nanosleep(&ts, NULL);
		write_all(c, ok, sizeof(ok) - 1);
		break;
	}
	}
	/* Let the client see the whole answer before the FIN. */
	if (mode != SRV_RESET)
		shutdown(c, SHUT_WR);
	close(c);
}

/* Fork a child that serves lfd in mode until killed (or the test dies). */
static pid_t serve(int lfd, enum srv_mode mode)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			int c = accept(lfd, NULL, NULL);
			if (c >= 0)
				serve_one(c, mode);
		}
	}
	close(lfd);
	return pid;
}

static void stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* ---- probing ---- */

static struct prober *new_prober(struct ev_loop *loop, unsigned cap, probe_done_fn fn, void *ud)
{
	struct prober *p = NULL;
	int r = prober_new(loop, cap, fn, ud, &p);
	if (r < 0) {
		fprintf(stderr, "prober_new: %s\n", strerror(-r));
		exit(2);
	}
	return p;
}

/* The last result, or one with result PROBE__COUNT when there is none. */
static struct probe_result last_of(const struct prober *p, const char *key)
{
	struct probe_result r = {.result = PROBE__COUNT};
	prober_last(p, key, &r);
	return r;
}

/* One on-demand probe of t in a fresh loop and prober; bounded at 10 s. */
static struct probe_result probe_once(const struct probe_target *t)
{
	struct probe_wait o = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(o.loop, 16, NULL, NULL);
	ev_timer deadline;

	ev_timer_init(&deadline, fixture_break, 10.0, 0);
	ev_timer_start(o.loop, &deadline);
	CHECK_INT(prober_set_targets(p, t, 1), 0);
	CHECK_INT(prober_probe_now(p, t->key, probe_wait_done, &o), 0);
	ev_run(o.loop, 0);
	CHECK_INT(o.calls, 1);
	CHECK_INT(prober_state(p, t->key), o.r.result == PROBE_OK ? PEER_UP : PEER_DOWN);
	prober_free(p);
	ev_timer_stop(o.loop, &deadline);
	ev_loop_destroy(o.loop);
	return o.r;
}

static struct probe_result probe_mode(enum srv_mode mode, enum probe_proto proto, uint64_t timeout)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	CHECK(lfd >= 0);
	pid_t pid = serve(lfd, mode);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, proto);
	t.timeout_ms = timeout;
	struct probe_result r = probe_once(&t);
	stop(pid);
	return r;
}

/* ---- connect level ---- */

static void test_closed_port_is_refused(void)
{
	unsigned port;
	int fd = listen_inet(AF_INET, "127.0.0.1", 1, &port);
	close(fd);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_TCP);
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "refused");
	CHECK_INT(r.err, ECONNREFUSED);
	CHECK_STR(r.detail, "connect() refused");

	t.proto = PROBE_PROTO_HTTP;
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "refused");
	CHECK_INT(r.http_status, 0);
}

static void test_tcp_listener_is_ok_and_json_has_fields(void)
{
	unsigned port;
	int fd = listen_inet(AF_INET, "127.0.0.1", 4, &port);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_TCP);
	struct probe_result r = probe_once(&t);
	close(fd);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_STR(r.detail, "connected");
	CHECK(r.time_ms > 1700000000000LL);

	cJSON *j = json_probe_result(&r);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "result")), "ok");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "detail")), "connected");
	const char *time = cJSON_GetStringValue(cJSON_GetObjectItem(j, "time"));
	CHECK(time && strlen(time) == 24 && time[10] == 'T' && time[23] == 'Z');
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "latency_ms")));
	CHECK(!cJSON_GetObjectItem(j, "http_status"));
	cJSON_Delete(j);
}

static void test_ipv6_loopback(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET6, "::1", 16, &port);
	if (lfd < 0) {
		SKIP("no ::1 (%s)", strerror(-lfd));
	}
	pid_t pid = serve(lfd, SRV_OK);
	char addr[64];
	snprintf(addr, sizeof(addr), "[::1]:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_TCP);
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	t.proto = PROBE_PROTO_HTTP;
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_INT(r.http_status, 200);
	stop(pid);

	/* And a closed IPv6 port. */
	lfd = listen_inet(AF_INET6, "::1", 1, &port);
	close(lfd);
	snprintf(addr, sizeof(addr), "[::1]:%u", port);
	t = fixture_target(addr, PROBE_PROTO_TCP);
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "refused");
}

/* ---- HTTP ---- */

static void test_http_200_is_ok_with_timings(void)
{
	struct probe_result r = probe_mode(SRV_OK, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_INT(r.http_status, 200);
	CHECK_STR(r.detail, "HTTP 200");
	CHECK(r.http_checked);
	CHECK(r.header_bytes > 30 && r.header_bytes < 200);
	CHECK(r.ttfb_ms >= r.connect_ms);

	cJSON *j = json_probe_result(&r);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "http_status")), 200);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "connect_ms")));
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "ttfb_ms")));
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "header_bytes")), r.header_bytes);
	cJSON_Delete(j);
}

static void test_http_accepts_never_answers_is_timeout(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port); /* never accepted */
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTP);
	t.timeout_ms = 300;
	struct probe_result r = probe_once(&t);
	close(lfd);
	CHECK_STR(probe_result_name(r.result), "timeout");
	CHECK_STR(r.detail, "no response header within 300 ms");
	CHECK_INT(r.http_status, 0);
}

static void test_http_reset_after_request_is_reset(void)
{
	struct probe_result r = probe_mode(SRV_RESET, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "reset");
	CHECK_INT(r.err, ECONNRESET);
	CHECK_STR(r.detail, "before a response: connection reset by peer");
}

static void test_http_empty_reply_is_reset(void)
{
	struct probe_result r = probe_mode(SRV_EMPTY, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "reset");
	CHECK_STR(r.detail, "empty reply: connection closed without a response");
}

static void test_http_garbage_is_invalid_http(void)
{
	struct probe_result r = probe_mode(SRV_GARBAGE, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "invalid_http");
	CHECK(startswith(r.detail, "not a valid HTTP response: "));
	CHECK_INT(r.http_status, 0);
}

static void test_http_64k_header_is_ok_and_counted(void)
{
	struct probe_result r = probe_mode(SRV_BIGHDR, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_INT(r.http_status, 200);
	CHECK(r.header_bytes >= 65536 && r.header_bytes < 66000);
}

/* nginx answers 502 for it ("upstream sent too big header"): a failure. */
static void test_http_header_over_256k_is_too_big(void)
{
	struct probe_result r = probe_mode(SRV_HUGEHDR, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "invalid_http");
	CHECK(r.header_too_big);
	CHECK_INT(r.http_status, 200);
	/* curl hands over whole lines: the count stops after the line that
	 * crossed the cap (status line + 5 lines of 61,451 bytes). */
	CHECK_INT(r.header_bytes, 17 + 5 * 61451);
	CHECK_STR(r.detail,
		  "HTTP 200 with a response header over 256 KiB: too big, nginx answers 502");
}

static void test_http_big_body_is_cut_and_ok(void)
{
	struct probe_result r = probe_mode(SRV_BIGBODY, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_INT(r.http_status, 200);
	CHECK_STR(r.detail, "HTTP 200");
}

static void test_http_slow_first_byte_is_measured(void)
{
	struct probe_result r = probe_mode(SRV_SLOW, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "ok");
	/* the server waits SLOW_MS before answering: a lower bound, not a window */
	CHECK(r.ttfb_ms >= SLOW_MS);
	CHECK(r.latency_ms >= SLOW_MS);
}

/* nginx passes any status on: without expect_status or health_uri a 503 (or
 * a 404 on /) is a valid response, not a failing peer. */
static void test_http_any_status_is_a_response_by_default(void)
{
	struct probe_result r = probe_mode(SRV_503, PROBE_PROTO_HTTP, 2000);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_INT(r.http_status, 503);
	CHECK_STR(r.detail, "HTTP 503");
}

static void test_http_503_on_a_health_uri_is_http_status(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	pid_t pid = serve(lfd, SRV_503);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTP);
	t.health_uri = "/healthz";
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "http_status");
	CHECK_INT(r.http_status, 503);
	CHECK_STR(r.detail, "HTTP 503 (expected 200-399)");
	stop(pid);
}

static void test_http_expect_range_is_honoured(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	pid_t pid = serve(lfd, SRV_503);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTP);
	t.expect_lo = 500;
	t.expect_hi = 503;
	t.health_uri = "/healthz";
	t.host_header = "app.example";
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_INT(r.http_status, 503);
	/* One status alone ("expect_status 503;") */
	t.expect_lo = 503;
	t.expect_hi = 0;
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	t.expect_lo = 200;
	r = probe_once(&t);
	CHECK_STR(r.detail, "HTTP 503 (expected 200-200)");
	stop(pid);
}

static void test_http_over_unix_socket(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/http.sock", harness_tmpdir());
	pid_t pid = serve(listen_unix(path), SRV_OK);
	char addr[300];
	snprintf(addr, sizeof(addr), "unix:%s", path);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTP);
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_INT(r.http_status, 200);
	CHECK(r.unix_checked);
	stop(pid);

	unlink(path);
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "missing");
	CHECK_INT(r.http_status, 0);
}

/* ---- DNS ---- */

static void test_unresolvable_name_is_dns_error(void)
{
	struct probe_target t = fixture_target("does-not-exist.invalid:80", PROBE_PROTO_HTTP);
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "dns_error");
	CHECK(startswith(r.detail, "cannot resolve does-not-exist.invalid: "));
	CHECK_STR(r.dns_answers, "");
}

static void test_localhost_name_resolves_then_connects(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	pid_t pid = serve(lfd, SRV_OK);
	char addr[64];
	/* "localhost" comes from /etc/hosts: no query leaves the host. */
	snprintf(addr, sizeof(addr), "localhost:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTP);
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK(strstr(r.dns_answers, "127.0.0.1") != NULL);
	cJSON *j = json_probe_result(&r);
	cJSON *a = cJSON_GetObjectItem(j, "dns_answers");
	CHECK(cJSON_IsArray(a) && cJSON_GetArraySize(a) >= 1);
	cJSON_Delete(j);

	t.proto = PROBE_PROTO_TCP;
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	stop(pid);
}

struct dns_count {
	int answers, errors;
};

static void dns_count_cb(void *userdata, const struct probe_dns_answer *a)
{
	struct dns_count *c = userdata;
	if (a->err)
		c->errors++;
	else
		c->answers++;
}

static void test_resolver_cancel_and_free_with_jobs_out(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct probe_dns *d = NULL;
	CHECK_INT(probe_dns_new(loop, &d), 0);
	struct dns_count c = {0};
	struct probe_dns_job *jobs[20];
	for (int i = 0; i < 20; i++)
		jobs[i] =
		    probe_dns_resolve(d, i % 5 ? "localhost" : "x.invalid", 80, dns_count_cb, &c);
	for (int i = 0; i < 20; i += 2)
		probe_dns_cancel(d, jobs[i]); /* queued, running or done: never answered */
	int64_t end = now_mono_ms() + 5000;
	while (c.answers + c.errors < 10 && now_mono_ms() < end)
		fixture_run_for(loop, 0.02);
	fixture_run_for(loop, 0.1);
	CHECK_INT(c.answers + c.errors, 10);
	CHECK_INT(c.errors, 2); /* jobs 5 and 15 (odd, .invalid) */

	/* Freed with work queued and threads busy: nothing is answered, and
	 * the threads clean up after themselves. */
	for (int i = 0; i < 20; i++)
		probe_dns_resolve(d, "localhost", 80, dns_count_cb, &c);
	probe_dns_free(d);
	fixture_run_for(loop, 0.2);
	CHECK_INT(c.answers + c.errors, 10);
	ev_loop_destroy(loop);
}

static void test_dns_answers_format_in_order_without_repeats(void)
{
	struct probe_dns_answer a = {.naddrs = 3};
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.addrs[0];
	s6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &s6->sin6_addr);
	for (int i = 1; i < 3; i++) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a.addrs[i];
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", &s4->sin_addr);
	}
	char buf[160];
	probe_dns_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "::1 127.0.0.1");
	char tiny[8];
	probe_dns_format(&a, tiny, sizeof(tiny)); /* whole addresses only */
	CHECK_STR(tiny, "::1");
}

/* ---- TLS ---- */

static char tls_dir[300];

static bool sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int r = system(cmd);
	if (r != 0)
		fprintf(stderr, "command failed (%d): %s\n", r, cmd);
	return r == 0;
}

/* A CA, and leaves signed by it: good (localhost + 127.0.0.1), wrong name,
 * expired; plus a self-signed one. EC keys: fast to make. */
static bool make_certs(void)
{
	static int made = -1;
	if (made >= 0)
		return made;
	snprintf(tls_dir, sizeof(tls_dir), "%s/tls", harness_tmpdir());
	mkdir(tls_dir, 0700);
	const char *key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
	bool ok = sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 "
		     "-subj /CN=upwatch-test-ca >openssl.log 2>&1",
		     tls_dir, key);
	struct {
		const char *name, *cn, *san, *days;
	} leaves[] = {
	    {"good", "localhost", "IP:127.0.0.1,DNS:localhost", "2"},
	    {"wrongname", "other.example", "DNS:other.example", "2"},
	    /* -1 is the least x509 -days takes: expired since yesterday */
	    {"expired", "localhost", "IP:127.0.0.1,DNS:localhost", "-1"},
	};
	for (size_t i = 0; ok && i < ARRAY_SIZE(leaves); i++) {
		ok = sh(
		    "cd %s && echo subjectAltName=%s >%s.ext && "
		    "openssl req %s -keyout %s.key -out %s.csr -subj /CN=%s >>openssl.log 2>&1 && "
		    "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		    "-out %s.pem -days %s -extfile %s.ext >>openssl.log 2>&1",
		    tls_dir, leaves[i].san, leaves[i].name, key, leaves[i].name, leaves[i].name,
		    leaves[i].cn, leaves[i].name, leaves[i].name, leaves[i].days, leaves[i].name);
	}
	if (ok)
		ok =
		    sh("cd %s && openssl req -x509 %s -keyout self.key -out self.pem -days 2 "
		       "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >>openssl.log 2>&1",
		       tls_dir, key);
	made = ok;
	return ok;
}

static bool wait_connectable(unsigned port, int ms)
{
	for (int waited = 0; waited < ms; waited += 20) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		int r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		close(fd);
		if (r == 0)
			return true;
		usleep(20000);
	}
	return false;
}

/* `openssl s_server -www` with the named certificate on 127.0.0.1. */
static pid_t tls_server(const char *name, unsigned *ret_port)
{
	unsigned port;
	int fd = listen_inet(AF_INET, "127.0.0.1", 1, &port);
	close(fd);
	char accept_arg[64], cert[400], keyf[400];
	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%u", port);
	snprintf(cert, sizeof(cert), "%s/%s.pem", tls_dir, name);
	snprintf(keyf, sizeof(keyf), "%s/%s.key", tls_dir, name);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept_arg, "-cert", cert,
		       "-key", keyf, "-www", "-quiet", (char *)NULL);
		_exit(127);
	}
	if (!wait_connectable(port, 5000)) {
		stop(pid);
		return -1;
	}
	*ret_port = port;
	return pid;
}

static struct probe_result probe_tls(const char *cert, bool verify, const char *trusted,
				     const char *tls_name)
{
	struct probe_result r = {.result = PROBE__COUNT};
	unsigned port;
	pid_t pid = tls_server(cert, &port);
	CHECK(pid > 0);
	if (pid <= 0)
		return r;
	char addr[64], ca[400];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(ca, sizeof(ca), "%s/%s", tls_dir, trusted ? trusted : "");
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTPS);
	t.tls_verify = verify;
	t.tls_trusted = trusted ? ca : NULL;
	t.tls_name = tls_name;
	r = probe_once(&t);
	stop(pid);
	return r;
}

static void test_tls_good_certificate_is_ok(void)
{
	if (!make_certs())
		return;
	struct probe_result r = probe_tls("good", true, "ca.pem", NULL);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_INT(r.http_status, 200);
	CHECK_STR(r.tls_error, "");
	/* The name travels as SNI and is verified; the address is connected to. */
	r = probe_tls("good", true, "ca.pem", "localhost");
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK(strstr(r.cert_subject, "localhost") != NULL);
	CHECK(strstr(r.cert_issuer, "upwatch-test-ca") != NULL);
	int64_t now = time(NULL);
	CHECK(r.cert_not_after > now + 86400 && r.cert_not_after < now + 3 * 86400);

	/* A host-name peer: resolved by the prober, verified by that name. */
	unsigned port;
	pid_t pid = tls_server("good", &port);
	CHECK(pid > 0);
	char addr[64], ca[400];
	snprintf(addr, sizeof(addr), "localhost:%u", port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tls_dir);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTPS);
	t.tls_verify = true;
	t.tls_trusted = ca;
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_STR(r.dns_answers, "127.0.0.1");
	t.tls_name = "other.example"; /* verified against a name the cert lacks */
	r = probe_once(&t);
	CHECK_STR(r.tls_error, "certificate name mismatch");
	stop(pid);
}

static void test_tls_expired_certificate_is_tls_error(void)
{
	if (!make_certs())
		return;
	struct probe_result r = probe_tls("expired", true, "ca.pem", NULL);
	CHECK_STR(probe_result_name(r.result), "tls_error");
	CHECK_STR(r.tls_error, "certificate has expired");
	CHECK_STR(r.detail, "TLS: certificate has expired");

	/* Verification off (nginx's default): ok, but the expiry is on record. */
	r = probe_tls("expired", false, NULL, NULL);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_STR(r.tls_error, "verify off: certificate has expired");
	CHECK(r.cert_not_after > 0 && r.cert_not_after < time(NULL));
}

static void test_tls_self_signed_with_verify_is_tls_error(void)
{
	if (!make_certs())
		return;
	struct probe_result r = probe_tls("self", true, NULL, NULL);
	CHECK_STR(probe_result_name(r.result), "tls_error");
	CHECK_STR(r.tls_error, "self-signed certificate");

	r = probe_tls("self", false, NULL, NULL);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_STR(r.tls_error, "verify off: self-signed certificate");
	cJSON *j = json_probe_result(&r);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "tls_error")),
		  "verify off: self-signed certificate");
	CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "cert_not_after")));
	cJSON_Delete(j);
}

static void test_tls_wrong_name_is_tls_error(void)
{
	if (!make_certs())
		return;
	struct probe_result r = probe_tls("wrongname", true, "ca.pem", NULL);
	CHECK_STR(probe_result_name(r.result), "tls_error");
	CHECK_STR(r.tls_error, "certificate name mismatch");
	r = probe_tls("good", true, "ca.pem", "app.example");
	CHECK_STR(probe_result_name(r.result), "tls_error");
	CHECK_STR(r.tls_error, "certificate name mismatch");
}

static void test_tls_handshake_never_answered_is_timeout(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port); /* never accepted */
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTPS);
	t.timeout_ms = 300;
	struct probe_result r = probe_once(&t);
	close(lfd);
	CHECK_STR(probe_result_name(r.result), "timeout");
	CHECK_STR(r.detail, "TLS handshake not done within 300 ms");
}

/* grpcs:// and suwsgi:// peers: the handshake only, with nginx's settings. */
static void test_tls_only_check_for_grpcs_and_suwsgi(void)
{
	if (!make_certs())
		return;
	unsigned port;
	pid_t pid = tls_server("good", &port);
	CHECK(pid > 0);
	char addr[64], ca[400];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tls_dir);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_TLS);
	t.tls_verify = true;
	t.tls_trusted = ca;
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_STR(r.detail, "TLS handshake done");
	CHECK(strstr(r.cert_issuer, "upwatch-test-ca") != NULL);
	stop(pid);

	pid = tls_server("expired", &port);
	CHECK(pid > 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	t = fixture_target(addr, PROBE_PROTO_TLS);
	t.tls_verify = true;
	t.tls_trusted = ca;
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "tls_error");
	stop(pid);

	/* A plain TCP server where nginx expects TLS. */
	r = probe_mode(SRV_OK, PROBE_PROTO_TLS, 2000);
	CHECK_STR(probe_result_name(r.result), "tls_error");
}

static void test_tls_against_plain_http_is_tls_error(void)
{
	struct probe_result r = probe_mode(SRV_OK, PROBE_PROTO_HTTPS, 2000);
	CHECK_STR(probe_result_name(r.result), "tls_error");
	CHECK(r.tls_error[0] != '\0');
}

/* ---- FastCGI ---- */

static const char *find_php_fpm(void)
{
	static const char *cands[] = {"/usr/sbin/php-fpm8.2", "/usr/sbin/php-fpm8.3",
				      "/usr/sbin/php-fpm8.1", "/usr/sbin/php-fpm"};
	for (size_t i = 0; i < ARRAY_SIZE(cands); i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

static void test_fastcgi_php_fpm_answers_get_values(void)
{
	const char *fpm = find_php_fpm();
	if (!fpm) {
		SKIP("php-fpm is not installed");
	}
	char dir[300], conf[400], sock[400], content[2048];
	snprintf(dir, sizeof(dir), "%s/fpm", harness_tmpdir());
	snprintf(sock, sizeof(sock), "%s/fpm.sock", dir);
	snprintf(conf, sizeof(conf), "%s/fpm.conf", dir);
	bool root = geteuid() == 0;
	snprintf(content, sizeof(content),
		 "[global]\npid = %s/fpm.pid\nerror_log = %s/fpm.log\ndaemonize = no\n"
		 "[www]\nlisten = %s\nlisten.mode = 0666\npm = static\npm.max_children = 1\n%s",
		 dir, dir, sock, root ? "user = root\ngroup = root\n" : "");
	harness_write(harness_tmpdir(), "fpm/fpm.conf", content);

	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (root)
			execl(fpm, fpm, "-n", "-y", conf, "-F", "-R", (char *)NULL);
		else
			execl(fpm, fpm, "-n", "-y", conf, "-F", (char *)NULL);
		_exit(127);
	}
	struct stat st;
	int waited = 0;
	while (stat(sock, &st) < 0 && waited < 5000) {
		usleep(20000);
		waited += 20;
	}
	CHECK(waited < 5000);

	char addr[500];
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_FASTCGI);
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	/* php-fpm knows only this one of the three names asked for. */
	CHECK_STR(r.detail, "FastCGI: FCGI_GET_VALUES_RESULT FCGI_MPXS_CONNS=0");
	CHECK(r.unix_checked);

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	/* php-fpm removes its socket on a clean stop: now it is missing. */
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "missing");
}

static void test_fastcgi_garbage_and_close(void)
{
	struct probe_result r = probe_mode(SRV_GARBAGE, PROBE_PROTO_FASTCGI, 2000);
	CHECK_STR(probe_result_name(r.result), "invalid_http");
	CHECK_STR(r.detail, "not a FastCGI reply (first bytes 48 45 4c 4c)");
	r = probe_mode(SRV_FCGI_ODD, PROBE_PROTO_FASTCGI, 2000);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_STR(r.detail, "FastCGI: FCGI_GET_VALUES_RESULT A=1");
	r = probe_mode(SRV_FCGI_END, PROBE_PROTO_FASTCGI, 2000);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_STR(r.detail, "FastCGI: record type 3 (server alive)");
	r = probe_mode(SRV_EMPTY, PROBE_PROTO_FASTCGI, 2000);
	CHECK_STR(probe_result_name(r.result), "reset");
	CHECK_STR(r.detail, "FastCGI: connection closed after 0 reply bytes");
	r = probe_mode(SRV_RESET, PROBE_PROTO_FASTCGI, 2000);
	CHECK_STR(probe_result_name(r.result), "reset");
	CHECK_INT(r.err, ECONNRESET);

	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port); /* never accepted */
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_FASTCGI);
	t.timeout_ms = 300;
	r = probe_once(&t);
	close(lfd);
	CHECK_STR(probe_result_name(r.result), "timeout");
	CHECK_STR(r.detail, "FastCGI: no reply within 300 ms");
}

/* ---- scheduler ---- */

struct sched {
	struct ev_loop *loop;
	int calls;
	int64_t times[64];
	enum probe_result_kind last;
	int once_calls;
};

static void sched_done(void *userdata, const char *key, const struct probe_result *r,
		       enum peer_state state)
{
	struct sched *s = userdata;
	if (s->calls < (int)ARRAY_SIZE(s->times))
		s->times[s->calls] = now_mono_ms();
	s->calls++;
	s->last = r->result;
}

static void sched_once(void *userdata, const char *key, const struct probe_result *r,
		       enum peer_state state)
{
	struct sched *s = userdata;
	s->once_calls++;
}

/* Run until *counter reaches want, at most max_s seconds (a loaded CI
 * machine gets time; a hang still ends). */
static void run_until(struct ev_loop *loop, const int *counter, int want, double max_s)
{
	int64_t end = now_mono_ms() + (int64_t)(max_s * 1000);
	while (*counter < want && now_mono_ms() < end)
		fixture_run_for(loop, 0.02);
}

/* A clock the test moves by hand: scheduling decisions are checked as
 * exact due times, never as measured gaps. */
struct fakeclock {
	int64_t mono, wall;
};

static int64_t fake_mono(void *ud)
{
	return ((struct fakeclock *)ud)->mono;
}

static int64_t fake_wall(void *ud)
{
	return ((struct fakeclock *)ud)->wall;
}

static void test_runs_are_due_on_a_fixed_grid_of_intervals(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 64, &port);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, 16, sched_done, &s);
	struct fakeclock fc = {.mono = 1000000, .wall = 1700000000000LL};
	struct probe_clock clock = {fake_mono, fake_wall, &fc};
	prober_set_clock(p, &clock);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_TCP);
	t.interval_ms = 200;
	prober_set_targets(p, &t, 1);
	/* First run at a random offset within one interval, on a 10 ms slot. */
	int64_t first;
	CHECK_INT(prober_next_due(p, t.key, &first), 0);
	CHECK(first >= fc.mono && first < fc.mono + 200);
	CHECK_INT((first - fc.mono) % 10, 0);
	run_until(s.loop, &s.calls, 1, 5.0);
	CHECK_INT(s.calls, 1);
	CHECK_INT(last_of(p, t.key).time_ms, fc.wall);
	/* The next run is one interval after the previous one was due. */
	int64_t next;
	CHECK_INT(prober_next_due(p, t.key, &next), 0);
	CHECK_INT(next, first + 200);
	/* A host stalled for 1 s: the missed runs are skipped, the grid kept. */
	fc.mono = first + 1050;
	run_until(s.loop, &s.calls, 2, 5.0);
	CHECK_INT(s.calls, 2);
	CHECK_INT(prober_next_due(p, t.key, &next), 0);
	CHECK_INT(next, first + 1200);
	CHECK_INT(prober_state(p, t.key), PEER_UP);
	prober_free(p);
	ev_loop_destroy(s.loop);
	close(lfd);
}

static void test_failing_peer_retries_then_falls_back_to_interval(void)
{
	unsigned port;
	int fd = listen_inet(AF_INET, "127.0.0.1", 1, &port);
	close(fd);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, 16, sched_done, &s);
	struct fakeclock fc = {.mono = 5000, .wall = 1700000000000LL};
	struct probe_clock clock = {fake_mono, fake_wall, &fc};
	prober_set_clock(p, &clock);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_TCP);
	t.interval_ms = 10000;
	t.retry_ms = 100;
	t.retries = 3;
	prober_set_targets(p, &t, 1);
	CHECK_INT(prober_state(p, t.key), PEER_UNKNOWN);
	struct probe_result none;
	CHECK_INT(prober_last(p, t.key, &none), -ENODATA);
	/* Start now instead of at the random offset; then retries take over:
	 * each failed run is followed by one retry_ms after it was due, until
	 * `retries` failures, then the interval. */
	CHECK_INT(prober_probe_now(p, t.key, NULL, NULL), 0);
	int64_t due = fc.mono, next;
	for (int i = 1; i <= 3; i++) {
		run_until(s.loop, &s.calls, i, 5.0);
		CHECK_INT(s.calls, i);
		CHECK_INT(prober_next_due(p, t.key, &next), 0);
		CHECK_INT(next, due + (i < 3 ? 100 : 10000));
		due = next;
		fc.mono = next; /* the loop reaches the due time */
	}
	CHECK_INT(s.last, PROBE_REFUSED);
	CHECK_INT(prober_state(p, t.key), PEER_DOWN);
	struct probe_result r = last_of(p, t.key);
	CHECK_INT(r.result, PROBE_REFUSED);
	CHECK_STR(r.detail, "connect() refused");

	cJSON *st = cJSON_CreateObject();
	json_prober_stats(p, st);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "sent")), 3);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "failed")), 3);
	cJSON *by = cJSON_GetObjectItem(st, "by_result");
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(by, "refused")), 3);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(by, "ok")), 0);
	CHECK_INT(cJSON_GetArraySize(by), PROBE__COUNT);
	cJSON_Delete(st);
	prober_free(p);
	ev_loop_destroy(s.loop);
}

struct capwatch {
	struct prober *p;
	int max_inflight, max_queued;
	ev_timer t;
};

static void capwatch_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct capwatch *c = container_of(w, struct capwatch, t);
	cJSON *st = cJSON_CreateObject();
	json_prober_stats(c->p, st);
	c->max_inflight =
	    MAX(c->max_inflight, (int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "in_flight")));
	c->max_queued =
	    MAX(c->max_queued, (int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "queued")));
	cJSON_Delete(st);
}

static void test_inflight_cap_is_respected(void)
{
	enum { N = 20, CAP = 5 };
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 64, &port); /* never answers */
	struct probe_target ts[N];
	for (int i = 0; i < N; i++) {
		char addr[64];
		/* distinct keys, one listener: the HTTP probes all wait for it */
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		ts[i] = fixture_target(addr, PROBE_PROTO_HTTP);
		snprintf(ts[i].key, sizeof(ts[i].key), "peer-%d", i);
		ts[i].interval_ms = 100;
		ts[i].timeout_ms = 300;
	}
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct capwatch c = {.p = new_prober(s.loop, CAP, sched_done, &s)};
	CHECK_INT(prober_set_targets(c.p, ts, N), 0);
	ev_timer_init(&c.t, capwatch_cb, 0.005, 0.005);
	ev_timer_start(s.loop, &c.t);
	/* 4 waves of 5 at 300 ms each */
	run_until(s.loop, &s.calls, N, 10.0);
	ev_timer_stop(s.loop, &c.t);
	CHECK_INT(c.max_inflight, CAP);
	CHECK(c.max_queued >= N - CAP - 2);
	CHECK(s.calls >= N);
	CHECK_INT(s.last, PROBE_TIMEOUT);
	prober_free(c.p);
	ev_loop_destroy(s.loop);
	close(lfd);
}

static void test_probe_now_is_limited_to_one_per_second(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	pid_t pid = serve(lfd, SRV_SLOW);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, 16, sched_done, &s);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTP);
	prober_set_targets(p, &t, 1);
	CHECK_INT(prober_probe_now(p, "no-such-peer:1", sched_once, &s), -ENOENT);
	/* The second call joins the probe in flight. */
	CHECK_INT(prober_probe_now(p, t.key, sched_once, &s), 0);
	CHECK_INT(prober_probe_now(p, t.key, sched_once, &s), 0);
	run_until(s.loop, &s.once_calls, 2, 5.0);
	CHECK_INT(s.calls, 1);
	CHECK_INT(s.once_calls, 2);
	/* Within a second of that result: answered at once from the record. */
	CHECK_INT(prober_probe_now(p, t.key, sched_once, &s), 1);
	CHECK_INT(s.once_calls, 3);
	CHECK_INT(s.calls, 1);
	cJSON *st = cJSON_CreateObject();
	json_prober_stats(p, st);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "sent")), 1);
	cJSON_Delete(st);
	prober_free(p);
	ev_loop_destroy(s.loop);
	stop(pid);
}

static void test_set_targets_keeps_state_of_kept_keys(void)
{
	unsigned port, refusing = 0;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	int rfd = refusing_inet("127.0.0.2", &refusing);
	CHECK(rfd >= 0);
	char a1[64], a2[64], a3[64];
	snprintf(a1, sizeof(a1), "127.0.0.1:%u", port);
	snprintf(a2, sizeof(a2), "127.0.0.2:%u", refusing);
	snprintf(a3, sizeof(a3), "127.0.0.3:%u", port);
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, 16, sched_done, &s);
	struct probe_target ts[3] = {fixture_target(a1, PROBE_PROTO_TCP),
				     fixture_target(a2, PROBE_PROTO_TCP),
				     fixture_target(a3, PROBE_PROTO_TCP)};
	CHECK_INT(prober_set_targets(p, ts, 2), 0);
	prober_probe_now(p, ts[0].key, NULL, NULL);
	prober_probe_now(p, ts[1].key, NULL, NULL);
	run_until(s.loop, &s.calls, 2, 5.0);
	CHECK_INT(s.calls, 2);
	CHECK_INT(prober_state(p, ts[0].key), PEER_UP);
	CHECK_INT(prober_state(p, ts[1].key), PEER_DOWN);
	int64_t t0 = last_of(p, ts[0].key).time_ms;

	/* Keep a1, drop a2, add a3. */
	struct probe_target next[2] = {ts[2], ts[0]};
	next[1].interval_ms = 30000;
	CHECK_INT(prober_set_targets(p, next, 2), 0);
	CHECK_INT(prober_state(p, ts[0].key), PEER_UP);
	CHECK_INT(last_of(p, ts[0].key).time_ms, t0);
	CHECK_INT(prober_state(p, ts[1].key), PEER_UNKNOWN);
	CHECK_INT(last_of(p, ts[1].key).result, PROBE__COUNT);
	CHECK_INT(prober_probe_now(p, ts[1].key, NULL, NULL), -ENOENT);
	CHECK_INT(prober_state(p, ts[2].key), PEER_UNKNOWN);
	cJSON *st = cJSON_CreateObject();
	json_prober_stats(p, st);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "peers")), 2);
	cJSON_Delete(st);

	/* An invalid target is left out; the others still apply. */
	struct probe_target three[3] = {fixture_target("127.0.0.9:1", PROBE_PROTO_TCP), next[0],
					next[1]};
	three[0].addr.port = 0;
	CHECK_INT(prober_set_targets(p, three, 3), -EINVAL);
	CHECK_INT(prober_state(p, ts[0].key), PEER_UP);
	CHECK_INT(prober_state(p, ts[2].key), PEER_UNKNOWN);
	st = cJSON_CreateObject();
	json_prober_stats(p, st);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "peers")), 2);
	cJSON_Delete(st);

	/* Removing a peer with a probe in flight drops that probe quietly. */
	int before = s.calls;
	prober_probe_now(p, ts[2].key, NULL, NULL);
	CHECK_INT(prober_set_targets(p, &next[1], 1), 0);
	fixture_run_for(s.loop, 0.1);
	CHECK_INT(s.calls, before);
	prober_free(p);
	ev_loop_destroy(s.loop);
	close(lfd);
	close(rfd);
}

struct reentrant {
	struct prober *p;
	int calls;
};

static void clear_on_first_result(void *userdata, const char *key, const struct probe_result *r,
				  enum peer_state state)
{
	struct reentrant *re = userdata;
	if (re->calls++ == 0) {
		/* The peer reporting and every other one (with probes in flight,
		 * some with results already queued) leave the set here. */
		CHECK_INT(prober_set_targets(re->p, NULL, 0), 0);
		CHECK_INT(prober_probe_now(re->p, key, NULL, NULL), -ENOENT);
	}
}

static void test_callback_may_clear_the_target_set(void)
{
	enum { N = 20 };
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 64, &port);
	struct probe_target ts[N];
	for (int i = 0; i < N; i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		ts[i] = fixture_target(addr, i % 2 ? PROBE_PROTO_HTTP : PROBE_PROTO_TCP);
		snprintf(ts[i].key, sizeof(ts[i].key), "peer-%d", i);
		ts[i].timeout_ms = 300;
	}
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct reentrant re = {0};
	re.p = new_prober(loop, 64, clear_on_first_result, &re);
	CHECK_INT(prober_set_targets(re.p, ts, N), 0);
	for (int i = 0; i < N; i++)
		prober_probe_now(re.p, ts[i].key, NULL, NULL);
	fixture_run_for(loop, 0.5);
	CHECK_INT(re.calls, 1);
	cJSON *st = cJSON_CreateObject();
	json_prober_stats(re.p, st);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "peers")), 0);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "in_flight")), 0);
	cJSON_Delete(st);
	prober_free(re.p);
	ev_loop_destroy(loop);
	close(lfd);
}

/* Connect-only checks reuse their socket: a reused one must report the
 * next peer's outcome, not the last one's. */
static void test_reused_socket_reports_each_peer(void)
{
	unsigned up, down;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 64, &up);
	close(listen_inet(AF_INET, "127.0.0.1", 1, &down));
	char a[64], b[64];
	snprintf(a, sizeof(a), "127.0.0.1:%u", up);
	snprintf(b, sizeof(b), "127.0.0.1:%u", down);
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, 16, sched_done, &s);
	struct probe_target ts[2] = {fixture_target(a, PROBE_PROTO_TCP),
				     fixture_target(b, PROBE_PROTO_TCP)};
	prober_set_targets(p, ts, 2);
	enum probe_result_kind want[4] = {PROBE_OK, PROBE_REFUSED, PROBE_OK, PROBE_REFUSED};
	for (int i = 0; i < 4; i++) {
		if (i == 2) {
			/* a second round: both results are younger than 1 s */
			struct probe_target again[2] = {ts[0], ts[1]};
			snprintf(again[0].key, sizeof(again[0].key), "again-a");
			snprintf(again[1].key, sizeof(again[1].key), "again-b");
			prober_set_targets(p, again, 2);
			memcpy(ts, again, sizeof(again));
		}
		prober_probe_now(p, ts[i % 2].key, NULL, NULL);
		run_until(s.loop, &s.calls, i + 1, 5.0);
		CHECK_INT(s.calls, i + 1);
		CHECK_STR(probe_result_name(s.last), probe_result_name(want[i]));
	}
	prober_free(p);
	ev_loop_destroy(s.loop);
	close(lfd);
}

static void test_disabled_peer_is_not_scheduled(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, 16, sched_done, &s);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_TCP);
	t.interval_ms = 50;
	t.enabled = false;
	prober_set_targets(p, &t, 1);
	/* no timer armed: nothing to wait for */
	int64_t due;
	CHECK_INT(prober_next_due(p, t.key, &due), -ENODATA);
	ev_run(s.loop, EVRUN_NOWAIT);
	CHECK_INT(s.calls, 0);
	CHECK_INT(prober_state(p, t.key), PEER_UNKNOWN);
	/* enabled again: armed within one interval */
	t.enabled = true;
	prober_set_targets(p, &t, 1);
	CHECK_INT(prober_next_due(p, t.key, &due), 0);
	prober_free(p);
	ev_loop_destroy(s.loop);
	close(lfd);
}

/* ---- one admission path, judged as nginx judges ---- */

/* On-demand probes wait for a slot like timer runs do, and a peer asked for
 * again while it waits is not queued twice. */
static void test_probe_now_honours_max_inflight_and_coalesces(void)
{
	enum { N = 10, CAP = 3 };
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 64, &port); /* never answers */
	struct probe_target ts[N];
	for (int i = 0; i < N; i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		ts[i] = fixture_target(addr, PROBE_PROTO_HTTP);
		snprintf(ts[i].key, sizeof(ts[i].key), "peer-%02d", i);
		ts[i].interval_ms = 3600000; /* timer runs out of the way */
		ts[i].timeout_ms = 300;
	}
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, CAP, sched_done, &s);
	CHECK_INT(prober_set_targets(p, ts, N), 0);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N; i++)
			CHECK_INT(prober_probe_now(p, ts[i].key, sched_once, &s), 0);
	struct prober_stats st;
	prober_stats(p, &st);
	CHECK_INT(st.in_flight, CAP);
	CHECK_INT(st.queued, N - CAP);
	CHECK_INT(st.sent, CAP);
	run_until(s.loop, &s.calls, N, 10.0);
	prober_stats(p, &st);
	CHECK_INT(s.calls, N);		/* one run per peer */
	CHECK_INT(s.once_calls, 3 * N); /* every caller answered */
	CHECK_INT(st.sent, N);
	CHECK_INT(st.queued, 0);
	CHECK_INT(s.last, PROBE_TIMEOUT);
	prober_free(p);
	ev_loop_destroy(s.loop);
	close(lfd);
}

/* Step the loop without waiting: enough for a probe started now to have
 * connected (loopback connects complete inside connect()). */
static void spin(struct ev_loop *loop)
{
	for (int i = 0; i < 20; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

/* `probe off` and peers nginx never connects to: no path starts a probe,
 * and the listener never sees a connection. */
static void test_probe_off_and_unprobed_peers_are_never_connected(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, 16, sched_done, &s);
	struct probe_target ts[2] = {fixture_target(addr, PROBE_PROTO_TCP),
				     fixture_target(addr, PROBE_PROTO_HTTP)};
	ts[0].enabled = false; /* probe off */
	snprintf(ts[0].key, sizeof(ts[0].key), "off");
	ts[1].probed = false; /* e.g. `server ... down;` */
	snprintf(ts[1].key, sizeof(ts[1].key), "down");
	ts[0].interval_ms = ts[1].interval_ms = 10;
	CHECK_INT(prober_set_targets(p, ts, 2), 0);
	CHECK_INT(prober_probe_now(p, "off", sched_once, &s), -EPERM);
	CHECK_INT(prober_probe_now(p, "down", sched_once, &s), -EPERM);
	int64_t due;
	CHECK_INT(prober_next_due(p, "off", &due), -ENODATA);
	CHECK_INT(prober_next_due(p, "down", &due), -ENODATA);
	spin(s.loop);
	CHECK_INT(accept(lfd, NULL, NULL), -1);
	CHECK_INT(errno, EAGAIN);
	CHECK_INT(s.calls + s.once_calls, 0);

	/* The control: the same listener, probed, is connected to. */
	ts[0].enabled = true;
	CHECK_INT(prober_set_targets(p, ts, 2), 0);
	CHECK_INT(prober_probe_now(p, "off", NULL, NULL), 0);
	run_until(s.loop, &s.calls, 1, 5.0);
	int c = accept(lfd, NULL, NULL);
	CHECK(c >= 0);
	if (c >= 0)
		close(c);
	prober_free(p);
	ev_loop_destroy(s.loop);
	close(lfd);
}

/* In a child whose descriptor limit is already reached: a probe that cannot
 * create its socket is upwatch's failure, not a refusing peer. */
static void test_no_free_descriptor_is_local_error(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	pid_t srv = serve(lfd, SRV_OK);
	char addr[64], path[256], uaddr[300];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(path, sizeof(path), "%s/fdlimit.sock", harness_tmpdir());
	int ufd = listen_unix(path);
	snprintf(uaddr, sizeof(uaddr), "unix:%s", path);
	pid_t pid = fork();
	if (pid == 0) {
		struct probe_wait o = {.loop = ev_loop_new(EVFLAG_AUTO)};
		struct prober *p = new_prober(o.loop, 16, probe_wait_done, &o);
		struct probe_target ts[3] = {fixture_target(addr, PROBE_PROTO_TCP),
					     fixture_target(addr, PROBE_PROTO_HTTP),
					     fixture_target(uaddr, PROBE_PROTO_TCP)};
		snprintf(ts[1].key, sizeof(ts[1].key), "http");
		prober_set_targets(p, ts, 3);
		/* every descriptor below the limit in use: no new one can open */
		int lowest = dup(0);
		close(lowest);
		struct rlimit rl = {(rlim_t)lowest, (rlim_t)lowest};
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || socket(AF_INET, SOCK_STREAM, 0) >= 0)
			_exit(3);
		int bad = 0;
		for (int i = 0; i < 3; i++) {
			int calls = o.calls;
			prober_probe_now(p, ts[i].key, NULL, NULL);
			while (o.calls == calls)
				ev_run(o.loop, EVRUN_ONCE);
			if (o.r.result != PROBE_LOCAL_ERROR || o.state != PEER_UNKNOWN ||
			    !strstr(o.r.detail, "no verdict about the peer")) {
				fprintf(stderr, "%s: %s: %s\n", ts[i].key,
					probe_result_name(o.r.result), o.r.detail);
				bad++;
			}
		}
		_exit(bad ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
	stop(srv);
	close(ufd);
	unlink(path);
}

static void test_http_endless_header_line_is_too_big_not_out_of_memory(void)
{
	struct probe_result r = probe_mode(SRV_HUGELINE, PROBE_PROTO_HTTP, 5000);
	CHECK_STR(probe_result_name(r.result), "invalid_http");
	CHECK(r.header_too_big);
	CHECK_STR(r.detail, "a response header line over 100 KiB: too big, nginx answers 502");
}

/* nginx waits its read timeout, not upwatch's probe_timeout: a backend
 * slower than the latter but within the former is healthy. */
static void test_http_judged_by_nginx_read_timeout(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	pid_t pid = serve(lfd, SRV_SLOW);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTP);
	t.timeout_ms = SLOW_MS / 4;
	t.connect_timeout_ms = 1000;
	t.read_timeout_ms = 5000;
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK(r.ttfb_ms >= SLOW_MS); /* measured, recorded */
	stop(pid);

	/* Past nginx's read timeout: a timeout naming where it is set. */
	lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port); /* never answers */
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	t = fixture_target(addr, PROBE_PROTO_HTTP);
	t.connect_timeout_ms = 60000; /* nginx's default: the read timeout is timed on its own */
	t.read_timeout_ms = 200;
	t.read_timeout_ref = "/etc/nginx/sites-enabled/app:12";
	r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "timeout");
	CHECK_STR(r.detail, "no response header within 200 ms (nginx's read timeout, "
			    "/etc/nginx/sites-enabled/app:12)");
	close(lfd);
}

/* ---- the loop never blocks ---- */

struct ticker {
	ev_timer t;
	double last, max_gap, last_wait, max_own_gap;
};

/* Seconds this thread spent runnable but waiting for a CPU (schedstat's
 * run_delay): time the machine took from us, not time the loop blocked. */
static double runqueue_wait(void)
{
	char buf[128];
	unsigned long long oncpu, wait;
	FILE *f = fopen("/proc/thread-self/schedstat", "re");
	bool ok = f && fgets(buf, sizeof(buf), f) && sscanf(buf, "%llu %llu", &oncpu, &wait) == 2;
	if (f)
		fclose(f);
	return ok ? wait / 1e9 : 0;
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ticker *tk = container_of(w, struct ticker, t);
	ev_now_update(loop);
	double now = ev_now(loop), wait = runqueue_wait();
	if (tk->last > 0) {
		double gap = now - tk->last;
		tk->max_gap = MAX(tk->max_gap, gap);
		tk->max_own_gap = MAX(tk->max_own_gap, gap - (wait - tk->last_wait));
	}
	tk->last = now;
	tk->last_wait = wait;
}

static void test_200_hanging_peers_do_not_block_the_loop(void)
{
	enum { N = 200 };
	int fds[N];
	struct probe_target *ts = xcalloc(N, sizeof(*ts));
	for (int i = 0; i < N; i++) {
		unsigned port;
		fds[i] = listen_inet(AF_INET, "127.0.0.1", 64, &port); /* never accepts */
		char addr[64];
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		ts[i] = fixture_target(addr, i % 4 == 0 ? PROBE_PROTO_FASTCGI : PROBE_PROTO_HTTP);
		ts[i].interval_ms = 500;
		ts[i].timeout_ms = 1000;
	}
	struct sched s = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(s.loop, 256, sched_done, &s);
	struct ticker tk = {0};
	struct capwatch c = {.p = p};
	ev_timer_init(&tk.t, tick_cb, 0.01, 0.01);
	ev_timer_start(s.loop, &tk.t);
	ev_timer_init(&c.t, capwatch_cb, 0.005, 0.005);
	ev_timer_start(s.loop, &c.t);
	CHECK_INT(prober_set_targets(p, ts, N), 0);
	fixture_run_for(s.loop, 2.5);
	ev_timer_stop(s.loop, &tk.t);
	ev_timer_stop(s.loop, &c.t);
	printf("  200 hanging peers: %d probes done, max tick gap %.1f ms, %.1f ms without "
	       "the time other processes held the CPU\n",
	       s.calls, tk.max_gap * 1000, tk.max_own_gap * 1000);
	/* The gaps above are figures, not assertions (a loaded machine moves
	 * them). What proves the loop never waits for a peer: all N probes were
	 * out at once, which a probe blocking until its answer would prevent. */
	CHECK_INT(c.max_inflight, N);
	CHECK(s.calls >= N);
	CHECK_INT(s.last, PROBE_TIMEOUT);
	prober_free(p);
	ev_loop_destroy(s.loop);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	free(ts);
}

static void test_connect_errors_map_to_results(void)
{
	static const struct {
		int err;
		bool unix_sock;
		const char *result;
	} cases[] = {
	    {0, false, "ok"},
	    {ECONNREFUSED, false, "refused"},
	    {ECONNREFUSED, true, "stale"},
	    {ETIMEDOUT, false, "timeout"},
	    {EHOSTUNREACH, false, "unreachable"},
	    {ENETUNREACH, false, "unreachable"},
	    {ECONNRESET, false, "reset"},
	    {EAGAIN, true, "overloaded"},
	    {ENOENT, true, "missing"},
	    {EACCES, true, "permission"},
	    {ENOTSOCK, true, "not_socket"},
	    {EADDRNOTAVAIL, false, "error"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct probe_result r = {0};
		probe_tcp_classify(cases[i].err, cases[i].unix_sock, 1500, &r);
		CHECK_STR(probe_result_name(r.result), cases[i].result);
		CHECK_INT(r.err, cases[i].err);
	}
	struct probe_result r = {0};
	probe_tcp_classify(ENETUNREACH, false, 1500, &r);
	CHECK_STR(r.detail, "connect() failed: Network is unreachable");
	probe_tcp_classify(ETIMEDOUT, false, 1500, &r);
	CHECK_STR(r.detail, "connect() timed out after 1500 ms");
}

static void test_unix_socket_nobody_listens_is_stale(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/stale.sock", harness_tmpdir());
	close(listen_unix(path)); /* the file stays, the listener is gone */
	char addr[300];
	snprintf(addr, sizeof(addr), "unix:%s", path);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_FASTCGI);
	struct probe_result r = probe_once(&t);
	CHECK_STR(probe_result_name(r.result), "stale");
	CHECK(r.unix_checked);
	cJSON *j = json_probe_result(&r);
	CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "sock_mode")));
	cJSON_Delete(j);
	unlink(path);
}

static void test_result_names(void)
{
	static const char *names[] = {
	    "ok",	   "refused",	 "timeout",	"unreachable", "reset",	     "invalid_http",
	    "http_status", "tls_error",	 "dns_error",	"missing",     "not_socket", "permission",
	    "stale",	   "overloaded", "local_error", "error",
	};
	CHECK_INT(ARRAY_SIZE(names), PROBE__COUNT);
	for (int i = 0; i < PROBE__COUNT; i++)
		CHECK_STR(probe_result_name((enum probe_result_kind)i), names[i]);
	CHECK_STR(peer_state_name(PEER_UP), "up");
	CHECK_STR(peer_state_name(PEER_DOWN), "down");
	CHECK_STR(peer_state_name(PEER_UNKNOWN), "unknown");
}

static void test_http_peer_speaking_uwsgi_is_sniffed_once(void)
{
	unsigned port;
	int lfd = listen_inet(AF_INET, "127.0.0.1", 16, &port);
	*srv_conns = 0;
	pid_t pid = serve(lfd, SRV_UWSGI);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe_target t = fixture_target(addr, PROBE_PROTO_HTTP);
	struct probe_wait o = {.loop = ev_loop_new(EVFLAG_AUTO)};
	struct prober *p = new_prober(o.loop, 4, NULL, NULL);
	struct fakeclock fc = {.mono = 1000000, .wall = 1700000000000LL};
	struct probe_clock clock = {fake_mono, fake_wall, &fc};
	prober_set_clock(p, &clock);
	CHECK_INT(prober_set_targets(p, &t, 1), 0);
	for (int i = 0; i < 2; i++) {
		o.calls = 0;
		CHECK_INT(prober_probe_now(p, t.key, probe_wait_done, &o), 0);
		ev_run(o.loop, 0);
		CHECK_INT(o.calls, 1);
		CHECK_STR(probe_result_name(o.r.result), "reset");
		CHECK_INT(o.r.speaks, PROBE_SPEAKS_UWSGI);
		CHECK(strstr(o.r.detail, "; the port speaks uwsgi") != NULL);
		fc.mono += 5000; /* past the on-demand minimum, well within the sniff's TTL */
	}
	/* GET, FastCGI, uwsgi; then the second GET only */
	CHECK_INT(__atomic_load_n(srv_conns, __ATOMIC_SEQ_CST), 4);
	/* the answer is asked again once it is old */
	fc.mono += 11 * 60 * 1000;
	o.calls = 0;
	CHECK_INT(prober_probe_now(p, t.key, probe_wait_done, &o), 0);
	ev_run(o.loop, 0);
	CHECK_INT(o.r.speaks, PROBE_SPEAKS_UWSGI);
	CHECK_INT(__atomic_load_n(srv_conns, __ATOMIC_SEQ_CST), 7);
	struct probe_result last = last_of(p, t.key);
	CHECK_INT(last.speaks, PROBE_SPEAKS_UWSGI); /* kept with the last result */
	prober_free(p);
	ev_loop_destroy(o.loop);
	stop(pid);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	srv_conns = mmap(NULL, sizeof(*srv_conns), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (srv_conns == MAP_FAILED)
		return 2;
	/* 64 KiB of header in one line: under curl's 100 KiB per-line limit. */
	size_t n = (size_t)snprintf(bighdr_response, sizeof(bighdr_response),
				    "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(bighdr_response + n, 'a', 65536);
	n += 65536;
	snprintf(bighdr_response + n, sizeof(bighdr_response) - n,
		 "\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
	n = (size_t)snprintf(hugehdr_response, sizeof(hugehdr_response), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 5; i++) {
		n += (size_t)snprintf(hugehdr_response + n, sizeof(hugehdr_response) - n,
				      "X-Big-%d: ", i);
		memset(hugehdr_response + n, 'b', 60 * 1024);
		n += 60 * 1024;
		n += (size_t)snprintf(hugehdr_response + n, sizeof(hugehdr_response) - n, "\r\n");
	}
	snprintf(hugehdr_response + n, sizeof(hugehdr_response) - n,
		 "Content-Length: 2\r\nConnection: close\r\n\r\nok");
	n = (size_t)snprintf(bigbody_response, sizeof(bigbody_response),
			     "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
			     1024 * 1024);
	memset(bigbody_response + n, 'x', 1024 * 1024);

	RUN(test_result_names);
	RUN(test_connect_errors_map_to_results);
	RUN(test_unix_socket_nobody_listens_is_stale);
	RUN(test_closed_port_is_refused);
	RUN(test_tcp_listener_is_ok_and_json_has_fields);
	RUN(test_ipv6_loopback);
	RUN(test_http_200_is_ok_with_timings);
	RUN(test_http_accepts_never_answers_is_timeout);
	RUN(test_http_reset_after_request_is_reset);
	RUN(test_http_empty_reply_is_reset);
	RUN(test_http_garbage_is_invalid_http);
	RUN(test_http_64k_header_is_ok_and_counted);
	RUN(test_http_header_over_256k_is_too_big);
	RUN(test_http_big_body_is_cut_and_ok);
	RUN(test_http_slow_first_byte_is_measured);
	RUN(test_http_any_status_is_a_response_by_default);
	RUN(test_http_503_on_a_health_uri_is_http_status);
	RUN(test_http_expect_range_is_honoured);
	RUN(test_http_over_unix_socket);
	RUN(test_unresolvable_name_is_dns_error);
	RUN(test_localhost_name_resolves_then_connects);
	RUN(test_resolver_cancel_and_free_with_jobs_out);
	RUN(test_dns_answers_format_in_order_without_repeats);
	RUN(test_tls_good_certificate_is_ok);
	RUN(test_tls_expired_certificate_is_tls_error);
	RUN(test_tls_self_signed_with_verify_is_tls_error);
	RUN(test_tls_wrong_name_is_tls_error);
	RUN(test_tls_handshake_never_answered_is_timeout);
	RUN(test_tls_against_plain_http_is_tls_error);
	RUN(test_fastcgi_php_fpm_answers_get_values);
	RUN(test_fastcgi_garbage_and_close);
	RUN(test_runs_are_due_on_a_fixed_grid_of_intervals);
	RUN(test_failing_peer_retries_then_falls_back_to_interval);
	RUN(test_inflight_cap_is_respected);
	RUN(test_probe_now_is_limited_to_one_per_second);
	RUN(test_set_targets_keeps_state_of_kept_keys);
	RUN(test_callback_may_clear_the_target_set);
	RUN(test_reused_socket_reports_each_peer);
	RUN(test_disabled_peer_is_not_scheduled);
	RUN(test_probe_now_honours_max_inflight_and_coalesces);
	RUN(test_probe_off_and_unprobed_peers_are_never_connected);
	RUN(test_no_free_descriptor_is_local_error);
	RUN(test_http_endless_header_line_is_too_big_not_out_of_memory);
	RUN(test_http_judged_by_nginx_read_timeout);
	RUN(test_tls_only_check_for_grpcs_and_suwsgi);
	RUN(test_200_hanging_peers_do_not_block_the_loop);
	RUN(test_http_peer_speaking_uwsgi_is_sniffed_once);
	return harness_result();
}
