/* daemon: upwatchd's one event loop and the objects it owns.
 *
 * Owns the loaded configuration, the JSON socket, signals (SIGTERM/SIGINT
 * stop, SIGHUP reload), sd_notify and the watchdog. A reload parses into a
 * fresh configuration and swaps it in only when everything parsed. */
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

/* --check-config: parse both configurations, print what would be watched.
 * Returns 0 or 1. */
int daemon_check_config(const struct daemon_flags *flags);
