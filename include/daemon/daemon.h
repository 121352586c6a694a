/* daemon: upwatchd's one event loop and the objects it owns.
 *
 * Owns the loaded configuration and nginx model, the log follower, the
 * prober, host facts, diagnosis and alerts, the journal and the JSON socket;
 * struct daemon stays private to daemon.c. A reload (SIGHUP, the `reload`
 * command, or a change to a configuration file) parses into fresh structs
 * and swaps them in only when everything parsed. What to probe, follow and
 * watch is planned by plan.h's pure functions; the socket's commands see the
 * daemon only through commands.h's narrow interface. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Command-line values that override upwatch.conf (NULL/0 = not given). */
struct daemon_flags {
	const char *config_path;
	bool config_explicit;
	const char *nginx_conf;
	const char *nginx_dump;
	const char *socket_path;
	const char *state_dir;
	const char **error_logs;
	size_t nerror_logs;
	bool foreground;
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int daemon_run(const struct daemon_flags *flags);

/* --check-config: parse both configurations, print what would be watched
 * and every problem (warnings). Returns 0 or 1. */
int daemon_check_config(const struct daemon_flags *flags);
