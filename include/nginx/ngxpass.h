/* ngxpass: the *_pass lines of an nginx configuration and the settings in
 * effect for each. Part of the model build.
 *
 * Walks an http {} or stream {} block the way nginx merges its scopes
 * (http → server → location → nested location / if / limit_except) and
 * appends one struct ngx_pass per proxy_pass, fastcgi_pass, uwsgi_pass,
 * scgi_pass, grpc_pass and memcached_pass to the model, with its address
 * split, its effective timeouts and the Host header nginx sends (strings
 * in the model's pool, so a pass owns no memory of its own). Also
 * records stub_status lines and every error_log met in a scope. Which peers
 * a pass reaches is ngxpeer's business, once every block is read. */
#pragma once

#include <stdbool.h>

struct cf_node;
struct ngxbuild;

/* Walk one top-level http or stream block. Errors "file:line: message". */
int ngxpass_walk(struct ngxbuild *b, const struct cf_node *block, bool stream);
