/* software: the software behind a peer, cached per listener (see software.h). */
#include "backend/software.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/strmap.h"
#include "core/util.h"
#include "host/procfs.h"

#define UNIT_FILE_MAX	   (256u * 1024)
#define SOFTWARE_SCAN_MS   2000 /* one /proc walk serves the lookups within this */
#define SOFTWARE_CANDS_MAX 1024 /* distinct command lines of known software */

struct entry {
	unsigned long inode; /* the listener this was read for */
	bool known;	     /* info holds an identification */
	struct backend_info info;
};

struct cand {
	char *text; /* a /proc/PID/cmdline, NUL-separated */
	size_t len;
	pid_t pid; /* the first process seen with it */
};

struct software_cache {
	char *root;
	struct strmap peers; /* key -> struct entry */
	struct cand *cands;  /* the last walk's command lines of known software */
	size_t ncands, cands_cap;
	int64_t scanned_ms; /* monotonic; 0 = never */
};

int software_cache_new(const char *root, struct software_cache **ret)
{
	struct software_cache *c = xcalloc(1, sizeof(*c));
	c->root = xstrdup(root ? root : "");
	strmap_init(&c->peers);
	*ret = c;
	return 0;
}

void software_cache_free(struct software_cache *c)
{
	if (!c)
		return;
	const char *k;
	void *v;
	for (size_t i = 0; strmap_next(&c->peers, &i, &k, &v);) {
		struct entry *e = v;
		backend_info_done(&e->info);
		free(e);
	}
	strmap_done(&c->peers);
	for (size_t i = 0; i < c->ncands; i++)
		free(c->cands[i].text);
	free(c->cands);
	free(c->root);
	free(c);
}

