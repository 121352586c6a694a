/* host: who listens on a TCP port or a unix socket, read from the kernel.
 *
 * Owns: reading the listening-socket tables (netlink sock_diag first, as
 * `ss -tlnp` does; /proc/net/tcp{,6} when netlink is refused), /proc/net/unix,
 * the socket inode -> pid walk through /proc/PID/fd, process facts from
 * /proc/PID/{comm,stat,cgroup,status}. Everything is synchronous but bounded:
 * these are reads of in-kernel tables, never of the network, and every walk
 * has a cap so a host with a million sockets costs a bounded amount of time.
 *
 * The unit's ActiveState/SubState/... come from the bus, which is asynchronous
 * and lives in unitbus.c; this module only names the unit. */
#include "host/host.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/util.h"

/* Bounds on what an outsider (many sockets, many processes) can make us do. */
#define MAX_LISTENERS	 65536
#define MAX_TABLE_LINES	 262144
#define MAX_PROCS	 8192
#define MAX_FDS_PER_PROC 16384
#define MAX_FDS_TOTAL	 1000000
#define MAX_WANTED	 16
#define MAX_OWNERS	 262144 /* socket inodes remembered from one /proc walk */

#define TCP_STATE_LISTEN 10
#define UNIX_ACCEPTCON	 0x10000 /* __SO_ACCEPTCON in /proc/net/unix Flags */

struct lsock {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
	unsigned port;
	unsigned long inode;
	bool v6only;
};

struct ltable {
	struct lsock *v;
	size_t n, cap;
};

static void ltable_add(struct ltable *t, const struct lsock *s)
{
	if (t->n >= MAX_LISTENERS)
		return;
	t->v = grow_array(t->v, &t->cap, t->n + 1, sizeof(*t->v));
	t->v[t->n++] = *s;
}

/* ---- netlink sock_diag ---- */

static int diag_dump(int fd, int family, struct ltable *t)
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
		  .idiag_states = 1u << TCP_STATE_LISTEN},
	};
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};

	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		return -errno;

	/* The kernel fills the next batch of a dump while we read the previous
	 * one, so MSG_DONTWAIT never starves a dump that is in progress; an
	 * empty queue means something is wrong and we fall back to /proc. */
	static char buf[65536] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (unsigned rounds = 0; rounds < 4096; rounds++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error ? e->error : -EIO;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			struct inet_diag_msg *m = NLMSG_DATA(h);
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			struct lsock s = {.family = m->idiag_family,
					  .port = ntohs(m->id.idiag_sport),
					  .inode = m->idiag_inode};
			memcpy(s.addr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
			int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
			     a = RTA_NEXT(a, alen))
				if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
					s.v6only = *(uint8_t *)RTA_DATA(a) != 0;
			ltable_add(t, &s);
		}
	}
	return -E2BIG;
}

static int table_from_netlink(struct ltable *t)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	int r = diag_dump(fd, AF_INET, t);
	if (r >= 0)
		r = diag_dump(fd, AF_INET6, t);
	close(fd);
	return r;
}

/* ---- /proc/net/tcp{,6} fallback ---- */

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

static int table_from_proc_file(const char *path, int family, struct ltable *t)
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
		unsigned st;
		unsigned long inode;
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*u: %39s %39s %x %*s %*s %*s %*u %*u %lu", local, remote, &st,
			   &inode) != 4 ||
		    st != TCP_STATE_LISTEN)
			continue;
		char *colon = strchr(local, ':');
		if (!colon || (size_t)(colon - local) != words * 8)
			continue;
		struct lsock s = {.family = family, .inode = inode};
		if (!parse_hex_addr(local, words, s.addr))
			continue;
		s.port = (unsigned)strtoul(colon + 1, NULL, 16);
		/* /proc does not say IPV6_V6ONLY; the Linux default (bindv6only=0)
		 * is assumed, so a [::] listener also answers IPv4. */
		ltable_add(t, &s);
	}
	free(line);
	fclose(f);
	return 0;
}

static int table_from_proc(struct ltable *t)
{
	int r4 = table_from_proc_file("/proc/net/tcp", AF_INET, t);
	int r6 = table_from_proc_file("/proc/net/tcp6", AF_INET6, t);
	/* A kernel without IPv6 has no tcp6: that alone is not a failure. */
	return r4 < 0 ? r4 : (r6 < 0 && r6 != -ENOENT ? r6 : 0);
}

static bool netlink_disabled;

void host_disable_netlink(bool disable)
{
	netlink_disabled = disable;
}

