/* sockdiag: listening sockets from netlink sock_diag or /proc/net (see sockdiag.h).
 *
 * A dump is one request and a series of multipart replies ending in
 * NLMSG_DONE; the kernel fills the next batch while we read the previous one,
 * so a non-blocking recv() that finds nothing means the dump broke off. */
#include "host/sockdiag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"

#define TCP_STATE_ESTABLISHED 1
#define TCP_STATE_SYN_SENT    2
#define TCP_STATE_TIME_WAIT   6
#define TCP_STATE_LISTEN      10
#define MAX_TABLE_LINES	      262144
#define MAX_DUMP_ROUNDS	      4096
#define DUMP_BUF	      32768

void sockdiag_inet_table_done(struct sockdiag_inet_table *t)
{
	free(t->v);
	*t = (struct sockdiag_inet_table){0};
}

static void inet_add(struct sockdiag_inet_table *t, const struct sockdiag_inet *s)
{
	if (t->n >= SOCKDIAG_MAX_LISTENERS)
		return;
	t->v = grow_array(t->v, &t->cap, t->n + 1, sizeof(*t->v));
	t->v[t->n++] = *s;
}

/* ---- netlink ---- */

typedef void (*dump_fn)(const struct nlmsghdr *h, void *userdata);

/* Send req and hand every SOCK_DIAG_BY_FAMILY reply to fn until NLMSG_DONE. */
static int dump(int fd, const void *req, size_t len, dump_fn fn, void *userdata)
{
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	if (sendto(fd, req, len, 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		return -errno;
	char *buf = xmalloc(DUMP_BUF);
	int r = -E2BIG;
	for (unsigned rounds = 0; rounds < MAX_DUMP_ROUNDS; rounds++) {
		ssize_t n = recv(fd, buf, DUMP_BUF, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				r = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				r = h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ? e->error
											 : -EIO;
				goto out;
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
				fn(h, userdata);
		}
	}
out:
	free(buf);
	return r;
}

static int diag_socket(void)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	return fd < 0 ? -errno : fd;
}

int sockdiag_parse_inet(const struct nlmsghdr *h, struct sockdiag_inet *ret)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
	    (m->idiag_family != AF_INET && m->idiag_family != AF_INET6))
		return -EBADMSG;
	/* For a listener the kernel reports the accept queue as rqueue and
	 * its limit as wqueue (tcp_diag_get_info). */
	struct sockdiag_inet s = {.family = m->idiag_family,
				  .port = ntohs(m->id.idiag_sport),
				  .inode = m->idiag_inode,
				  .uid = m->idiag_uid,
				  .queue = m->idiag_rqueue,
				  .backlog = m->idiag_wqueue,
				  .queue_known = true};
	memcpy(s.addr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
	int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (const struct rtattr *a = (const struct rtattr *)(m + 1); RTA_OK(a, alen);
	     a = RTA_NEXT(a, alen))
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			s.v6only = *(const uint8_t *)RTA_DATA(a) != 0;
	*ret = s;
	return 0;
}

static void on_inet_listener(const struct nlmsghdr *h, void *userdata)
{
	struct sockdiag_inet s;
	if (sockdiag_parse_inet(h, &s) == 0)
		inet_add(userdata, &s);
}

static int inet_dump(int fd, int family, uint32_t states, dump_fn fn, void *userdata)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
	    .nlh = {.nlmsg_len = sizeof(req),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
	    .r = {.sdiag_family = (uint8_t)family,
		  .sdiag_protocol = IPPROTO_TCP,
		  .idiag_states = states},
	};
	return dump(fd, &req, sizeof(req), fn, userdata);
}

static int inet_from_netlink(struct sockdiag_inet_table *t)
{
	int fd = diag_socket();
	if (fd < 0)
		return fd;
	int r = inet_dump(fd, AF_INET, 1u << TCP_STATE_LISTEN, on_inet_listener, t);
	if (r >= 0)
		r = inet_dump(fd, AF_INET6, 1u << TCP_STATE_LISTEN, on_inet_listener, t);
	close(fd);
	return r;
}

/* ---- /proc/net/tcp{,6} ---- */

