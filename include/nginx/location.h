/* location: which *_pass of the model handled a request, from what an error
 * line tells (the server_name, the request URI, the peer or upstream block it
 * reached).
 *
 * nginx picks the location by exact match, then the longest prefix; regex and
 * named locations cannot be judged without a regex engine and score as no
 * match. The answer depends only on the first (longest prefix + 1) bytes of
 * the URI, so it is cached per (target, server, URI prefix cut there): a
 * storm of lines for one location costs one hash lookup each, whatever the
 * size of the configuration. The cache is bounded and belongs to one model. */
#pragma once

#include <stddef.h>

#include "core/strmap.h"
#include "nginx/ngxconf.h"

#define NGX_LOCATION_CACHE_MAX 4096

struct ngx_location_cache {
	const struct ngx_model *model;
	size_t prefix_max; /* longest prefix location argument in the model */
	struct strmap map; /* target\x1fserver\x1furi-prefix -> pass index + 1, 0 = none */
	size_t len;
};

void ngx_location_cache_init(struct ngx_location_cache *c);
void ngx_location_cache_done(struct ngx_location_cache *c);

/* How well a location argument matches a request URI: 0 = no match, higher
 * is better (exact beats every prefix). */
size_t ngx_location_match(const char *location, const char *uri);

/* The *_pass that reached peer (or, with peer NULL, block up) for a request to
 * server_name and uri (either may be "" when the line lacks it): the same
 * server first, then the longest matching location. With neither peer nor up,
 * a dynamic *_pass (variables) of that server. NULL when none fits. */
const struct ngx_pass *ngx_location_pass(struct ngx_location_cache *c, const struct ngx_model *m,
					 const struct ngx_peer *peer, const struct ngx_upstream *up,
					 const char *server_name, const char *uri);