/* The daemon looks up many peers at once when many fail: with a snapshot TTL
 * the listener table and the socket owners are read once per TTL and shared
 * by every lookup, so the cost no longer grows with the number of peers.
 * TTL 0 (the default) reads afresh for every call. */
static unsigned snapshot_ttl_ms;
static struct ltable snap_table;
static int64_t snap_table_at = -1;

struct inode_pid {
	unsigned long inode;
	pid_t pid;
};
static struct inode_pid *snap_owners;
static size_t snap_nowners, snap_owners_cap;
static int64_t snap_owners_at = -1;

void host_set_snapshot_ttl(unsigned ms)
{
	snapshot_ttl_ms = ms;
	snap_table_at = snap_owners_at = -1;
}

void host_invalidate_snapshot(void)
{
	snap_table_at = snap_owners_at = -1;
}

static bool fresh(int64_t at)
{
	return at >= 0 && snapshot_ttl_ms && now_mono_ms() - at < snapshot_ttl_ms;
}

static int table_get(const struct ltable **ret)
{
	struct ltable *t = &snap_table;
	if (!fresh(snap_table_at)) {
		t->n = 0;
		int r = -1;
		if (!netlink_disabled)
			r = table_from_netlink(t);
		if (r < 0) {
			t->n = 0;
			r = table_from_proc(t);
		}
		if (r < 0) {
			snap_table_at = -1;
			return r;
		}
		snap_table_at = now_mono_ms();
	}
	*ret = t;
	return 0;
}

/* ---- matching a peer address against the table ---- */

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
static enum match match_addr(const struct lsock *s, int family, const uint8_t *addr)
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

/* ---- socket inode -> pid ---- */

static bool is_pid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int cmp_owner(const void *a, const void *b)
{
	const struct inode_pid *x = a, *y = b;
	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Every socket inode with the processes holding it, from one walk over
 * /proc/PID/fd, sorted by inode then pid. Processes we may not inspect are
 * skipped silently: their sockets stay ownerless ("not permitted to know"). */
static void owners_load(void)
{
	snap_nowners = 0;
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	unsigned procs = 0;
	unsigned long fds_total = 0;
	struct dirent *de;
	while ((de = readdir(proc)) && procs < MAX_PROCS && fds_total < MAX_FDS_TOTAL) {
		if (!is_pid_name(de->d_name))
			continue;
		procs++;
		char path[300];
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		DIR *fdd = fdopendir(dfd);
		if (!fdd) {
			close(dfd);
			continue;
		}
		pid_t pid = (pid_t)atoi(de->d_name);
		struct dirent *fe;
		unsigned fds = 0;
		while ((fe = readdir(fdd)) && fds < MAX_FDS_PER_PROC && fds_total < MAX_FDS_TOTAL) {
			if (fe->d_name[0] == '.')
				continue;
			fds++;
			fds_total++;
			char link[64];
			ssize_t l = readlinkat(dirfd(fdd), fe->d_name, link, sizeof(link) - 1);
			if (l < 9)
				continue;
			link[l] = '\0';
			if (!startswith(link, "socket:[") || snap_nowners >= MAX_OWNERS)
				continue;
			snap_owners = grow_array(snap_owners, &snap_owners_cap, snap_nowners + 1,
						 sizeof(*snap_owners));
			snap_owners[snap_nowners++] =
			    (struct inode_pid){strtoul(link + 8, NULL, 10), pid};
		}
		closedir(fdd);
	}
	closedir(proc);
	qsort(snap_owners, snap_nowners, sizeof(*snap_owners), cmp_owner);
}

/* The lowest pid holding any of the inodes (of a master and its workers
 * sharing a listening socket, usually the master), 0 when unknown. */
static pid_t pid_of_inodes(const unsigned long *inodes, size_t n)
{
	if (!fresh(snap_owners_at)) {
		owners_load();
		snap_owners_at = now_mono_ms();
	}
	pid_t best = 0;
	for (size_t i = 0; i < n; i++) {
		struct inode_pid key = {inodes[i], 0};
		size_t lo = 0, hi = snap_nowners;
		while (lo < hi) { /* first entry >= (inode, 0) */
			size_t mid = (lo + hi) / 2;
			if (cmp_owner(&snap_owners[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < snap_nowners && snap_owners[lo].inode == inodes[i] &&
		    (!best || snap_owners[lo].pid < best))
			best = snap_owners[lo].pid;
	}
	return best;
}

/* ---- process facts ---- */

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return (int)n;
}

/* Start time as epoch ms. stat's field 22 counts clock ticks since boot;
 * anchoring it on CLOCK_BOOTTIME "now" instead of /proc/stat's btime keeps
 * sub-second precision (btime is whole seconds), with the same meaning. */
static int64_t process_started_ms(pid_t pid)
{
	char path[300], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	unsigned long long start = 0;
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return 0;
		if (field == 22)
			start = strtoull(p, NULL, 10);
		while (*p && *p != ' ')
			p++;
	}
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec bt;
	if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &bt) < 0)
		return 0;
	int64_t boot_now_ms = (int64_t)bt.tv_sec * 1000 + bt.tv_nsec / 1000000;
	int64_t start_ms = (int64_t)(start * 1000 / (unsigned long long)hz);
	return now_wall_ms() - (boot_now_ms - start_ms);
}

