/* host: who listens on a port or a unix socket, and that process's systemd unit.
 *
 * TCP listeners come from netlink sock_diag (as `ss -tlnp`), falling back to
 * /proc/net/tcp{,6}; socket inode -> pid through /proc/PID/fd where permitted;
 * process name and start time from /proc/PID/stat; the unit from
 * /proc/PID/cgroup. All synchronous, all bounded (at most 8192 processes and
 * 200000 fds are looked at per call; beyond that the pid stays unknown).
 * The unit's ActiveState/SubState/Result/NRestarts need the bus and arrive
 * asynchronously through unitbus.h (no bus: unit_known stays false). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/peerkey.h"

struct cJSON;

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

/* Listener of a TCP peer on a local address. Returns 0 (ret->listening tells),
 * or -errno when the tables cannot be read. */
int host_tcp_listener(const struct peerkey *addr, struct host_listener *ret);

/* Ports that do listen on addr's address (or the wildcard): a likely wrong
 * port. Writes up to max ports, returns how many. */
int host_tcp_ports_nearby(const struct peerkey *addr, unsigned *ports, size_t max);

/* Process that has the unix socket path open (listening). */
int host_unix_listener(const char *path, struct host_listener *ret);

/* Effective uid, gid and supplementary groups of a running nginx worker
 * process (comm "nginx", cmdline "nginx: worker process"). *ngroups is the
 * capacity of groups on entry and the count written on return (groups and
 * ngroups may be NULL). Returns -ENOENT when none runs. */
int host_nginx_worker(uid_t *ret_uid, gid_t *ret_gid, gid_t *groups, size_t *ngroups);

/* The systemd unit a process runs in, from the text of /proc/PID/cgroup
 * (cgroup v2 "0::/system.slice/app.service" -> "app.service"; v1 via the
 * name=systemd hierarchy). The deepest .service or .scope wins; *ret_user
 * (may be NULL) tells whether it sits below user@UID.service. Returns 0, or
 * -ENOENT when the process is in no unit (root cgroup, a plain slice). */
int host_unit_from_cgroup(const char *content, char *ret_unit, size_t size, bool *ret_user);

/* Tests: read /proc/net/tcp{,6} as if netlink sock_diag were refused. */
void host_disable_netlink(bool disable);

/* Share one read of the listener table and of the socket owners (/proc/PID/fd)
 * between lookups for ms milliseconds; 0 (the default) reads afresh for every
 * call. The daemon sets this so that many failing peers cost one scan. */
void host_set_snapshot_ttl(unsigned ms);
/* Forget the current snapshot: the next lookup reads afresh. */
void host_invalidate_snapshot(void);

/* {"pid", "process", "started", "unit", "active_state", "sub_state", "result",
 * "restarts"}: only the fields that are known. */
struct cJSON *host_listener_json(const struct host_listener *l);
