/* probe_fcgi: a FastCGI management request (FCGI_GET_VALUES) over TCP or a
 * unix socket, answered by php-fpm and other FastCGI servers without running
 * a script. The struct lives inside its owner. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/probe_result.h"
#include "probe/probe_tcp.h"

struct probe_fcgi;
typedef void (*probe_fcgi_fn)(struct probe_fcgi *f);

struct probe_fcgi {
	struct probe_tcp conn;
	ev_io io;
	ev_timer timer;
	uint64_t timeout_ms;
	double started;
	bool unix_sock;
	struct probe_result *r;
	probe_fcgi_fn cb;
	void *owner; /* for the owner's callback; not used here */
	size_t sent, got;
	unsigned char out[64];
	size_t outlen;
	unsigned char in[512];
};

void probe_fcgi_init(struct probe_fcgi *f);

/* Connect, send FCGI_GET_VALUES, read the reply's record header (and its
 * content when small), classify into r: ok, invalid_http (not FastCGI),
 * reset (closed or reset before a reply), timeout, or the connect failure.
 * Returns 0 when cb will be called, -errno when the connect failed at once
 * (r is then not touched). */
int probe_fcgi_start(struct probe_fcgi *f, struct ev_loop *loop, const struct sockaddr *sa,
		     socklen_t salen, uint64_t timeout_ms, struct probe_result *r,
		     probe_fcgi_fn cb);
void probe_fcgi_cancel(struct probe_fcgi *f);

/* Classify the first got bytes of a reply into r; false while more bytes are
 * needed (cap: the most that will be read). The bytes are the peer's: any
 * are safe. */
bool probe_fcgi_reply(const unsigned char *in, size_t got, size_t cap, struct probe_result *r);