/* The kernel prints each 32-bit word of the address as the host-order integer
 * it holds, so parsing the hex into a uint32_t and copying its bytes restores
 * network order. */
static bool parse_hex_addr(const char *s, size_t words, uint8_t *out)
{
	for (size_t w = 0; w < words; w++) {
		char tmp[9];
		memcpy(tmp, s + w * 8, 8);
		tmp[8] = '\0';
		char *end;
		uint32_t v = (uint32_t)strtoul(tmp, &end, 16);
		if (*end)
			return false;
		memcpy(out + w * 4, &v, 4);
	}
	return true;
}

static int inet_from_proc_file(const char *path, int family, struct sockdiag_inet_table *t)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t words = family == AF_INET ? 1 : 4;
	char *line = NULL;
	size_t cap = 0;
	unsigned lines = 0;
	while (getline(&line, &cap, f) > 0 && ++lines < MAX_TABLE_LINES) {
		char local[40], remote[40];
		unsigned st, uid;
		unsigned long inode;
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*u: %39s %39s %x %*s %*s %*s %u %*u %lu", local, remote, &st,
			   &uid, &inode) != 5 ||
		    st != TCP_STATE_LISTEN)
			continue;
		char *colon = strchr(local, ':');
		if (!colon || (size_t)(colon - local) != words * 8)
			continue;
		struct sockdiag_inet s = {.family = family, .inode = inode, .uid = uid};
		if (!parse_hex_addr(local, words, s.addr))
			continue;
		s.port = (unsigned)strtoul(colon + 1, NULL, 16);
		/* /proc does not say IPV6_V6ONLY; the Linux default (bindv6only=0)
		 * is assumed, so a [::] listener also answers IPv4. */
		inet_add(t, &s);
	}
	free(line);
	fclose(f);
	return 0;
}

static int inet_from_proc(struct sockdiag_inet_table *t)
{
	int r4 = inet_from_proc_file("/proc/net/tcp", AF_INET, t);
	int r6 = inet_from_proc_file("/proc/net/tcp6", AF_INET6, t);
	/* A kernel without IPv6 has no tcp6: that alone is not a failure. */
	return r4 < 0 ? r4 : (r6 < 0 && r6 != -ENOENT ? r6 : 0);
}

int sockdiag_inet_listeners(struct sockdiag_inet_table *t, bool use_netlink)
{
	int r = -EPERM;
	t->n = 0;
	if (use_netlink)
		r = inet_from_netlink(t);
	if (r < 0) {
		t->n = 0;
		r = inet_from_proc(t);
	}
	if (r < 0)
		t->n = 0;
	return r;
}

/* ---- unix sockets ---- */

#define UNIX_ACCEPTCON 0x10000 /* __SO_ACCEPTCON in /proc/net/unix Flags */

void sockdiag_unix_table_done(struct sockdiag_unix_table *t)
{
	free(t->v);
	*t = (struct sockdiag_unix_table){0};
}

static void unix_add(struct sockdiag_unix_table *t, const struct sockdiag_unix *s)
{
	if (t->n >= SOCKDIAG_MAX_LISTENERS)
		return;
	t->v = grow_array(t->v, &t->cap, t->n + 1, sizeof(*t->v));
	t->v[t->n++] = *s;
}

