/* ngxworker: the identity a running nginx worker process has — effective
 * uid, gid and supplementary groups — read from /proc/PID/status, which is
 * world-readable unless /proc hides other users' processes (hidepid=2,
 * ProtectProc=invisible). That identity decides whether nginx may connect to
 * a unix socket; the nginx configuration's `user` is the fallback. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* A running nginx worker (comm "nginx", cmdline "nginx: worker process").
 * *ngroups is the capacity of groups on entry and the count written on
 * return (groups and ngroups may be NULL). Returns 0, -ENOENT when none
 * runs, or -EACCES when none is visible because /proc hides other users'
 * processes (hidepid=2, ProtectProc=invisible: see upwatch-procfs.conf). */
int ngxworker_find(uid_t *ret_uid, gid_t *ret_gid, gid_t *groups, size_t *ngroups);

/* The same, preferring a worker running as uid prefer ((uid_t)-1: any): a
 * host may run more than one nginx, and the configuration's `user` names
 * the one upwatch watches. */
int ngxworker_find_prefer(uid_t prefer, uid_t *ret_uid, gid_t *ret_gid, gid_t *groups,
			  size_t *ngroups);
