/* procfs: processes as /proc shows them — which process holds a socket
 * inode (a walk over /proc/PID/fd), a process's name, start time and systemd
 * unit (/proc/PID/{comm,stat,cgroup}).
 *
 * What /proc hides is not an error: another user's /proc/PID/fd needs
 * CAP_SYS_PTRACE, and with hidepid=2 (ProtectProc=invisible) other users'
 * processes are not listed at all; such sockets stay ownerless and
 * procfs_others_visible() tells the caller which of the two it was. Every
 * walk is capped (8192 processes, 16384 fds each, 10^6 fds in all). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procfs_owner {
	unsigned long inode;
	pid_t pid;
};

/* Socket inodes with the processes holding them, from one /proc walk. */
struct procfs_owners {
	struct procfs_owner *v; /* sorted by inode, then pid */
	size_t n, cap;
};

struct procfs_process {
	char comm[64];
	int64_t started_ms; /* epoch ms; 0 = unknown */
	char unit[128];	    /* "" = in no unit */
	bool unit_user;	    /* below user@UID.service */
};

/* Replace o's contents with a fresh walk. */
void procfs_owners_load(struct procfs_owners *o);
void procfs_owners_done(struct procfs_owners *o);

/* The lowest pid holding any of the inodes (a master and its workers share
 * a listening socket: usually the master); 0 when none is visible. */
pid_t procfs_owner_of(const struct procfs_owners *o, const unsigned long *inodes, size_t n);

/* Name, start time and unit of pid; fields that cannot be read stay empty.
 * Returns 0, or -errno when /proc/PID cannot be read at all. */
int procfs_process(pid_t pid, struct procfs_process *ret);

/* Whether other users' processes are listed in /proc (false under hidepid=2
 * or ProtectProc=invisible: pid 1 is then not visible to us). */
bool procfs_others_visible(void);

/* The systemd unit a process runs in, from the text of /proc/PID/cgroup
 * (cgroup v2 "0::/system.slice/app.service" -> "app.service"; v1 via the
 * name=systemd hierarchy). The deepest .service or .scope wins; *ret_user
 * (may be NULL) tells whether it sits below user@UID.service. Returns 0, or
 * -ENOENT when the process is in no unit (root cgroup, a plain slice). */
int procfs_unit_from_cgroup(const char *content, char *ret_unit, size_t size, bool *ret_user);

/* Shared with ngxworker: a small /proc file into buf (NUL-terminated),
 * returning its length or -errno; whether a /proc entry names a pid. */
int procfs_read(const char *path, char *buf, size_t size);
bool procfs_is_pid(const char *name);

#define PROCFS_MAX_PROCS 8192
