/* probe_fcgi: FCGI_GET_VALUES over a non-blocking socket.
 *
 * Chain: probe_fcgi_start -> probe_tcp connect -> fcgi_connected -> write the
 *        request (fcgi_io_cb on EV_WRITE while it does not fit) -> read
 *        (fcgi_io_cb on EV_READ) until the 8-byte record header and up to
 *        sizeof(in) of content -> fcgi_finish -> cb. fcgi_timeout_cb bounds
 *        everything after connect; probe_tcp bounds the connect.
 * A version-1 record of a known type (1..11; normally FCGI_GET_VALUES_RESULT)
 * proves a FastCGI server answers; anything else is not FastCGI (reported as
 * invalid_http: for nginx it is the same cause). */
#include "probe/probe_fcgi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"

#define FCGI_VERSION_1	       1
#define FCGI_BEGIN_REQUEST     1
#define FCGI_GET_VALUES	       9
#define FCGI_GET_VALUES_RESULT 10
#define FCGI_UNKNOWN_TYPE      11
#define FCGI_HEADER_LEN	       8

static void fcgi_stop(struct probe_fcgi *f)
{
	struct ev_loop *loop = f->conn.loop;

	if (loop) {
		ev_io_stop(loop, &f->io);
		ev_timer_stop(loop, &f->timer);
		ev_clear_pending(loop, &f->io);
		ev_clear_pending(loop, &f->timer);
	}
	probe_tcp_close(&f->conn);
}

static void fcgi_finish(struct probe_fcgi *f)
{
	fcgi_stop(f);
	f->cb(f);
}

/* Name-value pairs of a GET_VALUES_RESULT ("FCGI_MAX_CONNS=5 ...") for the
 * detail line; lengths are 1 or 4 bytes (high bit set). */
static void describe_values(const unsigned char *p, size_t len, char *buf, size_t buflen)
{
	size_t used = 0;

	while (len > 0 && used + 1 < buflen) {
		size_t lens[2];
		for (int i = 0; i < 2; i++) {
			if (len < 1)
				return;
			if (p[0] & 0x80) {
				if (len < 4)
					return;
				lens[i] = ((size_t)(p[0] & 0x7f) << 24) | ((size_t)p[1] << 16) |
					  ((size_t)p[2] << 8) | p[3];
				p += 4;
				len -= 4;
			} else {
				lens[i] = p[0];
				p++;
				len--;
			}
		}
		if (lens[0] + lens[1] > len)
			return;
		int n = snprintf(buf + used, buflen - used, " %.*s=%.*s", (int)lens[0], p,
				 (int)MIN(lens[1], 32), p + lens[0]);
		if (n < 0)
			return;
		used = MIN(buflen - 1, used + (size_t)n);
		p += lens[0] + lens[1];
		len -= lens[0] + lens[1];
	}
}

bool probe_fcgi_reply(const unsigned char *in, size_t got, size_t cap, struct probe_result *r)
{
	const unsigned char *h = in;

	if (got < FCGI_HEADER_LEN)
		return false;
	unsigned type = h[1];
	size_t clen = ((size_t)h[4] << 8) | h[5];
	/* Any well-formed record proves a FastCGI peer (some answer a
	 * management record with FCGI_END_REQUEST or stderr); only a bad
	 * version or type byte is "not FastCGI". */
	if (h[0] != FCGI_VERSION_1 || type < FCGI_BEGIN_REQUEST || type > FCGI_UNKNOWN_TYPE) {
		r->result = PROBE_INVALID_HTTP;
		snprintf(r->detail, sizeof(r->detail),
			 "not a FastCGI reply (first bytes %02x %02x %02x %02x)", h[0], h[1], h[2],
			 h[3]);
		return true;
	}
	size_t want = FCGI_HEADER_LEN + clen;
	if (got < want && got < cap)
		return false;
	r->result = PROBE_OK;
	if (type != FCGI_GET_VALUES_RESULT) {
		snprintf(r->detail, sizeof(r->detail), "FastCGI: record type %u (server alive)",
			 type);
	} else {
		char values[200] = "";
		describe_values(h + FCGI_HEADER_LEN, MIN(clen, got - FCGI_HEADER_LEN), values,
				sizeof(values));
		snprintf(r->detail, sizeof(r->detail), "FastCGI: FCGI_GET_VALUES_RESULT%s", values);
	}
	return true;
}

static bool check_reply(struct probe_fcgi *f)
{
	return probe_fcgi_reply(f->in, f->got, sizeof(f->in), f->r);
}

