/* advice_socket: the fixes for a unix socket that is missing, stale or
 * refuses nginx's worker user. */
#include "diagnose/advice_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const char *worker_user(const struct advice_in *in)
{
	return in->model && in->model->user ? in->model->user : "nobody";
}

static const char *sock_path(const struct advice_in *in)
{
	return in->addr && in->addr->kind == PEERKEY_UNIX ? in->addr->host
							  : (in->peer ? in->peer : "");
}

void advice_write_missing(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	bool not_sock = in->probe && in->probe->result == PROBE_NOT_SOCKET;
	strbuf_printf(&w->summary, "unix socket %s %s", sock_path(in),
		      not_sock ? "is not a socket" : "does not exist");
	advice_observed_log(w, "\"connect() failed (2: No such file or directory)\"");
	advice_observed_probe(w);
	strbuf_printf(&w->expl,
		      " Inferred: the backend that should create the socket is not running, or it "
		      "listens on another path.");
	advice_where(w);
	advice_set_ref(w, advice_peer_ref(in));
	strbuf_printf(&w->fix,
		      "Start the backend that creates %s (e.g. systemctl start php8.2-fpm), or "
		      "correct the path at %s.\n",
		      sock_path(in), advice_ref(advice_peer_ref(in), b, sizeof(b)));
	strbuf_printf(&w->fix,
		      "Sockets under /run vanish at reboot: let the service create its directory "
		      "(RuntimeDirectory= in its unit).\n");
}

void advice_write_permission(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct probe_result *r = in->probe;
	const char *user = worker_user(in);
	const char *group = in->model && in->model->group ? in->model->group : user;
	strbuf_printf(&w->summary, "nginx worker user %s may not connect to unix socket %s", user,
		      sock_path(in));
	advice_observed_log(w, "\"connect() failed (13: Permission denied)\"");
	if (r && r->unix_checked)
		strbuf_printf(&w->expl, " The socket is %s:%s %04o.", r->sock_owner, r->sock_group,
			      (unsigned)(r->sock_mode & 07777));
	if (r && r->denied_path[0])
		strbuf_printf(&w->expl, " Denied at %s: %s.", r->denied_path, r->denied_why);
	else
		advice_observed_probe(w);
	strbuf_printf(&w->expl,
		      " Inferred: nginx workers run as %s%s and the socket's owner, group or mode "
		      "(or a directory above it) shuts them out.",
		      user,
		      in->model && in->model->user_default ? " (nginx's default: no user directive)"
							   : "");
	advice_where(w);
	advice_set_ref(w, advice_peer_ref(in));
	bool dir_denied = r && r->denied_path[0] && !streq(r->denied_path, sock_path(in));
	if (dir_denied) {
		strbuf_printf(&w->fix,
			      "Let %s through the directory:\n    chmod o+x %s\n"
			      "or give it the directory's group and g+x.\n",
			      user, r->denied_path);
	} else if (advice_sw_is(in, BACKEND_PHPFPM) && in->software->bound) {
		const struct backend_info *sw = in->software;
		char o[400], g[400], m[400];
		strbuf_printf(&w->fix,
			      "In php-fpm pool %s (the socket's listen line is %s:%u):\n"
			      "    listen.owner = %s   ; %s\n    listen.group = %s   ; %s\n"
			      "    listen.mode = 0660   ; %s\n%s.\n",
			      sw->section ? sw->section : "?", sw->bind.file ? sw->bind.file : "?",
			      sw->bind.line, user, advice_sw_where(sw, &sw->owner, o, sizeof(o)),
			      group, advice_sw_where(sw, &sw->group, g, sizeof(g)),
			      advice_sw_where(sw, &sw->mode, m, sizeof(m)), advice_sw_reload(sw));
	} else if (strstr(sock_path(in), "php") || strstr(sock_path(in), "fpm")) {
		strbuf_printf(
		    &w->fix,
		    "In the php-fpm pool (e.g. /etc/php/8.2/fpm/pool.d/www.conf):\n"
		    "    listen.owner = %s\n    listen.group = %s\n    listen.mode = 0660\n"
		    "then: systemctl reload php8.2-fpm\n",
		    user, group);
	} else {
		strbuf_printf(&w->fix,
			      "Make the socket writable by %s, where the backend creates it:\n"
			      "    chown %s:%s %s && chmod 0660 %s\n"
			      "(gunicorn: --user/--group or --umask 007; systemd socket units: "
			      "SocketUser=/SocketGroup=/SocketMode=0660).\n",
			      user, r && r->sock_owner[0] ? r->sock_owner : "APP", group,
			      sock_path(in), sock_path(in));
	}
}

void advice_write_stale(struct writer *w)
{
	const struct advice_in *in = w->in;
	strbuf_printf(&w->summary, "unix socket %s exists but nobody accepts on it (stale)",
		      sock_path(in));
	advice_observed_log(w, "\"connect() failed (111: Connection refused)\"");
	advice_observed_probe(w);
	strbuf_printf(&w->expl,
		      " Inferred: the process that created the socket has exited and left the file "
		      "behind.");
	advice_where(w);
	advice_set_ref(w, advice_peer_ref(in));
	strbuf_printf(
	    &w->fix,
	    "Restart the backend so that it binds the socket again; if it refuses to start "
	    "because the file exists, remove it first:\n    rm %s\n",
	    sock_path(in));
}

/* A pool size that would have absorbed what was seen: at least the current
 * size plus what waited in the accept queue, at least double, bounded by the
 * memory available (an estimated 64 MiB a worker). */
