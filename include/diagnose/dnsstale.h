/* dnsstale: is the address nginx connects to an old answer for a host name?
 *
 * nginx resolves the names of `server` lines and of literal *_pass targets
 * once, at start-up or reload, and keeps connecting to what it got then; its
 * error lines name that address (`upstream: "http://127.0.0.2:8080/"`). When
 * the address is no longer among what the name resolves to now, and it
 * fails, nginx runs on a stale answer (dns_stale). Pure logic: the caller
 * gathers what the names resolve to now (the prober's last answers) and which
 * of them the request's location passes to. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/peerkey.h"

/* One host-name peer of the model, with what it resolves to now. */
struct dnsstale_name {
	const char *host;    /* the name, as in the peer key */
	unsigned port;	     /* the peer's port */
	const char *answers; /* "127.0.0.3 ::1" (probe_dns_format); NULL or "": not known */
	bool location;	     /* the logged request's location passes to this peer */
};

enum dnsstale_verdict {
	DNSSTALE_NONE,	    /* no name on that port could have given the address */
	DNSSTALE_CURRENT,   /* a name resolves to the address now: not stale */
	DNSSTALE_UNKNOWN,   /* a name on that port has no current answer yet */
	DNSSTALE_AMBIGUOUS, /* several names could have given it; none is preferred */
	DNSSTALE_OLD,	    /* names[*ret_index] resolves elsewhere now */
};

/* Whether the IP address (a peer key's host, no brackets) is one of answers. */
bool dnsstale_in_answers(const char *ip, const char *answers);

/* Judge used (an IPv4/IPv6 peer nginx connected to) against names[0..n):
 * only names on used's port count. A name that resolves to used now makes it
 * CURRENT; otherwise one resolved name on the port (or, of several, the one
 * location marks) is its OLD owner, written to *ret_index. A name without
 * an answer yet makes the verdict UNKNOWN unless a location-marked name
 * decides. */
enum dnsstale_verdict dnsstale_judge(const struct peerkey *used, const struct dnsstale_name *names,
				     size_t n, size_t *ret_index);
