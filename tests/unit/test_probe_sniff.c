/* Unit tests for probe_sniff: each protocol against a loopback stub that
 * answers only its own protocol and closes on anything else, as the real
 * servers do (php-fpm, uwsgi --socket, a TLS server). */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "probe/probe_sniff.h"

enum stub_kind { STUB_FASTCGI, STUB_UWSGI, STUB_TLS, STUB_CLOSE, STUB_SILENT, STUB_HTTP };

struct stub {
	enum stub_kind kind;
	int lfd;
	ev_io accept_w;
	int cfd[8];
	ev_io conn_w[8];
	size_t nconn;
	unsigned requests; /* connections that sent anything */
};

/* Whether a request is the stub's own protocol, and its answer. */
static const char *answer(enum stub_kind k, const unsigned char *in, size_t n, size_t *ret_len)
{
	static const unsigned char fcgi[] = {1, 10, 0, 0, 0, 0, 0, 0};
	static const unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
	static const char http[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	switch (k) {
	case STUB_FASTCGI:
		if (n >= 8 && in[0] == 1 && in[1] == 9) {
			*ret_len = sizeof(fcgi);
			return (const char *)fcgi;
		}
		return NULL;
	case STUB_UWSGI:
		/* uwsgi: modifier1 0 and a datasize that matches, else "invalid
		 * request block size" and close */
		if (n >= 4 && in[0] == 0 && (size_t)(in[1] | in[2] << 8) + 4 == n) {
			*ret_len = sizeof(http) - 1;
			return http;
		}
		return NULL;
	case STUB_TLS:
		if (n >= 5 && in[0] == 0x16 && in[1] == 3) {
			*ret_len = sizeof(alert);
			return (const char *)alert;
		}
		return NULL;
	case STUB_HTTP: {
		/* an HTTP server: 400 for bytes that are no request line */
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
		*ret_len = sizeof(bad) - 1;
		return bad;
	}
	default:
		return NULL;
	}
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct stub *s = w->data;
	unsigned char buf[1024];
	ssize_t n = read(w->fd, buf, sizeof(buf));
	(void)revents;
	ev_io_stop(loop, w);
	if (n > 0) {
		s->requests++;
		size_t len;
		const char *a = answer(s->kind, buf, (size_t)n, &len);
		if (a)
			CHECK_INT(write(w->fd, a, len), len);
	}
	if (s->kind != STUB_SILENT || n <= 0)
		close(w->fd);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct stub *s = w->data;
	(void)revents;
	int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0 || s->nconn == 8) {
		if (fd >= 0)
			close(fd);
		return;
	}
	ev_io *c = &s->conn_w[s->nconn];
	s->cfd[s->nconn++] = fd;
	ev_io_init(c, conn_cb, fd, EV_READ);
	c->data = s;
	ev_io_start(loop, c);
}

static void stub_start(struct stub *s, struct ev_loop *loop, enum stub_kind kind,
		       struct sockaddr_storage *ret_sa, socklen_t *ret_len, const char *unix_path)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	if (unix_path) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ret_sa;
		memset(ret_sa, 0, sizeof(*ret_sa));
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", unix_path);
		unlink(unix_path);
		*ret_len = sizeof(*sun);
		s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ret_sa;
		memset(ret_sa, 0, sizeof(*ret_sa));
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
		*ret_len = sizeof(*sin);
		s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	CHECK(bind(s->lfd, (struct sockaddr *)ret_sa, *ret_len) == 0);
	CHECK(listen(s->lfd, 8) == 0);
	getsockname(s->lfd, (struct sockaddr *)ret_sa, ret_len);
	ev_io_init(&s->accept_w, accept_cb, s->lfd, EV_READ);
	s->accept_w.data = s;
	ev_io_start(loop, &s->accept_w);
}

static void stub_stop(struct stub *s, struct ev_loop *loop)
{
	ev_io_stop(loop, &s->accept_w);
	for (size_t i = 0; i < s->nconn; i++) {
		ev_io_stop(loop, &s->conn_w[i]);
		close(s->cfd[i]);
	}
	close(s->lfd);
}

static enum probe_speaks heard_result;
static int calls;

static void done(struct probe_sniff *s, enum probe_speaks heard)
{
	(void)s;
	heard_result = heard;
	calls++;
}

