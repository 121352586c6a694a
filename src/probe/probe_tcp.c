/* probe_tcp: non-blocking connect() watched by an ev_io, bounded by an ev_timer.
 *
 * Chain: probe_tcp_start -> pooled socket or socket(NONBLOCK|CLOEXEC) + connect()
 *        -> EINPROGRESS
 *        -> tcp_io_cb (writable: SO_ERROR) | tcp_timeout_cb -> cb(c, err).
 * A connect that completes inside connect() itself (unix sockets, loopback)
 * is seen by a zero-timeout poll() and still reported through the loop
 * (ev_feed_event), so the owner's callback never runs inside
 * probe_tcp_start. */
#include "probe/probe_tcp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

static void tcp_finish(struct probe_tcp *c, int err)
{
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	if (err && c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->cb(c, err);
}

static void tcp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct probe_tcp *c = container_of(w, struct probe_tcp, io);
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	tcp_finish(c, err);
}

static void tcp_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe_tcp *c = container_of(w, struct probe_tcp, timer);
	tcp_finish(c, ETIMEDOUT);
}

void probe_tcp_init(struct probe_tcp *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	ev_io_init(&c->io, tcp_io_cb, -1, EV_WRITE);
	ev_timer_init(&c->timer, tcp_timeout_cb, 0, 0);
}

static int pool_slot(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
}

void probe_tcp_pool_init(struct probe_tcp_pool *pool)
{
	memset(pool, 0, sizeof(*pool));
}

void probe_tcp_pool_done(struct probe_tcp_pool *pool)
{
	for (int f = 0; f < 2; f++) {
		while (pool->n[f] > 0)
			close(pool->fds[f][--pool->n[f]]);
	}
}

int probe_tcp_start(struct probe_tcp *c, struct ev_loop *loop, struct probe_tcp_pool *pool,
		    const struct sockaddr *sa, socklen_t salen, uint64_t timeout_ms,
		    probe_tcp_fn cb)
{
	int slot = pool_slot(sa->sa_family);
	int fd;

	if (pool && slot >= 0 && pool->n[slot] > 0)
		fd = pool->fds[slot][--pool->n[slot]];
	else
		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	c->loop = loop;
	c->fd = fd;
	c->family = sa->sa_family;
	c->pool = slot >= 0 ? pool : NULL;
	c->cb = cb;
	ev_io_set(&c->io, fd, EV_WRITE);
	/* On loopback the handshake has usually run inside connect() already: a
	 * zero-timeout poll() then saves registering the fd with epoll at all.
	 * The result still arrives through the loop (ev_feed_event). */
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	if (poll(&pfd, 1, 0) == 1) {
		ev_feed_event(loop, &c->io, EV_WRITE);
		return 0;
	}
	ev_io_start(loop, &c->io);
	ev_timer_set(&c->timer, timeout_ms / 1000.0, 0);
	ev_timer_start(loop, &c->timer);
	return 0;
}

void probe_tcp_close(struct probe_tcp *c)
{
	if (c->loop) {
		ev_io_stop(c->loop, &c->io);
		ev_timer_stop(c->loop, &c->timer);
		ev_clear_pending(c->loop, &c->io);
		ev_clear_pending(c->loop, &c->timer);
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

void probe_tcp_abort(struct probe_tcp *c)
{
	struct probe_tcp_pool *pool = c->pool;
	int slot = pool_slot(c->family);

	if (c->fd < 0)
		return;
	if (pool && slot >= 0 && pool->n[slot] < PROBE_TCP_POOL_MAX) {
		/* Disconnecting an established TCP socket sends a RST and leaves
		 * it unbound and reusable. */
		struct sockaddr unspec = {.sa_family = AF_UNSPEC};
		if (c->loop) {
			ev_io_stop(c->loop, &c->io);
			ev_timer_stop(c->loop, &c->timer);
			ev_clear_pending(c->loop, &c->io);
			ev_clear_pending(c->loop, &c->timer);
		}
		if (connect(c->fd, &unspec, sizeof(unspec)) == 0) {
			pool->fds[slot][pool->n[slot]++] = c->fd;
			c->fd = -1;
			return;
		}
	}
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	probe_tcp_close(c);
}

void probe_tcp_classify(int err, bool unix_sock, uint64_t timeout_ms, struct probe_result *r)
{
	r->err = err;
	switch (err) {
	case 0:
		r->result = PROBE_OK;
		snprintf(r->detail, sizeof(r->detail), "connected");
		return;
	case ECONNREFUSED:
		r->result = unix_sock ? PROBE_STALE : PROBE_REFUSED;
		snprintf(r->detail, sizeof(r->detail), "%s",
			 unix_sock
			     ? "connect() refused (111): the socket file exists but nobody accepts"
			     : "connect() refused");
		return;
	case ETIMEDOUT:
		r->result = PROBE_TIMEOUT;
		snprintf(r->detail, sizeof(r->detail), "connect() timed out after %llu ms",
			 (unsigned long long)timeout_ms);
		return;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		r->result = PROBE_UNREACHABLE;
		break;
	case ECONNRESET:
		r->result = PROBE_RESET;
		break;
	case EAGAIN:
		/* unix sockets: the listen backlog is full. */
		r->result = unix_sock ? PROBE_OVERLOADED : PROBE_ERROR;
		snprintf(r->detail, sizeof(r->detail), "%s",
			 unix_sock ? "connect() would block (11): the listen backlog is full"
				   : "connect() failed: resource temporarily unavailable");
		return;
	case ENOENT:
		r->result = unix_sock ? PROBE_MISSING : PROBE_ERROR;
		break;
	case EACCES:
	case EPERM:
		r->result = unix_sock ? PROBE_PERMISSION : PROBE_ERROR;
		break;
	case ENOTSOCK:
		r->result = PROBE_NOT_SOCKET;
		break;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		r->result = PROBE_LOCAL_ERROR;
		snprintf(r->detail, sizeof(r->detail),
			 "upwatch cannot create a socket: %s (no verdict about the peer)",
			 strerror(err));
		return;
	default:
		r->result = PROBE_ERROR;
		break;
	}
	snprintf(r->detail, sizeof(r->detail), "connect() failed: %s", strerror(err));
}