size_t software_split_cmdline(char *buf, size_t len, const char **argv, size_t max)
{
	size_t n = 0;
	while (len && buf[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len && n < max;) {
		argv[n++] = buf + i;
		while (i < len && buf[i])
			i++;
		i++;
	}
	if (len)
		buf[len] = '\0';
	return n;
}

size_t software_split_exec(char *buf, const char **argv, size_t max)
{
	size_t n = 0;
	char *p = buf;
	while (*p && strchr("-@:+!", *p))
		p++;
	while (*p && n < max) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		argv[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return n;
}

/* Identify exe + argv and read its configuration for peer; true (ret
 * filled) when the software is known to serve peer: its config binds it, or
 * (trusted) it is the process holding the listener. */
static bool try_process(const struct software_cache *c, const char *exe, const char *const *argv,
			size_t argc, const char *peer, bool holder, struct backend_info *ret)
{
	enum backend_kind kind = backend_identify(exe, argv, argc);
	if (kind == BACKEND_UNKNOWN)
		return false;
	struct backend_info info = {0};
	int r = backend_describe(kind, exe, argv, argc, peer, c->root, &info);
	if (r < 0)
		info = (struct backend_info){.kind = kind};
	if (info.bound || holder) {
		*ret = info;
		return true;
	}
	backend_info_done(&info);
	return false;
}

static int read_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	return procfs_read(path, buf, size);
}

/* The unit of pid from its cgroup (world-readable) into ret->unit. */
static void unit_of(pid_t pid, struct backend_info *ret)
{
	char path[64], text[4096];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	int n = procfs_read(path, text, sizeof(text));
	bool user = false;
	if (n > 0 && procfs_unit_from_cgroup(text, ret->unit, sizeof(ret->unit), &user) == 0)
		ret->unit_user = user;
	else
		ret->unit[0] = '\0';
}

/* The process holding the listener: its exe (readable for our own processes
 * or with privileges) and its command line (always readable). */
static bool from_pid(const struct software_cache *c, pid_t pid, const char *peer,
		     struct backend_info *ret)
{
	char *buf = xmalloc(SOFTWARE_CMDLINE_MAX);
	const char *argv[SOFTWARE_ARGV_MAX];
	char exe[PATH_MAX], path[64];
	bool found = false;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	int len = read_cmdline(pid, buf, SOFTWARE_CMDLINE_MAX);
	if (len > 0) {
		size_t argc = software_split_cmdline(buf, (size_t)len, argv, SOFTWARE_ARGV_MAX);
		found = try_process(c, exe[0] ? exe : NULL, argv, argc, peer, true, ret);
	}
	if (found)
		unit_of(pid, ret);
	free(buf);
	return found;
}

/* Every visible process's command line (world-readable) that names known
 * software, once per distinct line (a master's workers share it): the
 * candidates, kept for SOFTWARE_SCAN_MS so that many peers share one walk. */
static void scan(struct software_cache *c)
{
	int64_t now = now_mono_ms();
	if (c->scanned_ms && now - c->scanned_ms < SOFTWARE_SCAN_MS)
		return;
	for (size_t i = 0; i < c->ncands; i++)
		free(c->cands[i].text);
	c->ncands = 0;
	c->scanned_ms = now;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	char *buf = xmalloc(SOFTWARE_CMDLINE_MAX);
	const char *argv[SOFTWARE_ARGV_MAX];
	unsigned nprocs = 0;
	struct dirent *de;
	while ((de = readdir(d)) && nprocs < PROCFS_MAX_PROCS && c->ncands < SOFTWARE_CANDS_MAX) {
		if (!procfs_is_pid(de->d_name))
			continue;
		nprocs++;
		int len = read_cmdline((pid_t)atoi(de->d_name), buf, SOFTWARE_CMDLINE_MAX);
		if (len <= 0)
			continue;
		size_t argc = software_split_cmdline(buf, (size_t)len, argv, SOFTWARE_ARGV_MAX);
		if (backend_identify(NULL, argv, argc) == BACKEND_UNKNOWN)
			continue;
		bool dup = false;
		for (size_t i = 0; i < c->ncands && !dup; i++)
			dup = c->cands[i].len == (size_t)len &&
			      !memcmp(c->cands[i].text, buf, (size_t)len);
		if (dup)
			continue;
		c->cands = grow_array(c->cands, &c->cands_cap, c->ncands + 1, sizeof(*c->cands));
		char *text = xmalloc((size_t)len + 1);
		memcpy(text, buf, (size_t)len + 1);
		c->cands[c->ncands++] =
		    (struct cand){.text = text, .len = (size_t)len, .pid = (pid_t)atoi(de->d_name)};
	}
	free(buf);
	closedir(d);
}

/* The candidate whose own configuration binds peer. */
static bool from_scan(struct software_cache *c, const char *peer, struct backend_info *ret)
{
	scan(c);
	char *buf = xmalloc(SOFTWARE_CMDLINE_MAX);
	const char *argv[SOFTWARE_ARGV_MAX];
	bool found = false;
	for (size_t i = 0; i < c->ncands && !found; i++) {
		memcpy(buf, c->cands[i].text, c->cands[i].len + 1);
		size_t argc = software_split_cmdline(buf, c->cands[i].len, argv, SOFTWARE_ARGV_MAX);
		found = try_process(c, NULL, argv, argc, peer, false, ret);
		if (found)
			unit_of(c->cands[i].pid, ret);
	}
	free(buf);
	return found;
}

/* The unit's ExecStart= (first one, continuation lines joined) from its unit
 * file in the usual places. */
static bool from_unit(const struct software_cache *c, const char *unit, const char *peer,
		      struct backend_info *ret)
{
	static const char *const dirs[] = {"/etc/systemd/system/", "/run/systemd/system/",
					   "/lib/systemd/system/", "/usr/lib/systemd/system/"};
	if (!unit[0] || strchr(unit, '/'))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *path = xasprintf("%s%s%s", c->root, dirs[i], unit);
		char *text;
		size_t len;
		int r = read_file(path, UNIT_FILE_MAX, &text, &len);
		free(path);
		if (r < 0)
			continue;
		bool found = false;
		char *exec = strstr(text, "\nExecStart=");
		if (exec) {
			exec += strlen("\nExecStart=");
			char *o = exec;
			for (char *p = exec; *p && *p != '\n'; p++) {
				if (p[0] == '\\' && p[1] == '\n') {
					p++;
					continue;
				}
				*o++ = *p;
			}
			*o = '\0';
			const char *argv[SOFTWARE_ARGV_MAX];
			size_t argc = software_split_exec(exec, argv, SOFTWARE_ARGV_MAX);
			found = try_process(c, argc ? argv[0] : NULL, argv, argc, peer, false, ret);
			if (found)
				snprintf(ret->unit, sizeof(ret->unit), "%s", unit);
		}
		free(text);
		return found;
	}
	return false;
}

const struct backend_info *software_cached(const struct software_cache *c, const char *peer)
{
	const struct entry *e = strmap_get(&c->peers, peer);
	return e && e->known ? &e->info : NULL;
}

const struct backend_info *software_lookup(struct software_cache *c, const char *peer,
					   const struct host_listener *l)
{
	struct entry *e = strmap_get(&c->peers, peer);
	if (!l || !l->listening)
		return e && e->known ? &e->info : NULL;
	if (e && e->inode == l->inode)
		return e->known ? &e->info : NULL; /* known or not: read once per inode */
	if (!e) {
		if (c->peers.len >= SOFTWARE_MAX)
			return NULL;
		e = xcalloc(1, sizeof(*e));
		strmap_put(&c->peers, peer, e);
	}
	backend_info_done(&e->info);
	e->inode = l->inode;
	struct backend_info info = {0};
	/* the holder names the software; its config may not bind the peer (a
	 * worker's title): then the scan finds the master that does */
	bool found = l->pid && from_pid(c, l->pid, peer, &info);
	if (!found || !info.bound) {
		struct backend_info other = {0};
		if (from_scan(c, peer, &other) ||
		    (l->unit[0] && !l->unit_user && from_unit(c, l->unit, peer, &other))) {
			if (!found || other.kind == info.kind) {
				backend_info_done(&info);
				info = other;
				found = true;
			} else {
				backend_info_done(&other);
			}
		}
	}
	e->known = found;
	e->info = found ? info : (struct backend_info){0};
	return found ? &e->info : NULL;
}