static int unix_from_proc(struct sockdiag_unix_table *t)
{
	FILE *f = fopen("/proc/net/unix", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	unsigned lines = 0;
	while (getline(&line, &cap, f) > 0 && ++lines < MAX_TABLE_LINES) {
		/* Num RefCount Protocol Flags Type St Inode Path */
		unsigned flags;
		unsigned long inode;
		int off = 0;
		if (sscanf(line, "%*s %*x %*x %x %*x %*x %lu %n", &flags, &inode, &off) != 2 ||
		    !off || !(flags & UNIX_ACCEPTCON))
			continue;
		struct sockdiag_unix s = {.inode = inode};
		char *p = line + off;
		p[strcspn(p, "\n")] = '\0';
		if (strlen(p) >= sizeof(s.path))
			continue;
		strcpy(s.path, p);
		unix_add(t, &s);
	}
	free(line);
	fclose(f);
	return 0;
}

int sockdiag_parse_unix(const struct nlmsghdr *h, struct sockdiag_unix *ret)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	struct sockdiag_unix s = {.inode = m->udiag_ino};
	int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (const struct rtattr *a = (const struct rtattr *)(m + 1); RTA_OK(a, alen);
	     a = RTA_NEXT(a, alen)) {
		const void *d = RTA_DATA(a);
		size_t len = RTA_PAYLOAD(a);
		if (a->rta_type == UNIX_DIAG_NAME && len > 0 && len < sizeof(s.path)) {
			/* Not NUL-terminated; an abstract name starts with NUL,
			 * written "@name" as ss and /proc/net/unix do. */
			memcpy(s.path, d, len);
			s.path[len] = '\0';
			if (s.path[0] == '\0')
				s.path[0] = '@';
		} else if (a->rta_type == UNIX_DIAG_RQLEN &&
			   len >= sizeof(struct unix_diag_rqlen)) {
			const struct unix_diag_rqlen *q = d;
			s.queue = q->udiag_rqueue;
			s.backlog = q->udiag_wqueue;
			s.queue_known = true;
		} else if (a->rta_type == UNIX_DIAG_VFS && len >= sizeof(struct unix_diag_vfs)) {
			const struct unix_diag_vfs *v = d;
			s.vfs_ino = v->udiag_vfs_ino;
			s.vfs_dev = v->udiag_vfs_dev;
			s.vfs_known = true;
		} else if (a->rta_type == UNIX_DIAG_UID && len >= sizeof(uint32_t)) {
			s.uid = *(const uint32_t *)d;
			s.uid_known = true;
		}
	}
	*ret = s;
	return 0;
}

static void on_unix_listener(const struct nlmsghdr *h, void *userdata)
{
	struct sockdiag_unix s;
	if (sockdiag_parse_unix(h, &s) == 0)
		unix_add(userdata, &s);
}