/* Sniff a stub of kind with the candidates of mask; what was heard. */
static enum probe_speaks sniff(enum stub_kind kind, unsigned mask, const char *unix_path,
			       unsigned *ret_requests)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct stub stub;
	struct sockaddr_storage sa;
	socklen_t len;
	struct probe_sniff s;
	stub_start(&stub, loop, kind, &sa, &len, unix_path);
	probe_sniff_init(&s);
	heard_result = PROBE_SPEAKS_UNKNOWN;
	calls = 0;
	CHECK_INT(probe_sniff_start(&s, loop, (struct sockaddr *)&sa, len, 300, mask, done), 0);
	CHECK_INT(calls, 0); /* never from inside start */
	for (int i = 0; i < 1000 && !calls; i++)
		ev_run(loop, EVRUN_ONCE);
	CHECK_INT(calls, 1);
	probe_sniff_cancel(&s);
	stub_stop(&stub, loop);
	ev_loop_destroy(loop);
	if (ret_requests)
		*ret_requests = stub.requests;
	return heard_result;
}

static void test_requests_are_well_formed(void)
{
	size_t len;
	const unsigned char *p = probe_sniff_request(PROBE_SPEAKS_TLS, &len);
	/* record and handshake lengths agree with the bytes */
	CHECK_INT(len, 5 + (size_t)(p[3] << 8 | p[4]));
	CHECK_INT(len, 9 + (size_t)(p[6] << 16 | p[7] << 8 | p[8]));
	CHECK_INT(p[0], 0x16);
	CHECK_INT(p[5], 1); /* ClientHello */
	p = probe_sniff_request(PROBE_SPEAKS_UWSGI, &len);
	CHECK_INT(p[0], 0); /* modifier1 0: WSGI */
	CHECK_INT(len, 4 + (size_t)(p[1] | p[2] << 8));
	/* every (key, value) pair fits the packet exactly */
	size_t off = 4;
	unsigned pairs = 0;
	while (off + 2 <= len) {
		size_t k = (size_t)(p[off] | p[off + 1] << 8);
		size_t v = (size_t)(p[off + 2 + k] | p[off + 3 + k] << 8);
		off += 4 + k + v;
		pairs++;
	}
	CHECK_INT(off, len);
	CHECK_INT(pairs, 7);
	p = probe_sniff_request(PROBE_SPEAKS_FASTCGI, &len);
	CHECK_INT(len, 8 + (size_t)(p[4] << 8 | p[5]) + p[6]);
	CHECK_INT(p[1], 9); /* FCGI_GET_VALUES */
	CHECK(probe_sniff_request(PROBE_SPEAKS_UNKNOWN, &len) == NULL);
}

static void test_answers_are_told_apart(void)
{
	const unsigned char fcgi[] = {1, 10, 0, 0, 0, 0, 0, 0};
	const unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
	const unsigned char hello[] = {0x16, 0x03, 0x03, 0x00, 0x40};
	CHECK(probe_sniff_heard(PROBE_SPEAKS_FASTCGI, fcgi, 8));
	CHECK(!probe_sniff_heard(PROBE_SPEAKS_FASTCGI, fcgi, 7));
	CHECK(!probe_sniff_heard(PROBE_SPEAKS_FASTCGI, (const unsigned char *)"HTTP/1.1", 8));
	CHECK(probe_sniff_heard(PROBE_SPEAKS_UWSGI, (const unsigned char *)"HTTP/1.1 200", 12));
	CHECK(!probe_sniff_heard(PROBE_SPEAKS_UWSGI, (const unsigned char *)"HTTP", 4));
	/* an HTTP server's answer to the packet's bytes */
	CHECK(
	    !probe_sniff_heard(PROBE_SPEAKS_UWSGI, (const unsigned char *)"HTTP/1.1 400 Bad", 16));
	CHECK(probe_sniff_heard(PROBE_SPEAKS_UWSGI, (const unsigned char *)"HTTP/1.0 404 Not", 16));
	CHECK(probe_sniff_heard(PROBE_SPEAKS_TLS, alert, sizeof(alert)));
	CHECK(probe_sniff_heard(PROBE_SPEAKS_TLS, hello, sizeof(hello)));
	CHECK(!probe_sniff_heard(PROBE_SPEAKS_TLS, (const unsigned char *)"HTTP/1.1", 8));
	CHECK(!probe_sniff_heard(PROBE_SPEAKS_TLS, fcgi, 8));
}

