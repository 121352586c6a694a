/* errlog_ctx: the context nginx appends to an error-log line — the part
 * after the message and action — and the peer inside its upstream field.
 *
 *   http:     ", client: A, server: S[, request: "R"][, subrequest: "U"]
 *              [, upstream: "UP"][, host: "H"][, referrer: "REF"]"
 *   stream:   ", [udp ]client: A, server: ADDR:PORT[, upstream: "ADDR:PORT"]
 *              [, bytes from/to client:N/N, bytes from/to upstream:N/N]"
 *   resolver: ", resolver: A:P"
 *
 * Used by errlog_parse(); exported for it only. */
#pragma once

#include "log/errlog.h"

/* Find the real context in [p, e) and fill ev's context fields (which must
 * be clear). Returns where the context starts (the message and action end
 * there), or e when the line has none. from (p <= from <= e) is where the
 * search for its anchor may start: no ',' lies in [p, from). */
const char *errlog_ctx_find(const char *p, const char *from, const char *e,
			    struct errlog_event *ev);

/* Split ev->upstream into scheme, peer and URI (sets ev->scheme,
 * ev->upstream_uri). Returns the peer's text, or an empty
 * span when the field holds none. */
struct errlog_span errlog_ctx_upstream_peer(struct errlog_event *ev);
