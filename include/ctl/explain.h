/* explain: `upwatchctl explain` — the daemon's pipeline (daemon/pipeline.h)
 * run once, in-process, with no daemon, socket or state directory: load the
 * nginx model, read its access logs, then its error logs, from `since` ago
 * to their end (entered by their timestamps, logseek.h; "-" = standard
 * input through paste.h; alerts tell their impact over that span), probe
 * every configured or logged peer once in parallel with nginx's timeouts,
 * then print the firing alerts as `alerts -v` does, most severe first, and
 * `check`'s verdict line. Returns check's exit codes (ctl_render.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct explain_opts {
	const char *config_path; /* NULL: upwatch.conf's default, if present */
	const char *nginx_conf;	 /* NULL: upwatch.conf's (default /etc/nginx/nginx.conf) */
	const char *nginx_dump;	 /* `nginx -T` output, "-" = standard input */
	uint64_t since_ms;	 /* read entries from this long ago on */
	const char **logs;	 /* --log; none: the logs the configuration names */
	size_t nlogs;
	bool no_probe;
	bool json;
};

int ctl_explain(const struct explain_opts *o);
