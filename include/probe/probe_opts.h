/* probe_opts: how a peer is probed (the options of its probe_target, strings
 * included), shared by every peer of one prober that has the same options
 * (internal to src/probe: the scheduler in probe.c is its only user).
 *
 * A configuration of 10,000 peers has a handful of distinct option sets;
 * kept per peer they were 104 bytes and up to five string copies each.
 * Interned, a peer holds one pointer (struct peer 376 -> 248 bytes). The
 * two options that name the peer itself (host_header and tls_name: the
 * pass's host by default) stay with the peer, and options its protocol
 * does not use are dropped (TLS settings of a plain HTTP or TCP peer), so
 * that they do not make every set distinct. A set is counted and freed
 * with its last peer. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "probe/probe_target.h"

struct probe_opts {
	enum probe_proto proto;
	bool enabled, probed, tls_verify, tls_sni;
	unsigned retries;
	int expect_lo, expect_hi;
	uint64_t interval_ms, retry_ms; /* the defaults applied: never 0 */
	uint64_t timeout_ms, connect_timeout_ms, read_timeout_ms;
	char *health_uri, *tls_trusted, *read_timeout_ref; /* NULL: none */
	unsigned refs;
	uint64_t hash;		 /* of the fields above */
	struct probe_opts *next; /* in its bucket */
};

/* Sets hashed by their fields, equal by the same fields (one identity:
 * the hash only picks the bucket). */
struct probe_opts_set {
	struct probe_opts **buckets;
	size_t nbuckets, len;	 /* nbuckets: 0 or a power of two >= len */
	struct probe_opts *last; /* the set probe_opts_get returned last */
};

void probe_opts_set_init(struct probe_opts_set *s);
/* Every probe_opts_get was matched by a probe_opts_put. */
void probe_opts_set_done(struct probe_opts_set *s);

/* The options of t but host_header and tls_name (interval and retry
 * defaults applied; "" strings are NULL; tls_* only for HTTPS and TLS),
 * shared: the same pointer for equal options. Never fails (the allocators
 * abort). */
struct probe_opts *probe_opts_get(struct probe_opts_set *s, const struct probe_target *t);
/* Drop one use; NULL is fine. */
void probe_opts_put(struct probe_opts_set *s, struct probe_opts *o);

/* Whether a peer of protocol proto sends a Host header (HTTP, HTTPS) and
 * uses TLS settings (HTTPS, TLS): the peer keeps those options only then. */
bool probe_opts_uses_host(enum probe_proto proto);
bool probe_opts_uses_tls(enum probe_proto proto);

/* Write o's options into t (strings borrowed from o). */
void probe_opts_target(const struct probe_opts *o, struct probe_target *t);