int host_unit_from_cgroup(const char *content, char *ret_unit, size_t size, bool *ret_user)
{
	const char *path = NULL;
	size_t len = 0;
	/* cgroup v2's "0::" line; on v1 hosts systemd's named hierarchy. */
	for (const char *line = content; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		if (ll >= 3 && startswith(line, "0::")) {
			path = line + 3, len = ll - 3;
			break;
		}
		const char *colon = memchr(line, ':', ll);
		if (!path && colon && (size_t)(line + ll - colon) >= 14 &&
		    startswith(colon, ":name=systemd:")) {
			path = colon + 14;
			len = ll - (size_t)(path - line);
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!path)
		return -ENOENT;

	/* The deepest .service/.scope is the unit the process runs in; one below
	 * user@UID.service belongs to that user's manager, not the system's. */
	char best[256] = "";
	bool user = false, under_user_manager = false;
	for (size_t i = 0; i < len;) {
		while (i < len && path[i] == '/')
			i++;
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t cl = j - i;
		const char *c = path + i;
		if (cl && c[0] == '_') /* systemd escapes clashing names with '_' */
			c++, cl--;
		bool svc = cl > 8 && memcmp(c + cl - 8, ".service", 8) == 0;
		bool scope = cl > 6 && memcmp(c + cl - 6, ".scope", 6) == 0;
		if ((svc || scope) && cl < sizeof(best)) {
			memcpy(best, c, cl);
			best[cl] = '\0';
			user = under_user_manager;
			if (svc && startswith(best, "user@"))
				under_user_manager = true;
		}
		i = j;
	}
	if (!best[0] || size <= strlen(best))
		return best[0] ? -ENAMETOOLONG : -ENOENT;
	strcpy(ret_unit, best);
	if (ret_user)
		*ret_user = user;
	return 0;
}

static void process_facts(pid_t pid, struct host_listener *l)
{
	char path[300], buf[4096];
	l->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_small(path, buf, sizeof(l->process)) > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		buf[sizeof(l->process) - 1] = '\0';
		memcpy(l->process, buf, strlen(buf) + 1);
	}
	l->started_ms = process_started_ms(pid);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_small(path, buf, sizeof(buf)) > 0)
		(void)host_unit_from_cgroup(buf, l->unit, sizeof(l->unit), &l->unit_user);
}

/* ---- TCP ---- */

int host_tcp_listener(const struct peerkey *addr, struct host_listener *ret)
{
	int family;
	uint8_t a[16];
	int r = peer_addr(addr, &family, a);
	if (r < 0)
		return r;

	const struct ltable *t;
	r = table_get(&t);
	if (r < 0)
		return r;
	/* Exact binds come first: they win over a wildcard on the same port. */
	unsigned long inodes[MAX_WANTED];
	size_t n = 0;
	for (int want = MATCH_EXACT; want >= MATCH_WILDCARD; want--)
		for (size_t i = 0; i < t->n && n < MAX_WANTED; i++)
			if (t->v[i].port == addr->port &&
			    (int)match_addr(&t->v[i], family, a) == want)
				inodes[n++] = t->v[i].inode;

	struct host_listener l = {0};
	if (n > 0) {
		l.listening = true;
		pid_t pid = pid_of_inodes(inodes, n);
		if (pid > 0)
			process_facts(pid, &l);
	}
	*ret = l;
	return 0;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

int host_tcp_ports_nearby(const struct peerkey *addr, unsigned *ports, size_t max)
{
	int family;
	uint8_t a[16];
	int r = peer_addr(addr, &family, a);
	if (r < 0)
		return r;
	const struct ltable *t;
	r = table_get(&t);
	if (r < 0)
		return r;
	unsigned *all = xcalloc(t->n + 1, sizeof(*all));
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].port != addr->port && match_addr(&t->v[i], family, a) != MATCH_NONE)
			all[n++] = t->v[i].port;
	qsort(all, n, sizeof(*all), cmp_unsigned);
	size_t out = 0;
	for (size_t i = 0; i < n && out < max; i++)
		if (i == 0 || all[i] != all[i - 1])
			ports[out++] = all[i];
	free(all);
	return (int)out;
}