static void fcgi_closed(struct probe_fcgi *f, int err)
{
	struct probe_result *r = f->r;

	r->result = PROBE_RESET;
	r->err = err;
	if (err)
		snprintf(r->detail, sizeof(r->detail), "FastCGI: %s after %zu reply bytes",
			 strerror(err), f->got);
	else
		snprintf(r->detail, sizeof(r->detail),
			 "FastCGI: connection closed after %zu reply bytes", f->got);
}

static void fcgi_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct probe_fcgi *f = container_of(w, struct probe_fcgi, io);

	if (f->sent < f->outlen) {
		ssize_t n = send(f->conn.fd, f->out + f->sent, f->outlen - f->sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fcgi_closed(f, errno);
			fcgi_finish(f);
			return;
		}
		if (n > 0)
			f->sent += (size_t)n;
		if (f->sent < f->outlen)
			return;
		ev_io_stop(loop, &f->io);
		ev_io_set(&f->io, f->conn.fd, EV_READ);
		ev_io_start(loop, &f->io);
		return;
	}
	ssize_t n = recv(f->conn.fd, f->in + f->got, sizeof(f->in) - f->got, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		fcgi_closed(f, errno);
		fcgi_finish(f);
		return;
	}
	if (n == 0) {
		if (!check_reply(f))
			fcgi_closed(f, 0);
		fcgi_finish(f);
		return;
	}
	f->got += (size_t)n;
	if (check_reply(f) || f->got == sizeof(f->in))
		fcgi_finish(f);
}

static void fcgi_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe_fcgi *f = container_of(w, struct probe_fcgi, timer);

	f->r->result = PROBE_TIMEOUT;
	f->r->err = ETIMEDOUT;
	snprintf(f->r->detail, sizeof(f->r->detail), "FastCGI: no reply within %llu ms",
		 (unsigned long long)f->timeout_ms);
	fcgi_finish(f);
}

static void fcgi_connected(struct probe_tcp *c, int err)
{
	struct probe_fcgi *f = container_of(c, struct probe_fcgi, conn);

	if (err) {
		probe_tcp_classify(err, f->unix_sock, f->timeout_ms, f->r);
		fcgi_finish(f);
		return;
	}
	ev_io_set(&f->io, c->fd, EV_WRITE);
	ev_io_start(c->loop, &f->io);
	/* The reply gets what is left of the one budget. */
	double left = f->timeout_ms / 1000.0 - (ev_now(c->loop) - f->started);
	ev_timer_set(&f->timer, MAX(left, 0.001), 0);
	ev_timer_start(c->loop, &f->timer);
}

void probe_fcgi_init(struct probe_fcgi *f)
{
	memset(f, 0, sizeof(*f));
	probe_tcp_init(&f->conn);
	ev_io_init(&f->io, fcgi_io_cb, -1, EV_WRITE);
	ev_timer_init(&f->timer, fcgi_timeout_cb, 0, 0);
}

static size_t put_pair(unsigned char *p, const char *name)
{
	size_t n = strlen(name);
	p[0] = (unsigned char)n;
	p[1] = 0;
	memcpy(p + 2, name, n);
	return n + 2;
}

int probe_fcgi_start(struct probe_fcgi *f, struct ev_loop *loop, const struct sockaddr *sa,
		     socklen_t salen, uint64_t timeout_ms, struct probe_result *r, probe_fcgi_fn cb)
{
	static const char *names[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
	unsigned char *p = f->out + FCGI_HEADER_LEN;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		p += put_pair(p, names[i]);
	size_t clen = (size_t)(p - f->out) - FCGI_HEADER_LEN;
	size_t pad = (8 - clen % 8) % 8;
	memset(p, 0, pad);
	f->out[0] = FCGI_VERSION_1;
	f->out[1] = FCGI_GET_VALUES;
	f->out[2] = 0; /* request id 0: management record */
	f->out[3] = 0;
	f->out[4] = (unsigned char)(clen >> 8);
	f->out[5] = (unsigned char)clen;
	f->out[6] = (unsigned char)pad;
	f->out[7] = 0;
	f->outlen = FCGI_HEADER_LEN + clen + pad;
	f->sent = f->got = 0;
	f->r = r;
	f->cb = cb;
	f->timeout_ms = timeout_ms;
	f->unix_sock = sa->sa_family == AF_UNIX;
	f->started = ev_now(loop);
	return probe_tcp_start(&f->conn, loop, NULL, sa, salen, timeout_ms, fcgi_connected);
}

void probe_fcgi_cancel(struct probe_fcgi *f)
{
	fcgi_stop(f);
}
