/* host: who listens on a port or a unix socket, and that process's systemd unit.
 *
 * TCP listeners come from netlink sock_diag (as `ss -tlnp`), falling back to
 * /proc/net/tcp{,6}; socket inode -> pid through /proc/PID/fd where permitted;
 * process name and start time from /proc/PID/stat; the unit from
 * /proc/PID/cgroup; ActiveState/SubState/Result/NRestarts over sd-bus when a
 * system bus exists (no bus: those facts are left out, not an error). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "peerkey.h"

struct cJSON;

struct host_listener {
	bool listening;          /* something listens / has the socket open */
	pid_t pid;               /* 0 = not permitted to know */
	char process[64];
	int64_t started_ms;      /* process start, epoch ms; 0 = unknown */
	char unit[128];          /* "" = not in a systemd unit */
	char active_state[24], sub_state[24], result[24];
	unsigned nrestarts;
	bool unit_known;         /* unit state came from the bus */
};

/* Listener of a TCP peer on a local address. Returns 0 (ret->listening tells),
 * or -errno when the tables cannot be read. */
int host_tcp_listener(const struct peerkey *addr, struct host_listener *ret);

/* Ports that do listen on addr's address (or the wildcard): a likely wrong
 * port. Writes up to max ports, returns how many. */
int host_tcp_ports_nearby(const struct peerkey *addr, unsigned *ports, size_t max);

/* Process that has the unix socket path open (listening). */
int host_unix_listener(const char *path, struct host_listener *ret);

/* uid, gid and supplementary groups of running nginx worker processes.
 * Returns -ENOENT when none runs. */
int host_nginx_worker(uid_t *ret_uid, gid_t *ret_gid, gid_t *groups, size_t *ngroups);

struct cJSON *host_listener_json(const struct host_listener *l);
