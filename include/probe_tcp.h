/* probe_tcp: one non-blocking connect() with a timeout, for TCP (IPv4/IPv6)
 * and unix stream sockets, plus the errno -> probe result mapping every
 * connect-level probe shares. The struct lives inside its owner. */
#pragma once

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe.h"

struct probe_tcp;

/* err is 0 (connected: c->fd is open and belongs to the owner until
 * probe_tcp_close) or a positive errno (ETIMEDOUT for the timeout). */
typedef void (*probe_tcp_fn)(struct probe_tcp *c, int err);

struct probe_tcp {
	struct ev_loop *loop;
	ev_io io;
	ev_timer timer;
	int fd;
	probe_tcp_fn cb;
};

void probe_tcp_init(struct probe_tcp *c);

/* Start connecting. Returns 0 when cb will be called, or -errno when the
 * attempt failed at once (cb is not called; nothing stays open). */
int probe_tcp_start(struct probe_tcp *c, struct ev_loop *loop, const struct sockaddr *sa,
		    socklen_t salen, uint64_t timeout_ms, probe_tcp_fn cb);

/* Stop watchers and close the fd (if any). Safe to call twice. */
void probe_tcp_close(struct probe_tcp *c);

/* Close with a RST (SO_LINGER 0) instead of a FIN: a connect-only check has
 * nothing to say, and this leaves no TIME_WAIT socket per probe on the host
 * (HAProxy closes its TCP checks the same way). */
void probe_tcp_abort(struct probe_tcp *c);

/* Fill r->result/err/detail for a connect outcome (err as given to cb, or
 * the positive errno of a failed start). unix selects the unix-socket
 * vocabulary (missing, stale, permission, overloaded). */
void probe_tcp_classify(int err, bool unix_sock, uint64_t timeout_ms, struct probe_result *r);
