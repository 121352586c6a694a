/* host: listener facts for a peer, joined from the socket tables and /proc.
 *
 * Owns the snapshot of the socket tables and the socket owners between
 * lookups, the matching of a peer against listeners (exact binds before
 * wildcards, v4-mapped IPv6, dual-stack [::]; a unix path by the file the
 * socket is bound to), and the last listening inode per peer, which is how a
 * restart shows without /proc. The tables come from sockdiag.c, processes
 * from procfs.c; this module decides nothing the kernel did not say. */
#include "host/host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "core/strmap.h"
#include "core/util.h"
#include "host/procfs.h"
#include "host/sockdiag.h"

#define MAX_WANTED  16	  /* listening sockets considered for one peer */
#define MAX_HISTORY 16384 /* peers whose last listener is remembered */

/* The last listening inode seen for one peer (0: nobody listened). */
struct history {
	unsigned long inode;
	int64_t since_ms, last_ms; /* first and last seen, epoch ms */
	unsigned long prev_inode;  /* the state before */
	int64_t before_ms;	   /* when that was last seen */
};

struct host {
	struct strmap history; /* peer key -> struct history */
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
	strmap_init(&h->history);
	h->use_netlink = true;
	h->inet_at = h->unix_at = h->owners_at = -1;
	*ret = h;
	return 0;
}

static void history_clear(struct host *h)
{
	size_t it = 0;
	void *v;
	while (strmap_next(&h->history, &it, NULL, &v))
		free(v);
	strmap_done(&h->history);
	strmap_init(&h->history);
}

