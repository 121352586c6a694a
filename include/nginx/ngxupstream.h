/* ngxupstream: upstream {} blocks and their `server` lines.
 *
 * Reads one upstream block of http {} or stream {} into the model the way
 * ngx_http_upstream_server() / ngx_stream_upstream_server() do: server
 * parameters validated, the address normalised to a peer key (http servers
 * default to port 80, stream servers need one). Part of the model build. */
#pragma once

#include <stdbool.h>

struct cf_node;
struct ngx_upstream;
struct ngxbuild;

/* Append the block n (`upstream NAME { ... }`) to the model. */
int ngxupstream_add(struct ngxbuild *b, const struct cf_node *n, bool stream);
/* Free what one block owns (not the struct itself). */
void ngxupstream_done(struct ngx_upstream *u);
