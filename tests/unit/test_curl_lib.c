/* Unit tests for curl_lib: libcurl opened on demand, and a prober that
 * cannot open it (HTTP, HTTPS and TLS probes are local errors, TCP probes
 * go on). Loopback only; every wait bounded. */
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "harness.h"
#include "probe_fixture.h"
#include "core/peerkey.h"
#include "probe/curl_lib.h"
#include "probe/probe.h"

#define MISSING "libupwatch-test-missing.so.0"

static void test_open_resolves_every_function(void)
{
	struct curl_lib lib;
	char why[200] = "";

	CHECK_INT(curl_lib_open(CURL_LIB_SONAME, &lib, why, sizeof(why)), 0);
	CHECK_STR(why, "");
	void (*const *f)(void) = (void (*const *)(void)) & lib;
	for (size_t i = 0; i < sizeof(lib) / sizeof(*f); i++)
		CHECK(f[i] != NULL);
	CHECK_STR(lib.easy_strerror(CURLE_COULDNT_CONNECT), "Couldn't connect to server");
	struct curl_slist *l = lib.slist_append(NULL, "Host: a");
	CHECK_STR(l->data, "Host: a");
	lib.slist_free_all(l);
}

static void test_missing_library_says_why_and_leaves_ret(void)
{
	struct curl_lib lib = {0};
	char why[200] = "";

	CHECK_INT(curl_lib_open(MISSING, &lib, why, sizeof(why)), -ENOENT);
	CHECK_STR(why, MISSING ": cannot open shared object file: No such file or directory");
	CHECK(lib.global_init == NULL);
}

static void test_a_library_without_curl_is_refused(void)
{
	struct curl_lib lib = {0};
	char why[200] = "";

	CHECK_INT(curl_lib_open("libc.so.6", &lib, why, sizeof(why)), -ENOSYS);
	CHECK_STR(why, "libc.so.6 has no curl_global_init: not a libcurl");
	CHECK(lib.global_init == NULL);
}

/* ---- a prober without libcurl ---- */

/* Probe key now; bounded at 5 s. */
static struct probe_result probe_key(struct prober *p, struct ev_loop *loop, const char *key)
{
	struct probe_wait o = {.loop = loop};
	ev_timer deadline;

	ev_timer_init(&deadline, fixture_break, 5.0, 0);
	ev_timer_start(loop, &deadline);
	CHECK_INT(prober_probe_now(p, key, probe_wait_done, &o), 0);
	ev_run(loop, 0);
	ev_timer_stop(loop, &deadline);
	CHECK_INT(o.calls, 1);
	return o.r;
}

static void test_without_libcurl_http_and_tls_are_local_errors_tcp_goes_on(void)
{
	/* A listener that never accepts: the kernel completes the handshake. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sin, len) == 0 && listen(fd, 16) == 0 &&
	      getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	unsigned port = ntohs(sin.sin_port);
	char a[3][64];
	for (int i = 0; i < 3; i++)
		snprintf(a[i], sizeof(a[i]), "127.0.0.%d:%u", 3 - i, port); /* TCP on .1 */
	struct probe_target t[3] = {fixture_target(a[0], PROBE_PROTO_HTTP),
				    fixture_target(a[1], PROBE_PROTO_TLS),
				    fixture_target(a[2], PROBE_PROTO_TCP)};
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct prober *p = NULL;
	CHECK_INT(prober_new(loop, 4, NULL, NULL, &p), 0);
	prober_set_curl_library(p, MISSING);
	CHECK_INT(prober_set_targets(p, t, 3), 0);

	const char *want =
	    "upwatch cannot load " MISSING " for HTTP, HTTPS and TLS probes: " MISSING
	    ": cannot open shared object file: No such file or directory (no "
	    "verdict about the peer; TCP and unix probes go on)";
	struct probe_result r = probe_key(p, loop, t[0].key);
	CHECK_STR(probe_result_name(r.result), "local_error");
	CHECK_INT(r.err, ELIBACC);
	CHECK_STR(r.detail, want);
	CHECK_INT(r.http_status, 0);

	/* Not tried again, and said the same way. */
	r = probe_key(p, loop, t[1].key);
	CHECK_STR(probe_result_name(r.result), "local_error");
	CHECK_STR(r.detail, want);

	r = probe_key(p, loop, t[2].key);
	CHECK_STR(probe_result_name(r.result), "ok");
	CHECK_STR(r.detail, "connected");

	prober_free(p);
	ev_loop_destroy(loop);
	close(fd);
}

int main(void)
{
	RUN(test_open_resolves_every_function);
	RUN(test_missing_library_says_why_and_leaves_ret);
	RUN(test_a_library_without_curl_is_refused);
	RUN(test_without_libcurl_http_and_tls_are_local_errors_tcp_goes_on);
	return harness_result();
}
