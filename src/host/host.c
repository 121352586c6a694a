/* host: listener facts for a peer, joined from the socket tables and /proc.
 *
 * Owns the snapshot of the socket tables and the socket owners between
 * lookups, and the matching of a peer address against listeners (exact
 * binds before wildcards, v4-mapped IPv6, dual-stack [::]). The tables come
 * from sockdiag.c, processes from procfs.c; this module decides nothing the
 * kernel did not say. */
#include "host/host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/util.h"
#include "host/procfs.h"
#include "host/sockdiag.h"

#define MAX_WANTED 16 /* listening sockets considered for one peer */

struct host {
	bool use_netlink;
	unsigned snapshot_ttl_ms;
	struct sockdiag_inet_table inet;
	struct sockdiag_unix_table unix_;
	struct procfs_owners owners;
	int64_t inet_at, unix_at, owners_at; /* monotonic ms of the read; -1 none */
};

int host_new(struct host **ret)
{
	struct host *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->use_netlink = true;
	h->inet_at = h->unix_at = h->owners_at = -1;
	*ret = h;
	return 0;
}

void host_free(struct host *h)
{
	if (!h)
		return;
	sockdiag_inet_table_done(&h->inet);
	sockdiag_unix_table_done(&h->unix_);
	procfs_owners_done(&h->owners);
	free(h);
}

void host_disable_netlink(struct host *h, bool disable)
{
	h->use_netlink = !disable;
	host_invalidate_snapshot(h);
}

void host_set_snapshot_ttl(struct host *h, unsigned ms)
{
	h->snapshot_ttl_ms = ms;
	host_invalidate_snapshot(h);
}

void host_invalidate_snapshot(struct host *h)
{
	h->inet_at = h->unix_at = h->owners_at = -1;
}

static bool fresh(const struct host *h, int64_t at)
{
	return at >= 0 && h->snapshot_ttl_ms && now_mono_ms() - at < h->snapshot_ttl_ms;
}

static int inet_get(struct host *h)
{
	if (fresh(h, h->inet_at))
		return 0;
	int r = sockdiag_inet_listeners(&h->inet, h->use_netlink);
	h->inet_at = r < 0 ? -1 : now_mono_ms();
	return r;
}

static int unix_get(struct host *h)
{
	if (fresh(h, h->unix_at))
		return 0;
	int r = sockdiag_unix_listeners(&h->unix_, h->use_netlink);
	h->unix_at = r < 0 ? -1 : now_mono_ms();
	return r;
}

static pid_t owner_of(struct host *h, const unsigned long *inodes, size_t n)
{
	if (!fresh(h, h->owners_at)) {
		procfs_owners_load(&h->owners);
		h->owners_at = now_mono_ms();
	}
	return procfs_owner_of(&h->owners, inodes, n);
}

static void fill_process(struct host *h, const unsigned long *inodes, size_t n,
			 struct host_listener *l)
{
	pid_t pid = owner_of(h, inodes, n);
	struct procfs_process p;
	if (pid <= 0 || procfs_process(pid, &p) < 0)
		return;
	l->pid = pid;
	memcpy(l->process, p.comm, sizeof(l->process));
	l->started_ms = p.started_ms;
	memcpy(l->unit, p.unit, sizeof(l->unit));
	l->unit_user = p.unit_user;
}

/* ---- matching a peer address against listeners ---- */

enum match {
	MATCH_NONE,
	MATCH_WILDCARD,
	MATCH_EXACT,
};

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The address part of a peer as family + bytes; v4-mapped IPv6 peers are
 * treated as the IPv4 address they carry (that is how the kernel routes). */
