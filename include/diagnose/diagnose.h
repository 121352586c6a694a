/* diagnose: join log events, probe results and host facts into alerts.
 *
 * The core of the diagnose stage: evidence.c keeps the per-subject windows,
 * rules.c says which cause an observation points at, report.c gathers the
 * context and facts and advice.c words it, and alert.c keeps the alerts.
 * Here: which alert an observation raises, keeps or resolves.
 *
 * A log event is classified and, the first time its (cause, subject) fires,
 * reported with its words and a probe of the peer asked for; while it fires,
 * further events only count (the words are rendered again at most once per
 * tick). A failing probe keeps every alert the logs raised for the peer (a
 * weaker observation never resolves a cause that still holds), or raises
 * peer_failing when nginx has not hit the peer lately; a passing probe whose
 * listener started after the errors tells one backend_restarted story that
 * absorbs the reset/refused alerts before it. Probes that failed for
 * upwatch's own reasons (local_error) are never a verdict. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/errlog.h"
#include "host/host.h"
#include "host/sockdiag.h"
#include "probe/probe.h"

struct accessstats;
struct alert_store;
struct backend_info;
struct config;
struct ngx_model;
struct unitlog_signal;
/* Connections from this host to a peer, by TCP state (local_ports_exhausted
 * evidence); the caller fills it however it learns them. */
struct diag_conns {
	unsigned time_wait, established;
};

/* What diagnosis asks of the rest of the daemon (fakes in unit tests). Every
 * member may be NULL except where said. */
struct diag_host {
	/* Fill ret with the last probe result of key; false when never probed. */
	bool (*last_probe)(void *ud, const char *key, struct probe_result *ret);
	/* Fill ret and return true when something is known about the listener;
	 * fresh: read now rather than from a cache. */
	bool (*listener)(void *ud, const struct peerkey *k, bool fresh, struct host_listener *ret);
	/* Ports that listen on k's address: the first max written, returns how
	 * many listen (or -errno). */
	int (*ports_nearby)(void *ud, const struct peerkey *k, unsigned *ports, size_t max);
	/* The software serving key, whose listener is l (NULL when nothing
	 * listens: the last one known); owned by the callee, valid until the
	 * next call. NULL when not identified. */
	const struct backend_info *(*software)(void *ud, const char *key,
					       const struct host_listener *l);
	/* Connections to k; 0 or -errno when unknown. */
	int (*connections)(void *ud, const struct peerkey *k, struct diag_conns *ret);
	/* The failure signals in unit's journal since since_ms (backend/unitlog.h):
	 * 0 (ret filled), -ENOENT none, or -errno. NULL: none are read. Asked
	 * when an alert opens, at its ticks of the first 3 s, then at most once
	 * a minute per subject (the answer is kept on its evidence). */
	int (*unit_signal)(void *ud, const char *unit, int64_t since_ms,
			   struct unitlog_signal *ret);
	/* Where nginx's workers hold TCP connections on port (connected or
	 * connecting): dns_stale's evidence of the address nginx really uses.
	 * How many were written, or -errno when not visible. */
	int (*nginx_remotes)(void *ud, unsigned port, struct sockdiag_remote *ret, size_t max);
	/* Probe key soon. The callee decides whether it may (`probe off`,
	 * probe_allow, its in-flight limit): diagnosis only asks. */
	void (*probe_now)(void *ud, const char *key);
	/* A peer the model does not name was learned from the logs (added) or
	 * expired after a quiet period (!added): the prober's target set changed. */
	void (*learned)(void *ud, const char *key, bool added);
	void *ud;
};

struct diag;

struct diag *diag_new(struct alert_store *alerts, const struct diag_host *host);
void diag_free(struct diag *d);

/* The model and settings to diagnose against; both must outlive their use
 * (the daemon calls this again after each reload). */
void diag_set_model(struct diag *d, const struct ngx_model *m, const struct config *cfg);

/* What the access logs say (NULL: nothing); must outlive its use. Alerts
 * then carry their impact, and a peer nginx served lately is never called
 * failing by a probe alone. */
void diag_set_access(struct diag *d, const struct accessstats *s);
/* One parsed log line (line is the raw text, for evidence). */
void diag_log_event(struct diag *d, const struct errlog_event *ev, const char *line, size_t len,
		    int64_t now);
/* One completed probe. */
void diag_probe_result(struct diag *d, const char *key, const struct probe_result *r, int64_t now);
/* Periodic: resolve alerts past their hold time. */
void diag_tick(struct diag *d, int64_t now);

uint64_t diag_events_count(const struct diag *d, enum errlog_kind kind);

/* Lifetime event counts by kind of every peer that logged any. */
void diag_foreach_peer(const struct diag *d,
		       void (*fn)(void *ud, const char *key, const uint64_t kinds[EV__COUNT]),
		       void *ud);

/* Peer keys learned from log lines that the model does not name, in the
 * order first seen (the daemon may add them to the prober). */
size_t diag_learned_peers(const struct diag *d, const char ***ret_keys);
/* Subjects tracked that the model does not name, and the events dropped
 * because that count was at its cap. */
size_t diag_learned_count(const struct diag *d);
uint64_t diag_untracked_events(const struct diag *d);
