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

/* A unix peer's path as stat() and unix_diag see it: live, stale and missing
 * are told apart without connect(). */
enum host_path {
	HOST_PATH_UNKNOWN,    /* a TCP peer, or not looked at */
	HOST_PATH_LIVE,	      /* a socket file that a listener is bound to */
	HOST_PATH_STALE,      /* a socket file nobody listens on (left behind) */
	HOST_PATH_MISSING,    /* nothing at the path */
	HOST_PATH_NOT_SOCKET, /* something that is no socket */
	HOST_PATH_DENIED,     /* stat() refused: a directory on the way is closed to us */
};

/* "live", "stale", "missing", "not_socket", "denied"; NULL for UNKNOWN. */
const char *host_path_name(enum host_path p);

/* What upwatch could not see about a listener, and why (host_listener.hidden). */
enum {
	/* The owning process's /proc/PID/fd is closed to us: another user's
	 * process and no CAP_SYS_PTRACE. */
	HOST_HIDDEN_OWNER = 1 << 0,
	/* /proc lists no other user's process at all (hidepid=2 or
	 * ProtectProc=invisible). */
	HOST_HIDDEN_PROCS = 1 << 1,
	/* The accept queue is unknown: sock_diag refused, read from /proc/net. */
	HOST_HIDDEN_QUEUE = 1 << 2,
	/* stat() of a unix socket path refused (a closed parent directory). */
	HOST_HIDDEN_PATH = 1 << 3,
};

struct host_listener {
	bool listening; /* something listens / has the socket open */
	pid_t pid;	/* 0 = not permitted to know */
	char process[64];
	int64_t started_ms; /* process start, epoch ms; 0 = unknown */
	char unit[128];	    /* "" = not in a systemd unit */
	char active_state[24], sub_state[24], result[24];
	unsigned nrestarts;
	int64_t unit_exit_ms; /* its main process's last exit, epoch ms; 0 never/unknown */
	bool unit_known;      /* unit state came from the bus */
	bool unit_user;	      /* unit runs under a user manager (user@UID.service), not
			       * the system manager: the system bus does not know it */

	/* From the socket tables, unprivileged. */
	enum host_path path; /* unix peers */
	unsigned long inode; /* the listening socket's inode; 0 = none */
	uid_t uid;	     /* its owner */
	bool uid_known;	     /* (unix_diag before Linux 5.3 does not say) */
	unsigned queue;	     /* connections waiting in its accept queue */
	unsigned backlog;    /* the queue's limit; full when queue >= backlog */
	bool queue_known;    /* netlink answered */
	unsigned hidden;     /* HOST_HIDDEN_* */

	/* Restarts, seen as a new listening socket: the inode this peer had
	 * before (0 = nothing listened), when that earlier state was last seen,
	 * and when the current one was first seen (epoch ms, 0 = never). The
	 * listener was replaced after T for certain when before_ms >= T:
	 * host_listener_new_since(). */
	unsigned long prev_inode;
	int64_t before_ms;
	int64_t since_ms;

	/* TCP peers: this host's connections to the peer (any process), for
	 * "no free local port" (errno 99). */
	unsigned time_wait, established;
	bool conns_known;
};

/* The listener seen now was not there at t_ms (epoch ms): another socket, or
 * none, was seen at or after t_ms. Needs no /proc: it works for every
 * user's listeners. */
bool host_listener_new_since(const struct host_listener *l, int64_t t_ms);

/* One HOST_HIDDEN_* bit in words ("the listening process (another user's
 * /proc/PID/fd needs CAP_SYS_PTRACE)"), and the file name of the drop-in in
 * contrib/systemd/ that lets upwatch see it, or NULL when no drop-in helps. */
const char *host_hidden_what(unsigned bit);
const char *host_hidden_dropin(unsigned bit);

int host_new(struct host **ret);
void host_free(struct host *h);

/* Listener of a TCP peer on a local address. Returns 0 (ret->listening tells),
 * -EINVAL for a peer that is no IP address, or -errno when the tables cannot
 * be read. */
int host_tcp_listener(struct host *h, const struct peerkey *addr, struct host_listener *ret);

/* Ports that do listen on addr's address (or the wildcard): a likely wrong
 * port. Writes the max nearest to addr's port, ascending; returns how many
 * listen (more than max when some were left out: "and N more"), or -errno. */
int host_tcp_ports_nearby(struct host *h, const struct peerkey *addr, unsigned *ports, size_t max);

/* Listener of a unix socket path: path state from stat() matched against
 * unix_diag's bound files, and the process. Returns 0 or -errno. */
int host_unix_listener(struct host *h, const char *path, struct host_listener *ret);

/* This host's TCP connections to an IP peer (local or remote), in
 * ret->time_wait / established; conns_known set. Other fields untouched.
 * Returns 0, -EINVAL for a host name, or -errno. */
int host_tcp_conns(struct host *h, const struct peerkey *peer, struct host_listener *ret);

/* net.ipv4.ip_local_port_range: the ephemeral ports one local address has
 * towards one peer address and port. Returns 0 or -errno. */
int host_local_port_range(unsigned *ret_low, unsigned *ret_high);

/* Tests: read /proc/net instead of netlink sock_diag. */
void host_disable_netlink(struct host *h, bool disable);

/* Share one read of the socket tables and of the socket owners between
 * lookups for ms milliseconds; 0 (the default) reads afresh for every call. */
void host_set_snapshot_ttl(struct host *h, unsigned ms);
/* Forget the current snapshot: the next lookup reads afresh. */
void host_invalidate_snapshot(struct host *h);