static int peer_addr(const struct peerkey *k, int *family, uint8_t addr[16])
{
	if (k->kind == PEERKEY_IPV4) {
		*family = AF_INET;
		return inet_pton(AF_INET, k->host, addr) == 1 ? 0 : -EINVAL;
	}
	if (k->kind == PEERKEY_IPV6) {
		if (inet_pton(AF_INET6, k->host, addr) != 1)
			return -EINVAL;
		*family = AF_INET6;
		if (memcmp(addr, v4mapped_prefix, 12) == 0) {
			memmove(addr, addr + 12, 4);
			*family = AF_INET;
		}
		return 0;
	}
	return -EINVAL;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Would a connection to family/addr be accepted by listener s (port aside)? */
static enum match match_addr(const struct sockdiag_inet *s, int family, const uint8_t *addr)
{
	if (family == AF_INET) {
		if (s->family == AF_INET) {
			if (memcmp(s->addr, addr, 4) == 0)
				return MATCH_EXACT;
			return all_zero(s->addr, 4) ? MATCH_WILDCARD : MATCH_NONE;
		}
		/* IPv6 socket: an explicit ::ffff:a.b.c.d bind, or [::] dual-stack. */
		if (memcmp(s->addr, v4mapped_prefix, 12) == 0 && memcmp(s->addr + 12, addr, 4) == 0)
			return MATCH_EXACT;
		if (all_zero(s->addr, 16) && !s->v6only)
			return MATCH_WILDCARD;
		return MATCH_NONE;
	}
	if (s->family != AF_INET6)
		return MATCH_NONE;
	if (memcmp(s->addr, addr, 16) == 0)
		return MATCH_EXACT;
	return all_zero(s->addr, 16) ? MATCH_WILDCARD : MATCH_NONE;
}

/* ---- TCP ---- */

int host_tcp_listener(struct host *h, const struct peerkey *addr, struct host_listener *ret)
{
	int family;
	uint8_t a[16];
	int r = peer_addr(addr, &family, a);
	if (r < 0)
		return r;
	r = inet_get(h);
	if (r < 0)
		return r;
	/* Exact binds come first: they win over a wildcard on the same port. */
	unsigned long inodes[MAX_WANTED];
	size_t n = 0;
	for (int want = MATCH_EXACT; want >= MATCH_WILDCARD; want--)
		for (size_t i = 0; i < h->inet.n && n < MAX_WANTED; i++)
			if (h->inet.v[i].port == addr->port &&
			    (int)match_addr(&h->inet.v[i], family, a) == want)
				inodes[n++] = h->inet.v[i].inode;

	struct host_listener l = {0};
	if (n > 0) {
		l.listening = true;
		fill_process(h, inodes, n, &l);
	}
	*ret = l;
	return 0;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

int host_tcp_ports_nearby(struct host *h, const struct peerkey *addr, unsigned *ports, size_t max)
{
	int family;
	uint8_t a[16];
	int r = peer_addr(addr, &family, a);
	if (r < 0)
		return r;
	r = inet_get(h);
	if (r < 0)
		return r;
	unsigned *all = xcalloc(h->inet.n + 1, sizeof(*all));
	size_t n = 0;
	for (size_t i = 0; i < h->inet.n; i++)
		if (h->inet.v[i].port != addr->port &&
		    match_addr(&h->inet.v[i], family, a) != MATCH_NONE)
			all[n++] = h->inet.v[i].port;
	qsort(all, n, sizeof(*all), cmp_unsigned);
	size_t out = 0;
	for (size_t i = 0; i < n && out < max; i++)
		if (i == 0 || all[i] != all[i - 1])
			ports[out++] = all[i];
	free(all);
	return (int)out;
}

/* ---- unix sockets ---- */

int host_unix_listener(struct host *h, const char *path, struct host_listener *ret)
{
	int r = unix_get(h);
	if (r < 0)
		return r;
	unsigned long inodes[MAX_WANTED];
	size_t n = 0;
	for (size_t i = 0; i < h->unix_.n && n < MAX_WANTED; i++)
		if (streq(h->unix_.v[i].path, path))
			inodes[n++] = h->unix_.v[i].inode;
	struct host_listener l = {0};
	if (n > 0) {
		l.listening = true;
		fill_process(h, inodes, n, &l);
	}
	*ret = l;
	return 0;
}
