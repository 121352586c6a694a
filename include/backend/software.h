/* software: which software serves a peer, and the settings of its own
 * configuration that bind it (backend.h), cached per listening socket.
 *
 * Found unprivileged: when the listener's pid is visible (host.h), from that
 * process's exe and /proc/PID/cmdline; when it is not (another user's
 * /proc/PID/fd is closed to the service user), from the world-readable
 * /proc/PID/cmdline of every process that is a known software master — the one
 * whose own configuration binds the peer wins; and from the systemd unit's
 * ExecStart= line where the unit is known. Read once per listener inode (a
 * new inode, i.e. a restart, reads again), never per log line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "host/host.h"

#define SOFTWARE_MAX	     4096 /* peers cached */
#define SOFTWARE_ARGV_MAX    256  /* arguments of one command line */
#define SOFTWARE_CMDLINE_MAX 32768

struct software_cache;

/* root prefixes every path read ("" or NULL for "/"; tests use a tree). */
int software_cache_new(const char *root, struct software_cache **ret);
void software_cache_free(struct software_cache *c);

/* The software serving peer (a key, "127.0.0.1:9000" / "unix:/run/x.sock")
 * whose listener is l (NULL or not listening: nothing is read and NULL is
 * returned). The result belongs to the cache and stays valid until the next
 * call for the same peer; NULL when nothing is identified. */
const struct backend_info *software_lookup(struct software_cache *c, const char *peer,
					   const struct host_listener *l);

/* Cached only (no reading); NULL when none. */
const struct backend_info *software_cached(const struct software_cache *c, const char *peer);

/* Split a NUL-separated /proc/PID/cmdline of len bytes into argv (pointers
 * into buf, at most max); a process title rewritten into one string with
 * spaces ("php-fpm: master process (/etc/...)") stays one argument. Returns
 * the count. */
size_t software_split_cmdline(char *buf, size_t len, const char **argv, size_t max);

/* The words of an ExecStart= value split on blanks (systemd's prefixes "-@:+!"
 * dropped), into argv pointing into buf (modified). Returns the count. */
size_t software_split_exec(char *buf, const char **argv, size_t max);
