/* config: upwatch.conf, in nginx's block syntax (parsed by conftree).
 *
 * config_load() builds a fresh struct config; a reload swaps it in only when
 * the load succeeded, so a broken file never replaces a working one. Command
 * line flags are applied on top by the daemon. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conftree.h"
#include "core/peerkey.h"

#define CONFIG_DEFAULT_PATH UPWATCH_SYSCONFDIR "/upwatch/upwatch.conf"

/* The built-in defaults (DESIGN.md), here and nowhere else: config_new()
 * puts them in a struct config; other modules read that struct, or these
 * names where they have no config at hand (upwatchctl's socket path). */
#define CONFIG_DEFAULT_NGINX_CONF	   "/etc/nginx/nginx.conf"
#define CONFIG_DEFAULT_SOCKET_PATH	   "/run/upwatch/upwatch.sock"
#define CONFIG_DEFAULT_STATE_DIR	   "/var/lib/upwatch"
#define CONFIG_DEFAULT_PROBE_INTERVAL_MS   5000
#define CONFIG_DEFAULT_PROBE_TIMEOUT_MS	   2000
#define CONFIG_DEFAULT_PROBE_RETRY_MS	   1000
#define CONFIG_DEFAULT_PROBE_RETRIES	   5
#define CONFIG_DEFAULT_PROBE_MAX_INFLIGHT  256
#define CONFIG_DEFAULT_HEALTH_URI	   "/"
#define CONFIG_DEFAULT_EXPECT_LO	   200
#define CONFIG_DEFAULT_EXPECT_HI	   399
#define CONFIG_DEFAULT_ALERT_HOLD_MS	   30000
#define CONFIG_DEFAULT_METRICS_INTERVAL_MS 15000

/* Where the log follower starts in a file it has not read before (start_at). */
enum tail_start {
	TAIL_START_SAVED, /* saved offset if any, else the end */
	TAIL_START_END,
	TAIL_START_BEGINNING,
};

/* Settings for one nginx upstream block or one peer; unset fields are 0/NULL/-1. */
struct config_override {
	char *name; /* upstream block name or peer key */
	char *health_uri;
	int expect_lo, expect_hi; /* 0 = unset */
	int probe;		  /* -1 unset, 0 off, 1 on */
	uint64_t interval_ms, timeout_ms;
	char *host; /* Host header for HTTP probes */
	char *ref;  /* "file:line" */
};

struct config_net {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

struct config {
	char *file; /* NULL: built-in defaults only */
	char *nginx_conf;
	char *nginx_dump;
	char *socket_path;
	char *state_dir;
	uint64_t probe_interval_ms, probe_timeout_ms, probe_retry_ms;
	unsigned probe_retries, probe_max_inflight;
	bool probe_enabled;
	char *health_uri;	  /* HTTP probe path where no override sets one */
	int expect_lo, expect_hi; /* HTTP statuses that count as up, likewise */
	struct config_net *probe_allow;
	size_t nprobe_allow;
	char **error_logs;
	size_t nerror_logs;
	enum tail_start start_at;
	uint64_t alert_hold_ms;
	char *metrics_file;
	uint64_t metrics_interval_ms;
	int log_level; /* syslog priority */
	struct config_override *upstreams, *peers;
	size_t nupstreams, npeers;
	struct cf_warnings warnings; /* the load went on past these (file:line + text) */
};

/* Built-in defaults (DESIGN.md). */
struct config *config_new(void);

/* Load path over the defaults. missing_ok: a missing file gives the defaults
 * (used for the default path only). Errors are "file:line: message";
 * (*ret)->warnings lists what a successful load went on past. */
int config_load(const char *path, bool missing_ok, struct config **ret, char *err, size_t errlen);
void config_free(struct config *c);

const struct config_override *config_upstream(const struct config *c, const char *name);
const struct config_override *config_peer(const struct config *c, const char *key);

/* May a peer learned only from log lines be probed (probe_allow)? */
bool config_probe_allowed(const struct config *c, const struct peerkey *k);
