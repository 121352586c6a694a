/* sockdiag: the kernel's socket tables, read unprivileged.
 *
 * Listening TCP sockets (IPv4 and IPv6) come from NETLINK_SOCK_DIAG
 * (inet_diag), which answers any user with the owning uid, the socket inode
 * and, for a listener, the accept-queue fill and its limit; when netlink is
 * refused, /proc/net/tcp{,6} gives address, uid and inode only. Every read is
 * a bounded dump of an in-kernel table, never of the network. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SOCKDIAG_MAX_LISTENERS 65536

/* One listening TCP socket. */
struct sockdiag_inet {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
	unsigned port;
	unsigned long inode;
	uid_t uid;
	unsigned queue;	  /* connections waiting in the accept queue */
	unsigned backlog; /* the accept queue's limit (listen()'s backlog, capped) */
	bool queue_known; /* false when read from /proc (it does not say) */
	bool v6only;
};

struct sockdiag_inet_table {
	struct sockdiag_inet *v;
	size_t n, cap;
};

void sockdiag_inet_table_done(struct sockdiag_inet_table *t);

/* Replace t's contents with every listening TCP socket, from netlink
 * (use_netlink) or else /proc/net/tcp{,6}; a refused netlink falls back to
 * /proc as well. Returns 0 or -errno (t then holds nothing). */
int sockdiag_inet_listeners(struct sockdiag_inet_table *t, bool use_netlink);

/* One listening unix socket (stream or seqpacket). */
struct sockdiag_unix {
	unsigned long inode;
	char path[110];	  /* bound path; "" for unnamed, "@..." for abstract */
	unsigned queue;	  /* connections waiting in the accept queue */
	unsigned backlog; /* its limit: the queue is full above it */
	bool queue_known; /* from netlink (UDIAG_SHOW_RQLEN) */
	uid_t uid;
	bool uid_known; /* UDIAG_SHOW_UID, Linux >= 5.3 */
	/* The file the socket is bound to, as the kernel keeps it (UDIAG_SHOW_VFS):
	 * tells a listener on this very file from one whose file was unlinked
	 * and replaced. dev is the kernel's (major << 20 | minor). */
	uint32_t vfs_ino, vfs_dev;
	bool vfs_known;
};

struct sockdiag_unix_table {
	struct sockdiag_unix *v;
	size_t n, cap;
};

void sockdiag_unix_table_done(struct sockdiag_unix_table *t);

/* Replace t's contents with every listening unix socket, from netlink
 * unix_diag (use_netlink) or else /proc/net/unix (path and inode only).
 * Returns 0 or -errno. */
int sockdiag_unix_listeners(struct sockdiag_unix_table *t, bool use_netlink);

/* One SOCK_DIAG_BY_FAMILY reply (h->nlmsg_len bytes readable) as a listener;
 * -EBADMSG when it is too short or of another family. Exposed for the fuzzer. */
struct nlmsghdr;
int sockdiag_parse_inet(const struct nlmsghdr *h, struct sockdiag_inet *ret);
int sockdiag_parse_unix(const struct nlmsghdr *h, struct sockdiag_unix *ret);

/* TCP connections from this host to one remote address and port, by state:
 * what tells "nginx ran out of local ports towards this peer" (errno 99). */
struct sockdiag_conns {
	unsigned time_wait;
	unsigned established;
	unsigned syn_sent;
};

/* Count the connections to family/addr/port (addr in network order, 4 or 16
 * bytes). An AF_INET peer also matches IPv6 sockets connected to its
 * v4-mapped address. Netlink only (a filtered dump: the kernel sends only
 * sockets with that remote port). Returns 0 or -errno. */
int sockdiag_inet_conns(int family, const uint8_t *addr, unsigned port, struct sockdiag_conns *ret);

/* One remote address that sockets of one uid are connected or connecting to
 * (dns_stale: the address nginx's workers really use for a host name). */
struct sockdiag_remote {
	int family;	  /* AF_INET (v4-mapped IPv6 is shown as IPv4) or AF_INET6 */
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
	unsigned established, syn_sent;
};

#define SOCKDIAG_MAX_REMOTES 16

/* The distinct remote addresses on port that TCP sockets owned by uid are
 * ESTABLISHED or SYN_SENT to, at most max (SOCKDIAG_MAX_REMOTES) of them, in
 * the kernel's order. Netlink only (a filtered dump, as
 * sockdiag_inet_conns). Returns how many were written, or -errno. */
int sockdiag_inet_remotes(unsigned port, uid_t uid, struct sockdiag_remote *ret, size_t max);
