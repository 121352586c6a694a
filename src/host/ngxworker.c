/* ngxworker: a running nginx worker's credentials from /proc (see ngxworker.h). */
#include "host/ngxworker.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"
#include "host/procfs.h"

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
	if (procfs_read(path, buf, sizeof(buf)) <= 0 || !streq(buf, "nginx\n"))
		return false;
	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	int n = procfs_read(path, buf, sizeof(buf));
	return n > 0 && startswith(buf, "nginx: worker process");
}

static size_t parse_groups(const char *status, gid_t *groups, size_t max)
{
	const char *g = strstr(status, "\nGroups:");
	size_t n = 0;
	if (!g)
		return 0;
	g += 8;
	while (n < max) {
		char *end;
		while (*g == ' ' || *g == '\t')
			g++;
		unsigned long v = strtoul(g, &end, 10);
		if (end == g)
			break;
		groups[n++] = (gid_t)v;
		g = end;
	}
	return n;
}

int ngxworker_find(uid_t *ret_uid, gid_t *ret_gid, gid_t *groups, size_t *ngroups)
{
	return ngxworker_find_prefer((uid_t)-1, ret_uid, ret_gid, groups, ngroups);
}

int ngxworker_find_prefer(uid_t prefer, uid_t *ret_uid, gid_t *ret_gid, gid_t *groups,
			  size_t *ngroups)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return -errno;
	int r = -ENOENT;
	unsigned procs = 0;
	size_t cap = ngroups ? *ngroups : 0;
	struct dirent *de;
	while ((de = readdir(proc)) && procs < PROCFS_MAX_PROCS) {
		if (!procfs_is_pid(de->d_name))
			continue;
		procs++;
		if (!is_nginx_worker(de->d_name))
			continue;
		char path[300], status[4096];
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if (procfs_read(path, status, sizeof(status)) <= 0)
			continue;
		unsigned long uid, gid;
		if (!status_id(status, "\nUid:", &uid) || !status_id(status, "\nGid:", &gid))
			continue;
		/* the first worker, unless a later one is the preferred user's */
		if (r == 0 && (uid_t)uid != prefer)
			continue;
		size_t ng = groups && ngroups ? parse_groups(status, groups, cap) : 0;
		*ret_uid = (uid_t)uid;
		*ret_gid = (gid_t)gid;
		r = 0;
		if (ngroups)
			*ngroups = ng;
		if (prefer == (uid_t)-1 || (uid_t)uid == prefer)
			break;
	}
	closedir(proc);
	/* None seen, and /proc hides other users' processes: unknown, not absent. */
	if (r == -ENOENT && !procfs_others_visible())
		r = -EACCES;
	return r;
}
