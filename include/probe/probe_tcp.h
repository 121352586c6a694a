/* probe_tcp: one non-blocking connect() with a timeout, for TCP (IPv4/IPv6)
 * and unix stream sockets, plus the errno -> probe result mapping every
 * connect-level probe shares. The struct lives inside its owner. */
#pragma once

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/probe_result.h"

struct probe_tcp;

#define PROBE_TCP_POOL_MAX 128

/* Disconnected TCP sockets kept for the next connect-only check: making and
 * freeing a socket costs the kernel more than resetting one with
 * connect(AF_UNSPEC) (a quarter of the CPU at 10,000 peers a second). Owned
 * by the prober; every fd in it is O_CLOEXEC and unconnected. */
struct probe_tcp_pool {
	int fds[2][PROBE_TCP_POOL_MAX]; /* [0] AF_INET, [1] AF_INET6 */
	size_t n[2];
};

void probe_tcp_pool_init(struct probe_tcp_pool *pool);
void probe_tcp_pool_done(struct probe_tcp_pool *pool);

/* err is 0 (connected: c->fd is open and belongs to the owner until
 * probe_tcp_close) or a positive errno (ETIMEDOUT for the timeout). */
typedef void (*probe_tcp_fn)(struct probe_tcp *c, int err);

struct probe_tcp {
	struct ev_loop *loop;
	ev_io io;
	ev_timer timer;
	int fd;
	int family;
	struct probe_tcp_pool *pool; /* where probe_tcp_abort returns the socket */
	probe_tcp_fn cb;
};

void probe_tcp_init(struct probe_tcp *c);

/* Start connecting, on a socket from pool when it has one (pool may be
 * NULL: a fresh socket, as for connections that go on to carry data).
 * Returns 0 when cb will be called, or -errno when the attempt failed at
 * once (cb is not called; nothing stays open). */
int probe_tcp_start(struct probe_tcp *c, struct ev_loop *loop, struct probe_tcp_pool *pool,
		    const struct sockaddr *sa, socklen_t salen, uint64_t timeout_ms,
		    probe_tcp_fn cb);

/* Stop watchers and close the fd (if any). Safe to call twice. */
void probe_tcp_close(struct probe_tcp *c);

/* End a connected socket with a RST instead of a FIN: a connect-only check
 * has nothing to say, and this leaves no TIME_WAIT socket per probe on the
 * host (HAProxy closes its TCP checks the same way). With a pool, the reset
 * is connect(AF_UNSPEC) and the socket goes back to the pool. */
void probe_tcp_abort(struct probe_tcp *c);

/* Fill r->result/err/detail for a connect outcome (err as given to cb, or
 * the positive errno of a failed start). unix selects the unix-socket
 * vocabulary (missing, stale, permission, overloaded). Running out of
 * descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) is upwatch's own
 * failure: PROBE_LOCAL_ERROR, never a verdict about the peer. */
void probe_tcp_classify(int err, bool unix_sock, uint64_t timeout_ms, struct probe_result *r);
