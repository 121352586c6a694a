/* facts: host facts about peers, cached: who listens on a local peer's port
 * or socket, and that process's systemd unit state.
 *
 * The listener is looked up (host.c, synchronous /proc and netlink reads)
 * at most once per FACTS_TTL_MS per peer, from host tables read at most once
 * per FACTS_SNAPSHOT_MS, so that many failing peers cannot stall the loop; the unit state is asked
 * over the bus (unitbus.c, asynchronous) and merged into the cache when it arrives. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "host/host.h"

#define FACTS_TTL_MS	  5000
#define FACTS_SNAPSHOT_MS 1000 /* host tables are read at most once per this */
#define FACTS_MAX	  8192

struct ev_loop;
struct facts;

/* Owns a struct host (host.h) and a bus connection (unitbus.h). Returns 0
 * or -errno. */
int facts_new(struct ev_loop *loop, struct facts **ret);
void facts_free(struct facts *f);

/* Listener facts for a local peer (loopback or unix): whether something
 * listens, its socket inode, owner uid and accept-queue fill, a unix path's
 * state (live, stale, missing), the process and unit where /proc allows and
 * what could not be seen where it does not (hidden), the inode before this
 * one (restarts), and for TCP peers the last count of this host's
 * connections to it that facts_conns() took (conns_known). See struct
 * host_listener. Returns false when the peer
 * is not local or the host tables cannot be read. */
bool facts_listener(struct facts *f, const struct peerkey *k, struct host_listener *ret);
/* The same, read now, past every cache (for decisions that need the facts of
 * this moment, such as "the listener started after the errors"). */
bool facts_listener_now(struct facts *f, const struct peerkey *k, struct host_listener *ret);
/* Cached facts only (no lookup); false when none are cached. */
bool facts_cached(const struct facts *f, const char *key, struct host_listener *ret);

/* This host's TCP connections to an IP peer, local or remote, read now:
 * how many are in TIME_WAIT and ESTABLISHED (local_ports_exhausted). One
 * netlink dump filtered by the peer's port (about 1 ms), so it is read on
 * demand — when errno 99 is seen — not with every listener lookup; the count
 * is kept with the peer's cached listener facts. False for a unix peer or a
 * host name, or when netlink is refused. */
bool facts_conns(struct facts *f, const struct peerkey *k, unsigned *ret_time_wait,
		 unsigned *ret_established);

/* Ports that do listen on k's address (host_tcp_ports_nearby: returns how
 * many listen, writes at most max). */
int facts_ports_nearby(struct facts *f, const struct peerkey *k, unsigned *ports, size_t max);
