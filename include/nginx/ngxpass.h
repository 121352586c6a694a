/* ngxpass: the *_pass lines of an nginx configuration and the settings in
 * effect for each (part of ngxconf; callers use ngxconf_load()).
 *
 * Walks an http {} or stream {} block the way nginx merges its scopes
 * (http → server → location → nested location / if / limit_except) and
 * appends one struct ngx_pass per proxy_pass, fastcgi_pass, uwsgi_pass,
 * scgi_pass, grpc_pass and memcached_pass to the model, with its address
 * split, its effective timeouts and the Host header nginx sends. Also
 * records stub_status lines, and hands every error_log met in a scope back
 * to the model builder. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "nginx/ngxconf.h"

struct cf_node;

/* The largest number nginx's ngx_atoi accepts in a directive. */
#define NGX_UINT_MAX 0x7fffffff

/* What the model builder lends the walk. */
struct ngxpass_ctx {
	struct ngx_model *m;
	char *err;
	size_t errlen;
	void *opaque;
	/* the model's ref for a node (file names owned by the model) */
	struct ngx_ref (*ref)(void *opaque, const struct cf_node *n);
	/* an error_log line inside a scope; < 0 stops the walk */
	int (*error_log)(void *opaque, const struct cf_node *n);
	size_t passes_cap, stub_cap;
};

/* Walk one top-level http or stream block. Errors "file:line: message". */
int ngxpass_walk(struct ngxpass_ctx *c, const struct cf_node *block, bool stream);
/* Free what one pass owns (not the struct itself). */
void ngxpass_done(struct ngx_pass *p);
