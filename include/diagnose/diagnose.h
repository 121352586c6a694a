/* diagnose: join log events, probe results and host facts into alerts.
 *
 * Keeps a bounded evidence window per peer (event counts by cause, the last
 * raw lines, the episode's first and last error). A log event is classified
 * into a cause and reported at once, and triggers a probe of its peer; a
 * failing probe refreshes the alerts it agrees with, or raises peer_failing
 * when nginx has not hit the peer yet; a passing probe whose listener started
 * after the errors turns them into backend_restarted. Block- and host-level
 * causes (no_live_upstreams, worker_connections_exhausted) are reported
 * with their peers' own states. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/errlog.h"
#include "host/host.h"
#include "probe/probe.h"

struct alert_store;
struct config;
struct ngx_model;
struct cJSON;

/* What diagnosis asks of the rest of the daemon (fakes in unit tests). */
struct diag_host {
	const struct probe_result *(*last_probe)(void *ud, const char *key);
	/* Fill ret and return true when something is known about the listener;
	 * fresh: read now rather than from a cache. */
	bool (*listener)(void *ud, const struct peerkey *k, bool fresh, struct host_listener *ret);
	int (*ports_nearby)(void *ud, const struct peerkey *k, unsigned *ports, size_t max);
	/* Probe key soon (the callee rate-limits and checks it may be probed). */
	void (*probe_now)(void *ud, const char *key);
	void *ud;
};

struct diag;

struct diag *diag_new(struct alert_store *alerts, const struct diag_host *host);
void diag_free(struct diag *d);

/* The model and settings to diagnose against; both must outlive their use
 * (the daemon calls this again after each reload). */
void diag_set_model(struct diag *d, const struct ngx_model *m, const struct config *cfg);

/* One parsed log line (line is the raw text, for evidence). */
void diag_log_event(struct diag *d, const struct errlog_event *ev, const char *line, size_t len,
		    int64_t now);
/* One completed probe. */
void diag_probe_result(struct diag *d, const char *key, const struct probe_result *r, int64_t now);
/* Periodic: resolve alerts past their hold time. */
void diag_tick(struct diag *d, int64_t now);

/* {"connect_failed": N, ...} for every event kind. */
void diag_events_json(const struct diag *d, struct cJSON *obj);
uint64_t diag_events_count(const struct diag *d, enum errlog_kind kind);

/* Lifetime event counts by kind of every peer that logged any. */
void diag_foreach_peer(const struct diag *d,
		       void (*fn)(void *ud, const char *key, const uint64_t kinds[EV__COUNT]),
		       void *ud);

/* Peer keys learned from log lines that the model does not name, in the
 * order first seen (the daemon may add them to the prober). */
size_t diag_learned_peers(const struct diag *d, const char ***ret_keys);