static int unix_from_netlink(struct sockdiag_unix_table *t)
{
	int fd = diag_socket();
	if (fd < 0)
		return fd;
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req = {
	    .nlh = {.nlmsg_len = sizeof(req),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
	    .r = {.sdiag_family = AF_UNIX,
		  .udiag_states = 1u << TCP_STATE_LISTEN,
		  .udiag_show =
		      UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID},
	};
	int r = dump(fd, &req, sizeof(req), on_unix_listener, t);
	close(fd);
	return r;
}

int sockdiag_unix_listeners(struct sockdiag_unix_table *t, bool use_netlink)
{
	int r = -EPERM;
	t->n = 0;
	/* unix_diag is a module of its own: a kernel without it answers
	 * ENOENT, and /proc/net/unix still has paths and inodes. */
	if (use_netlink)
		r = unix_from_netlink(t);
	if (r < 0) {
		t->n = 0;
		r = unix_from_proc(t);
	}
	if (r < 0)
		t->n = 0;
	return r;
}

/* ---- connections to one peer ---- */

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct conns_ctx {
	int family;
	uint8_t addr[16];
	struct sockdiag_conns c;
	/* sockdiag_inet_remotes: collect by remote address instead */
	bool remotes;
	uid_t uid;
	struct sockdiag_remote *v;
	size_t n, max;
};

static void on_remote(struct conns_ctx *x, const struct inet_diag_msg *m)
{
	if (m->idiag_uid != x->uid ||
	    (m->idiag_state != TCP_STATE_ESTABLISHED && m->idiag_state != TCP_STATE_SYN_SENT))
		return;
	struct sockdiag_remote r = {.family = m->idiag_family};
	const uint8_t *dst = (const uint8_t *)m->id.idiag_dst;
	if (m->idiag_family == AF_INET) {
		memcpy(r.addr, dst, 4);
	} else if (memcmp(dst, v4mapped_prefix, 12) == 0) {
		r.family = AF_INET;
		memcpy(r.addr, dst + 12, 4);
	} else {
		memcpy(r.addr, dst, 16);
	}
	size_t i;
	for (i = 0; i < x->n; i++)
		if (x->v[i].family == r.family &&
		    memcmp(x->v[i].addr, r.addr, r.family == AF_INET ? 4 : 16) == 0)
			break;
	if (i == x->n) {
		if (x->n == x->max)
			return;
		x->v[x->n++] = r;
	}
	if (m->idiag_state == TCP_STATE_ESTABLISHED)
		x->v[i].established++;
	else
		x->v[i].syn_sent++;
}

static void on_conn(const struct nlmsghdr *h, void *userdata)
{
	struct conns_ctx *x = userdata;
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return;
	if (x->remotes) {
		on_remote(x, m);
		return;
	}
	const uint8_t *dst = (const uint8_t *)m->id.idiag_dst;
	bool match;
	if (x->family == AF_INET)
		match = m->idiag_family == AF_INET ? memcmp(dst, x->addr, 4) == 0
						   : memcmp(dst, v4mapped_prefix, 12) == 0 &&
							 memcmp(dst + 12, x->addr, 4) == 0;
	else
		match = m->idiag_family == AF_INET6 && memcmp(dst, x->addr, 16) == 0;
	if (!match)
		return;
	if (m->idiag_state == TCP_STATE_TIME_WAIT)
		x->c.time_wait++;
	else if (m->idiag_state == TCP_STATE_ESTABLISHED)
		x->c.established++;
	else if (m->idiag_state == TCP_STATE_SYN_SENT)
		x->c.syn_sent++;
}

/* A dump of one family's sockets in states whose remote port is port: the
 * filter is inet_diag bytecode, one "destination port equals" condition
 * (the port sits in the second op's 'no'; a false condition jumps past the
 * end, which rejects the socket). */
static int conns_dump(int fd, int family, unsigned port, struct conns_ctx *x)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
		struct rtattr rta;
		struct inet_diag_bc_op ops[2];
	} req = {
	    .nlh = {.nlmsg_len = sizeof(req),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
	    .r = {.sdiag_family = (uint8_t)family,
		  .sdiag_protocol = IPPROTO_TCP,
		  .idiag_states = 1u << TCP_STATE_TIME_WAIT | 1u << TCP_STATE_ESTABLISHED |
				  1u << TCP_STATE_SYN_SENT},
	    .rta = {.rta_len = RTA_LENGTH(sizeof(req.ops)), .rta_type = INET_DIAG_REQ_BYTECODE},
	    .ops = {{.code = INET_DIAG_BC_D_EQ, .yes = sizeof(req.ops), .no = sizeof(req.ops) + 4},
		    {.no = (unsigned short)port}},
	};
	return dump(fd, &req, sizeof(req), on_conn, x);
}

int sockdiag_inet_conns(int family, const uint8_t *addr, unsigned port, struct sockdiag_conns *ret)
{
	if ((family != AF_INET && family != AF_INET6) || port == 0 || port > 65535)
		return -EINVAL;
	struct conns_ctx x = {.family = family};
	memcpy(x.addr, addr, family == AF_INET ? 4 : 16);
	int fd = diag_socket();
	if (fd < 0)
		return fd;
	/* An IPv4 peer is reached through AF_INET sockets, or AF_INET6 ones
	 * connected to its v4-mapped address; a kernel without IPv6 refuses
	 * the second dump, which is then no failure for an IPv4 peer. */
	int r = family == AF_INET ? conns_dump(fd, AF_INET, port, &x) : 0;
	if (r >= 0) {
		int r6 = conns_dump(fd, AF_INET6, port, &x);
		if (family == AF_INET6)
			r = r6;
	}
	close(fd);
	if (r < 0)
		return r;
	*ret = x.c;
	return 0;
}

int sockdiag_inet_remotes(unsigned port, uid_t uid, struct sockdiag_remote *ret, size_t max)
{
	if (port == 0 || port > 65535)
		return -EINVAL;
	struct conns_ctx x = {.remotes = true, .uid = uid, .v = ret, .max = max};
	int fd = diag_socket();
	if (fd < 0)
		return fd;
	int r = conns_dump(fd, AF_INET, port, &x);
	/* a kernel without IPv6 refuses this one: what IPv4 gave stands */
	if (r >= 0)
		conns_dump(fd, AF_INET6, port, &x);
	close(fd);
	return r < 0 ? r : (int)x.n;
}