void host_free(struct host *h)
{
	if (!h)
		return;
	history_clear(h);
	strmap_done(&h->history);
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

static int cmp_by_port(const void *a, const void *b)
{
	const struct sockdiag_inet *x = a, *y = b;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* The listeners, sorted by port (then inode) once a snapshot: a lookup is a
 * binary search, and the ports near a peer's come out in order. With 10k
 * listeners, each render of an alert on a port nobody listens on scanned and
 * sorted them all (about 330k instructions; 50 such alerts re-rendered a tick
 * made it 16M a second). */
static int inet_get(struct host *h)
{
	if (fresh(h, h->inet_at))
		return 0;
	int r = sockdiag_inet_listeners(&h->inet, h->use_netlink);
	h->inet_at = r < 0 ? -1 : now_mono_ms();
	if (r >= 0)
		qsort(h->inet.v, h->inet.n, sizeof(*h->inet.v), cmp_by_port);
	return r;
}

/* The first listener on port or past it (h->inet sorted by inet_get). */
static size_t inet_first_at(const struct host *h, unsigned port)
{
	size_t lo = 0, hi = h->inet.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->inet.v[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
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
	if (pid <= 0 || procfs_process(pid, &p) < 0) {
		l->hidden |= procfs_others_visible() ? HOST_HIDDEN_OWNER : HOST_HIDDEN_PROCS;
		return;
	}
	l->pid = pid;
	memcpy(l->process, p.comm, sizeof(l->process));
	l->started_ms = p.started_ms;
	memcpy(l->unit, p.unit, sizeof(l->unit));
	l->unit_user = p.unit_user;
}

/* ---- restarts: the listening inode per peer ---- */

/* Record what is listening on key now and copy the history into l. */
static void history_note(struct host *h, const char *key, struct host_listener *l)
{
	int64_t now = now_wall_ms();
	unsigned long inode = l->listening ? l->inode : 0;
	struct history *e = strmap_get(&h->history, key);
	if (!e) {
		if (h->history.len >= MAX_HISTORY)
			history_clear(h);
		e = xcalloc(1, sizeof(*e));
		*e = (struct history){.inode = inode, .since_ms = now};
		strmap_put(&h->history, key, e);
	} else if (e->inode != inode) {
		e->prev_inode = e->inode;
		e->before_ms = e->last_ms;
		e->inode = inode;
		e->since_ms = now;
	}
	e->last_ms = now;
	l->prev_inode = e->prev_inode;
	l->before_ms = e->before_ms;
	l->since_ms = e->since_ms;
}

bool host_listener_new_since(const struct host_listener *l, int64_t t_ms)
{
	return l->listening && l->before_ms > 0 && l->before_ms >= t_ms;
}

const char *host_path_name(enum host_path p)
{
	static const char *const names[] = {
	    [HOST_PATH_LIVE] = "live",	     [HOST_PATH_STALE] = "stale",
	    [HOST_PATH_MISSING] = "missing", [HOST_PATH_NOT_SOCKET] = "not_socket",
	    [HOST_PATH_DENIED] = "denied",
	};
	return (unsigned)p < ARRAY_SIZE(names) ? names[p] : NULL;
}

const char *host_hidden_what(unsigned bit)
{
	switch (bit) {
	case HOST_HIDDEN_OWNER:
		return "the listening process (another user's /proc/PID/fd needs CAP_SYS_PTRACE)";
	case HOST_HIDDEN_PROCS:
		return "the listening process (/proc hides other users' processes: hidepid=2 or "
		       "ProtectProc=invisible)";
	case HOST_HIDDEN_QUEUE:
		return "the accept queue (netlink sock_diag refused)";
	case HOST_HIDDEN_PATH:
		return "the socket file (a directory on its path is closed to upwatch's user)";
	}
	return NULL;
}

const char *host_hidden_dropin(unsigned bit)
{
	switch (bit) {
	case HOST_HIDDEN_OWNER:
		return "upwatch-listener-facts.conf";
	case HOST_HIDDEN_PROCS:
		return "upwatch-procfs.conf";
	}
	return NULL;
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
	/* Exact binds come first: they win over a wildcard on the same port.
	 * Of several (SO_REUSEPORT), the oldest socket speaks for the peer. */
	unsigned long inodes[MAX_WANTED];
	size_t n = 0;
	const struct sockdiag_inet *first = NULL;
	int first_want = MATCH_NONE;
	size_t at = inet_first_at(h, addr->port);
	for (int want = MATCH_EXACT; want >= MATCH_WILDCARD; want--)
		for (size_t i = at;
		     i < h->inet.n && h->inet.v[i].port == addr->port && n < MAX_WANTED; i++) {
			const struct sockdiag_inet *s = &h->inet.v[i];
			if ((int)match_addr(s, family, a) != want)
				continue;
			inodes[n++] = s->inode;
			if (!first || (want == first_want && s->inode < first->inode)) {
				first = s;
				first_want = want;
			}
		}

	struct host_listener l = {0};
	if (first) {
		l.listening = true;
		l.inode = first->inode;
		l.uid = first->uid;
		l.uid_known = true;
		l.queue = first->queue;
		l.backlog = first->backlog;
		l.queue_known = first->queue_known;
		if (!l.queue_known)
			l.hidden |= HOST_HIDDEN_QUEUE;
		fill_process(h, inodes, n, &l);
	}
	history_note(h, addr->key, &l);
	*ret = l;
	return 0;
}

int host_tcp_conns(struct host *h, const struct peerkey *peer, struct host_listener *ret)
{
	(void)h;
	int family;
	uint8_t a[16];
	int r = peer_addr(peer, &family, a);
	if (r < 0)
		return r;
	struct sockdiag_conns c;
	r = sockdiag_inet_conns(family, a, peer->port, &c);
	if (r < 0)
		return r;
	ret->time_wait = c.time_wait;
	ret->established = c.established;
	ret->conns_known = true;
	return 0;
}

int host_local_port_range(unsigned *ret_low, unsigned *ret_high)
{
	char buf[64];
	int r = procfs_read("/proc/sys/net/ipv4/ip_local_port_range", buf, sizeof(buf));
	if (r < 0)
		return r;
	unsigned lo, hi;
	if (sscanf(buf, "%u %u", &lo, &hi) != 2 || lo > hi || hi > 65535)
		return -EIO;
	*ret_low = lo;
	*ret_high = hi;
	return 0;
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
	/* the distinct ports listening on addr's address, ascending (h->inet is
	 * sorted by port) */
	unsigned *all = xcalloc(h->inet.n + 1, sizeof(*all));
	size_t m = 0;
	for (size_t i = 0; i < h->inet.n; i++) {
		const struct sockdiag_inet *s = &h->inet.v[i];
		if (s->port != addr->port && (m == 0 || all[m - 1] != s->port) &&
		    match_addr(s, family, a) != MATCH_NONE)
			all[m++] = s->port;
	}
	/* the max nearest to addr's port (a busy host listens on many): the
	 * distinct ports in a window around it, widened towards the nearer side */
	size_t lo = 0;
	while (lo < m && all[lo] < addr->port)
		lo++;
	size_t hi = lo; /* the window is [lo, hi) */
	while (hi - lo < max && (lo > 0 || hi < m)) {
		if (hi == m || (lo > 0 && addr->port - all[lo - 1] <= all[hi] - addr->port))
			lo--;
		else
			hi++;
	}
	size_t out = hi - lo;
	memcpy(ports, all + lo, out * sizeof(*ports));
	free(all);
	return (int)m;
}

/* ---- unix sockets ---- */

/* The kernel's dev_t (what unix_diag reports) of a stat() st_dev. */
static uint32_t kernel_dev(dev_t d)
{
	return (uint32_t)(major(d) << 20 | minor(d));
}

static bool unix_matches(const struct sockdiag_unix *s, const char *path, const struct stat *st)
{
	/* The bound file itself when both are known: a path bound relative to
	 * a working directory, or a listener whose file was unlinked and
	 * replaced, cannot fool it. */
	if (st && s->vfs_known)
		return s->vfs_ino == (uint32_t)st->st_ino && s->vfs_dev == kernel_dev(st->st_dev);
	return streq(s->path, path);
}

int host_unix_listener(struct host *h, const char *path, struct host_listener *ret)
{
	int r = unix_get(h);
	if (r < 0)
		return r;
	struct host_listener l = {0};
	struct stat st;
	bool have_st = false;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			l.path = HOST_PATH_MISSING;
		else if (errno == EACCES) {
			l.path = HOST_PATH_DENIED;
			l.hidden |= HOST_HIDDEN_PATH;
		}
	} else if (!S_ISSOCK(st.st_mode))
		l.path = HOST_PATH_NOT_SOCKET;
	else
		have_st = true;

	unsigned long inodes[MAX_WANTED];
	size_t n = 0;
	const struct sockdiag_unix *first = NULL;
	/* A missing path or no socket: whatever listens under that name
	 * (bound to an unlinked file) cannot be reached through it. */
	if (l.path != HOST_PATH_MISSING && l.path != HOST_PATH_NOT_SOCKET)
		for (size_t i = 0; i < h->unix_.n && n < MAX_WANTED; i++) {
			const struct sockdiag_unix *s = &h->unix_.v[i];
			if (!unix_matches(s, path, have_st ? &st : NULL))
				continue;
			inodes[n++] = s->inode;
			if (!first || s->inode < first->inode)
				first = s;
		}
	if (have_st)
		l.path = first ? HOST_PATH_LIVE : HOST_PATH_STALE;
	if (first) {
		l.listening = true;
		l.inode = first->inode;
		l.uid = first->uid;
		l.uid_known = first->uid_known;
		l.queue = first->queue;
		l.backlog = first->backlog;
		l.queue_known = first->queue_known;
		if (!l.queue_known)
			l.hidden |= HOST_HIDDEN_QUEUE;
		fill_process(h, inodes, n, &l);
	}
	char key[PEERKEY_MAX];
	snprintf(key, sizeof(key), "unix:%s", path);
	history_note(h, key, &l);
	*ret = l;
	return 0;
}
