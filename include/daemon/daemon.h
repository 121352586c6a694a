/* daemon: upwatchd's one event loop and the objects it owns.
 *
 * Owns the loaded configuration and nginx model, the log follower, the
 * prober, host facts, diagnosis and alerts, and the JSON socket. A reload
 * (SIGHUP, the `reload` command, or a change to a configuration file) parses
 * into fresh structs and swaps them in only when everything parsed. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alert_store;
struct cfgwatch;
struct config;
struct diag;
struct facts;
struct ipc;
struct ipc_client;
struct ngx_model;
struct prober;
struct probe_result;
struct tail;
struct cJSON;

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

/* Shared by daemon.c and commands.c only. */
struct daemon {
	struct ev_loop *loop;
	const struct daemon_flags *flags;
	struct config *cfg;
	struct ngx_model *model;
	struct ipc *ipc;
	struct tail *tail;
	struct prober *prober;
	struct facts *facts;
	struct alert_store *alerts;
	struct diag *diag;
	struct accessstats *access; /* the model's access logs; rebuilt with it */
	struct cfgwatch *watch;
	ev_signal sigterm, sigint, sighup;
	ev_timer watchdog, tick;
	int64_t started_ms, metrics_written_ms;
	bool targets_stale; /* diagnosis learned or expired a peer: rebuild at the tick */
	unsigned reloads, reload_failures;
	char last_error[512];
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int daemon_run(const struct daemon_flags *flags);

/* --check-config: parse both configurations, print what would be watched.
 * Returns 0 or 1. */
int daemon_check_config(const struct daemon_flags *flags);

/* Reload everything; on failure keep the running state and write why to err. */
int daemon_reload(struct daemon *d, char *err, size_t errlen);

/* Prometheus text of the current state (malloc'd). */
char *daemon_metrics(struct daemon *d);

/* Socket commands (commands.c). */
void commands_handle(void *userdata, struct ipc_client *c, const char *cmd,
		     const struct cJSON *req);
long daemon_rss_bytes(void);
