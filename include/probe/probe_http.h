/* probe_http: HTTP(S) probes, and TLS-only handshakes, on one libcurl multi
 * handle driven by libev.
 *
 * One GET per probe on a fresh connection (no reuse: every probe measures
 * connect and TLS), body discarded and capped, headers counted and capped.
 * A PROBE_PROTO_TLS target gets the TLS handshake only (grpcs, suwsgi).
 * The result (status, connect, time to first byte, header size, TLS facts)
 * is written into the caller's struct probe_result, which must stay valid
 * until fn runs or the request is cancelled.
 *
 * Judged as nginx judges a reply: any status is a valid response unless the
 * target asks for more (expect_*, health_uri); a response header over
 * PROBE_HTTP_HEADER_MAX (or one line over curl's line limit) is too big, as
 * nginx answers 502 for it; a socket curl could not create is
 * PROBE_LOCAL_ERROR. */
#pragma once

#include <stdint.h>

#include "probe/probe_result.h"
#include "probe/probe_target.h"

struct ev_loop;
struct curl_lib;
struct probe_http;
struct probe_http_req;

#define PROBE_HTTP_BODY_MAX   (64 * 1024)  /* read at most this much body */
#define PROBE_HTTP_HEADER_MAX (256 * 1024) /* a bigger response header is a failure */

typedef void (*probe_http_fn)(void *userdata);

/* Through curl (curl_lib_open's table, which must outlive h). -ENOMEM, or
 * -EIO when curl cannot make its multi handle. */
int probe_http_new(struct ev_loop *loop, const struct curl_lib *curl, struct probe_http **ret);
/* Cancels requests still running (their fn is not called). */
void probe_http_free(struct probe_http *h);

/* GET t->health_uri ("/" when NULL) from the peer of t, or only the TLS
 * handshake for PROBE_PROTO_TLS. For a host-name peer, resolved is the
 * caller's answer ("127.0.0.1 ::1", tried in order; curl does not resolve
 * again). Unix peers go over CURLOPT_UNIX_SOCKET_PATH. connect_ms bounds the
 * connect and TLS handshake, total_ms everything. Returns 0 with *ret set
 * (fn will be called), or -errno when curl refused the request (fn is not
 * called, r not touched): -ENOMEM for upwatch's own resources. */
int probe_http_start(struct probe_http *h, const struct probe_target *t, const char *resolved,
		     uint64_t connect_ms, uint64_t total_ms, struct probe_result *r,
		     probe_http_fn fn, void *userdata, struct probe_http_req **ret);
void probe_http_cancel(struct probe_http *h, struct probe_http_req *req);
