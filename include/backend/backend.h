/* backend: the software behind a listener, and what its own configuration
 * says about the peer nginx talks to.
 *
 * The host stage reads a listener's process (its exe, its argv); this stage
 * names the software (php-fpm, gunicorn, uwsgi, node) and reads that
 * software's configuration — php-fpm's master file and pool includes,
 * uwsgi's ini files and flags, gunicorn's flags and config file — to find the
 * settings that bind this peer, with the file:line of each, so a fix can point
 * at the line that needs changing. Everything here is synchronous file
 * reading, bounded in size, and done once per listener, not per log line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum backend_kind {
	BACKEND_UNKNOWN,
	BACKEND_PHPFPM,
	BACKEND_GUNICORN,
	BACKEND_UWSGI,
	BACKEND_NODE,
	BACKEND__COUNT,
};

/* What the backend speaks on the socket that binds the peer. */
enum backend_proto {
	BACKEND_PROTO_UNKNOWN,
	BACKEND_PROTO_HTTP,
	BACKEND_PROTO_FASTCGI,
	BACKEND_PROTO_UWSGI,
};

/* One setting as written, and where: file and line, or file NULL for the
 * command line (line 0). value NULL = not set (the software's default holds). */
struct backend_setting {
	char *value;
	char *file;
	unsigned line;
};

struct backend_info {
	enum backend_kind kind;
	char *config_file; /* the main configuration file read, NULL when none */
	char *section;	   /* php-fpm pool / uwsgi ini section that binds the peer */
	bool bound;	   /* a setting binding the peer was found */
	enum backend_proto proto;
	struct backend_setting bind;	/* listen / socket / http-socket / --bind */
	struct backend_setting workers; /* pm.max_children / processes / --workers */
	struct backend_setting timeout; /* request_terminate_timeout / harakiri / --timeout */
	struct backend_setting pm;	/* php-fpm: pm */
	struct backend_setting backlog; /* uwsgi: listen (its socket's accept queue) */
	struct backend_setting owner, group, mode; /* php-fpm: listen.owner/.group/.mode */
	struct backend_setting error_log;	   /* php-fpm: the pool's or global error_log */
	/* the systemd unit of the process read (from its world-readable
	 * /proc/PID/cgroup: known even when the listener's pid is not); "" none */
	char unit[128];
	bool unit_user; /* a user manager's unit, not the system's */
};

/* The software a process is, from its executable path (may be NULL), and its
 * argv (process titles such as "php-fpm: master process (/etc/...)" count). */
enum backend_kind backend_identify(const char *exe, const char *const *argv, size_t argc);

const char *backend_kind_name(enum backend_kind k);
const char *backend_proto_name(enum backend_proto p);

/* Reads the configuration of software `kind` started as exe + argv and finds the
 * settings for the peer nginx names as `peer` ("unix:/run/app.sock",
 * "127.0.0.1:9000", "[::1]:8000"). Files are read under `root` ("" or NULL for
 * "/"; tests point it at a fixture tree). Returns 0 (ret filled; ret->bound
 * tells whether the peer's binding was found), -ENOENT when the configuration
 * file does not exist, -EINVAL when kind has no reader, or -errno. */
int backend_describe(enum backend_kind kind, const char *exe, const char *const *argv, size_t argc,
		     const char *peer, const char *root, struct backend_info *ret);

void backend_info_done(struct backend_info *b);

/* Whether a bind value of the software ("/run/x.sock", "unix:/run/x.sock",
 * "9000", "127.0.0.1:9000", "0.0.0.0:8000", "[::]:8000", ":8000") serves the
 * nginx peer key. Wildcard addresses match every address of their family. */
bool backend_bind_matches(const char *bind, const char *peer);

/* The software's own word for a failure, from its log (the error_log its
 * configuration names; php-fpm: "server reached pm.max_children setting",
 * "execution timed out", "terminating"): the newest such line within the
 * last BACKEND_LOG_TAIL bytes of the file under root, cleaned of control
 * bytes, into line, and its time (epoch ms from the line's own stamp, 0 when
 * it has none). Returns 0, -ENOENT when no such line or no log is known, or
 * -errno (an unreadable log is no error of the caller's). */
#define BACKEND_LOG_TAIL (64 * 1024)
enum backend_signal {
	BACKEND_SIGNAL_POOL_FULL, /* the pool has no idle worker */
	BACKEND_SIGNAL_KILLED,	  /* it killed a request at its own time limit */
};
int backend_log_signal(const struct backend_info *b, const char *root, char *line, size_t len,
		       enum backend_signal *ret_signal, int64_t *ret_ms);
