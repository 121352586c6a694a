/* json: every JSON encoding of the pipeline's plain structs, in one place at
 * the output edge (as sway's ipc-json.c). Each stage has its own block. */
#pragma once

struct cJSON;

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
