/* json: the JSON encodings of the pipeline's plain structs, in one place
 * (like sway's ipc-json.c). One file per stage: src/output/json_<stage>.c.
 * Every function returns a new object the caller owns. */
#pragma once

struct cJSON;

/* nginx */
struct ngx_model;
struct ngx_peer;
/* The static part of DESIGN.md's peer object: {"peer", "protocol",
 * "upstreams": [...], "locations": ["file:line" of each *_pass reaching it]},
 * plus "probed": false for a peer nginx never connects to, "backup": true
 * for a backup-only peer and "tls": true for a stream peer with proxy_ssl. */
struct cJSON *json_nginx_peer(const struct ngx_model *m, const struct ngx_peer *p);

/* host */
struct host_listener;
/* {"path", "inode", "uid", "accept_queue", "accept_backlog", "pid", "process",
 * "started", "unit", "active_state", "sub_state", "result", "restarts",
 * "prev_inode", "prev_seen", "since", "time_wait", "established",
 * "not_visible": [{"what", "dropin"}]}: only the fields that are known. */
struct cJSON *json_host_listener(const struct host_listener *l);

/* diagnose */
struct alert;
struct diag;
/* DESIGN.md's alert object (plus "superseded_by" for a chapter of a story). */
struct cJSON *json_alert(const struct alert *a);
/* {"connect_failed": N, ...} for every event kind, added to obj. */
void json_diag_events(const struct diag *d, struct cJSON *obj);
/* {"tracked": N, "untracked_events": N}: subjects learned from the logs, and
 * the events dropped because their count was at its cap. */
struct cJSON *json_diag_learned(const struct diag *d);
