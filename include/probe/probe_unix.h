/* probe_unix: the unix-socket probe, judged for nginx's worker identity.
 *
 * lstat the path, check every directory on the way for search (x) and the
 * socket for write (w) permission as the worker user would be checked (not as
 * upwatch), then a non-blocking connect(). Used by the prober; synchronous
 * but never waits (local file system calls and a non-blocking connect). */
#pragma once

#include "probe/probe_result.h"
#include "probe/probe_target.h"

/* Fill ret (unix_checked, sock_*, denied_*, result, err, latency_ms,
 * time_ms, detail) for the unix peer t->addr.host as seen by id. */
void probe_unix_check(const struct probe_target *t, const struct probe_identity *id,
		      struct probe_result *ret);

/* Identity of a user name (getpwnam_r), but the supplementary groups:
 * groups_pending is set, and probe_identity_groups() (getgrouplist) completes
 * the identity when it is first needed. Returns 0, -ENOENT for an unknown
 * user, or -errno. getpwnam_r of a local user is answered from /etc/passwd; getgrouplist
 * asks every NSS module of the group database (systemd's: 240 KB of RSS),
 * which a daemon with no unix-socket peer never needs. */
int probe_identity_from_user(const char *user, struct probe_identity *ret);
/* Look up id's supplementary groups if pending (none when that fails). */
void probe_identity_groups(struct probe_identity *id);

/* Identity of running nginx workers as read from /proc (ngxworker_find),
 * from_proc set; the user name is looked up for messages. */
void probe_identity_from_ids(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
			     struct probe_identity *ret);
