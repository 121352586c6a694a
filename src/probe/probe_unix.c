/* probe_unix: why nginx cannot connect() to a unix socket, found before it
 * has to fail.
 *
 * Owns the unix-socket check the prober runs for "unix:" peers: the socket
 * file's existence and type, the permission walk done for the nginx worker
 * identity (uid, gid, supplementary groups; the kernel's owner -> group ->
 * other order, root passes everything; ACLs and capabilities are not
 * modelled), and a non-blocking connect() whose errno tells stale from
 * overloaded. Nothing here waits: lstat/stat on local paths and an AF_UNIX
 * connect that returns at once (EAGAIN instead of blocking on a full backlog).
 *
 * User and group names come from getpwuid_r/getgrgid_r, which may consult
 * NSS; they are cached (bounded) so a probe every few seconds costs one
 * lookup per id for the life of the process. */
#include "probe/probe_unix.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "probe/probe_tcp.h"
#include "core/util.h"

/* snprintf that truncates on purpose: detail lines are bounded by design. */
static void fmt_into(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_into(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* ---- id -> name cache ---- */

#define NAME_CACHE 16

struct name_entry {
	bool used;
	unsigned id;
	char name[32];
};

static struct name_entry user_cache[NAME_CACHE], group_cache[NAME_CACHE];
static unsigned user_next, group_next;

static const char *cached_name(bool group, unsigned id)
{
	struct name_entry *cache = group ? group_cache : user_cache;
	unsigned *next = group ? &group_next : &user_next;
	for (size_t i = 0; i < NAME_CACHE; i++)
		if (cache[i].used && cache[i].id == id)
			return cache[i].name;

	struct name_entry *e = &cache[*next];
	*next = (*next + 1) % NAME_CACHE;
	char buf[16384];
	const char *name = NULL;
	if (group) {
		struct group gr, *res = NULL;
		if (getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &res) == 0 && res)
			name = res->gr_name;
	} else {
		struct passwd pw, *res = NULL;
		if (getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &res) == 0 && res)
			name = res->pw_name;
	}
	/* Unknown ids are cached as their number so NSS is not asked again. */
	if (name && strlen(name) < sizeof(e->name))
		memcpy(e->name, name, strlen(name) + 1);
	else
		snprintf(e->name, sizeof(e->name), "%u", id);
	e->id = id;
	e->used = true;
	return e->name;
}

/* ---- permission model ---- */

static bool in_groups(const struct probe_identity *id, gid_t gid)
{
	if (id->gid == gid)
		return true;
	for (size_t i = 0; i < id->ngroups && i < ARRAY_SIZE(id->groups); i++)
		if (id->groups[i] == gid)
			return true;
	return false;
}

/* Whether id has the permission bit (S_IXOTH or S_IWOTH scale) on st. As in
 * the kernel, the owner class is decided first and only its bits count: an
 * owner without w is denied even when "other" has it. */
static bool permitted(const struct stat *st, const struct probe_identity *id, mode_t other_bit)
{
	if (id->uid == 0)
		return true;
	if (st->st_uid == id->uid)
		return st->st_mode & (other_bit << 6);
	if (in_groups(id, st->st_gid))
		return st->st_mode & (other_bit << 3);
	return st->st_mode & other_bit;
}

static const char *identity_name(const struct probe_identity *id, char buf[static 16])
{
	if (id->user[0])
		return id->user;
	snprintf(buf, 16, "%u", (unsigned)id->uid);
	return buf;
}

static void deny(struct probe_result *r, const char *path, const struct stat *st,
		 const struct probe_identity *id, const char *what)
{
	char ub[16];
	fmt_into(r->denied_path, sizeof(r->denied_path), "%s", path);
	fmt_into(r->denied_why, sizeof(r->denied_why), "no %s permission on %s (%s:%s %04o) for %s",
		 what, path, cached_name(false, st->st_uid), cached_name(true, st->st_gid),
		 (unsigned)(st->st_mode & 07777), identity_name(id, ub));
	fmt_into(r->detail, sizeof(r->detail), "%s", r->denied_why);
	r->result = PROBE_PERMISSION;
	r->err = EACCES;
}

/* Every directory from / down to the socket's needs search (x) for id.
 * stat() follows a symlinked component to the directory actually searched. */
