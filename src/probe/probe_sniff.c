/* probe_sniff: FastCGI, uwsgi and TLS exchanges (see probe_sniff.h).
 *
 * Chain per candidate: sniff_next -> probe_tcp connect -> sniff_connected ->
 *        one write (the request fits a fresh socket's buffer) -> sniff_io_cb
 *        reads until the answer tells (or EOF, reset, the step's timer) ->
 *        heard: cb | not: sniff_next. The last candidate that does not
 *        answer ends with cb(PROBE_SPEAKS_UNKNOWN). Every cb comes from the
 *        loop: a start whose connects all fail at once still answers through
 *        an ev_feed_event of the step timer.
 *
 * What counts as the answer:
 *   FastCGI: a version-1 record of a known type (1..11), as probe_fcgi;
 *   uwsgi:   "HTTP/x.y NNN" but not 400 — uwsgi answers a request packet
 *            with the application's HTTP response; an HTTP server (asked
 *            only after its GET failed) answers the packet's bytes with 400;
 *   TLS:     a handshake (22) or alert (21) record of version 3.x. */
#include "probe/probe_sniff.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"

/* FCGI_GET_VALUES asking FCGI_MPXS_CONNS: header, one name-value pair, padding. */
static const unsigned char FCGI_REQ[] = {
    1,	 9,   0,   0,	0,   17,  7,   0, /* version, type, id 0, content 17, padding 7 */
    15,	 0,   'F', 'C', 'G', 'I', '_', 'M', 'P', 'X', 'S', '_',
    'C', 'O', 'N', 'N', 'S', 0,	  0,   0,   0,	 0,   0,   0,
};

/* A uwsgi request packet: modifier1 0 (WSGI), datasize (little-endian),
 * modifier2 0, then (key, value) pairs with 16-bit little-endian lengths:
 * what nginx's uwsgi_pass sends for GET /. */
#define KV(k, v) sizeof(k) - 1, 0, k, sizeof(v) - 1, 0, v
static const unsigned char UWSGI_VARS[] = {
    14,	 0,   'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O', 'D', 3,
    0,	 'G', 'E', 'T', 9,   0,	  'P', 'A', 'T', 'H', '_', 'I', 'N', 'F', 'O', 1,   0,
    '/', 11,  0,   'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'U', 'R', 'I', 1,   0,   '/',
    12,	 0,   'Q', 'U', 'E', 'R', 'Y', '_', 'S', 'T', 'R', 'I', 'N', 'G', 0,   0,   15,
    0,	 'S', 'E', 'R', 'V', 'E', 'R', '_', 'P', 'R', 'O', 'T', 'O', 'C', 'O', 'L', 8,
    0,	 'H', 'T', 'T', 'P', '/', '1', '.', '0', 11,  0,   'S', 'E', 'R', 'V', 'E', 'R',
    '_', 'N', 'A', 'M', 'E', 9,	  0,   'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 11,
    0,	 'S', 'E', 'R', 'V', 'E', 'R', '_', 'P', 'O', 'R', 'T', 2,   0,	  '8', '0',
};
static unsigned char uwsgi_req[4 + sizeof(UWSGI_VARS)];

/* A TLS 1.2 ClientHello (record version 3.1 as browsers send): common ECDHE
 * and RSA suites, the groups and signature algorithms a server needs to
 * answer; no SNI. Any TLS server answers it with a ServerHello or an alert. */
static const unsigned char
    TLS_REQ[] =
	{
	    0x16, 0x03, 0x01, 0x00, 0x59,		    /* record: handshake, 89 bytes */
	    0x01, 0x00, 0x00, 0x55,			    /* ClientHello, 85 bytes */
	    0x03, 0x03,					    /* TLS 1.2 */
	    0x75, 0x70, 0x77, 0x61, 0x74, 0x63, 0x68, 0x20, /* random (32) */
	    0x73, 0x6e, 0x69, 0x66, 0x66, 0x20, 0x74, 0x6c, 0x73, 0x20, 0x63, 0x6c, 0x69,
	    0x65, 0x6e, 0x74, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x30, 0x00, /* no session id
										     */
	    0x00, 0x0c, /* 6 cipher suites */
	    0xc0, 0x2f, 0xc0, 0x2b, 0xc0, 0x30, 0xc0, 0x2c, 0x00, 0x9c, 0x00, 0x2f, 0x01,
	    0x00,							/* compression:
									   null */
	    0x00, 0x20,							/* extensions, 32 bytes */
	    0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, /* groups: x25519, P-256 */
	    0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,				/* ec point formats */
	    0x00, 0x0d, 0x00, 0x0c, 0x00, 0x0a, 0x04, 0x01, 0x04, 0x03, 0x08, 0x04, 0x05,
	    0x01, 0x02, 0x01, /* signature algorithms */
};

const unsigned char *probe_sniff_request(enum probe_speaks p, size_t *ret_len)
{
	switch (p) {
	case PROBE_SPEAKS_FASTCGI:
		*ret_len = sizeof(FCGI_REQ);
		return FCGI_REQ;
	case PROBE_SPEAKS_UWSGI:
		if (!uwsgi_req[1]) {
			uwsgi_req[0] = 0;
			uwsgi_req[1] = sizeof(UWSGI_VARS) & 0xff;
			uwsgi_req[2] = sizeof(UWSGI_VARS) >> 8;
			uwsgi_req[3] = 0;
			memcpy(uwsgi_req + 4, UWSGI_VARS, sizeof(UWSGI_VARS));
		}
		*ret_len = sizeof(uwsgi_req);
		return uwsgi_req;
	case PROBE_SPEAKS_TLS:
		*ret_len = sizeof(TLS_REQ);
		return TLS_REQ;
	default:
		return NULL;
	}
}

