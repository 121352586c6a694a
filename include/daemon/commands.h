/* commands: the JSON socket's commands (DESIGN.md "JSON socket").
 *
 * What commands may see and do, given by the daemon: a read-only view of
 * its objects (filled on each request, valid during it), a reload request,
 * the metrics text. Commands never see struct daemon. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct accessstats;
struct alert_store;
struct cJSON;
struct config;
struct diag;
struct facts;
struct ipc;
struct ipc_client;
struct journal;
struct ngx_model;
struct peerkey;
struct problems;
struct prober;
struct software_cache;
struct tail;

struct commands_view {
	const struct config *cfg;
	const struct ngx_model *model;
	const struct accessstats *access; /* the model's access logs; NULL: none */
	long now;			  /* epoch s, for the access windows */
	struct prober *prober;		  /* `probe` starts one */
	const struct diag *diag;
	const struct alert_store *alerts;
	const struct tail *tail;
	const struct ipc *ipc;
	struct facts *facts;
	struct software_cache *software; /* backend/software.h; may be NULL */
	const struct journal *journal;
	const struct problems *problems;
	int64_t started_ms;
	unsigned reloads, reload_failures;
	const char *last_error; /* "" when the last reload succeeded */
};

typedef void (*commands_reload_fn)(void *userdata, int r, const char *err);

struct commands_host {
	void (*view)(void *ud, struct commands_view *ret);
	/* Reload soon; done is called once with the outcome. */
	void (*reload)(void *ud, commands_reload_fn done, void *userdata);
	char *(*metrics)(void *ud); /* malloc'd Prometheus text */
	/* May facts about a peer learned from logs be looked up (probe_allow)? */
	bool (*learned_allowed)(void *ud, const struct peerkey *k);
	void *ud;
};

/* An ipc_request_fn: userdata is a const struct commands_host *. */
void commands_handle(void *userdata, struct ipc_client *c, const char *cmd,
		     const struct cJSON *req);

long commands_rss_bytes(void);
