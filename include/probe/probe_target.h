/* probe_target: what one peer's probe needs to know, carried by value so the
 * protocol checkers depend on neither the scheduler nor the nginx model.
 *
 * The planner (src/daemon) fills one per peer from the nginx model and
 * upwatch.conf; the prober copies what it keeps (strings included). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/peerkey.h"

/* How a peer is checked. nginx's protocols map onto these: http -> HTTP,
 * https -> HTTPS, fastcgi -> FASTCGI, grpcs and suwsgi -> TLS (a handshake
 * with nginx's proxy_ssl_* settings), uwsgi, scgi, grpc, memcached and stream
 * TCP -> TCP. UDP peers are not probed (probed = false). */
enum probe_proto {
	PROBE_PROTO_TCP,     /* connect() only */
	PROBE_PROTO_HTTP,    /* one GET over a fresh connection */
	PROBE_PROTO_HTTPS,   /* the same over TLS */
	PROBE_PROTO_FASTCGI, /* FCGI_GET_VALUES */
	PROBE_PROTO_TLS,     /* connect + TLS handshake, nothing sent after it */
};

/* The worker identity unix-socket checks are made for. */
struct probe_identity {
	char user[32];
	uid_t uid;
	gid_t gid;
	gid_t groups[32];
	size_t ngroups;
	bool from_proc; /* read from running worker processes, not the config */
	/* groups not looked up yet: probe_identity_groups() before they are
	 * read (probe_identity_from_user) */
	bool groups_pending;
};

#define PROBE_REF_MAX 300 /* "file:line" */

struct probe_target {
	char key[PEERKEY_MAX];
	struct peerkey addr;
	enum probe_proto proto;
	/* false: never probed, by any path (timer or on demand). enabled is
	 * upwatch.conf's `probe off`; probed is the model's verdict that nginx
	 * never connects to the peer (`down`, balancer placeholders, SRV, UDP). */
	bool enabled, probed;
	uint64_t interval_ms, retry_ms;
	unsigned retries; /* fast retries before falling back to interval */
	/* How long nginx waits, which is what a probe is judged by:
	 * connect_timeout_ms bounds the connect (and TLS handshake), read_timeout_ms
	 * the wait for the response header after it (the smallest *_read_timeout
	 * of the locations that use the peer, set at read_timeout_ref). 0 takes
	 * timeout_ms (upwatch's probe_timeout) for that phase. */
	uint64_t timeout_ms;
	uint64_t connect_timeout_ms, read_timeout_ms;
	const char *read_timeout_ref; /* "file:line", NULL = nginx's default */
	/* Stricter health, only where upwatch.conf asks: with neither set, any
	 * HTTP status is a valid response (as for nginx). A health_uri alone
	 * expects 200-399. expect_hi 0 = expect_lo alone. */
	const char *health_uri;	  /* NULL: "/" */
	const char *host_header;  /* NULL: the peer's host */
	int expect_lo, expect_hi; /* 0, 0 = any status */
	/* TLS as nginx's proxy_ssl_* (grpc_ssl_*, uwsgi_ssl_*) settings say. */
	bool tls_verify, tls_sni;
	const char *tls_trusted; /* CA file, NULL = system default */
	const char *tls_name;	 /* name to verify / send as SNI */
};