static void test_fastcgi_server_is_heard_as_fastcgi(void)
{
	unsigned requests;
	CHECK_INT(sniff(STUB_FASTCGI, PROBE_SNIFF_ALL, NULL, &requests), PROBE_SPEAKS_FASTCGI);
	CHECK_INT(requests, 1); /* the first candidate: nothing more was sent */
}

static void test_uwsgi_socket_is_heard_as_uwsgi(void)
{
	unsigned requests;
	CHECK_INT(sniff(STUB_UWSGI, PROBE_SNIFF_ALL, NULL, &requests), PROBE_SPEAKS_UWSGI);
	CHECK_INT(requests, 2); /* FastCGI's request was refused first */
}

static void test_tls_server_is_heard_as_tls(void)
{
	unsigned requests;
	CHECK_INT(sniff(STUB_TLS, PROBE_SNIFF_ALL, NULL, &requests), PROBE_SPEAKS_TLS);
	CHECK_INT(requests, 3);
}

static void test_a_port_that_closes_on_everything_is_unknown(void)
{
	unsigned requests;
	CHECK_INT(sniff(STUB_CLOSE, PROBE_SNIFF_ALL, NULL, &requests), PROBE_SPEAKS_UNKNOWN);
	CHECK_INT(requests, 3);
	/* one that never answers: each candidate ends at its own budget */
	CHECK_INT(sniff(STUB_SILENT, PROBE_SNIFF_ALL, NULL, &requests), PROBE_SPEAKS_UNKNOWN);
	CHECK_INT(requests, 3);
}

static void test_an_http_server_is_not_heard_as_uwsgi(void)
{
	unsigned requests;
	CHECK_INT(sniff(STUB_HTTP, PROBE_SNIFF_ALL, NULL, &requests), PROBE_SPEAKS_UNKNOWN);
	CHECK_INT(requests, 3);
}

static void test_only_the_asked_candidates_are_tried(void)
{
	unsigned requests;
	CHECK_INT(sniff(STUB_UWSGI, 1u << PROBE_SPEAKS_TLS, NULL, &requests), PROBE_SPEAKS_UNKNOWN);
	CHECK_INT(requests, 1);
	CHECK_INT(sniff(STUB_UWSGI, 0, NULL, &requests), PROBE_SPEAKS_UNKNOWN);
	CHECK_INT(requests, 0);
}

static void test_a_unix_socket_is_sniffed_too(void)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/sniff.sock", harness_tmpdir());
	CHECK_INT(sniff(STUB_UWSGI, PROBE_SNIFF_ALL, path, NULL), PROBE_SPEAKS_UWSGI);
	unlink(path);
}

static void test_nobody_listening_is_unknown(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(sin);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	bind(fd, (struct sockaddr *)&sin, len);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	close(fd); /* a port nobody listens on */
	struct probe_sniff s;
	probe_sniff_init(&s);
	calls = 0;
	CHECK_INT(
	    probe_sniff_start(&s, loop, (struct sockaddr *)&sin, len, 300, PROBE_SNIFF_ALL, done),
	    0);
	for (int i = 0; i < 100 && !calls; i++)
		ev_run(loop, EVRUN_ONCE);
	CHECK_INT(calls, 1);
	CHECK_INT(heard_result, PROBE_SPEAKS_UNKNOWN);
	probe_sniff_cancel(&s);
	probe_sniff_cancel(&s); /* twice is fine */
	ev_loop_destroy(loop);
}

int main(void)
{
	RUN(test_requests_are_well_formed);
	RUN(test_answers_are_told_apart);
	RUN(test_fastcgi_server_is_heard_as_fastcgi);
	RUN(test_uwsgi_socket_is_heard_as_uwsgi);
	RUN(test_tls_server_is_heard_as_tls);
	RUN(test_a_port_that_closes_on_everything_is_unknown);
	RUN(test_an_http_server_is_not_heard_as_uwsgi);
	RUN(test_only_the_asked_candidates_are_tried);
	RUN(test_a_unix_socket_is_sniffed_too);
	RUN(test_nobody_listening_is_unknown);
	return harness_result();
}
