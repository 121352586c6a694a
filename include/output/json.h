/* json: the JSON encodings of the pipeline's plain structs, in one place
 * (like sway's ipc-json.c). One file per stage: src/output/json_<stage>.c.
 * Every function returns a new object the caller owns, except where noted. */
#pragma once

#include <stdbool.h>

struct cJSON;

/* nginx */
struct ngx_model;
struct ngx_peer;
/* The static part of DESIGN.md's peer object: {"peer", "protocol",
 * "upstreams": [...], "locations": ["file:line" of each *_pass reaching it]},
 * plus "probed": false for a peer nginx never connects to, "backup": true
 * for a backup-only peer and "tls": true for a stream peer with proxy_ssl. */
struct cJSON *json_nginx_peer(const struct ngx_model *m, const struct ngx_peer *p);

/* log */
struct tail;
/* Append one object per followed log to array (the caller owns array):
 * {"path", "lines", "bytes", "rotations", "truncations", "lines_cut",
 * "lines_unparsed", "lines_lost", "nul_bytes",
 * "error": null | {"errno": N, "message": "..."}}. */
void json_log_stats(const struct tail *t, struct cJSON *array);

/* log: access */
struct accessstats;
/* {"logs": [{"path", "upstream_vars", "lines", "unparsed", "unmatched",
 * "advice" (when the format lacks the upstream variables)}],
 * "locations": [{"location", "server_name", "config_ref", counts, "1m":
 * counts, "5m": counts}], "peers": [{"peer", counts, "1m", "5m", "p50_ms",
 * "p99_ms"}]} with counts = "requests", "502", "503", "504", "5xx",
 * "retries" (since start, or over the window). s may be NULL. */
struct cJSON *json_access_stats(const struct accessstats *s, const struct ngx_model *m, long now);
/* A peer's last minute: {"requests_1m", "5xx_1m", "served_1m"} (served: a
 * 2xx/3xx/4xx answer through it), or JSON null when no access log names it. */
struct cJSON *json_access_peer(const struct accessstats *s, const char *key, long now);

/* host */
struct host_listener;
/* {"path", "inode", "uid", "accept_queue", "accept_backlog", "pid", "process",
 * "started", "unit", "active_state", "sub_state", "result", "restarts",
 * "prev_inode", "prev_seen", "since", "time_wait", "established",
 * "not_visible": [{"what", "dropin"}]}: only the fields that are known. */
struct cJSON *json_host_listener(const struct host_listener *l);
/* backend */
struct backend_info;
/* DESIGN.md's peer "software": {"name", "config_ref" ("file:line" of the
 * setting that binds the peer, "command line", or null when none was found)},
 * plus "config_file", "section", "protocol" and the settings read ("bind",
 * "workers", "timeout", "pm", "listen_owner", "listen_group", "listen_mode",
 * "error_log": {"value", "config_ref"}) where known. */
struct cJSON *json_backend_software(const struct backend_info *b);
/* probe */
struct probe_result;
struct prober;
/* {"time", "result", "latency_ms", "detail"} plus, when set: "errno";
 * HTTP: "http_status" (null when no valid status line), "connect_ms", "ttfb_ms",
 * "total_ms", "header_bytes", "header_too_big" (only when true); TLS: "cert_not_after" (RFC 3339),
 * "cert_subject", "cert_issuer", "tls_error"; DNS: "dns_answers" (array); "self_denied": true when
 * upwatch itself was refused where nginx's worker is allowed; unix: "sock_owner", "sock_group",
 * "sock_uid", "sock_gid", "sock_mode" ("0660"), "denied_path", "denied_why". The caller owns the
 * result. */
struct cJSON *json_probe_result(const struct probe_result *r);
/* Into obj: {"sent", "failed" (local_error not counted: no verdict),
 * "by_result": {every result name: N}, "in_flight", "queued", "peers"} */
void json_prober_stats(const struct prober *p, struct cJSON *obj);

/* diagnose */
struct alert;
struct diag;
/* DESIGN.md's alert object (plus "superseded_by" for a chapter of a story). */
struct cJSON *json_alert(const struct alert *a);
/* The `alerts` answer's fields, added to obj (upwatchd's command and
 * `upwatchctl explain` both): "alerts" (firing ones, or all; newest first,
 * or critical before warning), and "blocks_down": [{"upstream",
 * "config_ref", "peers"}] for each block whose every server has a firing
 * peer alert. */
struct alert_store;
void json_alerts_answer(struct cJSON *obj, const struct ngx_model *m, const struct alert_store *s,
			bool all, bool severe_first);
/* {"connect_failed": N, ...} for every event kind, added to obj. */
void json_diag_events(const struct diag *d, struct cJSON *obj);
/* {"tracked": N, "untracked_events": N}: subjects learned from the logs, and
 * the events dropped because their count was at its cap. */
struct cJSON *json_diag_learned(const struct diag *d);