static bool walk_permitted(const char *path, const struct probe_identity *id,
			   struct probe_result *r)
{
	char prefix[PATH_MAX];
	size_t len = strlen(path);
	const char *slash = strrchr(path, '/');
	size_t dirs_end = slash ? (size_t)(slash - path) : 0;
	if (len >= sizeof(prefix))
		return true;
	/* "/", then every prefix that ends before a '/': "/srv", "/srv/app". */
	for (size_t i = 0; i <= dirs_end; i++) {
		if (i != 0 && path[i] != '/')
			continue;
		size_t pl = i == 0 ? 1 : i;
		memcpy(prefix, path, pl);
		prefix[pl] = '\0';
		struct stat st;
		if (stat(prefix, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (!permitted(&st, id, S_IXOTH)) {
			deny(r, prefix, &st, id, "search (x)");
			return false;
		}
	}
	return true;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *file_kind(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a socket";
}

void probe_unix_check(const struct probe_target *t, const struct probe_identity *id,
		      struct probe_result *ret)
{
	struct probe_result r = {.unix_checked = true};
	const char *path = t->addr.host;
	struct stat st;

	if (t->addr.kind != PEERKEY_UNIX) {
		r.result = PROBE_ERROR;
		r.err = EINVAL;
		fmt_into(r.detail, sizeof(r.detail), "not a unix socket peer");
		goto done;
	}
	/* lstat first so a dangling symlink reads as "missing", then follow: nginx's
	 * connect() follows a symlink to a socket. */
	int rc = lstat(path, &st);
	if (rc == 0 && S_ISLNK(st.st_mode))
		rc = stat(path, &st);
	if (rc < 0) {
		r.err = errno;
		if (r.err == ENOENT || r.err == ENOTDIR) {
			r.result = PROBE_MISSING;
			fmt_into(r.detail, sizeof(r.detail), "%s does not exist", path);
		} else if (r.err == EACCES) {
			/* upwatch cannot even look: no verdict, sock_diag decides */
			r.result = PROBE_LOCAL_ERROR;
			r.self_denied = true;
			fmt_into(r.detail, sizeof(r.detail),
				 "upwatch itself may not look at %s (%d: %s): no verdict", path,
				 r.err, strerror(r.err));
		} else {
			r.result = PROBE_ERROR;
			fmt_into(r.detail, sizeof(r.detail), "cannot stat %s: %s", path,
				 strerror(r.err));
		}
		goto done;
	}
	r.sock_uid = st.st_uid;
	r.sock_gid = st.st_gid;
	r.sock_mode = st.st_mode & 07777;
	fmt_into(r.sock_owner, sizeof(r.sock_owner), "%s", cached_name(false, st.st_uid));
	fmt_into(r.sock_group, sizeof(r.sock_group), "%s", cached_name(true, st.st_gid));
	if (!S_ISSOCK(st.st_mode)) {
		r.result = PROBE_NOT_SOCKET;
		fmt_into(r.detail, sizeof(r.detail), "%s is %s, not a socket", path,
			 file_kind(st.st_mode));
		goto done;
	}

	/* The directories as written (/var/run/...) and as resolved (/run/...):
	 * the kernel needs search permission on both on its way. */
	char real[PATH_MAX];
	if (!walk_permitted(path, id, &r))
		goto done;
	if (realpath(path, real) && !streq(real, path) && !walk_permitted(real, id, &r))
		goto done;
	if (!permitted(&st, id, S_IWOTH)) {
		deny(&r, path, &st, id, "write (w)");
		goto done;
	}

	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		r.result = PROBE_ERROR;
		r.err = ENAMETOOLONG;
		fmt_into(r.detail, sizeof(r.detail), "socket path longer than %zu bytes",
			 sizeof(sun.sun_path) - 1);
		goto done;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		probe_tcp_classify(errno, true, 0, &r);
		goto done;
	}
	int64_t t0 = mono_us();
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	r.err = rc < 0 ? errno : 0;
	int64_t us = mono_us() - t0;
	r.latency_ms = (uint32_t)((us + 999) / 1000);
	close(fd);

	if (r.err == 0) {
		r.result = PROBE_OK;
		fmt_into(r.detail, sizeof(r.detail), "connected in %lld us", (long long)us);
	} else if (r.err == EACCES || r.err == EPERM) {
		/* the worker identity passed the checks above: it is upwatch itself
		 * that may not connect, which says nothing about nginx */
		r.result = PROBE_LOCAL_ERROR;
		r.self_denied = true;
		fmt_into(r.detail, sizeof(r.detail),
			 "upwatch itself may not connect (%d: %s); nginx's worker user may: no "
			 "verdict",
			 r.err, strerror(r.err));
	} else {
		probe_tcp_classify(r.err, true, 0, &r);
	}
done:
	r.time_ms = now_wall_ms();
	*ret = r;
}

/* ---- identities ---- */

int probe_identity_from_user(const char *user, struct probe_identity *ret)
{
	char buf[16384];
	struct passwd pw, *res = NULL;
	int e = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (e)
		return -e;
	if (!res)
		return -ENOENT;

	struct probe_identity id = {.uid = pw.pw_uid, .gid = pw.pw_gid, .groups_pending = true};
	snprintf(id.user, sizeof(id.user), "%s", user);
	*ret = id;
	return 0;
}

void probe_identity_groups(struct probe_identity *id)
{
	if (!id->groups_pending)
		return;
	int n = 64;
	gid_t *groups = xcalloc((size_t)n, sizeof(*groups));
	if (getgrouplist(id->user, id->gid, groups, &n) < 0 && n > 64 && n < 65536) {
		groups = xreallocarray(groups, (size_t)n, sizeof(*groups));
		if (getgrouplist(id->user, id->gid, groups, &n) < 0)
			n = 0;
	}
	id->ngroups = MIN((size_t)MAX(n, 0), ARRAY_SIZE(id->groups));
	memcpy(id->groups, groups, id->ngroups * sizeof(*groups));
	free(groups);
	id->groups_pending = false;
}

void probe_identity_from_ids(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
			     struct probe_identity *ret)
{
	struct probe_identity id = {.uid = uid, .gid = gid, .from_proc = true};
	id.ngroups = MIN(ngroups, ARRAY_SIZE(id.groups));
	memcpy(id.groups, groups, id.ngroups * sizeof(*groups));
	snprintf(id.user, sizeof(id.user), "%s", cached_name(false, id.uid));
	*ret = id;
}
