/* host: who listens on a TCP port or a unix socket, and that process's unit.
 *
 * Joins the kernel's socket tables (sockdiag.h: netlink sock_diag, else
 * /proc/net) with the processes holding the sockets (procfs.h: /proc/PID/fd,
 * where permitted) and names the process's systemd unit from its cgroup.
 * All synchronous, all bounded. The unit's ActiveState/SubState/Result/
 * NRestarts need the bus and arrive asynchronously through unitbus.h (no
 * bus: unit_known stays false).
 *
 * A struct host is owned by its user (facts); it holds the last tables read
 * so that many lookups within the snapshot TTL cost one read. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/peerkey.h"

struct host;

struct host_listener {
	bool listening; /* something listens / has the socket open */
	pid_t pid;	/* 0 = not permitted to know */
	char process[64];
	int64_t started_ms; /* process start, epoch ms; 0 = unknown */
	char unit[128];	    /* "" = not in a systemd unit */
	char active_state[24], sub_state[24], result[24];
	unsigned nrestarts;
	bool unit_known; /* unit state came from the bus */
	bool unit_user;	 /* unit runs under a user manager (user@UID.service), not
			  * the system manager: the system bus does not know it */
};

int host_new(struct host **ret);
void host_free(struct host *h);

/* Listener of a TCP peer on a local address. Returns 0 (ret->listening tells),
 * -EINVAL for a peer that is no IP address, or -errno when the tables cannot
 * be read. */
int host_tcp_listener(struct host *h, const struct peerkey *addr, struct host_listener *ret);

/* Ports that do listen on addr's address (or the wildcard): a likely wrong
 * port. Writes up to max ports, ascending, returns how many or -errno. */
int host_tcp_ports_nearby(struct host *h, const struct peerkey *addr, unsigned *ports, size_t max);

/* Process that listens on the unix socket path. */
int host_unix_listener(struct host *h, const char *path, struct host_listener *ret);

/* Tests: read /proc/net instead of netlink sock_diag. */
void host_disable_netlink(struct host *h, bool disable);

/* Share one read of the socket tables and of the socket owners between
 * lookups for ms milliseconds; 0 (the default) reads afresh for every call. */
void host_set_snapshot_ttl(struct host *h, unsigned ms);
/* Forget the current snapshot: the next lookup reads afresh. */
void host_invalidate_snapshot(struct host *h);
