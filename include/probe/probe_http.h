/* probe_http: HTTP(S) probes on one libcurl multi handle driven by libev.
 *
 * One GET per probe on a fresh connection (no reuse: every probe measures
 * connect and TLS), body discarded and capped, headers counted and capped.
 * The result (status, connect, time to first byte, header size, TLS facts)
 * is written into the caller's struct probe_result, which must stay valid
 * until fn runs or the request is cancelled. */
#pragma once

#include <stdint.h>

#include "probe/probe.h"

struct ev_loop;
struct probe_http;
struct probe_http_req;

#define PROBE_HTTP_BODY_MAX   (64 * 1024)  /* read at most this much body */
#define PROBE_HTTP_HEADER_MAX (256 * 1024) /* stop reading headers past this */

typedef void (*probe_http_fn)(void *userdata);

struct probe_http *probe_http_new(struct ev_loop *loop);
/* Cancels requests still running (their fn is not called). */
void probe_http_free(struct probe_http *h);

/* GET t->health_uri from the peer of t. For a host-name peer, resolved is
 * the caller's answer ("127.0.0.1 ::1", tried in order; curl does not
 * resolve again). Unix peers go over CURLOPT_UNIX_SOCKET_PATH. Returns the
 * request, or NULL with r filled (result PROBE_ERROR) when curl refused it;
 * fn is then not called. */
struct probe_http_req *probe_http_start(struct probe_http *h, const struct probe_target *t,
					const char *resolved, uint64_t timeout_ms,
					struct probe_result *r, probe_http_fn fn, void *userdata);
void probe_http_cancel(struct probe_http *h, struct probe_http_req *req);