bool probe_sniff_heard(enum probe_speaks p, const unsigned char *in, size_t got)
{
	switch (p) {
	case PROBE_SPEAKS_FASTCGI:
		return got >= 8 && in[0] == 1 && in[1] >= 1 && in[1] <= 11;
	case PROBE_SPEAKS_UWSGI:
		/* an HTTP server answers the packet's bytes with 400: not uwsgi */
		return got >= 12 && memcmp(in, "HTTP/", 5) == 0 && memcmp(in + 8, " 400", 4) != 0;
	case PROBE_SPEAKS_TLS:
		return got >= 3 && (in[0] == 0x15 || in[0] == 0x16) && in[1] == 3 && in[2] <= 4;
	default:
		return false;
	}
}

/* How many bytes tell p's answer from another. */
static size_t need(enum probe_speaks p)
{
	return p == PROBE_SPEAKS_FASTCGI ? 8 : p == PROBE_SPEAKS_UWSGI ? 12 : 3;
}

static void sniff_next(struct probe_sniff *s);

static void sniff_stop_step(struct probe_sniff *s)
{
	ev_io_stop(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->timer);
	ev_clear_pending(s->loop, &s->io);
	ev_clear_pending(s->loop, &s->timer);
	probe_tcp_close(&s->conn);
}

static void sniff_step_done(struct probe_sniff *s)
{
	bool heard = probe_sniff_heard(s->step, s->in, s->got);
	sniff_stop_step(s);
	if (heard) {
		s->mask = 0;
		s->cb(s, s->step);
		return;
	}
	sniff_next(s);
}

static void sniff_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct probe_sniff *s = container_of(w, struct probe_sniff, io);
	(void)loop;
	(void)revents;
	ssize_t n = read(s->conn.fd, s->in + s->got, sizeof(s->in) - s->got);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		s->got += (size_t)n;
	if (n <= 0 || s->got >= need(s->step) || s->got == sizeof(s->in))
		sniff_step_done(s);
}

static void sniff_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe_sniff *s = container_of(w, struct probe_sniff, timer);
	(void)loop;
	(void)revents;
	sniff_step_done(s); /* also the start (step UNKNOWN, zero delay) */
}

static void sniff_connected(struct probe_tcp *c, int err)
{
	struct probe_sniff *s = container_of(c, struct probe_sniff, conn);
	size_t len;
	const unsigned char *req = probe_sniff_request(s->step, &len);
	if (err || send(c->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		sniff_step_done(s);
		return;
	}
	ev_io_init(&s->io, sniff_io_cb, c->fd, EV_READ);
	ev_io_start(s->loop, &s->io);
}

/* The next candidate of mask, or the end. */
static void sniff_next(struct probe_sniff *s)
{
	for (;;) {
		enum probe_speaks p = PROBE_SPEAKS_UNKNOWN;
		for (unsigned i = PROBE_SPEAKS_FASTCGI; i <= PROBE_SPEAKS_TLS && !p; i++)
			if (s->mask & (1u << i))
				p = (enum probe_speaks)i;
		if (!p) {
			s->cb(s, PROBE_SPEAKS_UNKNOWN);
			return;
		}
		s->mask &= ~(1u << p);
		s->step = p;
		s->got = 0;
		int rc = probe_tcp_start(&s->conn, s->loop, NULL, (struct sockaddr *)&s->addr,
					 s->addrlen, s->step_ms, sniff_connected);
		if (rc < 0)
			continue; /* this one cannot even connect: the next */
		ev_timer_set(&s->timer, s->step_ms / 1000.0, 0);
		ev_timer_start(s->loop, &s->timer);
		return;
	}
}

void probe_sniff_init(struct probe_sniff *s)
{
	memset(s, 0, sizeof(*s));
	probe_tcp_init(&s->conn);
	ev_init(&s->io, sniff_io_cb);
	ev_init(&s->timer, sniff_timer_cb);
}

int probe_sniff_start(struct probe_sniff *s, struct ev_loop *loop, const struct sockaddr *sa,
		      socklen_t salen, uint64_t step_ms, unsigned mask, probe_sniff_fn cb)
{
	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6 && sa->sa_family != AF_UNIX) ||
	    salen > sizeof(s->addr))
		return -EINVAL;
	s->loop = loop;
	memcpy(&s->addr, sa, salen);
	s->addrlen = salen;
	s->step_ms = step_ms ? step_ms : 1;
	s->mask = mask & PROBE_SNIFF_ALL;
	s->cb = cb;
	/* the first exchange starts from the loop: cb never runs inside start */
	s->step = PROBE_SPEAKS_UNKNOWN;
	ev_timer_set(&s->timer, 0, 0);
	ev_timer_start(loop, &s->timer);
	return 0;
}

void probe_sniff_cancel(struct probe_sniff *s)
{
	if (!s->loop)
		return;
	sniff_stop_step(s);
	s->mask = 0;
}