/* ---- unix sockets ---- */

int host_unix_listener(const char *path, struct host_listener *ret)
{
	FILE *f = fopen("/proc/net/unix", "re");
	if (!f)
		return -errno;
	unsigned long inodes[MAX_WANTED];
	size_t n = 0;
	char *line = NULL;
	size_t cap = 0;
	unsigned lines = 0;
	while (getline(&line, &cap, f) > 0 && ++lines < MAX_TABLE_LINES && n < MAX_WANTED) {
		/* Num RefCount Protocol Flags Type St Inode Path */
		unsigned flags;
		unsigned long inode;
		int off = 0;
		if (sscanf(line, "%*s %*x %*x %x %*x %*x %lu %n", &flags, &inode, &off) != 2 ||
		    !off || !(flags & UNIX_ACCEPTCON))
			continue;
		char *p = line + off;
		p[strcspn(p, "\n")] = '\0';
		if (streq(p, path))
			inodes[n++] = inode;
	}
	free(line);
	fclose(f);

	struct host_listener l = {0};
	if (n > 0) {
		l.listening = true;
		pid_t pid = pid_of_inodes(inodes, n);
		if (pid > 0)
			process_facts(pid, &l);
	}
	*ret = l;
	return 0;
}

/* ---- nginx workers ---- */

/* "Uid:\t33\t33\t33\t33": the effective id (second) is what file access uses. */
static bool status_id(const char *status, const char *field, unsigned long *ret)
{
	const char *p = strstr(status, field);
	if (!p)
		return false;
	unsigned long real, eff;
	if (sscanf(p + strlen(field), " %lu %lu", &real, &eff) != 2)
		return false;
	*ret = eff;
	return true;
}

static bool is_nginx_worker(const char *pid)
{
	char path[300], buf[64];
	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0 || !streq(buf, "nginx\n"))
		return false;
	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	int n = read_small(path, buf, sizeof(buf));
	return n > 0 && startswith(buf, "nginx: worker process");
}

int host_nginx_worker(uid_t *ret_uid, gid_t *ret_gid, gid_t *groups, size_t *ngroups)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return -errno;
	int r = -ENOENT;
	unsigned procs = 0;
	struct dirent *de;
	while ((de = readdir(proc)) && procs < MAX_PROCS) {
		if (!is_pid_name(de->d_name))
			continue;
		procs++;
		if (!is_nginx_worker(de->d_name))
			continue;
		char path[300], status[4096];
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if (read_small(path, status, sizeof(status)) <= 0)
			continue;
		unsigned long uid, gid;
		if (!status_id(status, "\nUid:", &uid) || !status_id(status, "\nGid:", &gid))
			continue;
		size_t ng = 0;
		const char *g = strstr(status, "\nGroups:");
		if (g && groups && ngroups) {
			g += 8;
			for (;;) {
				char *end;
				while (*g == ' ' || *g == '\t')
					g++;
				unsigned long v = strtoul(g, &end, 10);
				if (end == g || ng >= *ngroups)
					break;
				groups[ng++] = (gid_t)v;
				g = end;
			}
		}
		*ret_uid = (uid_t)uid;
		*ret_gid = (gid_t)gid;
		if (ngroups)
			*ngroups = ng;
		r = 0;
		break;
	}
	closedir(proc);
	return r;
}

/* ---- JSON ---- */

struct cJSON *host_listener_json(const struct host_listener *l)
{
	cJSON *o = cJSON_CreateObject();
	if (l->pid > 0)
		cJSON_AddNumberToObject(o, "pid", l->pid);
	if (l->process[0])
		cJSON_AddStringToObject(o, "process", l->process);
	if (l->started_ms > 0) {
		char buf[32];
		format_time_ms(l->started_ms, buf);
		cJSON_AddStringToObject(o, "started", buf);
	}
	if (l->unit[0])
		cJSON_AddStringToObject(o, "unit", l->unit);
	if (l->unit_known) {
		if (l->active_state[0])
			cJSON_AddStringToObject(o, "active_state", l->active_state);
		if (l->sub_state[0])
			cJSON_AddStringToObject(o, "sub_state", l->sub_state);
		if (l->result[0])
			cJSON_AddStringToObject(o, "result", l->result);
		cJSON_AddNumberToObject(o, "restarts", l->nrestarts);
	}
	return o;
}
