/* procfs: socket owners and process facts from /proc (see procfs.h). */
#include "host/procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

#define MAX_FDS_PER_PROC 16384
#define MAX_FDS_TOTAL	 1000000
#define MAX_OWNERS	 262144 /* socket inodes remembered from one walk */

int procfs_read(const char *path, char *buf, size_t size)
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

bool procfs_is_pid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

bool procfs_others_visible(void)
{
	struct stat st;
	return getpid() == 1 || stat("/proc/1", &st) == 0;
}

static int cmp_owner(const void *a, const void *b)
{
	const struct procfs_owner *x = a, *y = b;
	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

void procfs_owners_done(struct procfs_owners *o)
{
	free(o->v);
	*o = (struct procfs_owners){0};
}

/* The sockets among one process's fds. */
static void owners_of_process(struct procfs_owners *o, DIR *fdd, pid_t pid, unsigned long *total)
{
	struct dirent *fe;
	unsigned fds = 0;
	while ((fe = readdir(fdd)) && fds < MAX_FDS_PER_PROC && *total < MAX_FDS_TOTAL) {
		if (fe->d_name[0] == '.')
			continue;
		fds++;
		(*total)++;
		char link[64];
		ssize_t l = readlinkat(dirfd(fdd), fe->d_name, link, sizeof(link) - 1);
		if (l < 9)
			continue;
		link[l] = '\0';
		if (!startswith(link, "socket:[") || o->n >= MAX_OWNERS)
			continue;
		o->v = grow_array(o->v, &o->cap, o->n + 1, sizeof(*o->v));
		o->v[o->n++] = (struct procfs_owner){strtoul(link + 8, NULL, 10), pid};
	}
}

void procfs_owners_load(struct procfs_owners *o)
{
	o->n = 0;
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	unsigned procs = 0;
	unsigned long total = 0;
	struct dirent *de;
	while ((de = readdir(proc)) && procs < PROCFS_MAX_PROCS && total < MAX_FDS_TOTAL) {
		if (!procfs_is_pid(de->d_name))
			continue;
		procs++;
		char path[300];
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		/* Processes we may not inspect are skipped: their sockets stay
		 * ownerless ("not permitted to know"). */
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		DIR *fdd = fdopendir(dfd);
		if (!fdd) {
			close(dfd);
			continue;
		}
		owners_of_process(o, fdd, (pid_t)atoi(de->d_name), &total);
		closedir(fdd);
	}
	closedir(proc);
	if (o->n)
		qsort(o->v, o->n, sizeof(*o->v), cmp_owner);
}

pid_t procfs_owner_of(const struct procfs_owners *o, const unsigned long *inodes, size_t n)
{
	pid_t best = 0;
	for (size_t i = 0; i < n; i++) {
		struct procfs_owner key = {inodes[i], 0};
		size_t lo = 0, hi = o->n;
		while (lo < hi) { /* first entry >= (inode, 0) */
			size_t mid = (lo + hi) / 2;
			if (cmp_owner(&o->v[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < o->n && o->v[lo].inode == inodes[i] && (!best || o->v[lo].pid < best))
			best = o->v[lo].pid;
	}
	return best;
}

/* Start time as epoch ms. stat's field 22 counts clock ticks since boot;
 * anchoring it on CLOCK_BOOTTIME "now" instead of /proc/stat's btime keeps
 * sub-second precision (btime is whole seconds), with the same meaning. */
static int64_t process_started_ms(pid_t pid)
{
	char path[300], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (procfs_read(path, buf, sizeof(buf)) <= 0)
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

int procfs_unit_from_cgroup(const char *content, char *ret_unit, size_t size, bool *ret_user)
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

int procfs_process(pid_t pid, struct procfs_process *ret)
{
	struct procfs_process p = {0};
	char path[300], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	int r = procfs_read(path, buf, sizeof(p.comm));
	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = '\0';
	memcpy(p.comm, buf, strlen(buf) + 1);
	p.started_ms = process_started_ms(pid);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (procfs_read(path, buf, sizeof(buf)) > 0)
		(void)procfs_unit_from_cgroup(buf, p.unit, sizeof(p.unit), &p.unit_user);
	*ret = p;
	return 0;
}
